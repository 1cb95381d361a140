import PumaCore

/// Maxima and argmax by tree reduction.
extension Party {
    /// Row maxima of x ([rows × cols] → [rows]) by a tree of ⌈log2 cols⌉ levels; each level compares
    /// neighbouring columns of every row at once and keeps the larger.
    /// Cost per level with p pairs in total: 11 rounds (8 + 3), `msb` of p plus 6p elements. Exact.
    /// Correct when all differences are below 2^63 in magnitude (true for encoded values).
    public func max(_ x: ArithmeticShares, rows: Int, cols: Int) -> ArithmeticShares {
        scope("max") { reduce(x, rows: rows, cols: cols) }
    }

    /// Row maxima at most ⌈log2 cols⌉·2^(32−k) below the true ones, for softmax (shift-invariant).
    /// While rows are wider than `tournamentWidth`, the same tree with `msbCoarse(·, k)` comparisons
    /// (7 rounds and half the comparison words per level; a pair closer than 2^(32−k) may keep the
    /// smaller element); then one exact tournament of the remaining columns (`tournament`): 14 rounds
    /// for up to 8 columns instead of 20 for three halvings, on few elements. Differences must stay
    /// below 2^(63−k) − 2^(32−k). Cost: `Primitive.maxCoarse`.
    public func maxCoarse(_ x: ArithmeticShares, rows: Int, cols: Int, scaleBits k: Int) -> ArithmeticShares {
        scope("max") {
            var values = x, width = cols
            if width > Self.tournamentWidth {
                // Halve until the rows fit one tournament.
                var levels = 0, w = width
                while w > Self.tournamentWidth { w = w / 2 + w % 2; levels += 1 }
                values = reduce(values, rows: rows, cols: width, coarseScaleBits: k, levels: levels)
                width = w
            }
            guard width > 1 else { return values }
            return tournament(values, groups: Self.groups(rows: rows, width: width, size: width), carrying: nil).values
        }
    }

    /// Row maxima of ragged rows (row r: the next `lengths[r]` elements, each row at most
    /// `tournamentWidth` long) by one exact tournament, and with them each element's bit
    /// [x + margin ≥ its row's maximum] as an arithmetic 0/1 — softmax's clamp of x − max at −margin,
    /// found with the maximum instead of after it. Cost: 8 + ⌈log2(w − 1)⌉ + 3 rounds for rows of
    /// w ≥ 3 columns; `msb` of 3·C(l, 2) per row of l, one B2A of 2 bits per element.
    public func maxAndNear(_ x: ArithmeticShares, lengths: [Int], margin: UInt64) -> (maxima: ArithmeticShares, near: ArithmeticShares) {
        precondition(lengths.allSatisfy { (1...Self.tournamentWidth).contains($0) } && lengths.reduce(0, +) == x.count,
                     "maxAndNear: rows of 1…\(Self.tournamentWidth) columns covering x")
        return scope("max") {
            var groups: [Range<Int>] = [], start = 0
            for l in lengths { groups.append(start..<(start + l)); start += l }
            let t = tournament(x, groups: groups, carrying: nil, margin: margin)
            return (t.values, t.near!)
        }
    }

    /// Rows at most this wide are reduced by one tournament.
    public static let tournamentWidth = 16

    /// Groups of up to `size` consecutive columns in each row of `width`.
    static func groups(rows: Int, width: Int, size: Int) -> [Range<Int>] {
        (0..<rows).flatMap { r in
            stride(from: 0, to: width, by: size).map { c in (r * width + c)..<(r * width + Swift.min(width, c + size)) }
        }
    }

