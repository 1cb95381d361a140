import PumaCore

/// Maxima and argmax by tree reduction.
extension Party {
    /// Row maxima of x ([rows × cols] → [rows]) by a tree of ⌈log2 cols⌉ levels; each level compares
    /// neighbouring columns of every row at once and keeps the larger.
    /// Cost per level with p pairs in total: 11 rounds (8 + 3), `msb` of p plus 6p elements. Exact.
    /// Correct when all differences are below 2^63 in magnitude (true for encoded values).
    public func max(_ x: ArithmeticShares, rows: Int, cols: Int) -> ArithmeticShares {
        scope("max") { reduce(x, indices: nil, rows: rows, cols: cols).values }
    }

    /// Row maxima at most ⌈log2 cols⌉·2^(32−k) below the true ones, for softmax (shift-invariant).
    /// While rows are wider than `tournamentWidth`, the same tree with `msbCoarse(·, k)` comparisons
    /// (7 rounds and half the comparison words per level; a pair closer than 2^(32−k) may keep the
    /// smaller element); from there on, exact 4-way tournaments (`tournamentLevel`): 13 rounds for a
    /// quarter of the width instead of 20 for two halvings, on few elements. Differences must stay
    /// below 2^(63−k) − 2^(32−k). Cost: `Primitive.maxCoarse`.
    public func maxCoarse(_ x: ArithmeticShares, rows: Int, cols: Int, scaleBits k: Int) -> ArithmeticShares {
        scope("max") {
            var values = x, width = cols
            if width > Self.tournamentWidth {
                // Halve until the rows fit the tournaments.
                var levels = 0, w = width
                while w > Self.tournamentWidth { w = w / 2 + w % 2; levels += 1 }
                values = reduce(values, indices: nil, rows: rows, cols: width, coarseScaleBits: k, levels: levels).values
                width = w
            }
            while width > 2 {
                values = tournamentLevel(values, carrying: nil, rows: rows, width: width).values
                width = (width + 3) / 4
            }
            return width == 2 ? reduce(values, indices: nil, rows: rows, cols: 2, coarseScaleBits: k).values : values
        }
    }

    /// Rows at most this wide are reduced by 4-way tournaments in `maxCoarse`.
    static let tournamentWidth = 16

    /// One level of 4-way tournaments: each row's columns in groups of 4 (the last may hold 1–3);
    /// every pair of a group compared exactly ([x_i < x_j], one batched `msb`); element i wins when it
    /// is ≥ every later and > every earlier member (exactly one winner: exact comparisons are
    /// transitive, ties go to the lowest index), its bits ANDed in 2 rounds (fewer than three padded
    /// by repeating one), converted by one B2A, and Σ winner·x per group reshared as one word per group (and
    /// Σ winner·index when `carrying` indices).
    /// Cost: 13 rounds; `msb` of the pairs, 9 words per grouped element and 3 per group (6 carrying).
    func tournamentLevel(_ x: ArithmeticShares, carrying indices: ArithmeticShares?, rows: Int, width: Int)
        -> (values: ArithmeticShares, indices: ArithmeticShares?) {
        scope("tournament") {
            // Groups (row, first column, size) and, per grouped element, the comparisons it must win.
            var groups: [(start: Int, size: Int)] = []
            for r in 0..<rows {
                for c in stride(from: 0, to: width, by: 4) { groups.append((r * width + c, Swift.min(4, width - c))) }
            }
            var left: [Int] = [], right: [Int] = []
            var wins: [[(pair: Int, negate: Bool)]] = []  // per element of groups of size ≥ 2
            var elements: [Int] = []
            for g in groups where g.size >= 2 {
                var pairIndex = [[Int]](repeating: [Int](repeating: -1, count: g.size), count: g.size)
                for i in 0..<g.size {
                    for j in (i + 1)..<g.size {
                        pairIndex[i][j] = left.count
                        left.append(g.start + i)
                        right.append(g.start + j)
                    }
                }
                for i in 0..<g.size {
                    elements.append(g.start + i)
                    // i beats a later j when ¬[x_i < x_j]; an earlier j when [x_j < x_i].
                    wins.append((0..<g.size).filter { $0 != i }.map { j in j > i ? (pairIndex[i][j], true) : (pairIndex[j][i], false) })
                }
            }
            let less = msb(sub(x.gather(left), x.gather(right)))  // [x_left < x_right]
            // Three bits per element, ANDed in two rounds; an element with fewer repeats its first
            // (a ∧ a = a).
            let columns = (0..<3).map { k in
                let bits = wins.map { $0[k < $0.count ? k : 0] }
                return xorPublic(less.gather(bits.map(\.pair)), bits.map { $0.negate ? 1 : 0 })
            }
            let winner = and(and(columns[0], columns[1]), columns[2])
            let w = b2a(winner)
            // Σ winner·x (and Σ winner·index) per group: cross terms summed per group before the reshare.
            func groupSums(_ v: ArithmeticShares) -> [UInt64] {
                let vs = v.gather(elements)
                let terms = Words.crossTerms(w.first, w.second, vs.first, vs.second)
                var local: [UInt64] = [], e = 0
                for g in groups where g.size >= 2 {
                    local.append(terms[e..<(e + g.size)].reduce(0, &+))
                    e += g.size
                }
                return local
            }
            let sources = [x] + (indices.map { [$0] } ?? [])
            let merged = split(reshare(sources.flatMap(groupSums)), sources.map { _ in groups.filter { $0.size >= 2 }.count })
            // Reassemble: each group's winner, or a lone element as it is.
            var order: [Int] = [], o = 0
            for g in groups {
                if g.size == 1 { order.append(-1 - g.start) } else { order.append(o); o += 1 }
            }
            func assemble(_ winners: ArithmeticShares, _ source: ArithmeticShares) -> ArithmeticShares {
                ArithmeticShares.concatenate([winners, source]).gather(order.map { $0 >= 0 ? $0 : winners.count - 1 - $0 })
            }
            return (assemble(merged[0], x), indices.map { assemble(merged[1], $0) })
        }
    }

