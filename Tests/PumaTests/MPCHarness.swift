import PumaCore
import PumaMPC
import Testing

/// Runs protocols on a fresh three-party simulation with client inputs and opened outputs.
enum MPC {
    /// Shares `inputs` from the client, runs `body` on every party and opens its result to all;
    /// expects the three openings to agree.
    static func run(_ inputs: [[UInt64]], seed: UInt64 = 1, fixedPoint: FixedPoint = .standard,
                    _ body: @escaping @Sendable (Party, [ArithmeticShares]) -> ArithmeticShares) -> [UInt64] {
        open(inputs, seed: seed, fixedPoint: fixedPoint) { p, v in p.revealToAll(body(p, v)) }
    }

    /// As `run`, for protocols with a boolean result.
    static func runBits(_ inputs: [[UInt64]], seed: UInt64 = 1,
                        _ body: @escaping @Sendable (Party, [ArithmeticShares]) -> BooleanShares) -> [UInt64] {
        open(inputs, seed: seed, fixedPoint: .standard) { p, v in p.revealToAll(body(p, v)) }
    }

    private static func open(_ inputs: [[UInt64]], seed: UInt64, fixedPoint: FixedPoint,
                             _ body: @escaping @Sendable (Party, [ArithmeticShares]) -> [UInt64]) -> [UInt64] {
        let sim = Simulation(seed: seed, fixedPoint: fixedPoint)
        let counts = inputs.map(\.count)
        let results = sim.run(dealers: { s in for v in inputs { s.client.share(v) } }) { party in
            body(party, counts.map { party.input(from: .client, count: $0) })
        }
        #expect(results[0] == results[1] && results[1] == results[2], "parties opened different values")
        return results[0]
    }

    /// Measures the communication of `body` alone (inputs shared before, nothing opened after).
    static func measure(inputs: [[UInt64]], _ body: @escaping @Sendable (Party, [ArithmeticShares]) -> Void) -> DeclaredCost {
        let sim = Simulation(seed: 3)
        let counts = inputs.map(\.count)
        _ = sim.run(dealers: { s in for v in inputs { s.client.share(v) } }) { party in
            let shares = counts.map { party.input(from: .client, count: $0) }
            party.ledger.reset()
            body(party, shares)
            return 0
        }
        let total = CostReport(ledgers: sim.parties.map(\.ledger)).total
        #expect(total.bytesSent % 8 == 0 && total.bytesSent == total.bytesReceived, "bytes sent must all be received")
        return DeclaredCost(rounds: total.rounds, elements: total.bytesSent / 8)
    }
}

/// Test values: uniform 64-bit words, or signed values in [−2^62, 2^62) with the bounds, zero and
/// small numbers over-represented.
struct RingSamples {
    var random: TestRandom
    init(seed: UInt64) { random = TestRandom(seed: seed) }

    mutating func words(_ n: Int) -> [UInt64] { (0..<n).map { _ in random.next() } }

    mutating func bounded(_ n: Int) -> [UInt64] {
        let bound = Int64(1) << 62
        let special: [Int64] = [0, 1, -1, 2, -2, bound - 1, -bound, bound - 2, -bound + 1, 1 << 18, -(1 << 18)]
        return (0..<n).map { i in
            if i < special.count { return UInt64(bitPattern: special[i]) }
            switch random.next() % 4 {
            case 0: return UInt64(bitPattern: Int64(bitPattern: random.next()) >> 1)            // any in range
            case 1: return UInt64(bitPattern: Int64(bitPattern: random.next()) >> 40)           // small
            case 2: return UInt64(bitPattern: (bound - 1) - Int64(random.next() % 1000))          // near the top
            default: return UInt64(bitPattern: -bound + Int64(random.next() % 1000))              // near the bottom
            }
        }
    }
}
