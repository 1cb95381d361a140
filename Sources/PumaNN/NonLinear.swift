import Foundation
import PumaCore
import PumaMPC

/// PUMA's fixed-point approximations of the non-linear functions, written once against
/// `FixedPointBackend` so they run on shares and in the clear. Errors quoted are measured on the
/// cleartext backend against Foundation's math (see `NonLinearTests`); on shares each truncation
/// adds at most one more ulp (2^−18 ≈ 3.8e−6).
public enum NonLinear {
    /// Which SiLU approximation to use.
    public enum SiLUMethod: String, Sendable, CaseIterable {
        /// PUMA's: 4 pieces, 3 comparisons; max error 0.072 (just above x = 4); 21 rounds, 80 words per element (with fused truncations).
        case puma
        /// Ours: ReLU(x) − g(|x|) with g(a) = a·σ(−a), two cubic pieces on [0, 2.25) and [2.25, 9),
        /// 0 beyond; 5 comparisons ([x < 0], [x < ±2.25], [x < ±9]) batched in one coarse msb on
        /// 16-bit lanes; each element's piece input selected first, the selection folded into a
        /// Paterson–Stockmeyer evaluation; max error 1.6e−3 on [−20, 20], at most 1.8e−3 (tested) for
        /// every |x| < 2,038 (`siluInputBound`: what the comparisons' lanes hold; the model owner's
        /// gate rows are checked against it);
        /// 14 rounds, 49 words per element.
        case symmetric
    }

    /// e^x for x ≤ 0: inputs below −14 are first clamped to −14 (e^−14 < 2^−20, below one ulp), then
    /// (1 + x/2^t)^(2^t) with t = 5 (five squarings) — PUMA's, max error 0.0086 on [−14, 0] — times, by
    /// default, our correction c(x) = 1 + a + a²/2 − x³/(3·4^t) with a = x²/2^(t+1): the series of
    /// e^x / (1 + x/2^t)^(2^t); max error 0.00027. The clamp's 0/1 product is fused with the division by 2^t, giving
    /// v = x/32; v², then v³ and a² = (16v²)² ride along in the first two squaring rounds, and c is
    /// kept at 2f bits so that the final product absorbs its truncation. Clamping first (PUMA zeroes
    /// the output last, at the same cost) keeps every power in range for any input: nothing
    /// overflows, even in lanes that are thrown away.
    /// Inputs must lie in (−2^25, 0] (the range test is a coarse comparison). Cost (measured): corrected
    /// 23 rounds, 82 words per element; PUMA's 21 rounds, 52 words.
    public static func negExp<B: FixedPointBackend>(_ b: B, _ x: B.Value, corrected: Bool = true) -> B.Value {
        b.scope("exp") {
            // [x > −14] on coarse lanes: within 2^−6 of −14 either answer clamps to about −14.
            let inRange = b.msbCoarse(b.addPublic(b.neg(x), [UInt64](repeating: b.fixedPoint.encode(-negExpClamp), count: b.count(x))),
                                      scaleBits: coarseComparisonScaleBits)
            return clampedExponential(b, x, inRange: b.b2a(inRange), corrected: corrected)
        }
    }

    /// Inputs of `negExp` below −`negExpClamp` are clamped to it.
    public static let negExpClamp = 14.0

    /// `negExp` with the clamp's 0/1 bits [x ≥ −14] already known (softmax finds them with the row
    /// maxima). Cost: corrected 14 rounds, 73 words per element.
    static func negExp<B: FixedPointBackend>(_ b: B, _ x: B.Value, inRange: B.Value, corrected: Bool = true) -> B.Value {
        b.scope("exp") { clampedExponential(b, x, inRange: inRange, corrected: corrected) }
    }

