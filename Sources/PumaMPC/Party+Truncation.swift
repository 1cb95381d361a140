import PumaCore

/// Fixed-point truncation, alone or fused with the product before it.
extension Party {
    /// ⌊x / 2^d⌋ or ⌊x / 2^d⌋ + 1 (error below 1 ulp), deterministic — never a wrap-around — for
    /// every x in [−2^62, 2^62).
    ///
    /// Dalskov–Escudero–Keller 2020 (TruncPr with the 2^(k−2) offset), arranged for replicated
    /// sharing with a helper H who knows the mask and two parties L = H + 1, R = H + 2 who open:
    /// 1. r = ρ_L + ρ_R with ρ_L common to H, L and ρ_R common to H, R, so only H knows r. H sends R
    ///    its halves of 2-out-of-2 shares of r's top bit and of (r mod 2^63) ≫ d. Meanwhile L and R
    ///    open c = x + 2^62 + r to each other (x + 2^62 lies in [0, 2^63)).
    /// 2. With w = c₆₃ ⊕ r₆₃ (the borrow of the low 63 bits), L and R hold 2-out-of-2 shares of
    ///    y = (c mod 2^63) ≫ d − (r mod 2^63) ≫ d + w·2^(63−d) − 2^(62−d), and reshare them to
    ///    replicated form behind masks common with H.
    /// Only the top-bit share's low d + 1 bits matter (it is multiplied by 2^(63−d)), so H packs
    /// ⌊64 / (d + 1)⌋ of them per word (ABY3-style packing of short shares). The elements are cut in three chunks and each party is the
    /// helper of one, so every party sends the same amount.
    ///
    /// Cost: 2 rounds, 5n + Σ_chunks ⌈n_c / ⌊64/(d+1)⌋⌉ elements (≈ 5.33n at d = 18): round 1 2n
    /// between L and R and the dealt shares from H, round 2 2n. Every message is masked by a value its
    /// receiver does not know.
    public func truncate(_ x: ArithmeticShares, bits d: Int) -> ArithmeticShares {
        scope("truncation") { truncate(.replicated(x), bits: d) }
    }

    /// truncate(x ⊙ y, d) with the product's reshare folded into the truncation's first round: each
    /// party's additive share of the product (cross terms plus a zero-share) goes straight into the
    /// opening of c, H's share to both L and R. Cost: 2 rounds, 7n + Σ_chunks ⌈n_c / ⌊64/(d+1)⌋⌉ elements
    /// (against 3 rounds and 8.33n for `mul` then `truncate`). Same error as `truncate`.
    public func mul(_ x: ArithmeticShares, _ y: ArithmeticShares, truncatingBy d: Int) -> ArithmeticShares {
        scope("mul_truncation") { truncate(.additive(Words.crossTerms(x.first, x.second, y.first, y.second)), bits: d) }
    }

    /// truncate(x ⊙ y, d) for each d of `ds`, fused, from one opening (see `truncate(_:eachBy:)`);
    /// each result has `truncate`'s error. Cost: `Primitive.mulTruncateTwice` for two amounts.
    public func mul(_ x: ArithmeticShares, _ y: ArithmeticShares, truncatingEachBy ds: [Int]) -> [ArithmeticShares] {
        scope("mul_truncation") { truncate(.additive(Words.crossTerms(x.first, x.second, y.first, y.second)), eachBy: ds) }
    }

    /// What a truncation starts from: replicated shares, or Pi's additive share of an unreshared
    /// product (3-out-of-3: the zero-share is added here).
    enum TruncationInput {
        case replicated(ArithmeticShares)
        case additive([UInt64])

        var count: Int {
            switch self {
            case .replicated(let x): return x.count
            case .additive(let z): return z.count
            }
        }
    }

    /// Number of d + 1-bit top-bit shares packed per dealt word.
    static func topBitLanes(bits d: Int) -> Int { 64 / (d + 1) }

    /// The three chunks of n elements (chunk c has helper P_c).
    static func truncationChunks(_ n: Int) -> [Range<Int>] { (0..<3).map { c in (c * n / 3)..<((c + 1) * n / 3) } }

    func truncate(_ input: TruncationInput, bits d: Int) -> ArithmeticShares {
        truncate(input, eachBy: [d])[0]
    }

