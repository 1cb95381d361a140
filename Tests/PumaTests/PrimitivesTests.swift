import Foundation
import PumaCore
import PumaMPC
import Testing

@Suite("MPC primitives against plaintext ring arithmetic")
struct PrimitivesTests {
    static let n = 1200

    @Test("input sharing, opening to all and to the client round-trip any 64-bit value")
    func inputReveal() {
        var s = RingSamples(seed: 11)
        let x = s.words(Self.n)
        #expect(MPC.run([x]) { _, v in v[0] } == x)
        let sim = Simulation(seed: 5)
        var received: [UInt64] = []
        _ = sim.run(dealers: { s in
            s.client.share(x)
            received = s.client.receiveOutput()
        }) { party in
            party.revealToClient(party.input(from: .client, count: x.count))
            return 0
        }
        #expect(received == x)
    }

    @Test("local linear operations")
    func linear() {
        var s = RingSamples(seed: 12)
        let (x, y, c) = (s.words(Self.n), s.words(Self.n), s.words(Self.n))
        let k = s.words(1)[0]
        let out = MPC.run([x, y]) { p, v in
            ArithmeticShares.concatenate([p.add(v[0], v[1]), p.sub(v[0], v[1]), p.neg(v[0]), p.addPublic(v[0], c),
                                          p.mulPublic(v[0], k), p.mulPublic(v[1], c)])
        }
        let n = Self.n
        #expect(Array(out[0..<n]) == zip(x, y).map { $0 &+ $1 })
        #expect(Array(out[n..<(2 * n)]) == zip(x, y).map { $0 &- $1 })
        #expect(Array(out[(2 * n)..<(3 * n)]) == x.map { 0 &- $0 })
        #expect(Array(out[(3 * n)..<(4 * n)]) == zip(x, c).map { $0 &+ $1 })
        #expect(Array(out[(4 * n)..<(5 * n)]) == x.map { $0 &* k })
        #expect(Array(out[(5 * n)...]) == zip(y, c).map { $0 &* $1 })
    }

    @Test("products: mul, square, batched mul are exact in the ring")
    func products() {
        var s = RingSamples(seed: 13)
        let (x, y) = (s.words(Self.n), s.words(Self.n))
        #expect(MPC.run([x, y]) { p, v in p.mul(v[0], v[1]) } == zip(x, y).map { $0 &* $1 })
        #expect(MPC.run([x]) { p, v in p.square(v[0]) } == x.map { $0 &* $0 })
        let batched = MPC.run([x, y]) { p, v in ArithmeticShares.concatenate(p.mul([(v[0], v[1]), (v[1], v[1])])) }
        #expect(batched == zip(x, y).map { $0 &* $1 } + y.map { $0 &* $0 })
    }

    @Test("matmul: plain, transposed and batched, against a naive triple loop")
    func matmul() {
        var s = RingSamples(seed: 14)
        let (m, k, n) = (7, 33, 5)
        let a = s.words(m * k), b = s.words(k * n), c = s.words(m * k)
        func naive(_ a: [UInt64], _ b: [UInt64], transposed: Bool) -> [UInt64] {
            var out = [UInt64](repeating: 0, count: m * n)
            for i in 0..<m { for j in 0..<n { for p in 0..<k {
                out[i * n + j] &+= a[i * k + p] &* (transposed ? b[j * k + p] : b[p * n + j])
            } } }
            return out
        }
        let bT = (0..<(n * k)).map { b[($0 % k) * n + $0 / k] }  // [n×k]
        #expect(MPC.run([a, b]) { p, v in p.matmul(v[0], v[1], m: m, k: k, n: n) } == naive(a, b, transposed: false))
        #expect(MPC.run([a, bT]) { p, v in p.matmul(v[0], v[1], m: m, k: k, n: n, transposeY: true) } == naive(a, bT, transposed: true))
        let batch = MPC.run([a, b, c]) { p, v in ArithmeticShares.concatenate(p.matmul([(v[0], v[1]), (v[2], v[1])], m: m, k: k, n: n)) }
        #expect(batch == naive(a, b, transposed: false) + naive(c, b, transposed: false))
        // Secret × public.
        #expect(MPC.run([a]) { p, v in p.matmulPublic(v[0], b, m: m, k: k, n: n) } == naive(a, b, transposed: false))
    }

