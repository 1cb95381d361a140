/// Element-wise operations on ring vectors ([UInt64], arithmetic mod 2^64 or bitwise).
public enum Words {
    @inline(__always)
    static func build(_ n: Int, _ f: (Int) -> UInt64) -> [UInt64] {
        [UInt64](unsafeUninitializedCapacity: n) { out, count in
            for i in 0..<n { out[i] = f(i) }
            count = n
        }
    }

    /// Bytes as little-endian words (the count must be a multiple of 8).
    public static func fromBytes(_ bytes: [UInt8]) -> [UInt64] {
        precondition(bytes.count % 8 == 0, "a whole number of words")
        return build(bytes.count / 8) { i in (0..<8).reduce(0) { $0 | UInt64(bytes[8 * i + $1]) << UInt64(8 * $1) } }
    }

    /// Words as little-endian bytes.
    public static func toBytes(_ words: [UInt64]) -> [UInt8] {
        words.flatMap { w in (0..<8).map { UInt8(truncatingIfNeeded: w >> UInt64(8 * $0)) } }
    }

    public static func add(_ a: [UInt64], _ b: [UInt64]) -> [UInt64] {
        precondition(a.count == b.count, "length mismatch")
        return a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in build(a.count) { x[$0] &+ y[$0] } } }
    }
    public static func sub(_ a: [UInt64], _ b: [UInt64]) -> [UInt64] {
        precondition(a.count == b.count, "length mismatch")
        return a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in build(a.count) { x[$0] &- y[$0] } } }
    }
    public static func mul(_ a: [UInt64], _ b: [UInt64]) -> [UInt64] {
        precondition(a.count == b.count, "length mismatch")
        return a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in build(a.count) { x[$0] &* y[$0] } } }
    }
    public static func xor(_ a: [UInt64], _ b: [UInt64]) -> [UInt64] {
        precondition(a.count == b.count, "length mismatch")
        return a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in build(a.count) { x[$0] ^ y[$0] } } }
    }
    public static func and(_ a: [UInt64], _ b: [UInt64]) -> [UInt64] {
        precondition(a.count == b.count, "length mismatch")
        return a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in build(a.count) { x[$0] & y[$0] } } }
    }
    public static func neg(_ a: [UInt64]) -> [UInt64] { a.map { 0 &- $0 } }
    public static func scale(_ a: [UInt64], by c: UInt64) -> [UInt64] { a.map { $0 &* c } }
    public static func shiftLeft(_ a: [UInt64], _ bits: Int) -> [UInt64] { a.map { $0 << UInt64(bits) } }
    public static func shiftRight(_ a: [UInt64], _ bits: Int) -> [UInt64] { a.map { $0 >> UInt64(bits) } }

    /// x_i·y_i + x_i·y'_i + x'_i·y_i — the local cross terms of a replicated product.
    public static func crossTerms(_ x: [UInt64], _ x2: [UInt64], _ y: [UInt64], _ y2: [UInt64]) -> [UInt64] {
        precondition(x.count == y.count && x2.count == x.count && y2.count == y.count, "length mismatch")
        return x.withUnsafeBufferPointer { a in x2.withUnsafeBufferPointer { b in
            y.withUnsafeBufferPointer { c in y2.withUnsafeBufferPointer { d in
                build(x.count) { a[$0] &* c[$0] &+ a[$0] &* d[$0] &+ b[$0] &* c[$0] }
            } }
        } }
    }

    /// Boolean analogue of `crossTerms` (AND for ×, XOR for +).
    public static func crossTermsXor(_ x: [UInt64], _ x2: [UInt64], _ y: [UInt64], _ y2: [UInt64]) -> [UInt64] {
        precondition(x.count == y.count && x2.count == x.count && y2.count == y.count, "length mismatch")
        return x.withUnsafeBufferPointer { a in x2.withUnsafeBufferPointer { b in
            y.withUnsafeBufferPointer { c in y2.withUnsafeBufferPointer { d in
                build(x.count) { (a[$0] & c[$0]) ^ (a[$0] & d[$0]) ^ (b[$0] & c[$0]) }
            } }
        } }
    }
}