    /// One tournament over consecutive groups of x (covering it, in order): every pair of a group
    /// compared exactly ([x_i < x_j], one batched `msb`); element i wins when it is ≥ every later and >
    /// every earlier member (exactly one winner: exact comparisons are transitive, ties go to the
    /// lowest index); its s − 1 bits are ANDed on packed words (`andAll`), converted by one B2A, and
    /// Σ winner·x per group reshared as one word per group (and Σ winner·index when `carrying`
    /// indices). A group of one passes its element through. With a `margin` m, the same `msb` batch
    /// also compares x_i + m < x_j for every ordered pair of a group, and each element's bit
    /// [x_i + m ≥ max] = ∧_j ¬[x_i + m < x_j] is ANDed and converted along (a lone element's is 1).
    /// Cost: `Primitive.tournamentCost`.
    func tournament(_ x: ArithmeticShares, groups: [Range<Int>], carrying indices: ArithmeticShares?, margin: UInt64? = nil)
        -> (values: ArithmeticShares, indices: ArithmeticShares?, near: ArithmeticShares?) {
        scope("tournament") {
            let contested = groups.filter { $0.count >= 2 }
            guard !contested.isEmpty else {
                return (x, indices, margin.map { _ in publicShares([UInt64](repeating: 1, count: x.count)) })
            }
            // The comparisons: per group, its pairs i < j ([x_i < x_j]), then with a margin its
            // ordered pairs i ≠ j ([x_i + m < x_j]); `pairBase` and `passBase` locate each group's.
            let compared = contested.reduce(0) { $0 + $1.count * ($1.count - 1) / 2 * (margin == nil ? 1 : 3) }
            var left: [Int] = [], right: [Int] = [], offsets: [UInt64] = []
            left.reserveCapacity(compared)
            right.reserveCapacity(compared)
            offsets.reserveCapacity(compared)
            var pairBase: [Int] = [], passBase: [Int] = [], elements: [Int] = []
            for g in contested {
                pairBase.append(left.count)
                for i in g { for j in (i + 1)..<g.upperBound { left.append(i); right.append(j); offsets.append(0) } }
                passBase.append(left.count)
                if let margin {
                    for i in g { for j in g where j != i { left.append(i); right.append(j); offsets.append(margin) } }
                }
                elements += g
            }
            let less = msb(addPublic(sub(x.gather(left), x.gather(right)), offsets))  // [x_left + offset < x_right]
            // Column k: each element's k-th opponent j (k < i: j = k, else k + 1); i beats a later j
            // when ¬[x_i < x_j], an earlier one when [x_j < x_i]; an element with fewer than k
            // opponents repeats its first (a ∧ a = a).
            let columnCount = contested.map(\.count).max()! - 1
            let columns = (0..<columnCount).map { k -> BooleanShares in
                var winPairs: [Int] = [], negate: [UInt64] = [], passPairs: [Int] = []
                winPairs.reserveCapacity(elements.count)
                negate.reserveCapacity(elements.count)
                for (g, group) in contested.enumerated() {
                    let size = group.count
                    let opponent = k < size - 1 ? k : 0
                    // Index of pair (a, b), a < b, among the group's pairs in row-major order.
                    func pair(_ a: Int, _ b: Int) -> Int { pairBase[g] + a * (2 * size - a - 1) / 2 + (b - a - 1) }
                    for i in 0..<size {
                        let j = opponent < i ? opponent : opponent + 1
                        winPairs.append(j > i ? pair(i, j) : pair(j, i))
                        negate.append(j > i ? 1 : 0)
                        if margin != nil { passPairs.append(passBase[g] + i * (size - 1) + opponent) }
                    }
                }
                var column = xorPublic(less.gather(winPairs), negate)
                if margin != nil { column.append(notBit(less.gather(passPairs))) }
                return column
            }
            let bits = columns.isEmpty ? publicBits([]) : andAll(columns)
            let converted = b2a(bits)
            let w = converted.slice(0..<elements.count)
            // Σ winner·x (and Σ winner·index) per group: cross terms summed per group before the reshare.
            func groupSums(_ v: ArithmeticShares) -> [UInt64] {
                let vs = v.gather(elements)
                let terms = Words.crossTerms(w.first, w.second, vs.first, vs.second)
                var local: [UInt64] = [], e = 0
                for g in contested {
                    local.append(terms[e..<(e + g.count)].reduce(0, &+))
                    e += g.count
                }
                return local
            }
            let sources = [x] + (indices.map { [$0] } ?? [])
            let merged = split(reshare(sources.flatMap(groupSums)), sources.map { _ in contested.count })
            // Reassemble: each group's winner, or a lone element as it is.
            var order: [Int] = [], o = 0
            for g in groups {
                if g.count == 1 { order.append(-1 - g.lowerBound) } else { order.append(o); o += 1 }
            }
            func assemble(_ winners: ArithmeticShares, _ source: ArithmeticShares) -> ArithmeticShares {
                ArithmeticShares.concatenate([winners, source]).gather(order.map { $0 >= 0 ? $0 : winners.count - 1 - $0 })
            }
            var near: ArithmeticShares?
            if margin != nil {
                // Back to x's order: grouped elements' converted bits, a lone element's public 1.
                var position = [Int](repeating: -1, count: x.count)
                for (e, i) in elements.enumerated() { position[i] = e }
                let all = ArithmeticShares.concatenate([converted.slice(elements.count..<(2 * elements.count)), publicShares([1])])
                near = all.gather(position.map { $0 >= 0 ? $0 : elements.count })
            }
            return (assemble(merged[0], x), indices.map { assemble(merged[1], $0) }, near)
        }
    }

