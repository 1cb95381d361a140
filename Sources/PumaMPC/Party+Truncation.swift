import PumaCore

/// Fixed-point truncation.
extension Party {
    /// ⌊x / 2^d⌋ or ⌊x / 2^d⌋ + 1 (error below 1 ulp), deterministic — never a wrap-around — for
    /// every x in [−2^62, 2^62).
    ///
    /// Dalskov–Escudero–Keller 2020 (TruncPr with the 2^(k−2) offset), arranged for replicated
    /// sharing with P2 as the helper who knows the mask:
    /// 1. r = ρ0 + ρ1 with ρ0 common to P0,P2 and ρ1 common to P1,P2, so only P2 knows r. P2 sends P1
    ///    its halves of 2-out-of-2 shares of r's top bit and of (r mod 2^63) ≫ d. Meanwhile P0 and P1
    ///    open c = x + 2^62 + r to each other (x + 2^62 lies in [0, 2^63)).
    /// 2. With w = c₆₃ ⊕ r₆₃ (the borrow of the low 63 bits), P0 and P1 hold 2-out-of-2 shares of
    ///    y = (c mod 2^63) ≫ d − (r mod 2^63) ≫ d + w·2^(63−d) − 2^(62−d), and reshare them to
    ///    replicated form behind masks common with P2.
    ///
    /// Cost: 2 rounds, 6n elements (round 1: 2n between P0,P1 and 2n from P2; round 2: 2n).
    /// Every message is masked by a value its receiver does not know.
    public func truncate(_ x: ArithmeticShares, bits d: Int) -> ArithmeticShares {
        precondition((1...62).contains(d), "truncation by \(d) bits")
        return scope("truncation") {
            let n = x.count
            let low63: UInt64 = (1 << 63) - 1
            let offset: UInt64 = 1 << 62
            let borrowWeight: UInt64 = 1 << UInt64(63 - d)
            let offsetShifted: UInt64 = 1 << UInt64(62 - d)
            switch id {
            case 2:
                // Helper: knows r, deals shares of its top bit and shifted low bits.
                let rho0 = common(with: 0, n), rho1 = common(with: 1, n)
                let msb0 = common(with: 0, n), mid0 = common(with: 0, n)
                var toP1 = [UInt64](repeating: 0, count: 2 * n)
                for i in 0..<n {
                    let r = rho0[i] &+ rho1[i]
                    toP1[i] = (r >> 63) &- msb0[i]
                    toP1[n + i] = ((r & low63) >> UInt64(d)) &- mid0[i]
                }
                _ = exchange(send: [(.party(1), toP1)], receive: [])
                // Round 2: the components z2 (common with P1) and z0 (common with P0) of the result.
                let z2 = common(with: 1, n), z0 = common(with: 0, n)
                _ = exchange(send: [], receive: [])
                return ArithmeticShares(first: z2, second: z0)
            case 0:
                let rho0 = common(with: 2, n), msb0 = common(with: 2, n), mid0 = common(with: 2, n)
                var part = [UInt64](repeating: 0, count: n)
                for i in 0..<n { part[i] = x.first[i] &+ x.second[i] &+ offset &+ rho0[i] }
                let other = exchange(send: [(.party(1), part)], receive: [.party(1)])[0]
                let z0 = common(with: 2, n)
                var y = [UInt64](repeating: 0, count: n)
                for i in 0..<n {
                    let c = part[i] &+ other[i]
                    let cMSB = c >> 63
                    let sign = 1 &- 2 &* cMSB  // 1 − 2c₆₃ ∈ {1, −1}
                    let w = cMSB &+ msb0[i] &* sign
                    y[i] = ((c & low63) >> UInt64(d)) &- offsetShifted &- mid0[i] &+ w &* borrowWeight &- z0[i]
                }
                let fromP1 = exchange(send: [(.party(1), y)], receive: [.party(1)])[0]
                return ArithmeticShares(first: z0, second: Words.add(y, fromP1))
            default:
                let rho1 = common(with: 2, n)
                var part = [UInt64](repeating: 0, count: n)
                for i in 0..<n { part[i] = x.second[i] &+ rho1[i] }
                let received = exchange(send: [(.party(0), part)], receive: [.party(0), .party(2)])
                let (other, dealt) = (received[0], received[1])
                let z2 = common(with: 2, n)
                var y = [UInt64](repeating: 0, count: n)
                for i in 0..<n {
                    let c = part[i] &+ other[i]
                    let sign = 1 &- 2 &* (c >> 63)
                    y[i] = 0 &- dealt[n + i] &+ dealt[i] &* sign &* borrowWeight &- z2[i]
                }
                let fromP0 = exchange(send: [(.party(0), y)], receive: [.party(0)])[0]
                return ArithmeticShares(first: Words.add(y, fromP0), second: z2)
            }
        }
    }
}
