import Foundation
import PumaCore
import PumaMPC
import PumaNN
import Testing

@Suite("Non-linear approximations")
struct NonLinearTests {
    let clear = CleartextBackend()
    let fp = FixedPoint.standard

    /// Max and mean absolute error of `approx` against `exact` over `grid`.
    func errors(_ grid: [Double], _ approx: [UInt64], _ exact: (Double) -> Double, relative: Bool = false) -> (max: Double, mean: Double, at: Double) {
        var worst = 0.0, at = 0.0, sum = 0.0
        for (x, y) in zip(grid, approx) {
            let e = exact(fp.decode(fp.encode(x)))  // the function at the representable input
            var err = abs(fp.decode(y) - e)
            // Relative error beyond the output's own quantisation (3 ulp = 1.1e−5).
            if relative { err = Swift.max(0, err - 3 / fp.scale) / abs(e) }
            sum += err
            if err > worst { worst = err; at = x }
        }
        return (worst, sum / Double(grid.count), at)
    }

    func grid(_ lo: Double, _ hi: Double, _ n: Int) -> [Double] { (0..<n).map { lo + (hi - lo) * Double($0) / Double(n - 1) } }

    @Test("negExp: PUMA's max error ≤ 0.0086, corrected ≤ 0.0003 on [−20, 0]; below −14 at most 1 ulp, for any input")
    func negExp() {
        let xs = grid(-20, 0, 20001)
        let puma = NonLinear.negExp(clear, fp.encode(xs), corrected: false)
        let ours = NonLinear.negExp(clear, fp.encode(xs))
        let e = errors(xs, puma, { Foundation.exp($0) })
        let c = errors(xs, ours, { Foundation.exp($0) })
        #expect(e.max <= 0.0086 && e.max > 0.008, "PUMA's max \(e.max) at \(e.at)")
        #expect(c.max <= 0.0003, "corrected max \(c.max) at \(c.at)")
        #expect(zip(xs, puma).allSatisfy { $0 >= -14 || $1 <= 1 })
        #expect(zip(xs, ours).allSatisfy { $0 >= -14 || $1 <= 1 })
        // Far below, nothing overflows (the input is clamped before the powers): no range violation
        // down to −2^25, where the coarse range test ends (and beyond it, one is reported).
        let monitor = RangeMonitor()
        let far = NonLinear.negExp(CleartextBackend(monitor: monitor), fp.encode([-100, -1e4, -3e7]))
        #expect(far.allSatisfy { $0 <= 1 } && monitor.total == 0, "\(far), \(monitor.summary)")
        let beyond = RangeMonitor()
        _ = NonLinear.negExp(CleartextBackend(monitor: beyond), fp.encode([-1e9]))
        #expect(beyond.violations[.domain] == 1, "\(beyond.summary)")
    }

    @Test("reciprocal: relative error ≤ 2e−4 (beyond 3 ulp) over ±[2^−10, 2^17]")
    func reciprocal() {
        var xs = (0..<4000).map { Foundation.pow(2, -10 + 27 * Double($0) / 3999) }
        xs += xs.map { -$0 }
        xs += [1, 2, 3, 7, 100, 512]
        let e = errors(xs, NonLinear.reciprocal(clear, fp.encode(xs)), { 1 / $0 }, relative: true)
        #expect(e.max <= 2e-4, "max relative \(e.max) at \(e.at)")
    }

    @Test("rsqrt: relative error ≤ 2e−4 (beyond 3 ulp) over [2^−8, 2^26), 0 from 2^26 on")
    func rsqrt() {
        let xs = (0..<4000).map { Foundation.pow(2, -8 + 33.99 * Double($0) / 3999) }
        let e = errors(xs, NonLinear.rsqrt(clear, fp.encode(xs)), { 1 / $0.squareRoot() }, relative: true)
        #expect(e.max <= 2e-4, "max relative \(e.max) at \(e.at)")
        #expect(NonLinear.rsqrt(clear, fp.encode([0x1p26, 0x1p30])) == [0, 0])
        // With 12 more output bits (as RMSNorm asks), small results keep their precision too.
        let wide = NonLinear.rsqrt(clear, fp.encode(xs), outputBits: fp.fractionalBits + 12)
        let worst = zip(xs, wide).map { x, y in
            let exact = 1 / fp.decode(fp.encode(x)).squareRoot()
            return abs(Double(Int64(bitPattern: y)) / 0x1p30 - exact) / exact
        }.max()!
        #expect(worst < 4e-5, "relative error with 30 output bits: \(worst)")
    }

