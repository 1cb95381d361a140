import PumaCore

/// Arithmetic on replicated shares (Araki et al. 2016; ABY3 §3).
extension Party {
    // MARK: Local operations (0 rounds, 0 bytes, exact)

    public func add(_ x: ArithmeticShares, _ y: ArithmeticShares) -> ArithmeticShares {
        ArithmeticShares(first: Words.add(x.first, y.first), second: Words.add(x.second, y.second))
    }

    public func sub(_ x: ArithmeticShares, _ y: ArithmeticShares) -> ArithmeticShares {
        ArithmeticShares(first: Words.sub(x.first, y.first), second: Words.sub(x.second, y.second))
    }

    public func neg(_ x: ArithmeticShares) -> ArithmeticShares {
        ArithmeticShares(first: Words.neg(x.first), second: Words.neg(x.second))
    }

    /// x + c for a public vector c (added to component 0).
    public func addPublic(_ x: ArithmeticShares, _ c: [UInt64]) -> ArithmeticShares {
        add(x, publicShares(c))
    }

    /// x + c for a public scalar c.
    public func addPublic(_ x: ArithmeticShares, _ c: UInt64) -> ArithmeticShares {
        addPublic(x, [UInt64](repeating: c, count: x.count))
    }

    /// c · x for a public ring scalar (an integer, or a fixed-point constant followed by truncation).
    public func mulPublic(_ x: ArithmeticShares, _ c: UInt64) -> ArithmeticShares {
        ArithmeticShares(first: Words.scale(x.first, by: c), second: Words.scale(x.second, by: c))
    }

    /// c ⊙ x element-wise for a public vector c.
    public func mulPublic(_ x: ArithmeticShares, _ c: [UInt64]) -> ArithmeticShares {
        ArithmeticShares(first: Words.mul(x.first, c), second: Words.mul(x.second, c))
    }

    /// X[m×k] · W for a public matrix W ([k×n], or [n×k] when `transposeW`).
    public func matmulPublic(_ x: ArithmeticShares, _ w: [UInt64], m: Int, k: Int, n: Int, transposeW: Bool = false) -> ArithmeticShares {
        ArithmeticShares(first: RingMatrix.multiply(x.first, w, m: m, k: k, n: n, transposeB: transposeW),
                         second: RingMatrix.multiply(x.second, w, m: m, k: k, n: n, transposeB: transposeW))
    }

    /// Sums of consecutive groups of `groupSize` elements ([rows × groupSize] → [rows]).
    public func sumGroups(_ x: ArithmeticShares, groupSize: Int) -> ArithmeticShares {
        precondition(groupSize > 0 && x.count % groupSize == 0, "sumGroups: \(x.count) is not a multiple of \(groupSize)")
        func sums(_ v: [UInt64]) -> [UInt64] {
            (0..<(v.count / groupSize)).map { r in v[(r * groupSize)..<((r + 1) * groupSize)].reduce(0, &+) }
        }
        return ArithmeticShares(first: sums(x.first), second: sums(x.second))
    }

    // MARK: Products (1 round)

    /// Turns Pi's additive share z_i of a product into replicated shares: adds a fresh zero-share α_i
    /// (without it the reshared value leaks the inputs — CrypTen #518), sends it to P_{i−1} and
    /// receives z_{i+1} from P_{i+1}. Cost: 1 round, 3n elements.
    func reshare(_ z: [UInt64]) -> ArithmeticShares {
        let masked = Words.add(z, zeroShare(z.count))
        let received = exchange(send: [(.party(previous), masked)], receive: [.party(next)])[0]
        return ArithmeticShares(first: masked, second: received)
    }

    /// Replicated shares of the value whose additive share (before the zero-share) Pi holds in
    /// `local`: `reshare`d, or truncated by d bits with the reshare fused into the truncation.
    func finish(_ local: [UInt64], truncatingBy d: Int?) -> ArithmeticShares {
        guard let d else { return reshare(local) }
        return truncate(.additive(local), bits: d)
    }

    /// x ⊙ y over the ring (no truncation: fixed-point products carry 2f fractional bits).
    /// Cost: 1 round, 3n elements. Exact.
    public func mul(_ x: ArithmeticShares, _ y: ArithmeticShares) -> ArithmeticShares {
        scope("mul") { reshare(Words.crossTerms(x.first, x.second, y.first, y.second)) }
    }

    /// Σ_p x_p ⊙ y_p over the `parts` equal parts of x and y (x = x_0 ‖ … ‖ x_{parts−1}): the parts'
    /// cross terms are added locally, so only n / parts elements are reshared — or truncated by d
    /// bits, fused. Cost: that of `mul` (or of `mul(_:_:truncatingBy:)`) on n / parts elements. Exact
    /// without truncation.
    public func sumOfProducts(_ x: ArithmeticShares, _ y: ArithmeticShares, parts: Int, truncatingBy d: Int? = nil) -> ArithmeticShares {
        precondition(parts > 0 && x.count % parts == 0 && y.count == x.count, "sumOfProducts: \(x.count) elements in \(parts) parts")
        return scope(d == nil ? "mul" : "mul_truncation") {
            let terms = Words.crossTerms(x.first, x.second, y.first, y.second)
            let m = x.count / parts
            var local = Array(terms[0..<m])
            for p in 1..<parts { for i in 0..<m { local[i] = local[i] &+ terms[p * m + i] } }
            return finish(local, truncatingBy: d)
        }
    }

