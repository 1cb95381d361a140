import PumaCore
import PumaMPC

extension FixedPointBackend {
    /// For each positive x, the one-hot position j of its highest set bit (x ∈ [2^j, 2^(j+1)) as a
    /// ring integer), returned as arithmetic 0/1 values for j in 0..<`bits`, j-major: result[j·n + i].
    /// A2B, prefix-OR (y ← y ∨ (y ≫ d), d = 1…32, with a ∨ b = a ⊕ b ⊕ a∧b), one-hot m = y ⊕ (y ≫ 1),
    /// then B2A of the `bits` candidate positions. Any public function g(j) is then the linear
    /// combination Σ_j onehot_j · g(j), with no further communication.
    /// Cost: 8 + 6 + 2 = 16 rounds, (37 + 18)n + 3·bits·n elements.
    func highestBitOneHot(_ x: Value, bits: Int) -> Value {
        scope("bitlength") {
            let n = count(x)
            var y = a2b(x)
            for level in 0..<6 {
                let shifted = shiftRight(y, 1 << level)
                y = xor(xor(y, shifted), and(y, shifted))
            }
            let m = xor(y, shiftRight(y, 1))
            let positions = concatenateBits((0..<bits).map { andPublic(shiftRight(m, $0), 1) })
            let onehot = b2a(positions)
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
