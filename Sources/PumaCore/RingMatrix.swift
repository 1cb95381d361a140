import CPumaKernels
import Dispatch
import Foundation

/// Dense linear algebra over Z_2^64 on row-major UInt64 buffers, multithreaded with Dispatch.
/// The kernels (`puma_ring_gemm_nt`, `puma_ring_gemm_nn`) are register-tiled AVX-512 `vpmullq`
/// loops where the processor has AVX-512, portable C elsewhere.
public enum RingMatrix {
    /// C = A[m×k] · B, where B is [k×n], or [n×k] when `transposeB`; every product and sum wraps mod 2^64.
    /// Cost: m·k·n multiply-adds, split over the cores.
    public static func multiply(_ a: [UInt64], _ b: [UInt64], m: Int, k: Int, n: Int, transposeB: Bool = false) -> [UInt64] {
        var c = [UInt64](repeating: 0, count: m * n)
        multiplyAdd(a, b, into: &c, m: m, k: k, n: n, transposeB: transposeB)
        return c
    }

    /// C += A · B (see `multiply`).
    public static func multiplyAdd(_ a: [UInt64], _ b: [UInt64], into c: inout [UInt64], m: Int, k: Int, n: Int, transposeB: Bool = false) {
        precondition(a.count == m * k && b.count == k * n && c.count == m * n, "ring matmul shape mismatch")
        guard m > 0, n > 0 else { return }
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    // Each task writes a disjoint block of columns of C.
                    nonisolated(unsafe) let (aBase, bBase, cBase) = (ap.baseAddress!, bp.baseAddress!, cp.baseAddress!)
                    let tasks = m * k * n < 1 << 16 ? 1 : min((n + 3) / 4, ProcessInfo.processInfo.activeProcessorCount * 4)
                    let per = ((n + tasks - 1) / tasks + 3) / 4 * 4
                    DispatchQueue.concurrentPerform(iterations: tasks) { t in
                        let begin = t * per, end = min(n, begin + per)
                        guard begin < end else { return }
                        if transposeB {
                            puma_ring_gemm_nt(aBase, k, bBase + begin * k, k, cBase + begin, n, m, end - begin, k)
                        } else {
                            puma_ring_gemm_nn(aBase, k, bBase + begin, n, cBase + begin, n, m, end - begin, k)
                        }
                    }
                }
            }
        }
    }
}
