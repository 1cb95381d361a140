import Foundation
import PumaCore

/// The operations fixed-point algorithms (PumaNN's approximations, the secure transformer) are
/// written against, so the same code runs on secret shares (`Party`, one instance per party) or on
/// plain ring values (`CleartextBackend`). Comparing the two separates protocol error (truncation's
/// ±1 ulp) from approximation error.
public protocol FixedPointBackend {
    /// An arithmetic vector (shares, or plain ring elements).
    associatedtype Value
    /// A vector of boolean words; single bits live in bit 0.
    associatedtype Bits

    var fixedPoint: FixedPoint { get }

    func count(_ x: Value) -> Int
    /// A public vector as a Value.
    func constant(_ v: [UInt64]) -> Value
    func gather(_ x: Value, _ indices: [Int]) -> Value
    func concatenate(_ parts: [Value]) -> Value

    func add(_ x: Value, _ y: Value) -> Value
    func sub(_ x: Value, _ y: Value) -> Value
    func neg(_ x: Value) -> Value
    func addPublic(_ x: Value, _ c: [UInt64]) -> Value
    func mulPublic(_ x: Value, _ c: UInt64) -> Value
    func mulPublic(_ x: Value, _ c: [UInt64]) -> Value
    func sumGroups(_ x: Value, groupSize: Int) -> Value

    /// Ring product, no truncation.
    func mul(_ x: Value, _ y: Value) -> Value
    func square(_ x: Value) -> Value
    func matmul(_ x: Value, _ y: Value, m: Int, k: Int, n: Int, transposeY: Bool) -> Value
    /// x ← x ‖ y (in place where the representation allows: KV caches grow by a row per token).
    func append(_ x: inout Value, _ y: Value)
    /// Division by 2^bits: floor in the clear; floor or floor + 1 on shares.
    func truncate(_ x: Value, bits: Int) -> Value
    /// truncate(x ⊙ y, bits); on shares the product's reshare rides in the truncation's first round.
    func mul(_ x: Value, _ y: Value, truncatingBy bits: Int) -> Value
    /// Σ_p x_p ⊙ y_p over `parts` equal parts, truncated by `bits` when given (one reshare of the sums
    /// on shares, fused with the truncation).
    func sumOfProducts(_ x: Value, _ y: Value, parts: Int, truncatingBy bits: Int?) -> Value
    /// truncate(x², bits), fused on shares.
    func square(_ x: Value, truncatingBy bits: Int) -> Value
    /// x ⊙ y and Σ z² per group, in one round on shares; with `bits`, both truncated (fused on shares).
    func mulAndSumOfSquares(_ x: Value, _ y: Value, squares z: Value, groupSize: Int, truncatingBy bits: Int?) -> (product: Value, sumOfSquares: Value)
    /// Independent products of one shape, in one round on shares; with `bits`, truncated (fused on shares).
    func matmul(_ pairs: [(Value, Value)], m: Int, k: Int, n: Int, transposeY: Bool, truncatingBy bits: Int?) -> [Value]

    func concatenateBits(_ parts: [Bits]) -> Bits
    func gatherBits(_ x: Bits, _ indices: [Int]) -> Bits
    func msb(_ x: Value) -> Bits
    /// [x < 0] from the top `laneBits` (32 or 16) bits of x·2^k: exact for |x| < 2^(63−k) − band except
    /// that x ∈ [0, band), band = 2^(64 − laneBits − k), may read as negative on shares (see `Party.msbCoarse`).
    func msbCoarse(_ x: Value, scaleBits: Int, laneBits: Int) -> Bits
    func lessThan(_ x: Value, _ y: Value) -> Bits
    func lessThan(_ x: Value, public c: UInt64) -> Bits
    func equal(_ x: Value, _ y: Value) -> Bits
    func xor(_ x: Bits, _ y: Bits) -> Bits
    func notBit(_ x: Bits) -> Bits
    func b2a(_ b: Bits) -> Value
    func mulBA(_ b: Bits, _ x: Value) -> Value
    func mux(_ b: Bits, _ x: Value, _ y: Value) -> Value
    func max(_ x: Value, rows: Int, cols: Int) -> Value
    /// Row maxima at most ⌈log2 cols⌉·2^(32−k) (encoded) below the true ones (see `Party.maxCoarse`).
    func maxCoarse(_ x: Value, rows: Int, cols: Int, scaleBits: Int) -> Value
    /// Maxima of ragged rows (at most `Party.tournamentWidth` long) and each element's 0/1
    /// [x + margin ≥ its row's maximum] (see `Party.maxAndNear`).
    func maxAndNear(_ x: Value, lengths: [Int], margin: UInt64) -> (maxima: Value, near: Value)
    func argmax(_ x: Value, rows: Int, cols: Int) -> (values: Value, indices: Value)