    /// Row maxima and the (secret) index of the first maximal column of each row, carrying
    /// (value, index) pairs through exact 4-way tournaments (`tournamentLevel`, 13 rounds per
    /// quartering) and a last pairwise level when 2 columns remain (11 rounds); the index never
    /// leaves its sharing. Cost: `Primitive.argmax`.
    public func argmax(_ x: ArithmeticShares, rows: Int, cols: Int) -> (values: ArithmeticShares, indices: ArithmeticShares) {
        scope("argmax") {
            var values = x, width = cols
            var indices = publicShares((0..<rows).flatMap { _ in (0..<cols).map { UInt64($0) } })
            while width > 2 {
                let level = tournamentLevel(values, carrying: indices, rows: rows, width: width)
                (values, indices) = (level.values, level.indices!)
                width = (width + 3) / 4
            }
            guard width == 2 else { return (values, indices) }
            let r = reduce(values, indices: indices, rows: rows, cols: 2)
            return (r.values, r.indices!)
        }
    }

    /// Pairwise levels (all of them, or the first `levels`).
    private func reduce(_ x: ArithmeticShares, indices: ArithmeticShares?, rows: Int, cols: Int, coarseScaleBits: Int? = nil,
                        levels: Int = .max) -> (values: ArithmeticShares, indices: ArithmeticShares?) {
        precondition(x.count == rows * cols && cols > 0, "max: \(x.count) elements for \(rows)×\(cols)")
        var values = x, index = indices, width = cols, level = 0
        while width > 1 && level < levels {
            level += 1
            let pairs = width / 2
            var left: [Int] = [], right: [Int] = []
            for r in 0..<rows {
                for p in 0..<pairs {
                    left.append(r * width + 2 * p)
                    right.append(r * width + 2 * p + 1)
                }
            }
            let (a, b) = (values.gather(left), values.gather(right))
            // Take the right element only when strictly larger, so ties keep the lower index.
            let takeRight = coarseScaleBits.map { msbCoarse(sub(a, b), scaleBits: $0) } ?? lessThan(a, b)
            let newWidth = pairs + width % 2
            // One bit conversion serves both selections: winner = a + bit·(b − a).
            let merged: [ArithmeticShares] = scope("mux") {
                let bit = b2a(takeRight)
                var factors = [(bit, sub(b, a))]
                var bases = [a]
                if let idx = index {
                    let (ia, ib) = (idx.gather(left), idx.gather(right))
                    factors.append((bit, sub(ib, ia)))
                    bases.append(ia)
                }
                return zip(bases, mul(factors)).map { add($0, $1) }
            }
            // Reassemble rows: the pair winners, then the carried odd element.
            func assemble(_ winners: ArithmeticShares, _ source: ArithmeticShares) -> ArithmeticShares {
                var parts: [ArithmeticShares] = []
                for r in 0..<rows {
                    parts.append(winners.slice((r * pairs)..<((r + 1) * pairs)))
                    if width % 2 == 1 { parts.append(source.gather([r * width + width - 1])) }
                }
                return ArithmeticShares.concatenate(parts)
            }
            values = assemble(merged[0], values)
            if let idx = index { index = assemble(merged[1], idx) }
            width = newWidth
        }
        return (values, index)
    }
}