    @Test("reciprocalOfPositive (softmax's 1/Σ): relative error ≤ 3e−5 over [1/4, 2^12) (rows up to 4,096 wide) with 12 extra bits, in the clear and on shares; 0 below 1/4")
    func reciprocalOfPositive() {
        let xs = (0..<3000).map { Foundation.pow(2, -2 + 13.99 * Double($0) / 2999) }
        let f = fp.fractionalBits
        func worst(_ y: [UInt64]) -> Double {
            zip(xs, y).map { x, y in
                let exact = 1 / fp.decode(fp.encode(x))
                return abs(Double(Int64(bitPattern: y)) / 0x1p30 - exact) / exact
            }.max()!
        }
        let clear = NonLinear.reciprocalOfPositive(CleartextBackend(), fp.encode(xs), outputBits: f + 12)
        #expect(worst(clear) < 3e-5, "in the clear: \(worst(clear))")
        let secure = MPC.run([fp.encode(xs)]) { p, v in NonLinear.reciprocalOfPositive(p, v[0], outputBits: f + 12) }
        #expect(worst(secure) < 3e-5, "on shares: \(worst(secure))")
        #expect(NonLinear.reciprocalOfPositive(CleartextBackend(), fp.encode([0.2, 0.01])) == [0, 0])
    }

    @Test("SiLU: PUMA's max error 0.072; ours ≤ 1.8e−3 for every |x| < 2,038 (its comparisons' range), comparisons in one msb")
    func silu() {
        let far = (0..<400).map { Foundation.pow(2, 4.9 + 6.08 * Double($0) / 399) } + [NonLinear.siluInputBound]  // 30 … 2,038
        let xs = grid(-30, 30, 60001) + far + far.map { -$0 }
        let exact: (Double) -> Double = { $0 / (1 + Foundation.exp(-$0)) }
        let puma = errors(xs, NonLinear.silu(clear, fp.encode(xs), method: .puma), exact)
        let ours = errors(xs, NonLinear.silu(clear, fp.encode(xs), method: .symmetric), exact)
        #expect(puma.max > 0.07 && puma.max < 0.073, "PUMA max \(puma.max) at \(puma.at)")
        let oursFar = errors(far.map { -$0 }, NonLinear.silu(clear, fp.encode(far.map { -$0 }), method: .symmetric), exact)
        #expect(oursFar.max <= 1e-4, "ours far below zero: \(oursFar.max) at \(oursFar.at)")
        #expect(ours.max <= 1.8e-3, "ours max \(ours.max) at \(ours.at)")
        let inner = grid(-8, 8, 16001)
        let pumaFar = errors(far, NonLinear.silu(clear, fp.encode(far), method: .puma), exact)
        #expect(pumaFar.max < 1e-9, "PUMA's SiLU is x beyond 4: \(pumaFar.max)")
        let oursInner = errors(inner, NonLinear.silu(clear, fp.encode(inner), method: .symmetric), exact)
        let pumaInner = errors(inner, NonLinear.silu(clear, fp.encode(inner), method: .puma), exact)
        #expect(oursInner.mean < pumaInner.mean, "mean on [−8, 8]: ours \(oursInner.mean), PUMA \(pumaInner.mean)")
        // Ours batches its comparisons into a single msb call.
        let sim = Simulation(seed: 1)
        let half = fp.encode([0.5])
        let counts = sim.run { p -> Int in
            let x = p.publicShares(half)
            p.ledger.reset()
            _ = NonLinear.silu(p, x, method: .symmetric)
            return p.ledger.records.filter { $0.key.hasSuffix("msb") }.count
        }
        #expect(counts[0] == 1)
    }