    /// The AND of `columns` (equal-length vectors of single bits) in ⌈log2 count⌉ rounds: the
    /// columns are padded to a power of two by repeating the first (a ∧ a = a), then halved level by
    /// level, every level's bits packed 64 to a word. Cost: `Primitive.andAllCost`. Exact.
    func andAll(_ columns: [BooleanShares]) -> BooleanShares {
        precondition(!columns.isEmpty, "andAll of no columns")
        var level = columns
        while level.count & (level.count - 1) != 0 { level.append(columns[0]) }
        let n = columns[0].count
        while level.count > 1 {
            let half = level.count / 2
            let both = and(BitPacking.pack(BooleanShares.concatenate(Array(level[..<half]))),
                           BitPacking.pack(BooleanShares.concatenate(Array(level[half...]))))
            let unpacked = BitPacking.unpack(both, count: half * n)
            level = (0..<half).map { unpacked.slice(($0 * n)..<(($0 + 1) * n)) }
        }
        return level[0]
    }

    /// Row maxima and the (secret) index of the first maximal column of each row, carrying
    /// (value, index) pairs through exact tournaments (`tournament`): groups of 4 while rows are
    /// wider than `argmaxWideWidth`, then of up to 16 (a 32,000-way argmax: 13 + 13 + 15 + 15 + 14
    /// rounds); the index never leaves its sharing. Cost: `Primitive.argmax`.
    public func argmax(_ x: ArithmeticShares, rows: Int, cols: Int) -> (values: ArithmeticShares, indices: ArithmeticShares) {
        precondition(x.count == rows * cols && cols > 0, "argmax: \(x.count) elements for \(rows)×\(cols)")
        return scope("argmax") {
            var values = x, width = cols
            var indices = publicShares((0..<rows).flatMap { _ in (0..<cols).map { UInt64($0) } })
            while width > 1 {
                let size = Self.argmaxGroupSize(width: width)
                let level = tournament(values, groups: Self.groups(rows: rows, width: width, size: size), carrying: indices)
                (values, indices) = (level.values, level.indices!)
                width = (width + size - 1) / size
            }
            return (values, indices)
        }
    }

    /// Rows wider than this are first reduced by tournaments of 4 (fewer comparisons per element).
    static let argmaxWideWidth = 2048

    /// The group size of an argmax level on rows of `width`.
    static func argmaxGroupSize(width: Int) -> Int {
        width > argmaxWideWidth ? 4 : Swift.min(width, tournamentWidth)
    }

    /// Pairwise levels (all of them, or the first `levels`).
    private func reduce(_ x: ArithmeticShares, rows: Int, cols: Int, coarseScaleBits: Int? = nil, levels: Int = .max) -> ArithmeticShares {
        precondition(x.count == rows * cols && cols > 0, "max: \(x.count) elements for \(rows)×\(cols)")
        var values = x, width = cols, level = 0
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
            // winner = a + bit·(b − a).
            let winners = scope("mux") { add(a, mul(b2a(takeRight), sub(b, a))) }
            // Reassemble rows: the pair winners, then the carried odd element.
            var parts: [ArithmeticShares] = []
            for r in 0..<rows {
                parts.append(winners.slice((r * pairs)..<((r + 1) * pairs)))
                if width % 2 == 1 { parts.append(values.gather([r * width + width - 1])) }
            }
            values = ArithmeticShares.concatenate(parts)
            width = pairs + width % 2
        }
        return values
    }
}