    /// `negExp`'s work once the clamp bits are known (under the caller's "exp" scope).
    private static func clampedExponential<B: FixedPointBackend>(_ b: B, _ x: B.Value, inRange: B.Value, corrected: Bool) -> B.Value {
        let f = b.fixedPoint.fractionalBits
        let n = b.count(x)
        // v = max(x, −14)/32, fused: ([x > −14]·(x + 14))/32 − 14/32.
        let v = b.addPublicFixed(b.mul(inRange, b.addPublicFixed(x, negExpClamp), truncatingBy: 5), -negExpClamp / 32)
        var y = b.addPublicFixed(v, 1)
        guard corrected else {
            for _ in 0..<5 { y = b.square(y, truncatingBy: f) }
            return y
        }
        let first = b.mul(b.concatenate([y, v]), b.concatenate([y, v]), truncatingBy: f)
        let (y2, v2) = (b.part(first, 0, of: n), b.part(first, 1, of: n))
        let a = b.mulPublic(v2, 16)  // x²/64 = 16·v², exact
        let second = b.mul(b.concatenate([y2, a, v2]), b.concatenate([y2, a, v]), truncatingBy: f)
        y = b.part(second, 0, of: n)
        // c = 1 + 16v² + a²/2 − (2^15/3072)·v³ at 2f bits (public coefficients, no truncation).
        let fp = b.fixedPoint
        var correction = b.constant([UInt64](repeating: fp.encode(1) &* (UInt64(1) << UInt64(f)), count: n))
        for (term, c) in [(a, 1.0), (b.part(second, 1, of: n), 0.5), (b.part(second, 2, of: n), -32768.0 / 3072)] {
            correction = b.add(correction, b.mulPublic(term, fp.encode(c)))
        }
        for _ in 0..<3 { y = b.square(y, truncatingBy: f) }
        return b.mul(y, correction, truncatingBy: 2 * f)
    }

    /// 1/x by Goldschmidt's iteration (Catrina–Saxena §3.4): sign by MSB, normalise |x| = c·2^(j+1−f)
    /// with c ∈ [0.5, 1) from the highest set bit, w = (2.9142 − 2c)·2^(f−1−j), then two iterations
    /// r ← r(1 + e), e ← e². Domain 2^−f ≤ |x| < 2^f; relative error ≤ 5.4e−5 plus rounding.
    /// Cost: 37 rounds, 558 words per element.
    public static func reciprocal<B: FixedPointBackend>(_ b: B, _ x: B.Value) -> B.Value {
        b.scope("reciprocal") {
            let f = b.fixedPoint.fractionalBits
            let n = b.count(x)
            let sign = b.b2a(b.msb(x))
            let twiceSign = b.mulPublic(sign, 2)
            let magnitude = b.sub(x, b.mul(twiceSign, x))
            b.requireDomain(magnitude, 1, 1 << (2 * f), "reciprocal")
            let onehot = b.highestBitOneHot(magnitude, bits: 2 * f)
            let factor = b.combine(onehot, (0..<(2 * f)).map { UInt64(1) << UInt64(2 * f - 1 - $0) }, n: n)
            let c = b.mul(magnitude, factor, truncatingBy: f)
            let initial = b.addPublicFixed(b.mulPublic(c, UInt64(bitPattern: -2)), 2.9142)
            var r = b.mul(initial, factor, truncatingBy: f)
            var e = b.addPublicFixed(b.neg(b.mulFixed(magnitude, r)), 1)
            for _ in 0..<2 {
                let products = b.mul(b.concatenate([r, e]), b.concatenate([b.addPublicFixed(e, 1), e]), truncatingBy: f)
                (r, e) = (b.part(products, 0, of: n), b.part(products, 1, of: n))
            }
            return b.sub(r, b.mul(twiceSign, r))
        }
    }

    /// Largest input of `rsqrt` (exclusive): 2^26, so a mean square up to 6.7e7 (RMS 8192) normalises.
    public static let rsqrtDomainBits = 26

