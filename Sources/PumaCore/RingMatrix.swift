import CPumaKernels
import Dispatch
import Foundation

/// Dense linear algebra over Z_2^64 on row-major UInt64 buffers, multithreaded with Dispatch.
public enum RingMatrix {
    /// C = A[m×k] · B, where B is [k×n], or [n×k] when `transposeB`; every product and sum wraps mod 2^64.
    /// Cost: m·k·n multiply-adds, split by rows over the cores.
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
                    // Each task writes a disjoint block of rows of C.
                    nonisolated(unsafe) let (aBase, bBase, cBase) = (ap.baseAddress, bp.baseAddress, cp.baseAddress)
                    let work = m * k * n
                    let tasks = work < 1 << 15 ? 1 : min(m, ProcessInfo.processInfo.activeProcessorCount * 4)
                    let per = (m + tasks - 1) / tasks
                    DispatchQueue.concurrentPerform(iterations: tasks) { t in
                        let begin = t * per, end = min(m, begin + per)
                        if begin < end {
                            puma_ring_gemm(aBase, bBase, cBase, m, k, n, transposeB ? 1 : 0, begin, end)
                        }
                    }
                }
            }
        }
    }
}
