import CPumaKernels
import Foundation
import PumaCore
import Testing

@Suite("PumaCore: AES-CTR PRG, fixed point, ring matmul")
struct CoreTests {
    static func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var chars = Array(s)
        while chars.count >= 2 { out.append(UInt8(String(chars[0..<2]), radix: 16)!); chars.removeFirst(2) }
        return out
    }

    /// NIST SP 800-38A F.5.1 (CTR-AES128.Encrypt): key, initial counter, and the keystream of four
    /// blocks (plaintext ⊕ ciphertext).
    static let nistKey = hex("2b7e151628aed2a6abf7158809cf4f3c")
    static let nistCounter = hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
    static let nistKeystream = zip(hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
                                       + "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"),
                                   hex("874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
                                       + "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee")).map { $0 ^ $1 }

    @Test("AES-128-CTR matches NIST SP 800-38A F.5.1 on the hardware and the portable path")
    func nistVectors() {
        let (key, counter, expectedKeystream) = (Self.nistKey, Self.nistCounter, Self.nistKeystream)
        var prg = AESCounterPRG(key: key, counter: counter)
        #expect(prg.bytes(64) == expectedKeystream)
        // The portable implementation alone, whatever the processor.
        var schedule = puma_aes128_schedule()
        key.withUnsafeBufferPointer { puma_aes128_expand($0.baseAddress, &schedule) }
        var c = counter
        var out = [UInt8](repeating: 0, count: 64)
        puma_aes128_ctr_portable(&schedule, &c, &out, 4)
        #expect(out == expectedKeystream)
        // Counter carries across bytes: the block after ff…ff wraps to 00…00; 9 blocks cross the 8-block batch.
        var a = AESCounterPRG(key: key, counter: [UInt8](repeating: 0xFF, count: 16))
        let fast = a.bytes(16 * 9)
        var c2 = [UInt8](repeating: 0xFF, count: 16)
        var slow = [UInt8](repeating: 0, count: 16 * 9)
        puma_aes128_ctr_portable(&schedule, &c2, &slow, 9)
        #expect(fast == slow)
    }

    @Test("PRG streams: same key same stream, split draws equal one draw, seeds differ")
    func streams() {
        var a = AESCounterPRG(seed: 1, stream: 1), b = AESCounterPRG(seed: 1, stream: 1)
        #expect(a.words(10) == b.words(4) + b.words(6))   // draws of whole blocks stay aligned
        var c = AESCounterPRG(seed: 1, stream: 2), d = AESCounterPRG(seed: 2, stream: 1)
        #expect(c.words(8) != d.words(8))
        // Uniformity of 1 MB of output: every byte value within 6 sigma of its expectation.
        var e = AESCounterPRG(seed: 9, stream: 9)
        var histogram = [Int](repeating: 0, count: 256)
        for byte in e.bytes(1 << 20) { histogram[Int(byte)] += 1 }
        let expected = Double(1 << 20) / 256
        #expect(histogram.allSatisfy { abs(Double($0) - expected) < 6 * expected.squareRoot() })
    }

    @Test("fixed point: rounding, saturation at ±2^62, tiny constants vanish, decode inverts")
    func fixedPoint() {
        let fp = FixedPoint.standard
        #expect(fp.encode(1.0) == 1 << 18)
        #expect(fp.encode(-1.5) == UInt64(bitPattern: -(3 << 17)))
        #expect(fp.encode(1e-6) == 0)                                   // RMSNorm's eps vanishes
        #expect(fp.encode(3e-6) == 1)                                   // rounds to nearest
        #expect(fp.encode(1e30) == UInt64(bitPattern: (1 << 62) - 1))  // saturates
        #expect(fp.encode(-1e30) == UInt64(bitPattern: -(1 << 62)))
        #expect(fp.encode(.nan) == 0)
        var random = TestRandom(seed: 4)
        for _ in 0..<1000 {
            let x = Double(random.float(scale: 1)) * 1e6
            #expect(abs(fp.decode(fp.encode(x)) - x) <= 0.5 / 262_144 + 1e-9)
        }
        #expect(FixedPoint(fractionalBits: 12).encode(1) == 4096)
    }

    @Test("ring matmul equals a naive triple loop (wrapping), in both layouts and across threads")
    func ringMatmul() {
        var random = TestRandom(seed: 5)
        let (m, k, n) = (67, 45, 71)  // large enough to be split across threads
        let a = (0..<(m * k)).map { _ in random.next() }, b = (0..<(k * n)).map { _ in random.next() }
        var naive = [UInt64](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k { naive[i * n + j] &+= a[i * k + p] &* b[p * n + j] } } }
        #expect(RingMatrix.multiply(a, b, m: m, k: k, n: n) == naive)
        let bT = (0..<(n * k)).map { b[($0 % k) * n + $0 / k] }
        #expect(RingMatrix.multiply(a, bT, m: m, k: k, n: n, transposeB: true) == naive)
    }

    @Test("peak RSS: /proc/self/status fields parse with spaces and with the tab of eight-digit values")
    func processMemory() {
        #expect(ProcessMemory.kilobytes("VmHWM", in: "VmPeak:\t  123 kB\nVmHWM:\t   80000 kB\n") == 80000)
        #expect(ProcessMemory.kilobytes("VmHWM", in: "VmHWM:\t10840000 kB\nVmRSS:\t1 kB") == 10_840_000)
        #expect(ProcessMemory.kilobytes("VmRSS", in: "VmHWM:\t10840000 kB") == nil)
        #expect((ProcessMemory.peakResidentBytes() ?? 0) > 1_000_000)
    }
}