    /// 1/√x: x = u·2^k with u ∈ [0.25, 0.5) from the highest set bit (as in Lu et al., PPMLP'20), then
    /// 1/√u by a degree-6 polynomial in t = 8u − 3 ∈ [−1, 1) (Chebyshev fit, error 1.9e−6, all
    /// coefficients below 2 so that fixed-point rounding is not amplified), times 2^(−k/2) taken from
    /// the same one-hot bits. The factor and each coefficient are folded into public tables per bit
    /// position, G_i = c_i·2^(−k/2) at f + 16 fractional bits, and Σ G_i·t^i is evaluated in three
    /// product levels (t², G1·t, G3·t, G5·t; t⁴, G2·t², G3·t³, G6·t²; (G4 + G5·t + G6·t²)·t⁴ plus the
    /// rest, one fused truncation), so no separate truncation of the polynomial or product with the
    /// factor follows. The normalisation x·2^(P−1−j) of a highest bit j < P = f + 26 stays below 2^P.
    /// Domain 2^−f ≤ x < 2^26 (`rsqrtDomainBits`; 0 beyond); relative error ≤ 1.0e−5 over [2^−8, 2^26)
    /// with f + 12 output bits (measured), plus the output's quantisation with fewer.
    /// The result carries `outputBits` fractional bits (default f): more keep small results precise.
    /// A public `factor` multiplies the result at no cost (it is folded into the tables).
    /// Cost: 18 rounds (10 of them the bit length), about 640 words per element (most of them in the
    /// bit-length tests, on few rows).
    public static func rsqrt<B: FixedPointBackend>(_ b: B, _ x: B.Value, outputBits: Int? = nil, factor: Double = 1) -> B.Value {
        b.scope("rsqrt") {
            let f = b.fixedPoint.fractionalBits
            b.requireDomain(x, 1, 1 << (f + rsqrtDomainBits), "rsqrt")
            return powerByTables(b, x, exponent: -0.5, coefficients: inverseRootCoefficients, lowestBit: 0, outputBits: outputBits ?? f,
                                 factor: factor)
        }
    }

    /// 1/x for x ∈ [1/4, 2^26) (a softmax's row sum, at least about 1), as `rsqrt` computes 1/√x: the
    /// same bit length, the same three product levels, with 1/u by a degree-6 polynomial in
    /// t = 8u − 3 (relative error 8.8e−6) and 2^−k in the tables. 0 below 1/4.
    /// Cost: 18 rounds, about 640 words per element.
    public static func reciprocalOfPositive<B: FixedPointBackend>(_ b: B, _ x: B.Value, outputBits: Int? = nil) -> B.Value {
        b.scope("reciprocal") {
            let f = b.fixedPoint.fractionalBits
            b.requireDomain(x, 1 << (f - 2), 1 << (f + rsqrtDomainBits), "reciprocalOfPositive")
            return powerByTables(b, x, exponent: -1, coefficients: reciprocalCoefficients, lowestBit: f - 2, outputBits: outputBits ?? f)
        }
    }