    /// Attributes the cost of `body` to `name` (in the clear: names where a range violation happened).
    func scope<T>(_ name: String, _ body: () throws -> T) rethrows -> T

    /// Declares that every element of x must lie in [lower, upper) (encoded) for `function` to be
    /// right: a no-op on shares (nobody may look), checked and counted in the clear.
    func requireDomain(_ x: Value, _ lower: Int64, _ upper: Int64, _ function: String)
}

extension FixedPointBackend {
    /// `msbCoarse` on 32-bit lanes.
    public func msbCoarse(_ x: Value, scaleBits k: Int) -> Bits { msbCoarse(x, scaleBits: k, laneBits: 32) }

    public func requireDomain(_ x: Value, _ lower: Int64, _ upper: Int64, _ function: String) {}
}

/// What a `CleartextBackend` saw outside the protocols' domains: truncation inputs beyond ±2^62 (where
/// the secure truncation goes wrong), products and sums that wrap the signed 64-bit range (the real
/// result is lost), comparisons of values 2^63 or more apart, and inputs outside a function's domain
/// (`requireDomain`). The cleartext result is then as wrong as the secure one would be; this says so.
public final class RangeMonitor: @unchecked Sendable {
    public enum Kind: String, CaseIterable, Sendable {
        case truncation, product, sum, comparison, domain
    }

    private let lock = NSLock()
    private var counts: [Kind: Int] = [:]
    private var examples: [Kind: String] = [:]

    public init() {}

    /// Elements outside the domain, per kind.
    public var violations: [Kind: Int] { lock.withLock { counts } }
    public var total: Int { lock.withLock { counts.values.reduce(0, +) } }

    /// "none", or e.g. "truncation 3 (first: 2^62.4 into a truncation by 18 bits), product 1 (…)".
    public var summary: String {
        lock.withLock {
            let parts = Kind.allCases.compactMap { k in counts[k].map { "\(k.rawValue) \($0) (first: \(examples[k]!))" } }
            return parts.isEmpty ? "none" : parts.joined(separator: ", ")
        }
    }

    /// The scopes (`FixedPointBackend.scope`) open now, outermost first: where a violation happened.
    private var path: [String] = []

    func enter(_ scope: String) { lock.withLock { path.append(scope) } }
    func leave() { lock.withLock { _ = path.popLast() } }

    func note(_ kind: Kind, _ count: Int, _ example: @autoclosure () -> String) {
        guard count > 0 else { return }
        lock.withLock {
            if counts[kind] == nil { examples[kind] = example() + (path.isEmpty ? "" : " in " + path.joined(separator: "/")) }
            counts[kind, default: 0] += count
        }
    }

    static func magnitude(_ v: Int64) -> String { v == 0 ? "0" : String(format: "±2^%.1f", log2(Double(v.magnitude))) }
}

extension Party: FixedPointBackend {
    public func count(_ x: ArithmeticShares) -> Int { x.count }
    public func constant(_ v: [UInt64]) -> ArithmeticShares { publicShares(v) }
    public func gather(_ x: ArithmeticShares, _ indices: [Int]) -> ArithmeticShares { x.gather(indices) }
    public func concatenate(_ parts: [ArithmeticShares]) -> ArithmeticShares { ArithmeticShares.concatenate(parts) }
    public func concatenateBits(_ parts: [BooleanShares]) -> BooleanShares { BooleanShares.concatenate(parts) }
    public func gatherBits(_ x: BooleanShares, _ indices: [Int]) -> BooleanShares { x.gather(indices) }
    public func append(_ x: inout ArithmeticShares, _ y: ArithmeticShares) { x.append(y) }
}

extension FixedPointBackend {
    /// Fixed-point product: truncate(x ⊙ y, f), fused on shares.
    public func mulFixed(_ x: Value, _ y: Value) -> Value { mul(x, y, truncatingBy: fixedPoint.fractionalBits) }

    /// x · c for a public real c: truncate(x · encode(c), f).
    public func mulPublicFixed(_ x: Value, _ c: Double) -> Value {
        truncate(mulPublic(x, fixedPoint.encode(c)), bits: fixedPoint.fractionalBits)
    }

