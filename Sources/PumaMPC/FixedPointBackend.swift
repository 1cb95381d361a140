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
    /// Σ x² per group of `groupSize` consecutive elements, no truncation.
    func sumOfSquares(_ x: Value, groupSize: Int) -> Value
    func matmul(_ x: Value, _ y: Value, m: Int, k: Int, n: Int, transposeY: Bool) -> Value
    /// Division by 2^bits: floor in the clear; floor or floor + 1 on shares.
    func truncate(_ x: Value, bits: Int) -> Value

    func a2b(_ x: Value) -> Bits
    func shiftRight(_ x: Bits, _ bits: Int) -> Bits
    func andPublic(_ x: Bits, _ mask: UInt64) -> Bits
    func concatenateBits(_ parts: [Bits]) -> Bits
    func gatherBits(_ x: Bits, _ indices: [Int]) -> Bits
    func msb(_ x: Value) -> Bits
    func lessThan(_ x: Value, _ y: Value) -> Bits
    func lessThan(_ x: Value, public c: UInt64) -> Bits
    func greaterThan(_ x: Value, public c: UInt64) -> Bits
    func equal(_ x: Value, _ y: Value) -> Bits
    func and(_ x: Bits, _ y: Bits) -> Bits
    func xor(_ x: Bits, _ y: Bits) -> Bits
    func notBit(_ x: Bits) -> Bits
    func b2a(_ b: Bits) -> Value
    func mulBA(_ b: Bits, _ x: Value) -> Value
    func mux(_ b: Bits, _ x: Value, _ y: Value) -> Value
    func max(_ x: Value, rows: Int, cols: Int) -> Value
    func argmax(_ x: Value, rows: Int, cols: Int) -> (values: Value, indices: Value)

    /// Attributes the cost of `body` to `name` (a no-op in the clear).
    func scope<T>(_ name: String, _ body: () throws -> T) rethrows -> T
}

extension Party: FixedPointBackend {
    public func count(_ x: ArithmeticShares) -> Int { x.count }
    public func constant(_ v: [UInt64]) -> ArithmeticShares { publicShares(v) }
    public func gather(_ x: ArithmeticShares, _ indices: [Int]) -> ArithmeticShares { x.gather(indices) }
    public func concatenate(_ parts: [ArithmeticShares]) -> ArithmeticShares { ArithmeticShares.concatenate(parts) }
    public func concatenateBits(_ parts: [BooleanShares]) -> BooleanShares { BooleanShares.concatenate(parts) }
    public func gatherBits(_ x: BooleanShares, _ indices: [Int]) -> BooleanShares { x.gather(indices) }
}

extension FixedPointBackend {
    /// Fixed-point product: truncate(x ⊙ y, f).
    public func mulFixed(_ x: Value, _ y: Value) -> Value { truncate(mul(x, y), bits: fixedPoint.fractionalBits) }

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
public struct CleartextBackend: FixedPointBackend {
    public let fixedPoint: FixedPoint

    public init(fixedPoint: FixedPoint = .standard) { self.fixedPoint = fixedPoint }

    public func count(_ x: [UInt64]) -> Int { x.count }
    public func constant(_ v: [UInt64]) -> [UInt64] { v }
    public func gather(_ x: [UInt64], _ indices: [Int]) -> [UInt64] { indices.map { x[$0] } }
    public func concatenate(_ parts: [[UInt64]]) -> [UInt64] { parts.flatMap { $0 } }

    public func add(_ x: [UInt64], _ y: [UInt64]) -> [UInt64] { Words.add(x, y) }
    public func sub(_ x: [UInt64], _ y: [UInt64]) -> [UInt64] { Words.sub(x, y) }
    public func neg(_ x: [UInt64]) -> [UInt64] { Words.neg(x) }
    public func addPublic(_ x: [UInt64], _ c: [UInt64]) -> [UInt64] { Words.add(x, c) }
    public func mulPublic(_ x: [UInt64], _ c: UInt64) -> [UInt64] { Words.scale(x, by: c) }
    public func mulPublic(_ x: [UInt64], _ c: [UInt64]) -> [UInt64] { Words.mul(x, c) }
    public func sumGroups(_ x: [UInt64], groupSize: Int) -> [UInt64] {
        (0..<(x.count / groupSize)).map { r in x[(r * groupSize)..<((r + 1) * groupSize)].reduce(0, &+) }
    }