    /// x^exponent for x = u·2^k, u ∈ [0.25, 0.5) from the highest set bit j ≥ `lowestBit` (0 below):
    /// Σ G_i·t^i with t = 8u − 3 and public tables G_i = c_i·2^(exponent·k) per bit position at f + 16
    /// fractional bits (`coefficients` fit u^exponent in t, times `factor`), in three product levels
    /// and one fused truncation to `outputBits`.
    private static func powerByTables<B: FixedPointBackend>(_ b: B, _ x: B.Value, exponent: Double, coefficients: [Double],
                                                           lowestBit: Int, outputBits: Int, factor publicFactor: Double = 1) -> B.Value {
        precondition(coefficients.count == 7, "a degree-6 polynomial")
        let f = b.fixedPoint.fractionalBits
        let n = b.count(x)
        let positions = f + rsqrtDomainBits
        let onehot = b.highestBitOneHot(x, bits: positions)
        let factor = b.combine(onehot, (0..<positions).map { UInt64(1) << UInt64(positions - 1 - $0) }, n: n)
        let u = b.mul(x, factor, truncatingBy: positions + 1 - f)  // x·2^(f−2−j): u ∈ [0.25, 0.5)
        let t = b.addPublicFixed(b.mulPublic(u, 8), -3)
        let extra = 16
        let g = coefficients.map { c in
            b.combine(onehot, (0..<positions).map { j -> UInt64 in
                guard j >= lowestBit else { return 0 }
                let k = Double(j + 2 - f)
                let power: Double = Foundation.pow(2.0, exponent * k)
                let value: Double = publicFactor * c * power * Foundation.pow(2.0, Double(f + extra))
                return UInt64(bitPattern: Int64(value.rounded()))
            }, n: n)
        }
        func part(_ v: B.Value, _ i: Int) -> B.Value { b.part(v, i, of: n) }
        // Level 1: t², G1·t, G3·t, G5·t (the G's at f + 16 bits, t at f: truncated by f).
        let first = b.mul(b.concatenate([t, g[1], g[3], g[5]]), b.concatenate([t, t, t, t]), truncatingBy: f)
        let t2 = part(first, 0)
        // Level 2: t⁴, G2·t², G3·t³, G6·t².
        let second = b.mul(b.concatenate([t2, g[2], part(first, 2), g[6]]), b.concatenate([t2, t2, t2, t2]), truncatingBy: f)
        // Level 3: (G4 + G5·t + G6·t²)·t⁴ + (G0 + G1·t + G2·t² + G3·t³)·2^f, one fused truncation.
        let high = b.add(b.add(g[4], part(first, 3)), part(second, 3))
        let low = b.add(b.add(g[0], part(first, 1)), b.add(part(second, 1), part(second, 2)))
        let scale = b.constant([UInt64](repeating: UInt64(1) << UInt64(f), count: n))
        return b.sumOfProducts(b.concatenate([high, low]), b.concatenate([part(second, 0), scale]), parts: 2,
                               truncatingBy: f + extra - (outputBits - f))
    }

    /// 1/u for u = (t + 3)/8 ∈ [0.25, 0.5), as a polynomial in t ∈ [−1, 1) (weighted least squares
    /// towards minimax relative error on 4,000 Chebyshev nodes; max relative error 8.8e−6).
    static let reciprocalCoefficients: [Double] = [
        2.666666667471362, -0.8890522848967257, 0.2963507471621062, -0.09747642219026055,
        0.03249217929751738, -0.013445035355089481, 0.004481652748008203,
    ]

    /// 1/√u for u = (t + 3)/8 ∈ [0.25, 0.5), as a polynomial in t ∈ [−1, 1) (least squares on 2,000
    /// Chebyshev nodes; max relative error 1.9e−6).
    static let inverseRootCoefficients: [Double] = [
        1.6329926790105311, -0.2721863924343811, 0.06805661062693881, -0.018737046602033285,
        0.005438271876677167, -0.001966616485014632, 0.0006187106252538154,
    ]

    /// Σ c_k x^k at 2f + `extraBits` fractional bits, not truncated (local): `powers` are x … x^d,
    /// `coefficients[k]` the per-element coefficient of x^k, encoded to 2^−(f + extraBits) (extra
    /// bits keep small coefficients of powers of larger inputs precise).
    static func weightedSum<B: FixedPointBackend>(_ b: B, _ powers: [B.Value], _ coefficients: [[Double]], extraBits: Int = 0) -> B.Value {
        let f = b.fixedPoint.fractionalBits
        let fine = FixedPoint(fractionalBits: f + extraBits)
        var sum = b.constant(coefficients[0].map { fine.encode($0) &* (UInt64(1) << UInt64(f)) })
        for k in 1..<coefficients.count { sum = b.add(sum, b.mulPublic(powers[k - 1], coefficients[k].map(fine.encode))) }
        return sum
    }

