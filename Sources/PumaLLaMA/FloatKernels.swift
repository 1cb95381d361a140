import CPumaKernels
import Dispatch
import Foundation
import PumaIO

/// Float32 building blocks of the plaintext reference transformer.
public enum FloatKernels {
    /// Y[m×n] = X[m×k] · Wᵀ for a mapped weight W [n×k] in its stored dtype: tiles of 16 rows are
    /// widened to Float and multiplied at once (AVX-512 FMA kernel), split across the cores. W's pages
    /// stay mapped (the plaintext reference is timed against the secure run; re-mapping costs).
    public static func matmul(_ x: [Float], m: Int, _ w: MappedTensor) -> [Float] {
        precondition(w.shape.count == 2, "matmul needs a matrix, \(w.info.name) has shape \(w.shape)")
        let (n, k) = (w.shape[0], w.shape[1])
        precondition(x.count == m * k, "matmul shape mismatch: \(x.count) inputs for [\(m)×\(k)]")
        var y = [Float](repeating: 0, count: m * n)
        let tileRows = 16
        let tiles = (n + tileRows - 1) / tileRows
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                // Each tile writes a disjoint block of columns of Y.
                nonisolated(unsafe) let (xBase, out) = (xp.baseAddress!, yp.baseAddress!)
                let chunks = min(tiles, m * n * k >= 1 << 16 ? ProcessInfo.processInfo.activeProcessorCount * 8 : 1)
                let perChunk = (tiles + chunks - 1) / chunks
                DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                    let buffer = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * k)
                    defer { buffer.deallocate() }
                    for tile in stride(from: chunk * perChunk, to: min(tiles, (chunk + 1) * perChunk), by: 1) {
                        let r0 = tile * tileRows, rows = min(tileRows, n - r0)
                        w.floats(offset: r0 * k, count: rows * k, into: buffer)
                        puma_float_gemm_nt(xBase, k, buffer, k, out + r0, n, m, rows, k)
                    }
                }
            }
        }
        return y
    }

    /// RMSNorm of each row of `x` ([rows × weight.count]).
    public static func rmsNorm(rows x: [Float], weight: [Float], eps: Float) -> [Float] {
        let d = weight.count
        return (0..<(x.count / d)).flatMap { r in rmsNorm(Array(x[(r * d)..<((r + 1) * d)]), weight: weight, eps: eps) }
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

/// Public rotary embeddings: cos and sin of position × θ^(−2i/headDim), Hugging Face `rotate_half`
/// convention (pairs are (i, i + headDim/2)). Only the inverse frequencies are kept; a position's
/// angles are computed when asked for, so a context of a million positions costs nothing up front.
public struct RotaryTables: Sendable {
    public let halfDim: Int
    /// θ^(−2i/headDim), i < halfDim, with the checkpoint's RoPE scaling applied.
    let inverseFrequencies: [Float]

    public init(headDim: Int, theta: Double, scaling: RopeScaling? = nil) {
        halfDim = headDim / 2
        inverseFrequencies = RopeScaling.inverseFrequencies(headDim: headDim, theta: theta, scaling: scaling).map { Float($0) }
    }

    public init(config: LlamaConfiguration) {
        self.init(headDim: config.headDim, theta: config.ropeTheta, scaling: config.ropeScaling)
    }

    /// cos and sin of `position` × the i-th inverse frequency, i < halfDim.
    public func angles(position: Int) -> (cos: [Float], sin: [Float]) {
        let angle = inverseFrequencies.map { Float(position) * $0 }
        return (angle.map { Foundation.cos($0) }, angle.map { Foundation.sin($0) })
    }

    /// Rotates each head of row `row` of `x` ([rows × heads·headDim]) in place for `position`.
    public func apply(_ x: inout [Float], row: Int = 0, heads: Int, position: Int) {
        let (cos, sin) = angles(position: position)
        for h in 0..<heads {
            let o = (row * heads + h) * 2 * halfDim
            for i in 0..<halfDim {
                let (a, b) = (x[o + i], x[o + i + halfDim])
                let (c, s) = (cos[i], sin[i])
                x[o + i] = a * c - b * s
                x[o + i + halfDim] = b * c + a * s
            }
        }
    }
}