    /// Several independent products in one round (the cost of one `mul` on the total length).
    public func mul(_ pairs: [(ArithmeticShares, ArithmeticShares)]) -> [ArithmeticShares] {
        let x = ArithmeticShares.concatenate(pairs.map(\.0))
        let y = ArithmeticShares.concatenate(pairs.map(\.1))
        return split(mul(x, y), pairs.map { $0.0.count })
    }

    /// x² element-wise. Cost: 1 round, 3n elements.
    public func square(_ x: ArithmeticShares) -> ArithmeticShares {
        scope("mul") { reshare(squareTerms(x)) }
    }

    /// truncate(x², d), fused as `mul(_:_:truncatingBy:)`. Cost: that of `Primitive.mulTruncate`.
    public func square(_ x: ArithmeticShares, truncatingBy d: Int) -> ArithmeticShares {
        scope("mul_truncation") { truncate(.additive(squareTerms(x)), bits: d) }
    }

    /// Pi's additive share of x² (before the zero-share): x_i² + 2·x_i·x_{i+1}.
    private func squareTerms(_ x: ArithmeticShares) -> [UInt64] {
        x.first.indices.map { i in x.first[i] &* x.first[i] &+ 2 &* x.first[i] &* x.second[i] }
    }

    /// x ⊙ y and Σ z² per group of `groupSize`, reshared together in one round: the squares' local
    /// cross terms are summed per group before the reshare, so only the row sums travel (for
    /// RMSNorm, whose weight product does not wait for the norm). Cost: 1 round, 3·(n + rows) elements. Exact.
    /// With `truncatingBy`, both results are truncated by d bits, the reshare fused into the
    /// truncation (2 rounds: `Primitive.mulTruncate` on n + rows elements).
    public func mulAndSumOfSquares(_ x: ArithmeticShares, _ y: ArithmeticShares, squares z: ArithmeticShares,
                                   groupSize: Int, truncatingBy d: Int? = nil) -> (product: ArithmeticShares, sumOfSquares: ArithmeticShares) {
        precondition(groupSize > 0 && z.count % groupSize == 0, "mulAndSumOfSquares: \(z.count) is not a multiple of \(groupSize)")
        return scope(d == nil ? "mul" : "mul_truncation") {
            let rows = z.count / groupSize
            var local = Words.crossTerms(x.first, x.second, y.first, y.second)
            local.reserveCapacity(x.count + rows)
            for r in 0..<rows {
                var sum: UInt64 = 0
                for i in (r * groupSize)..<((r + 1) * groupSize) {
                    let (a, b) = (z.first[i], z.second[i])
                    sum = sum &+ a &* (a &+ 2 &* b)
                }
                local.append(sum)
            }
            let both = finish(local, truncatingBy: d)
            return (both.slice(0..<x.count), both.slice(x.count..<both.count))
        }
    }

    /// X[m×k] · Y over the ring, Y = [k×n] (or [n×k] when `transposeY`). Locally
    /// Z_i = X_i·(Y_i + Y_{i+1}) + X_{i+1}·Y_i (two ring GEMMs), then one reshare.
    /// Cost: 1 round, 3·m·n elements. Exact.
    public func matmul(_ x: ArithmeticShares, _ y: ArithmeticShares, m: Int, k: Int, n: Int, transposeY: Bool = false) -> ArithmeticShares {
        matmul([(x, y)], m: m, k: k, n: n, transposeY: transposeY)[0]
    }

    /// A batch of independent matrix products of the same shape (e.g. one per attention head),
    /// reshared together in one round. Cost: 1 round, 3·batch·m·n elements.
    /// With `truncatingBy`, the outputs are truncated by d bits, the reshare fused into the
    /// truncation (`Primitive.mulTruncate` on batch·m·n).
    public func matmul(_ pairs: [(ArithmeticShares, ArithmeticShares)], m: Int, k: Int, n: Int, transposeY: Bool = false,
                       truncatingBy d: Int? = nil) -> [ArithmeticShares] {
        scope(d == nil ? "matmul" : "matmul_truncation") {
            var local: [UInt64] = []
            local.reserveCapacity(pairs.count * m * n)
            for (x, y) in pairs {
                var z = RingMatrix.multiply(x.first, Words.add(y.first, y.second), m: m, k: k, n: n, transposeB: transposeY)
                RingMatrix.multiplyAdd(x.second, y.first, into: &z, m: m, k: k, n: n, transposeB: transposeY)
                local += z
            }
            return split(finish(local, truncatingBy: d), Array(repeating: m * n, count: pairs.count))
        }
    }

    /// Splits concatenated shares into consecutive parts of the given sizes.
    public func split(_ x: ArithmeticShares, _ sizes: [Int]) -> [ArithmeticShares] {
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return x.slice(start..<(start + size))
        }
    }
}