    /// SiLU(x) = x·σ(x) by the chosen approximation.
    public static func silu<B: FixedPointBackend>(_ b: B, _ x: B.Value, method: SiLUMethod = .symmetric) -> B.Value {
        b.scope("silu") {
            let fp = b.fixedPoint
            let n = b.count(x)
            switch method {
            case .puma:
                return fourPieces(b, x, thresholds: (-8, -4, 4)) { x in
                    let x2 = b.mulFixed(x, x)
                    let x4 = b.mulFixed(x2, x2)
                    let x6 = b.mulFixed(x2, x4)
                    return (linear(b, [x2, x], [-0.0055465625580307, -0.0819767021525476], constant: -0.3067541139982155),
                            linear(b, [x6, x4, x2, x], [0.0002743776353465, -0.011113046708173, 0.2281430841728270, 0.5],
                                   constant: 0.0085064025895951))
                }
            case .symmetric:
                // SiLU(x) = ReLU(x) − g(|x|) with g(a) = a·σ(−a), even in x and decaying like a·e^−a.
                // Comparisons on x itself, batched in one coarse msb: [x < 0], [x < ±B], [x < ±T]
                // (no x²). On bits 14…29 of x − c (16-bit lanes) they are exact for |x − c| < 2^11 − 2^−4
                // except within 2^−4 above each threshold c, which may read as below it — harmless
                // here: a value just above 0 read as negative gets −g(−x) = x − g(x), the same (g
                // extends past 0 as a·σ(−a), and the near piece is fitted on [−1/16, B + 1/16]); at ±B
                // and ±T the neighbouring piece is fitted 1/16 beyond its interval, and g(T − 1/16) < 1.2e−3.
                let (split, end) = symmetricSiLUThresholds
                func plus(_ c: Double) -> [UInt64] { [UInt64](repeating: fp.encode(c), count: n) }
                let bits = b.msbCoarse(b.concatenate([x] + [-split, split, -end, end].map { b.addPublic(x, plus($0)) }),
                                       scaleBits: siluComparisonScaleBits, laneBits: 16)
                let near = b.xor(b.part(bits, 1, of: n), b.part(bits, 2, of: n))     // |x| < B
                let within = b.xor(b.part(bits, 3, of: n), b.part(bits, 4, of: n))   // |x| < T
                // 0/1 selectors [x < 0], near, middle (B ≤ |x| < T): products with them are exact.
                let selectors = b.b2a(b.concatenateBits([b.part(bits, 0, of: n), near, b.xor(within, near)]))
                let negativePart = b.mul(b.part(selectors, 0, of: n), x)      // min(x, 0)
                let relu = b.sub(x, negativePart)
                let magnitude = b.sub(relu, negativePart)               // |x|
                // One polynomial input per element, its piece's: z = |x| near, |x| − B in the middle,
                // 0 beyond T (a sum of two exact 0/1 products, one element reshared). So each element
                // pays for one set of powers, not two.
                let pieceSelectors = b.gather(selectors, Array(n..<(3 * n)))
                let z = b.sumOfProducts(pieceSelectors, b.concatenate([magnitude, b.addPublic(magnitude, plus(-split))]),
                                        parts: 2, truncatingBy: nil)
                // Each piece p(z) = c0 + c1·z + z²·(c2 + c3·z) (Paterson–Stockmeyer), its coefficients
                // those of the fits in |x|/4 and (|x| − B)/8 rescaled by 4^−k and 8^−k and kept at
                // f + 12 bits. First: z² and the selected tail q = Σ_pieces s·(c2 + c3·z), batched in one
                // fused sum of products (z² as z·z + 0·0); then g = Σ_pieces s·(c0 + c1·z) + z²·q, one
                // more. Selection and powers in two fused steps: 4 rounds, 22 words per element.
                let f = fp.fractionalBits, extra = 12
                let pieces = [(symmetricSiLUNear, 4.0), (symmetricSiLUMiddle, 8.0)]
                func coefficients(_ piece: Int, _ ks: Range<Int>) -> [[Double]] {
                    ks.map { k in [Double](repeating: pieces[piece].0[k] / Foundation.pow(pieces[piece].1, Double(k)), count: n) }
                }
                let (nearPiece, middlePiece) = (b.part(pieceSelectors, 0, of: n), b.part(pieceSelectors, 1, of: n))
                let zero = b.constant([UInt64](repeating: 0, count: n))
                let tails = (0..<2).map { weightedSum(b, [z], coefficients($0, 2..<4), extraBits: extra) }
                let first = b.sumOfProducts(b.concatenate([z, nearPiece, zero, middlePiece]), b.concatenate([z, tails[0], zero, tails[1]]),
                                            parts: 2, truncatingBy: f)
                let (z2, tail) = (b.part(first, 0, of: n), b.part(first, 1, of: n))
                let heads = (0..<2).map { weightedSum(b, [z], coefficients($0, 0..<2), extraBits: extra) }
                let g = b.sumOfProducts(b.concatenate([nearPiece, middlePiece, z2]), b.concatenate(heads + [tail]), parts: 3, truncatingBy: f + extra)
                return b.sub(relu, g)
            }
        }
    }

