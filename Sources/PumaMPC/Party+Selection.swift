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

    /// Row maxima at most ⌈log2 cols⌉·2^(32−k) below the true ones, by the same tree with
    /// `msbCoarse(·, k)` comparisons (7 rounds and half the comparison words per level): at each level
    /// a pair closer than 2^(32−k) may keep the smaller element. For softmax, which is shift-invariant.
    /// Differences must stay below 2^(63−k) − 2^(32−k).
    /// Cost per level with p pairs: 10 rounds, `msbCoarse` of p plus 6p elements.
    public func maxCoarse(_ x: ArithmeticShares, rows: Int, cols: Int, scaleBits k: Int) -> ArithmeticShares {
        scope("max") { reduce(x, indices: nil, rows: rows, cols: cols, coarseScaleBits: k).values }
    }

    /// Row maxima and the (secret) index of the first maximal column of each row, carrying
    /// (value, index) pairs through the same tree; the index never leaves its sharing.
    /// Cost per level with p pairs: 11 rounds, `msb` of p plus 9p elements.
    public func argmax(_ x: ArithmeticShares, rows: Int, cols: Int) -> (values: ArithmeticShares, indices: ArithmeticShares) {
        scope("argmax") {
            let columns = (0..<rows).flatMap { _ in (0..<cols).map { UInt64($0) } }
            let r = reduce(x, indices: publicShares(columns), rows: rows, cols: cols)
            return (r.values, r.indices!)
        }
    }

    private func reduce(_ x: ArithmeticShares, indices: ArithmeticShares?, rows: Int, cols: Int, coarseScaleBits: Int? = nil)
        -> (values: ArithmeticShares, indices: ArithmeticShares?) {
        precondition(x.count == rows * cols && cols > 0, "max: \(x.count) elements for \(rows)×\(cols)")
        var values = x, index = indices, width = cols
        while width > 1 {
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