    public func mul(_ x: [UInt64], _ y: [UInt64]) -> [UInt64] { Words.mul(x, y) }
    public func square(_ x: [UInt64]) -> [UInt64] { Words.mul(x, x) }
    public func sumOfSquares(_ x: [UInt64], groupSize: Int) -> [UInt64] { sumGroups(square(x), groupSize: groupSize) }
    public func matmul(_ x: [UInt64], _ y: [UInt64], m: Int, k: Int, n: Int, transposeY: Bool) -> [UInt64] {
        RingMatrix.multiply(x, y, m: m, k: k, n: n, transposeB: transposeY)
    }
    public func truncate(_ x: [UInt64], bits: Int) -> [UInt64] { x.map { Ring.arithmeticShift($0, bits) } }

    public func a2b(_ x: [UInt64]) -> [UInt64] { x }
    public func shiftRight(_ x: [UInt64], _ bits: Int) -> [UInt64] { Words.shiftRight(x, bits) }
    public func andPublic(_ x: [UInt64], _ mask: UInt64) -> [UInt64] { x.map { $0 & mask } }
    public func concatenateBits(_ parts: [[UInt64]]) -> [UInt64] { parts.flatMap { $0 } }
    public func gatherBits(_ x: [UInt64], _ indices: [Int]) -> [UInt64] { indices.map { x[$0] } }
    public func msb(_ x: [UInt64]) -> [UInt64] { x.map { $0 >> 63 } }
    public func lessThan(_ x: [UInt64], _ y: [UInt64]) -> [UInt64] { msb(sub(x, y)) }
    public func lessThan(_ x: [UInt64], public c: UInt64) -> [UInt64] { msb(x.map { $0 &- c }) }
    public func greaterThan(_ x: [UInt64], public c: UInt64) -> [UInt64] { msb(x.map { c &- $0 }) }
    public func equal(_ x: [UInt64], _ y: [UInt64]) -> [UInt64] { zip(x, y).map { $0 == $1 ? 1 : 0 } }
    public func and(_ x: [UInt64], _ y: [UInt64]) -> [UInt64] { Words.and(x, y) }
    public func xor(_ x: [UInt64], _ y: [UInt64]) -> [UInt64] { Words.xor(x, y) }
    public func notBit(_ x: [UInt64]) -> [UInt64] { x.map { $0 ^ 1 } }
    public func b2a(_ b: [UInt64]) -> [UInt64] { b.map { $0 & 1 } }
    public func mulBA(_ b: [UInt64], _ x: [UInt64]) -> [UInt64] { zip(b, x).map { $0 & 1 == 1 ? $1 : 0 } }
    public func mux(_ b: [UInt64], _ x: [UInt64], _ y: [UInt64]) -> [UInt64] { (0..<x.count).map { b[$0] & 1 == 1 ? x[$0] : y[$0] } }
    public func max(_ x: [UInt64], rows: Int, cols: Int) -> [UInt64] { argmax(x, rows: rows, cols: cols).values }
    public func argmax(_ x: [UInt64], rows: Int, cols: Int) -> (values: [UInt64], indices: [UInt64]) {
        var values: [UInt64] = [], indices: [UInt64] = []
        for r in 0..<rows {
            var best = 0
            for c in 1..<cols where Ring.signed(x[r * cols + c]) > Ring.signed(x[r * cols + best]) { best = c }
            values.append(x[r * cols + best])
            indices.append(UInt64(best))
        }
        return (values, indices)
    }

    public func scope<T>(_ name: String, _ body: () throws -> T) rethrows -> T { try body() }
}