    /// Softmax's and the exponential's coarse comparisons read the top 32 bits of (x − c)·2^20: fine
    /// to 2^−6 near a threshold, exact beyond it, for |x − c| < 2^25.
    static let coarseComparisonScaleBits = 20

    /// The SiLU's comparisons read the top 16 bits of (x − c)·2^34, bits 14…29 of x − c.
    static let siluComparisonScaleBits = 34

    /// The symmetric SiLU's inputs must stay below this in magnitude (with f = 18): its comparisons
    /// read bits 14…29 of x − c, exact while |x − c| < 2^29 − 2^14 encoded (2,048 − 1/16), and c
    /// reaches ±9. The gate projection's outputs are bounded by √dim times the largest row norm of
    /// W_gate·diag(w_norm), which the model owner checks (`LlamaWeights.gateBounds`) before anything is
    /// shared; the cleartext twin reports any input beyond.
    public static let siluInputBound = 2038.0

    /// The symmetric SiLU's pieces: g on [0, B) and [B, T), 0 beyond T (g(T − 1/16) = 1.2e−3).
    public static let symmetricSiLUThresholds = (split: 2.25, end: 9.0)

    /// g(a) = a·σ(−a) on [0, B) as a cubic in a/4, and on [B, T) in (a − B)/8, each fitted 1/16
    /// beyond its ends (minimax by linear programming on 3,000 points; fit errors 5.4e−4 and 1.6e−3).
    static let symmetricSiLUNear: [Double] = [
        5.652644930277369e-05, 2.0289237253618237, -4.5258023579803615, 2.8386740898360663,
    ]
    static let symmetricSiLUMiddle: [Double] = [
        0.2151667689491529, -0.9017586204312985, 1.3015619876713997, -0.6334020083752387,
    ]

    /// GeLU (BERT, GPT-2), PUMA's 4 pieces: 0 below −4, F0 on [−4, −1.95), F1 on [−1.95, 3], x above.
    /// Max error 0.0199 in floating point, 0.021 with coefficients rounded to 2^−18; 24 rounds, 96 words per element.
    public static func gelu<B: FixedPointBackend>(_ b: B, _ x: B.Value) -> B.Value {
        b.scope("gelu") {
            fourPieces(b, x, thresholds: (-4, -1.95, 3)) { x in
                let n = b.count(x)
                let x2 = b.mulFixed(x, x)
                let both = b.mul(b.concatenate([x2, x2]), b.concatenate([x, x2]), truncatingBy: b.fixedPoint.fractionalBits)
                let (x3, x4) = (b.part(both, 0, of: n), b.part(both, 1, of: n))
                let x6 = b.mulFixed(x3, x3)
                return (linear(b, [x3, x2, x], [-0.011034134030615728, -0.11807612951181953, -0.42226581151983866],
                               constant: -0.5054031199708174),
                        linear(b, [x6, x4, x2, x], [0.0018067462606141187, -0.037688200365904236, 0.3603292692789629, 0.5],
                               constant: 0.008526321541038084))
            }
        }
    }

