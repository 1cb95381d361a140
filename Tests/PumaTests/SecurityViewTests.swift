import Foundation
import PumaCore
import PumaMPC
import Testing

@Suite("What each party sees")
struct SecurityViewTests {
    /// A protocol sequence touching every message-sending primitive except openings.
    static func sequence(_ p: Party, _ x: ArithmeticShares, _ y: ArithmeticShares) -> ArithmeticShares {
        let prod = p.truncate(p.mul(x, y), bits: 18)
        let m = p.matmul(x, y, m: 64, k: 64, n: 64)
        let bits = p.lessThan(x, y)
        let selected = p.mux(bits, prod, m)
        let eq = p.b2a(p.equal(x, prod))
        let best = p.argmax(selected, rows: 64, cols: 64).indices
        return p.add(p.add(selected, eq), p.concatenate([best, p.constant([UInt64](repeating: 0, count: 4096 - 64))]))
    }

    static func chiSquare(_ words: [UInt64]) -> Double {
        var histogram = [Int](repeating: 0, count: 256)
        for w in words { for b in 0..<8 { histogram[Int((w >> (8 * UInt64(b))) & 0xFF)] += 1 } }
        let expected = Double(words.count * 8) / 256
        return histogram.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
    }

    @Test("received bytes look uniform whatever the secrets; shares stay replicated and partial",
          arguments: [(UInt64(1), UInt64(100)), (UInt64(2), UInt64(200))])
    func views(keySeed: UInt64, dataSeed: UInt64) {
        // Two runs with very different secrets: structured small values, then all zeros.
        var s = RingSamples(seed: dataSeed)
        let x = dataSeed == 100 ? s.bounded(4096).map { $0 >> 40 } : [UInt64](repeating: 0, count: 4096)
        let y = dataSeed == 100 ? (0..<4096).map { UInt64($0) << 18 } : [UInt64](repeating: 0, count: 4096)
        let sim = Simulation(seed: keySeed, recordDeliveries: true)
        let outputs = sim.run(dealers: { s in s.client.share(x); s.client.share(y) }) { p -> ArithmeticShares in
            let a = p.input(from: .client, count: x.count), b = p.input(from: .client, count: y.count)
            return Self.sequence(p, Self.sequence(p, a, b), b)
        }
        for i in 0..<3 {
            let view = sim.network.delivered(to: .party(i))
            #expect(view.count * 8 >= 1 << 20, "P\(i) received only \(view.count * 8) bytes")
            // 255 degrees of freedom: the 0.999 quantile is about 330.
            let chi = Self.chiSquare(view)
            #expect(chi < 330, "P\(i): chi-square \(chi) over \(view.count * 8) bytes")
        }
        // Replication: P_i's second component is P_{i+1}'s first; no party's two components add up to
        // the secret (which would need the third).
        for i in 0..<3 {
            #expect(outputs[i].second == outputs[(i + 1) % 3].first)
        }
        let secret = Words.add(Words.add(outputs[0].first, outputs[1].first), outputs[2].first)
        for i in 0..<3 {
            let partial = Words.add(outputs[i].first, outputs[i].second)
            #expect(zip(partial, secret).filter { $0 == $1 }.count <= 1, "P\(i) could read the secret")
        }
    }
}
