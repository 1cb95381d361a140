import PumaCore
import PumaMPC
import Testing

@Suite("Declared cost equals the ledger")
struct ProtocolCostTests {
    static let n = 100

    @Test("each primitive's rounds and elements", arguments: Primitive.allCases)
    func cost(primitive: Primitive) {
        var s = RingSamples(seed: 31)
        let n = Self.n
        let (x, y) = (s.bounded(n), s.bounded(n))
        switch primitive {
        case .input, .revealToClient:
            // Dealer traffic: measured on the whole simulation (parties + client).
            let sim = Simulation(seed: 2)
            _ = sim.run(dealers: { s in
                s.client.share(x)
                if primitive == .revealToClient { _ = s.client.receiveOutput() }
            }) { p in
                let v = p.input(from: .client, count: n)
                if primitive == .revealToClient { p.revealToClient(v) }
                return 0
            }
            let total = sim.report.total
            let expected = primitive == .input ? Primitive.input.cost(n: n)
                                               : Primitive.revealToClient.cost(n: n) + Primitive.input.cost(n: n)
            #expect(DeclaredCost(rounds: total.rounds, elements: total.bytesSent / 8) == expected)
            #expect(total.bytesReceived == total.bytesSent)
            return
        default: break
        }
        let width = 13
        let wide = s.bounded(n * width)
        let measured = MPC.measure(inputs: [x, y, wide]) { p, v in
            let operands = PrimitiveOperands(party: p, a: v[0], b: v[1], wide: v[2], width: width)
            p.ledger.reset()
            primitive.exercise(on: p, operands)
        }
        let size = primitive == .matmul ? n * width : n
        #expect(measured == primitive.cost(n: size, width: width), "\(primitive)")
    }

    @Test("a fixed-point product is a product then a truncation; the ledger scopes them apart")
    func scopes() {
        var s = RingSamples(seed: 32)
        let x = s.bounded(50)
        let sim = Simulation(seed: 4)
        _ = sim.run(dealers: { $0.client.share(x) }) { p in
            let v = p.input(from: .client, count: 50)
            p.ledger.reset()
            _ = p.scope("layer") { p.mulFixed(v, v) }
            return 0
        }
        let scopes = CostReport(ledgers: sim.parties.map(\.ledger)).byScope(depth: 2)
        #expect(scopes["layer/mul"]?.rounds == 1 && scopes["layer/mul"]?.bytesSent == 8 * 150)
        #expect(scopes["layer/truncation"]?.rounds == 2 && scopes["layer/truncation"]?.bytesSent == 8 * 300)
        let modeled = NetworkModel.lan.seconds(CostReport(ledgers: sim.parties.map(\.ledger)))
        // Slowest party: 3 rounds; P0 sends 50 (mul) + 50 + 50 (truncation) elements.
        #expect(abs(modeled - (3 * 1e-4 + Double(8 * 150 * 8) / 20e9)) < 1e-12)
    }
}
