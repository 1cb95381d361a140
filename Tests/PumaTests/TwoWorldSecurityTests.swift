import Foundation
import PumaCore
import PumaMPC
import PumaNN
import Testing

/// Two-world tests of what one corrupted party sees (semi-honest, one corruption).
///
/// For corrupted party P_i, its keys (K_i, K_{i+1}) and its share components (x_i, x_{i+1}) are
/// fixed; only what P_i lacks changes: the third key K_{i+2}, re-drawn in every trial, and the third
/// component x_{i+2} = x − x_i − x_{i+1}, which follows the secret x. World A and world B hold
/// different secrets. If the protocol is private, P_i's received messages are, position by
/// position, either a function of what it holds (the same value in every trial of both worlds) or
/// masked by what it lacks (varying from trial to trial in both worlds). A position that is constant
/// within each world but differs between them — or constant in one world only — reveals the secret.
///
/// Unlike a uniformity test, this catches leaks that look random. Checked by hand (each mutation
/// applied, the test run, the mutation reverted):
/// - A2B/msb sending s = x0 + x1 to P1 unmasked (`booleanSummands` sending `Words.add(x.first,
///   x.second)` instead of `c1`): P1 holds x2 and could recover x; the test fails for P1.
/// - dropping the zero-share in `reshare` (`masked = z`): the test fails for every party.
/// - dropping the zero-share of a fused product-truncation (`Party.truncate(.additive …)`): the
///   test fails for every party.
@Suite("Two worlds: a party's view does not depend on the secrets")
struct TwoWorldSecurityTests {
    static let n = 64

    /// Every message-sending primitive and approximation, on shares of n elements (none opened).
    static func sequence(_ p: Party, _ x: ArithmeticShares, _ y: ArithmeticShares) -> ArithmeticShares {
        let f = p.fixedPoint.fractionalBits
        let product = p.truncate(p.mul(x, y), bits: f)
        let m = p.matmul(x, y, m: 8, k: 8, n: 8)
        let selected = p.mux(p.lessThan(x, y), product, m)
        let equal = p.b2a(p.equal(x, product))
        let best = p.argmax(selected, rows: 8, cols: 8).indices
        let positive = p.addPublic(p.mulFixed(x, x), [UInt64](repeating: p.fixedPoint.encode(0.5), count: n))
        let nonLinear = p.concatenate([
            NonLinear.rsqrt(p, positive), NonLinear.reciprocal(p, positive), NonLinear.silu(p, x),
            NonLinear.negExp(p, p.neg(positive)), NonLinear.softmax(p, x, lengths: [Int](repeating: 8, count: 8)),
        ])
        let lowBits = p.b2a(p.a2b(y))  // the full 64-bit A2B, then bit 0 back to arithmetic
        return p.add(p.add(p.add(selected, equal), lowBits), p.concatenate([best, p.sumParts(nonLinear, 5).slice(0..<(n - 8))]))
    }

    /// P_i's received messages in one run where it holds `own` components of each input.
    static func view(party i: Int, secrets: [[UInt64]], own: [([UInt64], [UInt64])], lackingKeySeed: UInt64) -> [InMemoryNetwork.Delivery] {
        var seeds = [UInt64](repeating: 77, count: Simulation.keyCount)
        seeds[(i + 2) % 3] = lackingKeySeed  // K_{i+2}, the key P_i does not hold
        let sim = Simulation(keySeeds: seeds, recordDeliveries: true)
        // Components c_i, c_{i+1} as given, c_{i+2} = x − c_i − c_{i+1}.
        let components: [[[UInt64]]] = zip(secrets, own).map { secret, mine in
            var c = [[UInt64]](repeating: [], count: 3)
            c[i] = mine.0
            c[(i + 1) % 3] = mine.1
            c[(i + 2) % 3] = Words.sub(Words.sub(secret, mine.0), mine.1)
            return c
        }
        _ = sim.run { p -> ArithmeticShares in
            let inputs = components.map { ArithmeticShares(first: $0[p.id], second: $0[(p.id + 1) % 3]) }
            return Self.sequence(p, inputs[0], inputs[1])
        }
        return sim.network.deliveries(to: .party(i))
    }

    @Test("each party's received messages: same structure, and every position either fixed by its own data or masked",
          arguments: [0, 1, 2])
    func twoWorlds(party i: Int) {
        var random = TestRandom(seed: 40 + UInt64(i))
        let fp = FixedPoint.standard
        func secret() -> [UInt64] { (0..<Self.n).map { _ in fp.encode(Double(random.float(scale: 6))) } }
        let worldA = [secret(), secret()]
        let worldB = [secret(), secret()]
        let own = (0..<2).map { _ in ((0..<Self.n).map { _ in random.next() }, (0..<Self.n).map { _ in random.next() }) }
        let trials = 3
        let views = [worldA, worldB].enumerated().map { w, secrets in
            (0..<trials).map { t in Self.view(party: i, secrets: secrets, own: own, lackingKeySeed: 1000 + UInt64(10 * w + t)) }
        }
        let shape = views[0][0].map { "\($0.from):\($0.words.count)" }
        #expect(shape.count > 100, "P\(i) received only \(shape.count) messages")
        for world in views { for v in world { #expect(v.map { "\($0.from):\($0.words.count)" } == shape, "P\(i): message structure varies") } }
        let flat = views.map { $0.map { $0.flatMap(\.words) } }
        var leaks: [Int] = [], fixed = 0
        for position in 0..<flat[0][0].count {
            let a = Set(flat[0].map { $0[position] }), b = Set(flat[1].map { $0[position] })
            if a.count == 1 && b.count == 1 {
                if a == b { fixed += 1 } else { leaks.append(position) }
            } else if a.count == 1 || b.count == 1 {
                leaks.append(position)
            }
        }
        #expect(leaks.isEmpty, "P\(i): \(leaks.count) of \(flat[0][0].count) received words depend on the secret (first at words \(leaks.prefix(4)))")
        // Sanity: almost everything received is masked (fixed positions are public-structure words, e.g. zero padding bits).
        #expect(fixed * 100 < flat[0][0].count, "P\(i): \(fixed) words are fixed by its own data")
    }
}