    @Test("truncation: within 1 ulp for values across [−2^62, 2^62), bounds included", arguments: [18, 5, 36])
    func truncation(bits: Int) {
        var s = RingSamples(seed: 15 + UInt64(bits))
        let x = s.bounded(Self.n)
        let y = MPC.run([x]) { p, v in p.truncate(v[0], bits: bits) }
        for (xi, yi) in zip(x, y) {
            let floor = Int64(bitPattern: xi) >> Int64(bits)
            let delta = Int64(bitPattern: yi) &- floor
            #expect(delta == 0 || delta == 1, "x = \(Int64(bitPattern: xi)): got \(Int64(bitPattern: yi)), floor \(floor)")
        }
    }

    @Test("a product truncated by several amounts from one opening: each within 1 ulp of its own floor, for products across ±2^62")
    func truncationByEach() {
        var s = RingSamples(seed: 16)
        let x = s.bounded(Self.n).map { UInt64(bitPattern: Int64(bitPattern: $0) >> 31) }
        let y = s.bounded(Self.n).map { UInt64(bitPattern: Int64(bitPattern: $0) >> 32) }
        let amounts = [18, 24, 1, 36]
        let out = MPC.run([x, y]) { p, v in ArithmeticShares.concatenate(p.mul(v[0], v[1], truncatingEachBy: amounts)) }
        for (k, d) in amounts.enumerated() {
            for i in 0..<Self.n {
                let product = Int64(bitPattern: x[i] &* y[i])
                let delta = Int64(bitPattern: out[k * Self.n + i]) &- (product >> Int64(d))
                #expect(delta == 0 || delta == 1, "d = \(d), x·y = \(product): off by \(delta)")
            }
        }
    }

    @Test("truncation error over 10^6 values: always in [0, 1] ulp and unbiased (stochastic rounding)")
    func truncationDistribution() {
        var s = RingSamples(seed: 99)
        let n = 1_000_000
        let x = s.bounded(n)
        let y = MPC.run([x], seed: 7) { p, v in p.truncate(v[0], bits: 18) }
        var sum = 0.0, maxError = 0.0, ups = 0
        for (xi, yi) in zip(x, y) {
            // error = y − x/2^18 = (y − ⌊x/2^18⌋) − frac(x/2^18), computed without large doubles.
            let up = Int64(bitPattern: yi) &- (Int64(bitPattern: xi) >> 18)
            let error = Double(up) - Double(xi & ((1 << 18) - 1)) / 262_144
            sum += error
            maxError = Swift.max(maxError, abs(error))
            if up != 0 { ups += 1 }
        }
        #expect(maxError < 1, "max |error| \(maxError) ulp")
        #expect(abs(sum / Double(n)) < 2e-3, "mean error \(sum / Double(n)) ulp")
        #expect(ups > n / 10 && ups < n * 9 / 10, "rounded up \(ups) times")
    }

    @Test("boolean AND/XOR and full A2B decomposition")
    func boolean() {
        var s = RingSamples(seed: 16)
        let (x, y) = (s.words(Self.n), s.words(Self.n))
        #expect(MPC.runBits([x]) { p, v in p.a2b(v[0]) } == x)
        let both = MPC.runBits([x, y]) { p, v in
            let (bx, by) = (p.a2b(v[0]), p.a2b(v[1]))
            return BooleanShares.concatenate([p.and(bx, by), p.xor(bx, by), p.shiftLeft(bx, 3), p.xorPublic(bx, y)])
        }
        let n = Self.n
        #expect(Array(both[0..<n]) == zip(x, y).map { $0 & $1 })
        #expect(Array(both[n..<(2 * n)]) == zip(x, y).map { $0 ^ $1 })
        #expect(Array(both[(2 * n)..<(3 * n)]) == x.map { $0 << 3 })
        #expect(Array(both[(3 * n)...]) == zip(x, y).map { $0 ^ $1 })
    }

