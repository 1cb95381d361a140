import PumaCore
import PumaMPC

extension FixedPointBackend {
    /// For each positive x, the one-hot position j of its highest set bit (x ∈ [2^j, 2^(j+1)) as a
    /// ring integer), returned as arithmetic 0/1 values for j in 0..<`bits`, j-major: result[j·n + i];
    /// all 0 for x < 1 or x ≥ 2^bits. The `bits` + 1 threshold tests [x ≥ 2^j] run as one batched
    /// msb, go to arithmetic in one B2A, and onehot_j = [x ≥ 2^j] − [x ≥ 2^(j+1)] (local). Any public
    /// function g(j) is then the linear combination Σ_j onehot_j · g(j), with no further communication.
    /// (An A2B and a prefix-OR find the same bit in 16 rounds and fewer words; the rows this serves —
    /// one per normalised row, one per softmax row — are few, so rounds matter more.)
    /// Cost: 8 + 2 = 10 rounds, about 13·(bits + 1)·n elements.
    func highestBitOneHot(_ x: Value, bits: Int) -> Value {
        scope("bitlength") {
            let n = count(x)
            let shifted = concatenate((0...bits).map { j in addPublic(x, [UInt64](repeating: 0 &- (UInt64(1) << UInt64(j)), count: n)) })
            let atLeast = b2a(notBit(msb(shifted)))  // [x ≥ 2^j], j = 0…bits
            let onehot = sub(gather(atLeast, Array(0..<(bits * n))), gather(atLeast, Array(n..<((bits + 1) * n))))
            precondition(count(onehot) == n * bits)
            return onehot
        }
    }

    /// Σ_j onehot_j · c_j for public ring constants c_j (local).
    func combine(_ onehot: Value, _ constants: [UInt64], n: Int) -> Value {
        var total = constant([UInt64](repeating: 0, count: n))
        for (j, c) in constants.enumerated() where c != 0 {
            total = add(total, mulPublic(part(onehot, j, of: n), c))
        }
        return total
    }
}
