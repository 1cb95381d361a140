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

    @Test("the coarse max's declared cost holds for every mix of pairwise levels and tournaments", arguments: [2, 3, 5, 9, 16, 17, 40])
    func coarseMaxCost(width: Int) {
        var s = RingSamples(seed: 33)
        let rows = 7
        let measured = MPC.measure(inputs: [s.bounded(rows * width).map { $0 >> 30 }]) { p, v in
            _ = p.maxCoarse(v[0], rows: rows, cols: width, scaleBits: 20)
        }
        #expect(measured == Primitive.maxCoarse.cost(n: rows, width: width))
    }

    @Test("argmax's declared cost holds from one pair to a 32,000-way vocabulary (tournaments of 4, then of up to 16)",
          arguments: [2, 17, 3000, 32000])
    func argmaxCost(width: Int) {
        var s = RingSamples(seed: 34)
        let rows = width > 3000 ? 1 : 3
        let measured = MPC.measure(inputs: [s.bounded(rows * width).map { $0 >> 30 }]) { p, v in
            _ = p.argmax(v[0], rows: rows, cols: width)
        }
        #expect(measured == Primitive.argmax.cost(n: rows, width: width))
        if width == 32000 { #expect(measured.rounds == 13 + 13 + 15 + 15 + 14) }
    }

    @Test("a fixed-point product is one fused product-truncation, scoped as such, its traffic spread evenly over the parties")
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
        let report = CostReport(ledgers: sim.parties.map(\.ledger))
        let scopes = report.byScope(depth: 2)
        // 7·50 elements and, per chunk of 16, 17 and 17 elements, 6 words of packed top-bit shares.
        #expect(Primitive.mulTruncate.cost(n: 50) == DeclaredCost(rounds: 2, elements: 7 * 50 + 3 * 6))
        #expect(scopes["layer/mul_truncation"]?.rounds == 2 && scopes["layer/mul_truncation"]?.bytesSent == 8 * (7 * 50 + 3 * 6))
        #expect(scopes.keys.sorted() == ["layer", "layer/mul_truncation"])
        // P0 helps on 16 elements (its additive share to both, 6 packed words, 16 mid shares) and opens
        // and reshares 17 + 17 as L and R: 54 + 68; P1 and P2 help on 17: 57 + 66.
        let sent = report.perParty.map { $0.values.reduce(0) { $0 + $1.bytesSent } / 8 }
        #expect(sent == [122, 123, 123])
        let modeled = NetworkModel.lan.seconds(report)
        #expect(abs(modeled - (2 * 1e-4 + Double(8 * 123 * 8) / 20e9)) < 1e-12)
    }
}
