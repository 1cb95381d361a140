import Dispatch
import Foundation

/// Float32 building blocks of the plaintext reference transformer.
public enum FloatKernels {
    /// y = W·x for row-major W of shape [rows, cols]; rows are split across cores when large.
    public static func matVec(_ w: [Float], rows: Int, cols: Int, _ x: [Float]) -> [Float] {
        precondition(w.count == rows * cols && x.count == cols, "matVec shape mismatch")
        var y = [Float](repeating: 0, count: rows)
        w.withUnsafeBufferPointer { wp in
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    // Each chunk writes a disjoint range of rows.
                    nonisolated(unsafe) let (wBase, xBase, out) = (wp.baseAddress!, xp.baseAddress!, yp.baseAddress!)
                    let chunks = rows * cols >= 1 << 16 ? ProcessInfo.processInfo.activeProcessorCount * 4 : 1
                    let per = (rows + chunks - 1) / chunks
                    DispatchQueue.concurrentPerform(iterations: chunks) { c in
                        for r in (c * per)..<min(rows, (c + 1) * per) {
                            out[r] = dot(wBase + r * cols, xBase, cols)
                        }
                    }
                }
            }
        }
        return y
    }

    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
        var i = 0
        while i + 4 <= n {
            s0 += a[i] * b[i]; s1 += a[i + 1] * b[i + 1]; s2 += a[i + 2] * b[i + 2]; s3 += a[i + 3] * b[i + 3]
            i += 4
        }
        while i < n { s0 += a[i] * b[i]; i += 1 }
        return (s0 + s1) + (s2 + s3)
    }

    /// x · rsqrt(mean(x²) + eps) · w (LLaMA RMSNorm).
    public static func rmsNorm(_ x: [Float], weight: [Float], eps: Float) -> [Float] {
        var sum: Float = 0
        for v in x { sum += v * v }
        let scale = 1 / (sum / Float(x.count) + eps).squareRoot()
        return zip(x, weight).map { $0 * scale * $1 }
    }

    /// x · sigmoid(x).
    @inline(__always)
    public static func silu(_ x: Float) -> Float { x / (1 + Foundation.exp(-x)) }

    /// Numerically stable softmax.
    public static func softmax(_ x: [Float]) -> [Float] {
        let m = x.max() ?? 0
        let e = x.map { Foundation.exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// Index of the largest value; the first one on ties (numpy's argmax).
    public static func argmax(_ x: [Float]) -> Int {
        var best = 0
        for i in x.indices where x[i] > x[best] { best = i }
        return best
    }
}

/// Public rotary-embedding tables: cos and sin of position × θ^(−2i/headDim), Hugging Face
/// `rotate_half` convention (pairs are (i, i + headDim/2)).
public struct RotaryTables: Sendable {
    public let halfDim: Int
    /// [positions][halfDim]
    public let cos: [Float]
    /// [positions][halfDim]
    public let sin: [Float]

    public init(headDim: Int, positions: Int, theta: Double) {
        halfDim = headDim / 2
        var c = [Float](), s = [Float]()
        c.reserveCapacity(positions * halfDim)
        s.reserveCapacity(positions * halfDim)
        for p in 0..<positions {
            for i in 0..<halfDim {
                let invFreq = Float(1.0 / Foundation.pow(theta, Double(2 * i) / Double(headDim)))
                let angle = Float(p) * invFreq
                c.append(Foundation.cos(angle))
                s.append(Foundation.sin(angle))
            }
        }
        cos = c
        sin = s
    }

    /// Rotates each head of `x` ([heads*headDim]) in place for `position`.
    public func apply(_ x: inout [Float], heads: Int, position: Int) {
        let base = position * halfDim
        for h in 0..<heads {
            let o = h * 2 * halfDim
            for i in 0..<halfDim {
                let (a, b) = (x[o + i], x[o + i + halfDim])
                let (c, s) = (cos[base + i], sin[base + i])
                x[o + i] = a * c - b * s
                x[o + i + halfDim] = b * c + a * s
            }
        }
    }
}