    /// x + c for a public real c.
    public func addPublicFixed(_ x: Value, _ c: Double) -> Value {
        addPublic(x, [UInt64](repeating: fixedPoint.encode(c), count: count(x)))
    }

    /// Part `i` of a concatenation of parts of `n` elements.
    public func part(_ x: Value, _ i: Int, of n: Int) -> Value { gather(x, Array((i * n)..<((i + 1) * n))) }

    /// Part `i` of a concatenation of bit vectors of `n` elements.
    public func part(_ x: Bits, _ i: Int, of n: Int) -> Bits { gatherBits(x, Array((i * n)..<((i + 1) * n))) }

    /// The element-wise sum of the `parts` equal parts of x.
    public func sumParts(_ x: Value, _ parts: Int) -> Value {
        let n = count(x) / parts
        return (1..<parts).reduce(part(x, 0, of: n)) { add($0, part(x, $1, of: n)) }
    }

    /// Repeats element r of x `times` times, for each r ([n] → [n·times]).
    public func broadcast(_ x: Value, times: Int) -> Value {
        gather(x, (0..<count(x)).flatMap { Array(repeating: $0, count: times) })
    }
}

/// The same fixed-point operations on plain ring values, computed directly (no parties, no cost).
/// With a `RangeMonitor`, every operation also checks that its values stay where the secure
/// protocol is exact (see `RangeMonitor`), so a cleartext run reports the range errors that a
/// secure run would make silently.
public struct CleartextBackend: FixedPointBackend {
    public let fixedPoint: FixedPoint
    public let monitor: RangeMonitor?

    public init(fixedPoint: FixedPoint = .standard, monitor: RangeMonitor? = nil) {
        self.fixedPoint = fixedPoint
        self.monitor = monitor
    }

    public func count(_ x: [UInt64]) -> Int { x.count }
    public func constant(_ v: [UInt64]) -> [UInt64] { v }
    public func gather(_ x: [UInt64], _ indices: [Int]) -> [UInt64] { indices.map { x[$0] } }
    public func concatenate(_ parts: [[UInt64]]) -> [UInt64] { parts.flatMap { $0 } }

    /// Checks a · b (signed) for each pair when monitoring.
    private func checkProducts(_ x: [UInt64], _ y: (Int) -> UInt64) {
        guard let monitor else { return }
        var bad = 0, example = (Int64(0), Int64(0))
        for i in x.indices {
            let (a, b) = (Ring.signed(x[i]), Ring.signed(y(i)))
            if a.multipliedReportingOverflow(by: b).overflow { if bad == 0 { example = (a, b) }; bad += 1 }
        }
        monitor.note(.product, bad, "\(RangeMonitor.magnitude(example.0)) × \(RangeMonitor.magnitude(example.1))")
    }

    /// Checks a ± b (signed) for each pair when monitoring.
    private func checkSums(_ x: [UInt64], _ y: [UInt64], subtract: Bool, kind: RangeMonitor.Kind = .sum) {
        guard let monitor else { return }
        var bad = 0, example = (Int64(0), Int64(0))
        for i in x.indices {
            let (a, b) = (Ring.signed(x[i]), Ring.signed(y[i]))
            if (subtract ? a.subtractingReportingOverflow(b) : a.addingReportingOverflow(b)).overflow {
                if bad == 0 { example = (a, b) }
                bad += 1
            }
        }
        monitor.note(kind, bad, "\(RangeMonitor.magnitude(example.0)) \(subtract ? "−" : "+") \(RangeMonitor.magnitude(example.1))")
    }

    public func add(_ x: [UInt64], _ y: [UInt64]) -> [UInt64] { checkSums(x, y, subtract: false); return Words.add(x, y) }
    public func sub(_ x: [UInt64], _ y: [UInt64]) -> [UInt64] { checkSums(x, y, subtract: true); return Words.sub(x, y) }
    public func neg(_ x: [UInt64]) -> [UInt64] { Words.neg(x) }
    public func addPublic(_ x: [UInt64], _ c: [UInt64]) -> [UInt64] { checkSums(x, c, subtract: false); return Words.add(x, c) }
    public func mulPublic(_ x: [UInt64], _ c: UInt64) -> [UInt64] { checkProducts(x) { _ in c }; return Words.scale(x, by: c) }
    public func mulPublic(_ x: [UInt64], _ c: [UInt64]) -> [UInt64] { checkProducts(x) { c[$0] }; return Words.mul(x, c) }
    public func sumGroups(_ x: [UInt64], groupSize: Int) -> [UInt64] {
        (0..<(x.count / groupSize)).map { r in
            let group = x[(r * groupSize)..<((r + 1) * groupSize)]
            if let monitor {
                let sum = group.reduce(Int128(0)) { $0 + Int128(Ring.signed($1)) }
                if sum < Int128(Int64.min) || sum > Int128(Int64.max) { monitor.note(.sum, 1, "a row sum beyond 2^63") }
            }
            return group.reduce(0, &+)
        }
    }