    @Test("comparisons: msb, <, < public, > public, ==")
    func comparisons() {
        var s = RingSamples(seed: 17)
        let x = s.bounded(Self.n)
        var y = s.bounded(Self.n)
        for i in stride(from: 0, to: Self.n, by: 7) { y[i] = x[i] }  // equal pairs
        let c = UInt64(bitPattern: -12345)
        let sx = x.map { Int64(bitPattern: $0) }, sy = y.map { Int64(bitPattern: $0) }
        let out = MPC.runBits([x, y]) { p, v in
            BooleanShares.concatenate([p.msb(v[0]), p.lessThan(v[0], v[1]), p.lessThan(v[0], public: c),
                                       p.greaterThan(v[0], public: c), p.equal(v[0], v[1])])
        }
        let n = Self.n
        func bits(_ f: (Int) -> Bool) -> [UInt64] { (0..<n).map { f($0) ? 1 : 0 } }
        #expect(Array(out[0..<n]) == bits { sx[$0] < 0 })
        #expect(Array(out[n..<(2 * n)]) == bits { sx[$0] < sy[$0] })
        #expect(Array(out[(2 * n)..<(3 * n)]) == bits { sx[$0] < -12345 })
        #expect(Array(out[(3 * n)..<(4 * n)]) == bits { sx[$0] > -12345 })
        #expect(Array(out[(4 * n)...]) == bits { sx[$0] == sy[$0] })
    }

    @Test("coarse msb (top L bits of x·2^k; L = 32, k = 20 and L = 16, k = 34): exact for |x| < 2^(63−k) − band but on [0, band), band = 2^(64−L−k), where only false negatives occur",
          arguments: [(32, 20), (16, 34)])
    func coarseSign(laneBits: Int, k: Int) {
        var s = RingSamples(seed: 19)
        let band = Int64(1) << (64 - laneBits - k), limit = (Int64(1) << (63 - k)) - band
        // Values across the range: random magnitudes below the limit, the edges of the uncertain
        // band, dense small values around 0, and the range's ends.
        var x: [Int64] = (0..<2001).map { _ in
            let shift = Int64(k + 1) + Int64(s.random.next() % 40)
            return Int64(bitPattern: s.random.next()) >> shift
        }
        x += [-1, -2, 0, 1, band - 1, band, band + 1, -band, limit - 1, -limit + 1]
        x += (-3000...3000).map { (i: Int) -> Int64 in Int64(i) * band / 1000 }
        let out = MPC.runBits([x.map { UInt64(bitPattern: $0) }]) { p, v in p.msbCoarse(v[0], scaleBits: k, laneBits: laneBits) }
        var misread = 0
        for (value, bit) in zip(x, out) {
            let exact: UInt64 = value < 0 ? 1 : 0
            if bit != exact {
                #expect((0..<band).contains(value) && bit == 1, "value \(value) read as \(bit)")
                misread += 1
            }
        }
        // Inside the band the dropped carry is a coin flip of the split: some misreads, not all.
        let inBand = x.filter { (0..<band).contains($0) }.count
        #expect(misread > 0 && misread < inBand, "\(misread) of \(inBand) values in the band misread")
    }

    @Test("coarse max: each row's result is one of its elements, at most ⌈log2 cols⌉·2^12 below the true maximum (pairwise levels, one tournament, both)",
          arguments: [2, 3, 4, 5, 7, 16, 17, 40])
    func coarseMax(cols: Int) {
        var s = RingSamples(seed: 20 + UInt64(cols))
        let rows = 300
        // Rows of near-ties (within the 2^12 band), of exact ties, and of well-separated values.
        let x: [Int64] = (0..<(rows * cols)).map { i in
            let r = i / cols
            switch r % 3 {
            case 0: return Int64(r) << 20 + Int64(s.random.next() % 5000)
            case 1: return Int64(r) << 20 + Int64(s.random.next() % 3) << 18
            default: return Int64(bitPattern: s.random.next()) >> 24
            }
        }
        let out = MPC.run([x.map { UInt64(bitPattern: $0) }]) { p, v in p.maxCoarse(v[0], rows: rows, cols: cols, scaleBits: 20) }
        for r in 0..<rows {
            let row = Array(x[(r * cols)..<((r + 1) * cols)])
            let got = Int64(bitPattern: out[r])
            #expect(row.contains(got) && row.max()! - got < 3 << 12, "row \(r): \(got) against \(row.max()!)")
        }
    }