    /// PUMA's piecewise pattern: 0 below t0, p0 on [t0, t1), p1 on [t1, t2], x above t2. The three
    /// comparisons [x < t0], [x < t1], [x > t2] share one msb call; one batched Mul_BA selects.
    static func fourPieces<B: FixedPointBackend>(_ b: B, _ x: B.Value, thresholds t: (Double, Double, Double),
                                                 pieces: (B.Value) -> (B.Value, B.Value)) -> B.Value {
        let fp = b.fixedPoint
        let n = b.count(x)
        func plus(_ c: Double) -> [UInt64] { [UInt64](repeating: fp.encode(c), count: n) }
        let bits = b.msb(b.concatenate([b.addPublic(x, plus(-t.0)), b.addPublic(x, plus(-t.1)), b.addPublic(b.neg(x), plus(t.2))]))
        let (b0, b1, b2) = (b.part(bits, 0, of: n), b.part(bits, 1, of: n), b.part(bits, 2, of: n))
        let (p0, p1) = pieces(x)
        let selectors = b.concatenateBits([b.xor(b0, b1), b.notBit(b.xor(b1, b2)), b2])
        return b.sumParts(b.mulBA(selectors, b.concatenate([p0, p1, x])), 3)
    }

    /// Row-wise softmax over ragged rows: row r holds `lengths[r]` values (concatenated); x̂ = x − max;
    /// e = negExp(x̂) (at most an ulp below −14, masked before summing); 1/Σe per row by
    /// `reciprocalOfPositive` (Σe ≥ 1), then one product per element. Rows of at most
    /// `Party.tournamentWidth` get their maxima and the exponential's clamp bits from one tournament
    /// (`maxAndNear`; 8 positions: 14 rounds instead of 23 + 9); wider ones a coarse tree over rows
    /// padded with a large public negative. Causally masked positions are never exponentiated.
    public static func softmax<B: FixedPointBackend>(_ b: B, _ x: B.Value, lengths: [Int]) -> B.Value {
        b.scope("softmax") {
            let rows = lengths.count
            let width = lengths.max() ?? 0
            let n = b.count(x)
            precondition(lengths.reduce(0, +) == n, "softmax: lengths do not add up")
            var starts: [Int] = []
            var start = 0
            for l in lengths { starts.append(start); start += l }
            let rowOf = lengths.enumerated().flatMap { Array(repeating: $0.offset, count: $0.element) }
            let e: B.Value
            if width <= Party.tournamentWidth {
                // The maxima by one exact tournament, the exponential's clamp bits [x − max ≥ −14]
                // found in the same comparisons.
                let (maxima, near) = b.maxAndNear(x, lengths: lengths, margin: b.fixedPoint.encode(negExpClamp))
                e = negExp(b, b.sub(x, b.gather(maxima, rowOf)), inRange: near)
            } else {
                // Padded matrix: gather real elements, then add public padding at the masked places.
                let veryNegative = b.fixedPoint.encode(-1e6)
                let extended = b.concatenate([x, b.constant([0])])
                var indices: [Int] = [], padding: [UInt64] = []
                for r in 0..<rows {
                    for c in 0..<width {
                        indices.append(c < lengths[r] ? starts[r] + c : n)
                        padding.append(c < lengths[r] ? 0 : veryNegative)
                    }
                }
                let padded = b.addPublic(b.gather(extended, indices), padding)
                // Softmax is shift-invariant: a maximum ⌈log2 width⌉·2^−6 low is as good (coarse
                // comparisons); the exponent's input may then exceed 0 by that much, where it is still accurate.
                let maxima = b.maxCoarse(padded, rows: rows, cols: width, scaleBits: coarseComparisonScaleBits)
                e = negExp(b, b.sub(x, b.gather(maxima, rowOf)))
            }
            // Row sums over the ragged rows (pad with public zeros to the common width).
            let sumsIndices = (0..<rows).flatMap { r in (0..<width).map { $0 < lengths[r] ? starts[r] + $0 : n } }
            let sums = b.sumGroups(b.gather(b.concatenate([e, b.constant([0])]), sumsIndices), groupSize: width)
            // 1/Σ by the bit length and a polynomial, with 12 extra fractional bits kept through the
            // product: Σ ≥ 1 up to the exponential's error, inside the domain [1/4, 2^26).
            let f = b.fixedPoint.fractionalBits, extra = 12
            let inverse = reciprocalOfPositive(b, sums, outputBits: f + extra)
            return b.mul(e, b.gather(inverse, rowOf), truncatingBy: f + extra)
        }
    }