    public func mul(_ x: [UInt64], _ y: [UInt64]) -> [UInt64] { checkProducts(x) { y[$0] }; return Words.mul(x, y) }
    public func square(_ x: [UInt64]) -> [UInt64] { mul(x, x) }
    public func mul(_ x: [UInt64], _ y: [UInt64], truncatingBy bits: Int) -> [UInt64] { truncate(mul(x, y), bits: bits) }
    public func square(_ x: [UInt64], truncatingBy bits: Int) -> [UInt64] { truncate(square(x), bits: bits) }
    public func sumOfProducts(_ x: [UInt64], _ y: [UInt64], parts: Int, truncatingBy bits: Int? = nil) -> [UInt64] {
        let sums = sumParts(mul(x, y), parts)
        return bits.map { truncate(sums, bits: $0) } ?? sums
    }
    public func mulAndSumOfSquares(_ x: [UInt64], _ y: [UInt64], squares z: [UInt64], groupSize: Int,
                                   truncatingBy bits: Int? = nil) -> (product: [UInt64], sumOfSquares: [UInt64]) {
        let (product, sums) = (mul(x, y), sumGroups(square(z), groupSize: groupSize))
        guard let bits else { return (product, sums) }
        return (truncate(product, bits: bits), truncate(sums, bits: bits))
    }
    public func matmul(_ x: [UInt64], _ y: [UInt64], m: Int, k: Int, n: Int, transposeY: Bool) -> [UInt64] {
        if let monitor {
            // Exact sums in 128 bits: any output outside the signed 64-bit range has wrapped.
            var bad = 0
            for r in 0..<m {
                for c in 0..<n {
                    var sum = Int128(0)
                    for i in 0..<k {
                        let b = transposeY ? y[c * k + i] : y[i * n + c]
                        sum += Int128(Ring.signed(x[r * k + i])) * Int128(Ring.signed(b))
                    }
                    if sum < Int128(Int64.min) || sum > Int128(Int64.max) { bad += 1 }
                }
            }
            monitor.note(.product, bad, "a matrix product entry beyond 2^63")
        }
        return RingMatrix.multiply(x, y, m: m, k: k, n: n, transposeB: transposeY)
    }
    public func matmul(_ pairs: [([UInt64], [UInt64])], m: Int, k: Int, n: Int, transposeY: Bool, truncatingBy bits: Int? = nil) -> [[UInt64]] {
        pairs.map { pair in
            let z = matmul(pair.0, pair.1, m: m, k: k, n: n, transposeY: transposeY)
            return bits.map { truncate(z, bits: $0) } ?? z
        }
    }
    public func append(_ x: inout [UInt64], _ y: [UInt64]) { x += y }
    public func truncate(_ x: [UInt64], bits: Int) -> [UInt64] {
        if let monitor {
            let bound = FixedPoint.bound
            let bad = x.filter { Ring.signed($0) >= bound || Ring.signed($0) < -bound }
            monitor.note(.truncation, bad.count, "\(RangeMonitor.magnitude(Ring.signed(bad.first ?? 0))) into a truncation by \(bits) bits")
        }
        return x.map { Ring.arithmeticShift($0, bits) }
    }