    @Test("GeLU: max error ≤ 0.021 (PUMA's 0.0199 in floating point, plus coefficient rounding)")
    func gelu() {
        let xs = grid(-10, 10, 20001)
        let e = errors(xs, NonLinear.gelu(clear, fp.encode(xs)), { 0.5 * $0 * (1 + erf($0 / 2.squareRoot())) })
        #expect(e.max <= 0.021, "max \(e.max) at \(e.at)")
    }

    @Test("softmax over ragged rows and RMSNorm against Double references")
    func rowFunctions() {
        var random = TestRandom(seed: 8)
        let lengths = [1, 5, 17, 3]
        let xs = (0..<lengths.reduce(0, +)).map { _ in Double(random.float(scale: 6)) }
        let y = fp.decode(NonLinear.softmax(clear, fp.encode(xs), lengths: lengths))
        var start = 0
        for l in lengths {
            let row = Array(xs[start..<(start + l)])
            let m = row.max()!
            let e = row.map { Foundation.exp($0 - m) }
            let s = e.reduce(0, +)
            for i in 0..<l { #expect(abs(y[start + i] - e[i] / s) < 0.015, "softmax row of \(l)") }
            #expect(abs(y[start..<(start + l)].reduce(0, +) - 1) < 0.02)
            start += l
        }
        let dim = 16
        let x = (0..<(3 * dim)).map { _ in Double(random.float(scale: 3)) }
        let w = (0..<dim).map { _ in 1 + Double(random.float(scale: 0.5)) }
        let rms = fp.decode(NonLinear.rmsNorm(clear, fp.encode(x), weight: fp.encode(w), dim: dim, eps: 1e-5))
        for r in 0..<3 {
            let row = Array(x[(r * dim)..<((r + 1) * dim)])
            let scale = 1 / (row.map { $0 * $0 }.reduce(0, +) / Double(dim) + 1e-5).squareRoot()
            for c in 0..<dim {
                #expect(abs(rms[r * dim + c] - row[c] * scale * w[c]) < 2e-3)
            }
        }
    }

    /// Rows of a residual stream with LLaMA's "massive activations" (Sun et al., 2024: about 2,600 in
    /// a few dimensions of LLaMA-2-7B) scaled up to ±4,000, the rest O(1).
    func massiveRows(dim: Int, rows: Int, seed: UInt64) -> [Double] {
        var random = TestRandom(seed: seed)
        var x = (0..<(rows * dim)).map { _ in Double(random.float(scale: 2)) }
        for r in 0..<rows { for (k, c) in [3, 1415, dim - 7, dim / 2].enumerated() { x[r * dim + c] = (k % 2 == 0 ? 4000 : -3800) / Double(r + 1) } }
        return x
    }

    func rmsNormReference(_ x: [Double], weight: [Double], dim: Int, eps: Double) -> [Double] {
        (0..<(x.count / dim)).flatMap { r -> [Double] in
            let row = x[(r * dim)..<((r + 1) * dim)]
            let scale = 1 / (row.map { $0 * $0 }.reduce(0, +) / Double(dim) + eps).squareRoot()
            return row.enumerated().map { $1 * scale * weight[$0] }
        }
    }

    @Test("RMSNorm with massive activations (±4,000 among O(1) values) at dim 4096, 5120 and 8192: within 1e−3 of Double, in the clear and on shares",
          arguments: [4096, 5120, 8192])
    func rmsNormMassive(dim: Int) {
        var random = TestRandom(seed: UInt64(dim))
        let x = massiveRows(dim: dim, rows: 2, seed: UInt64(dim))
        let w = (0..<dim).map { _ in 1 + Double(random.float(scale: 0.3)) }
        let expected = rmsNormReference(x, weight: w, dim: dim, eps: 1e-5)
        let clearResult = fp.decode(NonLinear.rmsNorm(clear, fp.encode(x), weight: fp.encode(w), dim: dim, eps: 1e-5))
        let secure = fp.decode(MPC.run([fp.encode(x), fp.encode(w)]) { p, v in NonLinear.rmsNorm(p, v[0], weight: v[1], dim: dim, eps: 1e-5) })
        for (name, result) in [("cleartext", clearResult), ("secure", secure)] {
            let worst = zip(result, expected).map { abs($0 - $1) }.max()!
            #expect(worst < 1e-3, "\(name) dim \(dim): max error \(worst)")
        }
        // 1/dim is exact: a row of ones normalises to the weights (1/5120 rounded to 2^−18 was 0.39 % off).
        let ones = [Double](repeating: 1, count: dim)
        let normalizedOnes = fp.decode(NonLinear.rmsNorm(clear, fp.encode(ones), weight: fp.encode(ones), dim: dim, eps: 0))
        #expect(normalizedOnes.allSatisfy { abs($0 - 1) < 2e-4 }, "dim \(dim): \(normalizedOnes.max()!)")
    }

    @Test("the cleartext backend counts what the secure protocols would get wrong, and nothing on valid inputs")
    func rangeMonitor() {
        // Valid inputs over the tested domains: no violation anywhere.
        let quiet = RangeMonitor()
        let watched = CleartextBackend(monitor: quiet)
        let far = (0..<200).map { Foundation.pow(2, 4.9 + 6.08 * Double($0) / 199) } + [NonLinear.siluInputBound]
        _ = NonLinear.silu(watched, fp.encode(grid(-30, 30, 2001) + far + far.map { -$0 }))
        _ = NonLinear.negExp(watched, fp.encode(grid(-20, 0, 2001)))
        _ = NonLinear.rsqrt(watched, fp.encode((0..<200).map { Foundation.pow(2, -8 + 33.9 * Double($0) / 199) }))
        _ = NonLinear.softmax(watched, fp.encode(grid(-30, 30, 300)), lengths: [100, 200])
        let dim = 4096
        _ = NonLinear.rmsNorm(watched, fp.encode(massiveRows(dim: dim, rows: 2, seed: 3)), weight: fp.encode([Double](repeating: 1, count: dim)),
                              dim: dim, eps: 1e-5)
        #expect(quiet.total == 0, "\(quiet.summary)")

        // Each kind of violation, caught and counted.
        func violations(_ body: (CleartextBackend) -> Void) -> [RangeMonitor.Kind: Int] {
            let monitor = RangeMonitor()
            body(CleartextBackend(monitor: monitor))
            return monitor.violations
        }
        #expect(violations { _ = $0.truncate([UInt64(1) << 62, 5, UInt64(bitPattern: -(1 << 62) - 1)], bits: 18) } == [.truncation: 2])
        #expect(violations { _ = $0.mul([UInt64(1) << 40, 3], [UInt64(1) << 30, 7]) } == [.product: 1])
        #expect(violations { _ = $0.add([UInt64(Int64.max)], [1]) } == [.sum: 1])
        #expect(violations { _ = $0.lessThan([UInt64(1) << 62], [UInt64(bitPattern: -(1 << 62) - 1)]) } == [.comparison: 1])
        #expect(violations { _ = NonLinear.rsqrt($0, fp.encode([0x1p27])) }[.domain] == 1)
        // The SiLU's coarse comparisons hold for |x| < 2,038: beyond, all five are reported.
        #expect(violations { _ = NonLinear.silu($0, fp.encode([5000.0, 3.0])) }[.domain] == 5)
        // A mean square of 2^26 (one entry of 2^19 at dim 4096) is beyond RMSNorm's range: reported.
        var huge = [Double](repeating: 0.5, count: dim)
        huge[9] = 0x1p19
        let rms = violations { _ = NonLinear.rmsNorm($0, fp.encode(huge), weight: fp.encode([Double](repeating: 1, count: dim)), dim: dim, eps: 0) }
        #expect(!rms.isEmpty, "RMSNorm beyond its range went unreported")
    }

    @Test("SiLU on shares near its thresholds (where the coarse comparisons may err by 2^−4) and at its range's ends: within 1.8e−3 of exact")
    func siluThresholdsOnShares() {
        let t = NonLinear.symmetricSiLUThresholds
        let thresholds: [Double] = [0, t.split, -t.split, t.end, -t.end]
        let xs: [Double] = thresholds.flatMap { c in (-256...256).map { c + Double($0) / 1024 } }
            + [NonLinear.siluInputBound, -NonLinear.siluInputBound]
        let secure = MPC.run([fp.encode(xs)]) { p, v in NonLinear.silu(p, v[0]) }
        let e = errors(xs, secure, { $0 / (1 + Foundation.exp(-$0)) })
        #expect(e.max <= 1.8e-3, "max \(e.max) at \(e.at)")
    }

    @Test("the costs the functions document: SiLU 14 rounds and 49 words per element, softmax over 8 positions 48 rounds, RMSNorm 22 rounds")
    func documentedCosts() {
        let n = 1200
        let xs = fp.encode((0..<n).map { Double($0 % 97) / 8 - 6 })
        let silu = MPC.measure(inputs: [xs]) { p, v in _ = NonLinear.silu(p, v[0]) }
        #expect(silu.rounds == 14 && abs(Double(silu.elements) / Double(n) - 49) < 0.5, "SiLU: \(silu)")
        // Causal rows of 1…8 positions, 32 heads' worth.
        let lengths = (0..<256).map { 1 + $0 % 8 }
        let scores = fp.encode((0..<lengths.reduce(0, +)).map { Double($0 % 13) / 3 })
        let softmax = MPC.measure(inputs: [scores]) { p, v in _ = NonLinear.softmax(p, v[0], lengths: lengths) }
        #expect(softmax.rounds == 48, "softmax: \(softmax)")
        let dim = 256
        let rows = fp.encode((0..<(4 * dim)).map { Double($0 % 31) / 4 - 3 })
        let rmsNorm = MPC.measure(inputs: [rows, fp.encode((0..<(4 * dim)).map { Double($0 % 31) / 256 - 0.05 })]) { p, v in
            _ = NonLinear.rmsNorm(p, v[0], scaled: v[1], dim: dim, eps: 1e-5)
        }
        #expect(rmsNorm.rounds == 22, "RMSNorm: \(rmsNorm)")
    }

    @Test("on shares, each function stays within a few ulp of the cleartext backend")
    func secureMatchesCleartext() {
        var random = TestRandom(seed: 9)
        let xs = (0..<256).map { _ in Double(random.float(scale: 10)) }
        let positive = xs.map { abs($0) + 0.01 }
        let negative = xs.map { -abs($0) * 2 }
        let inputs = [fp.encode(xs), fp.encode(positive), fp.encode(negative)]
        let clearResults = allFunctions(clear, inputs)
        let secure = MPC.run(inputs) { p, v in p.concatenate(allFunctions(p, v)) }
        let flat = clearResults.flatMap { $0 }
        let names = ["silu", "silu-puma", "gelu", "negExp", "reciprocal", "rsqrt", "softmax"]
        for (k, name) in names.enumerated() {
            var worst = 0.0
            for i in (k * 256)..<((k + 1) * 256) {
                worst = Swift.max(worst, abs(fp.decode(secure[i]) - fp.decode(flat[i])))
            }
            // Truncations round up by at most one ulp each; the approximations amplify that mildly.
            #expect(worst < 2e-3, "\(name): secure vs cleartext differ by \(worst)")
        }
    }
}

/// Every non-linear function once, for comparing backends.
func allFunctions<B: FixedPointBackend>(_ b: B, _ v: [B.Value]) -> [B.Value] {
    [NonLinear.silu(b, v[0]), NonLinear.silu(b, v[0], method: .puma), NonLinear.gelu(b, v[0]),
     NonLinear.negExp(b, v[2]), NonLinear.reciprocal(b, v[1]), NonLinear.rsqrt(b, v[1]),
     NonLinear.softmax(b, v[0], lengths: [64, 64, 128])]
}