    /// s with 4^s ≤ dim < 4^(s+1): RMSNorm squares x / 2^s, so the sum of squares is the mean square
    /// times κ = dim / 4^s ∈ [1, 4) (folded into rsqrt's tables and eps).
    public static func rmsNormShift(dim: Int) -> Int { (Int.bitWidth - 1 - dim.leadingZeroBitCount) / 2 }

    /// RMSNorm over rows of `dim`: x · rsqrt(mean(x²) + eps), times `weight` (a Value of `dim`) if
    /// given, with x / 2^s found here by a truncation (`rmsNormShift`).
    public static func rmsNorm<B: FixedPointBackend>(_ b: B, _ x: B.Value, weight: B.Value? = nil, dim: Int, eps: Double) -> B.Value {
        let scaled = b.scope("rmsnorm") { b.truncate(x, bits: rmsNormShift(dim: dim)) }
        return rmsNorm(b, x, scaled: scaled, weight: weight, dim: dim, eps: eps)
    }

    /// RMSNorm given `scaled` = x / 2^s (s = `rmsNormShift(dim)`; the secure transformer carries it
    /// along the residual stream). The secure transformer gives no weight: the owner folds each
    /// norm's weight into the columns of the matrices that read its output (W·diag(w), when
    /// encoding), which saves a product and a truncation per element.
    ///
    /// The sum of squares of the scaled row is κ·mean square (κ = dim/4^s ∈ [1, 4)) at 2f fractional
    /// bits; only the row sums are reshared (and truncated); rsqrt(S + κ·eps) times √κ, folded into its
    /// tables, is 1/RMS. S holds up to 2^26 — a mean square of 2^26/κ (RMS 8192 at dim 4096; LLaMA-2-7B's
    /// massive activations of ~2,600 in a few of 4,096 dimensions give about 2^13); beyond, the result
    /// is wrong (the cleartext backend reports the truncation it overflows).
    /// Cost (dim 4096, no weight): 22 rounds, about 7.4 words per element (the final fused product;
    /// the sum of squares reshares one word per row).
    public static func rmsNorm<B: FixedPointBackend>(_ b: B, _ x: B.Value, scaled: B.Value, weight: B.Value? = nil, dim: Int,
                                                     eps: Double) -> B.Value {
        b.scope("rmsnorm") {
            let f = b.fixedPoint.fractionalBits
            let rows = b.count(x) / dim
            let kappa = Double(dim) / Foundation.pow(4, Double(rmsNormShift(dim: dim)))
            // A weight product x ⊙ w does not depend on the norm: it shares the round of the sum of
            // squares and the truncation of the mean square, so only one product follows rsqrt.
            let empty = b.constant([])
            let (xw, sumSquares) = b.mulAndSumOfSquares(weight == nil ? empty : x,
                                                        weight.map { b.gather($0, (0..<(rows * dim)).map { $0 % dim }) } ?? empty,
                                                        squares: scaled, groupSize: dim, truncatingBy: f)
            // 1/RMS with 12 more fractional bits: for RMS ≈ 120 it is ≈ 0.008, which 2^−18 would
            // resolve to 0.05 % only; |x·w|/RMS ≤ √dim·|w| keeps the product far inside the ring.
            let scaleBits = 12
            let scale = rsqrt(b, b.addPublicFixed(sumSquares, kappa * eps), outputBits: f + scaleBits, factor: kappa.squareRoot())
            return b.mul(weight == nil ? x : xw, b.broadcast(scale, times: dim), truncatingBy: f + scaleBits)
        }
    }

    /// Σ c_k t_k + constant for public real coefficients (one truncation).
    static func linear<B: FixedPointBackend>(_ b: B, _ terms: [B.Value], _ coefficients: [Double], constant: Double) -> B.Value {
        let fp = b.fixedPoint
        let n = b.count(terms[0])
        var sum = b.constant([UInt64](repeating: fp.encode(constant) &* (UInt64(1) << UInt64(fp.fractionalBits)), count: n))
        for (t, c) in zip(terms, coefficients) { sum = b.add(sum, b.mulPublic(t, fp.encode(c))) }
        return b.truncate(sum, bits: fp.fractionalBits)
    }
}