    @Test("B2A, Mul_BA and mux are exact")
    func selection() {
        var s = RingSamples(seed: 18)
        let (x, y, z) = (s.words(Self.n), s.words(Self.n), s.bounded(Self.n))
        let bit = z.map { Int64(bitPattern: $0) < 0 }
        let out = MPC.run([x, y, z]) { p, v in
            let b = p.msb(v[2])
            return ArithmeticShares.concatenate([p.b2a(b), p.mulBA(b, v[0]), p.mux(b, v[0], v[1])])
        }
        let n = Self.n
        #expect(Array(out[0..<n]) == bit.map { $0 ? 1 : 0 })
        #expect(Array(out[n..<(2 * n)]) == zip(bit, x).map { $0 ? $1 : 0 })
        #expect(Array(out[(2 * n)...]) == (0..<n).map { bit[$0] ? x[$0] : y[$0] })
    }

    @Test("max and argmax: odd widths, ties resolve to the first index (argmax over 3,000 columns: tournaments of 4, then of 16)",
          arguments: [1, 2, 5, 16, 33, 3000])
    func maxArgmax(cols: Int) {
        var s = RingSamples(seed: 19 + UInt64(cols))
        let rows = 40
        var x = s.bounded(rows * cols).map { UInt64(bitPattern: Int64(bitPattern: $0) >> 3) }
        for r in stride(from: 0, to: rows, by: 3) where cols > 2 { x[r * cols + cols - 1] = x[r * cols + 1] }  // ties
        for r in stride(from: 1, to: rows, by: 5) { for c in 0..<cols { x[r * cols + c] = 42 } }              // all equal
        let out = MPC.run([x]) { p, v in
            let (m, i) = p.argmax(v[0], rows: rows, cols: cols)
            return ArithmeticShares.concatenate([p.max(v[0], rows: rows, cols: cols), m, i])
        }
        for r in 0..<rows {
            let row = (0..<cols).map { Int64(bitPattern: x[r * cols + $0]) }
            let best = row.max()!
            #expect(Int64(bitPattern: out[r]) == best)
            #expect(Int64(bitPattern: out[rows + r]) == best)
            #expect(out[2 * rows + r] == UInt64(row.firstIndex(of: best)!), "row \(r)")
        }
    }

    @Test("maxAndNear over ragged rows of 1…16: the exact maxima and [x + 14 ≥ max], ties and the margin's edge included")
    func maxAndNear() {
        var s = RingSamples(seed: 23)
        let fp = FixedPoint.standard
        let lengths = (0..<60).map { 1 + $0 % 16 }
        var x = s.bounded(lengths.reduce(0, +)).map { Int64(bitPattern: $0) >> 20 }
        var start = 0
        for (r, l) in lengths.enumerated() {
            if r % 4 == 1 && l > 2 { x[start + l - 1] = x[start] }                                    // a tie
            if r % 4 == 2 && l > 2 { x[start + 1] = x[start] - Int64(fp.encode(14)) }              // exactly 14 below
            if r % 4 == 3 && l > 2 { x[start + 1] = x[start] - Int64(fp.encode(14)) - 1 }          // just beyond
            start += l
        }
        let words = x.map { UInt64(bitPattern: $0) }
        let out = MPC.run([words]) { p, v in
            let (m, near) = p.maxAndNear(v[0], lengths: lengths, margin: fp.encode(14))
            return ArithmeticShares.concatenate([m, near])
        }
        let reference = CleartextBackend().maxAndNear(words, lengths: lengths, margin: fp.encode(14))
        #expect(Array(out[..<lengths.count]) == reference.maxima)
        #expect(Array(out[lengths.count...]) == reference.near)
        // The reference itself, element by element.
        start = 0
        for (r, l) in lengths.enumerated() {
            let row = x[start..<(start + l)]
            #expect(Int64(bitPattern: reference.maxima[r]) == row.max()!)
            for i in row.indices { #expect(reference.near[i] == (row[i] + Int64(fp.encode(14)) >= row.max()! ? 1 : 0)) }
            start += l
        }
        #expect(reference.near.contains(0) && reference.near.contains(1))
    }
}
