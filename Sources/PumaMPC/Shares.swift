/// One party's view of a 2-out-of-3 replicated **arithmetic** sharing of a vector x:
/// x = x0 + x1 + x2 (mod 2^64) and party Pi holds (x_i, x_{i+1}). Any single view is uniformly random.
public struct ArithmeticShares: Sendable {
    /// x_i
    public var first: [UInt64]
    /// x_{i+1}
    public var second: [UInt64]

    public init(first: [UInt64], second: [UInt64]) {
        precondition(first.count == second.count, "share components differ in length")
        self.first = first
        self.second = second
    }

    public var count: Int { first.count }

    /// Elements at `indices` (a local rearrangement).
    public func gather(_ indices: [Int]) -> ArithmeticShares {
        ArithmeticShares(first: indices.map { first[$0] }, second: indices.map { second[$0] })
    }

    /// Elements `range`.
    public func slice(_ range: Range<Int>) -> ArithmeticShares {
        ArithmeticShares(first: Array(first[range]), second: Array(second[range]))
    }

    public static func concatenate(_ parts: [ArithmeticShares]) -> ArithmeticShares {
        ArithmeticShares(first: parts.flatMap(\.first), second: parts.flatMap(\.second))
    }
}

/// One party's view of a 2-out-of-3 replicated **boolean** sharing of 64-bit words:
/// x = x0 ⊕ x1 ⊕ x2 and party Pi holds (x_i, x_{i+1}). Single-bit values live in bit 0.
public struct BooleanShares: Sendable {
    public var first: [UInt64]
    public var second: [UInt64]

    public init(first: [UInt64], second: [UInt64]) {
        precondition(first.count == second.count, "share components differ in length")
        self.first = first
        self.second = second
    }

    public var count: Int { first.count }

    public func gather(_ indices: [Int]) -> BooleanShares {
        BooleanShares(first: indices.map { first[$0] }, second: indices.map { second[$0] })
    }

    public func slice(_ range: Range<Int>) -> BooleanShares {
        BooleanShares(first: Array(first[range]), second: Array(second[range]))
    }

    public static func concatenate(_ parts: [BooleanShares]) -> BooleanShares {
        BooleanShares(first: parts.flatMap(\.first), second: parts.flatMap(\.second))
    }
}