    public func concatenateBits(_ parts: [[UInt64]]) -> [UInt64] { parts.flatMap { $0 } }
    public func gatherBits(_ x: [UInt64], _ indices: [Int]) -> [UInt64] { indices.map { x[$0] } }
    public func msb(_ x: [UInt64]) -> [UInt64] { x.map { $0 >> 63 } }
    /// The exact sign; with a monitor, inputs beyond the coarse comparison's range are counted.
    public func msbCoarse(_ x: [UInt64], scaleBits k: Int, laneBits: Int) -> [UInt64] {
        let bound = (Int64(1) << (63 - k)) - (Int64(1) << (64 - laneBits - k))
        requireDomain(x, -bound + 1, bound, "a coarse comparison")
        return msb(x)
    }
    public func lessThan(_ x: [UInt64], _ y: [UInt64]) -> [UInt64] {
        checkSums(x, y, subtract: true, kind: .comparison)
        return msb(Words.sub(x, y))
    }
    public func lessThan(_ x: [UInt64], public c: UInt64) -> [UInt64] {
        checkSums(x, [UInt64](repeating: c, count: x.count), subtract: true, kind: .comparison)
        return msb(x.map { $0 &- c })
    }
    public func equal(_ x: [UInt64], _ y: [UInt64]) -> [UInt64] { zip(x, y).map { $0 == $1 ? 1 : 0 } }
    public func xor(_ x: [UInt64], _ y: [UInt64]) -> [UInt64] { Words.xor(x, y) }
    public func notBit(_ x: [UInt64]) -> [UInt64] { x.map { $0 ^ 1 } }
    public func b2a(_ b: [UInt64]) -> [UInt64] { b.map { $0 & 1 } }
    public func mulBA(_ b: [UInt64], _ x: [UInt64]) -> [UInt64] { zip(b, x).map { $0 & 1 == 1 ? $1 : 0 } }
    public func mux(_ b: [UInt64], _ x: [UInt64], _ y: [UInt64]) -> [UInt64] { (0..<x.count).map { b[$0] & 1 == 1 ? x[$0] : y[$0] } }
    public func max(_ x: [UInt64], rows: Int, cols: Int) -> [UInt64] { argmax(x, rows: rows, cols: cols).values }
    /// The exact maxima; with a monitor, differences beyond the coarse comparisons' range are counted.
    public func maxCoarse(_ x: [UInt64], rows: Int, cols: Int, scaleBits k: Int) -> [UInt64] {
        if let monitor {
            let bound = (Int64(1) << (63 - k)) - (Int64(1) << (32 - k))
            let (lo, hi) = (x.map(Ring.signed).min() ?? 0, x.map(Ring.signed).max() ?? 0)
            let (spread, overflow) = hi.subtractingReportingOverflow(lo)
            if overflow || spread >= bound { monitor.note(.domain, 1, "values 2^\(63 - k) apart in a coarse max") }
        }
        return max(x, rows: rows, cols: cols)
    }
    public func maxAndNear(_ x: [UInt64], lengths: [Int], margin: UInt64) -> (maxima: [UInt64], near: [UInt64]) {
        var maxima: [UInt64] = [], near: [UInt64] = [], start = 0
        for l in lengths {
            let row = x[start..<(start + l)].map(Ring.signed)
            let top = row.max()!
            if let monitor, row.contains(where: { top.subtractingReportingOverflow($0).overflow }) {
                monitor.note(.comparison, 1, "values 2^63 apart in a max")
            }
            maxima.append(UInt64(bitPattern: top))
            near += row.map { $0 &+ Int64(bitPattern: margin) >= top ? 1 : 0 }
            start += l
        }
        return (maxima, near)
    }
    public func argmax(_ x: [UInt64], rows: Int, cols: Int) -> (values: [UInt64], indices: [UInt64]) {
        var values: [UInt64] = [], indices: [UInt64] = []
        if let monitor {
            // The secure tree compares neighbours by the sign of their difference.
            let (lo, hi) = (x.map(Ring.signed).min() ?? 0, x.map(Ring.signed).max() ?? 0)
            if hi.subtractingReportingOverflow(lo).overflow { monitor.note(.comparison, 1, "values 2^63 apart in a max") }
        }
        for r in 0..<rows {
            var best = 0
            for c in 1..<cols where Ring.signed(x[r * cols + c]) > Ring.signed(x[r * cols + best]) { best = c }
            values.append(x[r * cols + best])
            indices.append(UInt64(best))
        }
        return (values, indices)
    }

    public func scope<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        monitor?.enter(name)
        defer { monitor?.leave() }
        return try body()
    }

    public func requireDomain(_ x: [UInt64], _ lower: Int64, _ upper: Int64, _ function: String) {
        guard let monitor else { return }
        let bad = x.map(Ring.signed).filter { $0 < lower || $0 >= upper }
        monitor.note(.domain, bad.count, "\(RangeMonitor.magnitude(bad.first ?? 0)) into \(function)")
    }
}