    /// The same value truncated by each of `ds` bits from one opening: r's top-bit shares and the
    /// opening are shared, each amount adds H's share of (r mod 2^63) ≫ d for R and its own round-2
    /// reshare. Cost: 2 rounds, (fused ? 4 : 2)·n + 3·k·n + Σ_chunks ⌈n_c / ⌊64/(max d + 1)⌋⌉ elements
    /// for k amounts (`Primitive.truncationCost`).
    func truncate(_ input: TruncationInput, eachBy ds: [Int]) -> [ArithmeticShares] {
        precondition(!ds.isEmpty && ds.allSatisfy { (1...62).contains($0) }, "truncation by \(ds) bits")
        let n = input.count, k = ds.count
        let low63: UInt64 = (1 << 63) - 1
        let offset: UInt64 = 1 << 62
        let borrowWeights = ds.map { UInt64(1) << UInt64(63 - $0) }
        let offsetsShifted = ds.map { UInt64(1) << UInt64(62 - $0) }
        // Packed lanes: equal widths of at least max d + 1 bits, the last one taking the spare bits, so
        // every bit of a dealt word is a uniformly random share bit (unused lanes deal shares of 0).
        let lanes = Self.topBitLanes(bits: ds.max()!), laneWidth = 64 / lanes
        let laneMasks: [UInt64] = (0..<lanes).map { j in
            let width = j == lanes - 1 ? 64 - (lanes - 1) * laneWidth : laneWidth
            return width == 64 ? ~0 : (1 << UInt64(width)) - 1
        }
        func padded(_ m: Int) -> Int { (m + lanes - 1) / lanes * lanes }
        let chunks = Self.truncationChunks(n)
        // This party's part of c = x + 2^62 + r before the masks: as L x_L + x_R + 2^62, as R x_H
        // (replicated), or its own additive share (+ 2^62 as L).
        var mine: [UInt64]
        var fused = false
        switch input {
        case .replicated(let x): mine = x.second
        case .additive(let z):
            mine = Words.add(z, zeroShare(n))
            fused = true
        }
        // Role in chunk c: 0 helper, 1 L, 2 R. L's helper is its previous party and R its next; the
        // helper's L is its next and R its previous.
        func role(_ c: Int) -> Int { (id - c + 3) % 3 }
        var toNext: [UInt64] = [], toPrevious: [UInt64] = []
        // Words drawn by H with L per chunk of m: ρ_L, L's top-bit shares (padded to whole words), L's
        // mid shares for each amount, x_{H+1} for each output; with R: ρ_R, x_H for each output.
        func withLCount(_ m: Int) -> Int { m + padded(m) + 2 * k * m }
        func midOffset(_ m: Int, _ j: Int) -> Int { m + padded(m) + j * m }
        func outputWithL(_ m: Int, _ j: Int) -> Int { m + padded(m) + (k + j) * m }
        // Per chunk, what round 2 needs: c (L and R), the 2-out-of-2 corrections, the output components.
        var results = (0..<k).map { _ in
            ArithmeticShares(first: [UInt64](repeating: 0, count: n), second: [UInt64](repeating: 0, count: n))
        }
        var opened: [Int: [UInt64]] = [:], ownMsb: [Int: ArraySlice<UInt64>] = [:], ownMid: [Int: [ArraySlice<UInt64>]] = [:]
        var keep: [Int: [ArraySlice<UInt64>]] = [:]
        for (c, range) in chunks.enumerated() {
            let m = range.count
            switch role(c) {
            case 0:
                // Helper: knows r = ρ_L + ρ_R; deals R's shares of r's top bit (packed) and of its shifted low bits.
                let p = padded(m)
                let withL = streamWithNext.words(withLCount(m)), withR = streamWithPrevious.words(m + k * m)
                if fused { let share = Array(mine[range]); toNext += share; toPrevious += share }
                var packed = [UInt64](repeating: 0, count: p / lanes)
                for i in 0..<p {
                    let top = i < m ? (withL[i] &+ withR[i]) >> 63 : 0
                    packed[i / lanes] |= ((top &- withL[m + i]) & laneMasks[i % lanes]) << UInt64(laneWidth * (i % lanes))
                }
                toPrevious += packed
                for (j, d) in ds.enumerated() {
                    let o = midOffset(m, j)
                    toPrevious += (0..<m).map { i in (((withL[i] &+ withR[i]) & low63) >> UInt64(d)) &- withL[o + i] }
                    // The output components: x_H common with R, x_{H+1} common with L.
                    results[j].first.replaceSubrange(range, with: withR[(m + j * m)..<(m + (j + 1) * m)])
                    results[j].second.replaceSubrange(range, with: withL[outputWithL(m, j)..<(outputWithL(m, j) + m)])
                }
            case 1:
                let withH = streamWithPrevious.words(withLCount(m))
                var part = [UInt64](repeating: 0, count: m)
                switch input {
                case .replicated(let x): for i in 0..<m { part[i] = x.first[range.lowerBound + i] &+ mine[range.lowerBound + i] &+ offset &+ withH[i] }
                case .additive: for i in 0..<m { part[i] = mine[range.lowerBound + i] &+ offset &+ withH[i] }
                }
                toNext += part
                opened[c] = part
                ownMsb[c] = withH[m..<(2 * m)]
                ownMid[c] = (0..<k).map { withH[midOffset(m, $0)..<(midOffset(m, $0) + m)] }
                keep[c] = (0..<k).map { withH[outputWithL(m, $0)..<(outputWithL(m, $0) + m)] }
                for j in 0..<k { results[j].first.replaceSubrange(range, with: keep[c]![j]) }
            default:
                let withH = streamWithNext.words(m + k * m)
                var part = [UInt64](repeating: 0, count: m)
                for i in 0..<m { part[i] = mine[range.lowerBound + i] &+ withH[i] }
                toPrevious += part
                opened[c] = part
                keep[c] = (0..<k).map { withH[(m + $0 * m)..<(m + ($0 + 1) * m)] }
                for j in 0..<k { results[j].second.replaceSubrange(range, with: keep[c]![j]) }
            }
        }
        let nextParty = (id + 1) % 3, previousParty = (id + 2) % 3
        let first = exchange(send: [(.party(nextParty), toNext), (.party(previousParty), toPrevious)],
                             receive: [.party(nextParty), .party(previousParty)])
        var fromNext = first[0][...], fromPrevious = first[1][...]
        func take(_ source: inout ArraySlice<UInt64>, _ count: Int) -> ArraySlice<UInt64> {
            defer { source = source.dropFirst(count) }
            return source.prefix(count)
        }
        toNext = []
        toPrevious = []
        var y: [Int: [[UInt64]]] = [:]
        for (c, range) in chunks.enumerated() {
            let m = range.count
            switch role(c) {
            case 0: continue
            case 1:
                // c = mine + R's part (+ H's additive share when fused).
                let other = take(&fromNext, m)
                let helper = fused ? Array(take(&fromPrevious, m)) : [UInt64](repeating: 0, count: m)
                let (part, msb) = (opened[c]!, ownMsb[c]!)
                var opening = [UInt64](repeating: 0, count: m), borrow = [UInt64](repeating: 0, count: m)
                for i in 0..<m {
                    let c = part[i] &+ other[other.startIndex + i] &+ helper[i]
                    let cMSB = c >> 63
                    let sign = 1 &- 2 &* cMSB  // 1 − 2c₆₃ ∈ {1, −1}
                    opening[i] = c & low63
                    borrow[i] = cMSB &+ msb[msb.startIndex + i] &* sign
                }
                y[c] = ds.indices.map { j in
                    let (mid, z) = (ownMid[c]![j], keep[c]![j])
                    return (0..<m).map { i in
                        (opening[i] >> UInt64(ds[j])) &- offsetsShifted[j] &- mid[mid.startIndex + i]
                            &+ borrow[i] &* borrowWeights[j] &- z[z.startIndex + i]
                    }
                }
                for v in y[c]! { toNext += v }
            default:
                let other = take(&fromPrevious, m)
                let helper = fused ? Array(take(&fromNext, m)) : [UInt64](repeating: 0, count: m)
                let packed = Array(take(&fromNext, padded(m) / lanes))
                let part = opened[c]!
                var signedTop = [UInt64](repeating: 0, count: m)
                for i in 0..<m {
                    let c = part[i] &+ other[other.startIndex + i] &+ helper[i]
                    let sign = 1 &- 2 &* (c >> 63)
                    signedTop[i] = ((packed[i / lanes] >> UInt64(laneWidth * (i % lanes))) & laneMasks[i % lanes]) &* sign
                }
                y[c] = ds.indices.map { j in
                    let (mid, z) = (take(&fromNext, m), keep[c]![j])
                    return (0..<m).map { i in 0 &- mid[mid.startIndex + i] &+ signedTop[i] &* borrowWeights[j] &- z[z.startIndex + i] }
                }
                for v in y[c]! { toPrevious += v }
            }
        }
        let second = exchange(send: [(.party(nextParty), toNext), (.party(previousParty), toPrevious)],
                              receive: [.party(nextParty), .party(previousParty)])
        fromNext = second[0][...]
        fromPrevious = second[1][...]
        // B = y_L + y_R: L's second component, R's first.
        for (c, range) in chunks.enumerated() {
            for j in 0..<k {
                switch role(c) {
                case 1: results[j].second.replaceSubrange(range, with: Words.add(y[c]![j], Array(take(&fromNext, range.count))))
                case 2: results[j].first.replaceSubrange(range, with: Words.add(y[c]![j], Array(take(&fromPrevious, range.count))))
                default: break
                }
            }
        }
        return results
    }
}
