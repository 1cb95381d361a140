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
            let (a, b) = (v[0], v[1])
            switch primitive {
            case .revealToAll: _ = p.revealToAll(a)
            case .mul: _ = p.mul(a, b)
            case .square: _ = p.square(a)
            case .matmul: _ = p.matmul(v[2], v[2], m: n, k: width, n: n, transposeY: true)
            case .truncate: _ = p.truncate(a, bits: 18)
            case .and: _ = p.and(p.publicBits(x), p.publicBits(y))
            case .a2b: _ = p.a2b(a)
            case .msb: _ = p.msb(a)
            case .lessThan: _ = p.lessThan(a, b)
            case .equal: _ = p.equal(a, b)
            case .b2a: _ = p.b2a(p.publicBits(x.map { $0 & 1 }))
            case .mulBA: _ = p.mulBA(p.publicBits(x.map { $0 & 1 }), b)
            case .mux: _ = p.mux(p.publicBits(x.map { $0 & 1 }), a, b)
            case .max: _ = p.max(v[2], rows: n, cols: width)
            case .argmax: _ = p.argmax(v[2], rows: n, cols: width)
            case .input, .revealToClient: break
            }
        }
        let size = primitive == .matmul ? n * n : n
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
