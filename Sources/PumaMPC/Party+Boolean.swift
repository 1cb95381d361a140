import PumaCore

/// Boolean (XOR-shared) operations on 64-bit words (ABY3 §5).
extension Party {
    /// x ⊕ y. Local, exact.
    public func xor(_ x: BooleanShares, _ y: BooleanShares) -> BooleanShares {
        BooleanShares(first: Words.xor(x.first, y.first), second: Words.xor(x.second, y.second))
    }

    /// x ⊕ c for public words c (applied to component 0). Local.
    public func xorPublic(_ x: BooleanShares, _ c: [UInt64]) -> BooleanShares { xor(x, publicBits(c)) }

    /// x ∧ c for public words c. Local.
    public func andPublic(_ x: BooleanShares, _ c: UInt64) -> BooleanShares {
        BooleanShares(first: x.first.map { $0 & c }, second: x.second.map { $0 & c })
    }

    /// ¬x on single bits (bit 0). Local.
    public func notBit(_ x: BooleanShares) -> BooleanShares {
        xorPublic(x, [UInt64](repeating: 1, count: x.count))
    }

    /// Logical shifts of every component. Local.
    public func shiftLeft(_ x: BooleanShares, _ bits: Int) -> BooleanShares {
        BooleanShares(first: Words.shiftLeft(x.first, bits), second: Words.shiftLeft(x.second, bits))
    }

    public func shiftRight(_ x: BooleanShares, _ bits: Int) -> BooleanShares {
        BooleanShares(first: Words.shiftRight(x.first, bits), second: Words.shiftRight(x.second, bits))
    }

    /// x ∧ y bitwise: local cross terms plus a boolean zero-share, resent to P_{i−1}.
    /// Cost: 1 round, 3n words. Exact.
    public func and(_ x: BooleanShares, _ y: BooleanShares) -> BooleanShares {
        scope("and") {
            let z = Words.xor(Words.crossTermsXor(x.first, x.second, y.first, y.second), zeroShareXor(x.count))
            let received = exchange(send: [(.party(previous), z)], receive: [.party(next)])[0]
            return BooleanShares(first: z, second: received)
        }
    }
}
