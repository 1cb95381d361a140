import CPumaKernels
import Foundation
import PumaCore
import PumaIO
import Testing

/// The C kernels against naive references, on the vector path (where the processor has it) and the
/// portable path. Serialized: the kernel level is process-wide.
@Suite("Kernels: ring and float GEMM, seekable AES-CTR, dtype conversions", .serialized)
struct KernelTests {
    /// Runs `body` on every kernel level this machine has (1 = vector, 0 = portable), restoring the default.
    func onEveryPath(_ body: (Int) -> Void) {
        defer { puma_set_kernel_level(1) }
        for level in [1, 0] {
            puma_set_kernel_level(Int32(level))
            body(level)
        }
    }

    static func naiveNT(_ a: [UInt64], _ b: [UInt64], m: Int, n: Int, k: Int) -> [UInt64] {
        var c = [UInt64](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k { c[i * n + j] &+= a[i * k + p] &* b[j * k + p] } } }
        return c
    }

    @Test("ring A·Bᵀ and A·B equal a naive loop on odd shapes (M = 1, 3, 8; K, N off the tiles), with strides, C accumulated")
    func ringGemm() {
        var random = TestRandom(seed: 11)
        onEveryPath { level in
            for (m, k, n) in [(1, 1, 1), (1, 37, 5), (3, 9, 7), (8, 67, 33), (5, 130, 4), (8, 4, 70)] {
                let a = (0..<(m * k)).map { _ in random.next() }, b = (0..<(n * k)).map { _ in random.next() }
                let start = (0..<(m * n)).map { _ in random.next() }
                var c = start
                puma_ring_gemm_nt(a, k, b, k, &c, n, m, n, k)
                #expect(c == zip(start, Self.naiveNT(a, b, m: m, n: n, k: k)).map { $0 &+ $1 }, "NT level \(level) \(m)×\(k)×\(n)")
                // B as [k×n]: its transpose.
                let bkn = (0..<(k * n)).map { b[($0 % n) * k + $0 / n] }
                var d = start
                puma_ring_gemm_nn(a, k, bkn, n, &d, n, m, n, k)
                #expect(d == c, "NN level \(level) \(m)×\(k)×\(n)")
            }
            // Leading dimensions larger than the block: a 3×5 block of C inside a 4×9 buffer.
            let (lda, ldb, ldc) = (13, 11, 9)
            let a = (0..<(3 * lda)).map { _ in random.next() }, b = (0..<(5 * ldb)).map { _ in random.next() }
            var c = [UInt64](repeating: 0, count: 4 * ldc)
            puma_ring_gemm_nt(a, lda, b, ldb, &c, ldc, 3, 5, 10)
            for i in 0..<4 {
                for j in 0..<ldc {
                    var expected: UInt64 = 0
                    if i < 3 && j < 5 { for p in 0..<10 { expected &+= a[i * lda + p] &* b[j * ldb + p] } }
                    #expect(c[i * ldc + j] == expected, "strided NT level \(level) at \(i),\(j)")
                }
            }
        }
    }

    @Test("float A·Bᵀ equals a Double reference within float rounding")
    func floatGemm() {
        var random = TestRandom(seed: 12)
        onEveryPath { level in
            for (m, k, n) in [(1, 1, 1), (1, 300, 7), (3, 17, 5), (8, 100, 9)] {
                let a = (0..<(m * k)).map { _ in random.float(scale: 1) }, b = (0..<(n * k)).map { _ in random.float(scale: 1) }
                var c = [Float](repeating: 1, count: m * n)
                puma_float_gemm_nt(a, k, b, k, &c, n, m, n, k)
                for i in 0..<m {
                    for j in 0..<n {
                        let exact = 1 + (0..<k).reduce(0.0) { $0 + Double(a[i * k + $1]) * Double(b[j * k + $1]) }
                        #expect(abs(Double(c[i * n + j]) - exact) <= 1e-5 * Double(k), "level \(level) \(m)×\(k)×\(n) at \(i),\(j)")
                    }
                }
            }
        }
    }

    @Test("AES-128-CTR: NIST SP 800-38A F.5.1 on VAES, AES-NI and portable paths; counters carry across 64 bits")
    func aesPaths() {
        let (key, expected) = (CoreTests.nistKey, CoreTests.nistKeystream)
        var schedule = puma_aes128_schedule()
        key.withUnsafeBufferPointer { puma_aes128_expand($0.baseAddress, &schedule) }
        // Reference: the portable path over 100 blocks from just below a 64-bit carry.
        let (hi, lo): (UInt64, UInt64) = (0x0123_4567_89AB_CDEF, UInt64.max - 40)
        var reference = [UInt8](repeating: 0, count: 1600)
        puma_set_kernel_level(0)
        puma_aes128_ctr_at(&schedule, hi, lo, &reference, 100)
        puma_set_kernel_level(1)
        onEveryPath { level in
            var out = [UInt8](repeating: 0, count: 64)
            puma_aes128_ctr_at(&schedule, 0xf0f1f2f3f4f5f6f7, 0xf8f9fafbfcfdfeff, &out, 4)  // CoreTests.nistCounter
            #expect(out == expected, "NIST vector, level \(level) (hardware \(puma_aes_hardware()))")
            var long = [UInt8](repeating: 0, count: 1600)
            puma_aes128_ctr_at(&schedule, hi, lo, &long, 100)   // 32-block VAES steps, then the carry
            #expect(long == reference, "carry across the low word, level \(level)")
        }
    }

    @Test("seekable streams: any range, at any offset (odd ones too), equals that slice of one long draw")
    func seekable() {
        let prg = AESCounterPRG(seed: 3, stream: 4)
        var whole = [UInt64](repeating: 0, count: 5000)
        prg.words(stream: 9, offset: 0, into: &whole, count: 5000)
        var random = TestRandom(seed: 13)
        for _ in 0..<50 {
            let offset = Int(random.next() % 4000), count = Int(random.next() % 999)
            var part = [UInt64](repeating: 0, count: count)
            part.withUnsafeMutableBufferPointer { prg.words(stream: 9, offset: offset, into: $0.baseAddress!, count: count) }
            #expect(part == Array(whole[offset..<(offset + count)]))
        }
        var other = [UInt64](repeating: 0, count: 64)
        prg.words(stream: 10, offset: 0, into: &other, count: 64)
        #expect(other != Array(whole.prefix(64)), "streams differ")
        var sequential = prg
        #expect(sequential.words(64) != Array(whole.prefix(64)), "seekable streams never meet the sequential one")
    }

    @Test("fixed-point encoding of every F16 and BF16 value, and of F32 edge values, equals FixedPoint.encode on both paths")
    func encoding() {
        let fp = FixedPoint.standard
        let halves = (0...UInt16.max).map { $0 }
        let f16 = halves.map { fp.encode(Double(Float(Float16(bitPattern: $0)))) }
        let bf16 = halves.map { fp.encode(Double(Float(bitPattern: UInt32($0) << 16))) }
        var random = TestRandom(seed: 14)
        let edges: [Float] = [0, -0.0, 0.5 / 262_144, -0.5 / 262_144, 1.5 / 262_144, 1e-30, 3e-6, 1, -1, 65504, 1e12, -1e12,
                              Float(1 << 44), 1e30, -1e30, .infinity, -.infinity, .nan, .greatestFiniteMagnitude]
        var floats = edges
        for _ in 0..<2000 {
            let magnitude = Float(UInt64(1) << (random.next() % 40))
            floats.append(random.float(scale: 1) * magnitude)
        }
        let f32 = floats.map { fp.encode(Double($0)) }
        onEveryPath { level in
            for (dtype, values, expected) in [(PUMA_F16, halves, f16), (PUMA_BF16, halves, bf16)] {
                var out = [UInt64](repeating: 0, count: values.count)
                puma_encode_fixed(values, dtype, values.count, 18, &out)
                let wrong = (0..<values.count).filter { out[$0] != expected[$0] }
                #expect(wrong.isEmpty, "level \(level) dtype \(dtype): \(wrong.count) wrong, first bits \(wrong.first.map { String(values[$0], radix: 16) } ?? "")")
            }
            var out = [UInt64](repeating: 0, count: floats.count)
            puma_encode_fixed(floats, PUMA_F32, floats.count, 18, &out)
            let wrong = (0..<floats.count).filter { out[$0] != f32[$0] }
            #expect(wrong.isEmpty, "level \(level) F32: \(wrong.count) wrong, first \(wrong.first.map { floats[$0] } ?? 0)")
            // encode − a − b in one pass.
            let a = (0..<floats.count).map { _ in random.next() }, b = (0..<floats.count).map { _ in random.next() }
            puma_encode_fixed_minus(floats, PUMA_F32, floats.count, 18, a, b, &out)
            #expect(out == (0..<floats.count).map { f32[$0] &- a[$0] &- b[$0] }, "level \(level) encode minus")
            var halfOut = [UInt64](repeating: 0, count: halves.count)
            let c = (0..<halves.count).map { _ in random.next() }, d = (0..<halves.count).map { _ in random.next() }
            puma_encode_fixed_minus(halves, PUMA_F16, halves.count, 18, c, d, &halfOut)
            #expect((0..<halves.count).allSatisfy { halfOut[$0] == f16[$0] &- c[$0] &- d[$0] }, "level \(level) F16 encode minus")
            // Widening to Float is exact.
            var widened = [Float](repeating: 0, count: halves.count)
            puma_to_float(halves, PUMA_F16, halves.count, &widened)
            #expect(zip(widened, halves).allSatisfy { $0.bitPattern == Float(Float16(bitPattern: $1)).bitPattern || ($0.isNaN && Float16(bitPattern: $1).isNaN) },
                    "level \(level) F16 → Float")
        }
    }

    @Test("scaled encoding (a norm weight folded into a matrix): round(x · w · 2^18) exactly, every F16 and BF16 value, both paths")
    func scaledEncoding() {
        let fp = FixedPoint.standard
        var random = TestRandom(seed: 15)
        let halves = (0...UInt16.max).map { $0 }
        // Norm weights are Floats of any size; times 2^f they stay exact in double.
        let weights: [Float] = halves.map { _ in random.float(scale: 2) * Float(UInt64(1) << (random.next() % 4)) }
        let scales = weights.map { Double($0) * 262_144 }
        let a = halves.map { _ in random.next() }, b = halves.map { _ in random.next() }
        onEveryPath { level in
            for (dtype, widen) in [(PUMA_F16, { (h: UInt16) in Float(Float16(bitPattern: h)) }), (PUMA_BF16, { (h: UInt16) in Float(bitPattern: UInt32(h) << 16) })] {
                var out = [UInt64](repeating: 0, count: halves.count)
                puma_encode_fixed_scaled_minus(halves, dtype, halves.count, scales, a, b, &out)
                let expected = halves.indices.map { fp.encode(Double(widen(halves[$0])) * Double(weights[$0])) &- a[$0] &- b[$0] }
                let wrong = halves.indices.filter { out[$0] != expected[$0] }
                #expect(wrong.isEmpty, "level \(level) dtype \(dtype): \(wrong.count) wrong")
            }
            let floats = halves.map { _ in random.float(scale: 1) * Float(UInt64(1) << (random.next() % 20)) }
            var out = [UInt64](repeating: 0, count: floats.count)
            puma_encode_fixed_scaled_minus(floats, PUMA_F32, floats.count, scales, nil, nil, &out)
            #expect(out == floats.indices.map { fp.encode(Double(floats[$0]) * Double(weights[$0])) }, "level \(level) F32")
        }
    }

    @Test("synthetic weights: F16 normal samples with the requested deviation, reproducible per offset")
    func syntheticWeights() {
        let prg = AESCounterPRG(seed: 5, stream: 6)
        var values = [UInt16](repeating: 0, count: 100_000)
        prg.randomNormalHalf(stream: 1, offset: 0, count: values.count, deviation: 0.02, into: &values)
        let x = values.map { Double(Float(Float16(bitPattern: $0))) }
        let mean = x.reduce(0, +) / Double(x.count)
        let deviation = (x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(x.count)).squareRoot()
        #expect(abs(mean) < 0.0005 && abs(deviation - 0.02) < 0.0005, "mean \(mean), deviation \(deviation)")
        var tail = [UInt16](repeating: 0, count: 100)
        prg.randomNormalHalf(stream: 1, offset: 777, count: 100, deviation: 0.02, into: &tail)
        #expect(tail == Array(values[777..<877]))
    }
}
