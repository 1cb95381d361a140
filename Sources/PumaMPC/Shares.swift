/// Marks how a replicated sharing combines its components.
public protocol ShareKind: Sendable {}
/// x = x0 + x1 + x2 (mod 2^64).
public enum ArithmeticSharing: ShareKind {}
/// x = x0 ⊕ x1 ⊕ x2 on 64-bit words; single-bit values live in bit 0.
public enum BooleanSharing: ShareKind {}

/// One party's view of a 2-out-of-3 replicated sharing of a vector x: party Pi holds
/// (x_i, x_{i+1}) of the three components. Any single view is uniformly random.
public struct ReplicatedShares<Kind: ShareKind>: Sendable {
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
    public func gather(_ indices: [Int]) -> Self {
        Self(first: indices.map { first[$0] }, second: indices.map { second[$0] })
    }

    /// Elements `range`.
    public func slice(_ range: Range<Int>) -> Self {
        Self(first: Array(first[range]), second: Array(second[range]))
    }

    /// Appends `other`'s elements in place (amortised: a growing cache is not copied every pass).
    public mutating func append(_ other: Self) {
        first.append(contentsOf: other.first)
        second.append(contentsOf: other.second)
    }

    public static func concatenate(_ parts: [Self]) -> Self {
        Self(first: parts.flatMap(\.first), second: parts.flatMap(\.second))
    }
}

/// Shares of x = x0 + x1 + x2 (mod 2^64).
public typealias ArithmeticShares = ReplicatedShares<ArithmeticSharing>
/// Shares of x = x0 ⊕ x1 ⊕ x2.
public typealias BooleanShares = ReplicatedShares<BooleanSharing>
