import ArgumentParser
import CPumaKernels
import Dispatch
import Foundation
import PumaCore
import PumaMPC

/// `puma bench gemm`: the wrapping UInt64 GEMM against the Float32 GEMM on the same shapes, both
/// Y[m×n] = X[m×k]·Wᵀ with W [n×k] in memory (the weight layout), both cores, median of repeats;
/// and the ring GEMM as the secure product runs it, on 16 × 2048 weight tiles already in L2 (there
/// the tiles are generated into cache just before they are multiplied).
struct GemmBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "Ring (Z_2^64) vs Float32 GEMM throughput on the same shapes (GMAC/s and their ratio)."
    )

    @Option(parsing: .unconditional, help: "Shapes as MxKxN, comma-separated.")
    var shapes = "8x4096x4096,1x4096x11008,8x4096x11008,8x11008x4096"

    @Option(parsing: .unconditional, help: "Repetitions per shape; the median is reported.")
    var repeats = 5

    @Option(name: .customLong("json"), parsing: .unconditional, help: "Also write the results as JSON to this file.")
    var jsonPath: String?

    struct Shape: Encodable {
        var m, k, n: Int
        var ringGmacs, floatGmacs, ratio: Double
        /// Ring GEMM over cache-resident 16 × 2048 tiles (the secure product's inner loop).
        var ringTiledGmacs: Double
        /// The kernel path in use: "avx512" or "portable".
        var kernel: String
    }

    func parsedShapes() throws -> [(Int, Int, Int)] {
        try shapes.split(separator: ",").map { text in
            let parts = text.split(separator: "x").compactMap { Int($0) }
            guard parts.count == 3, parts.allSatisfy({ $0 > 0 }), parts[0] * parts[1] * parts[2] <= 1 << 33 else {
                throw ValidationError("--shapes: '\(text)' is not MxKxN with positive sizes (at most 2^33 multiply-adds)")
            }
            return (parts[0], parts[1], parts[2])
        }
    }

    func validate() throws {
        if let jsonPath { try OutputFile.checkWritable(jsonPath, option: "--json") }
        guard repeats > 0 else { throw ValidationError("--repeats must be positive") }
        _ = try parsedShapes()
    }

    func run() throws {
        var rows: [Shape] = []
        var random = AESCounterPRG(seed: 1, stream: 1)
        for (m, k, n) in try parsedShapes() {
            let a = random.words(m * k), b = random.words(n * k)
            let fa = a.map { Float(Int64(bitPattern: $0) >> 40) / 1e7 }, fb = b.map { Float(Int64(bitPattern: $0) >> 40) / 1e7 }
            let macs = Double(m * k * n)
            let ring = median((0..<repeats).map { _ in
                timed { _ = RingMatrix.multiply(a, b, m: m, k: k, n: n, transposeB: true) }
            })
            let float = median((0..<repeats).map { _ in timed { _ = Self.floatMultiply(fa, fb, m: m, k: k, n: n) } })
            let tile = Array(b.prefix(Party.tileShape(.outputRows).rows * min(k, Party.tileShape(.outputRows).columns)))
            let tiled = median((0..<repeats).map { _ in timed { Self.tiledRingMultiply(a, tile: tile, m: m, k: k, n: n) } })
            rows.append(Shape(m: m, k: k, n: n, ringGmacs: macs / ring / 1e9, floatGmacs: macs / float / 1e9,
                              ratio: float / ring, ringTiledGmacs: macs / tiled / 1e9, kernel: puma_kernel_level() == 1 ? "avx512" : "portable"))
        }
        try Console.printLine("    m      k      n   ring GMAC/s   float GMAC/s   ring/float   ring, tiles in L2")
        for r in rows {
            try Console.printLine(String(format: "%5d  %5d  %5d   %11.2f   %12.2f   %10.2f   %17.2f", r.m, r.k, r.n, r.ringGmacs, r.floatGmacs, r.ratio, r.ringTiledGmacs))
        }
        try Console.line("\(ProcessInfo.processInfo.activeProcessorCount) cores, \(rows.first?.kernel ?? "") kernels, median of \(repeats)")
        if let jsonPath {
            try OutputFile.writeJSON(["shapes": rows], to: jsonPath)
        }
    }

    /// The m·k·n multiply-adds of Y = X·Wᵀ done tile by tile as the secure product does
    /// (`Party.tileShape`), every tile being the same cache-resident block; tiles split over the cores.
    static func tiledRingMultiply(_ a: [UInt64], tile: [UInt64], m: Int, k: Int, n: Int) {
        let shape = Party.tileShape(.outputRows)
        let (height, width) = (shape.rows, min(k, shape.columns))
        let rowTiles = (n + height - 1) / height, columnTiles = (k + width - 1) / width
        let cores = ProcessInfo.processInfo.activeProcessorCount
        a.withUnsafeBufferPointer { ap in
            tile.withUnsafeBufferPointer { tp in
                nonisolated(unsafe) let (aBase, tBase) = (ap.baseAddress!, tp.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: cores) { core in
                    var c = [UInt64](repeating: 0, count: m * height)
                    for t in stride(from: core, to: rowTiles * columnTiles, by: cores) {
                        let r0 = (t / columnTiles) * height, c0 = (t % columnTiles) * width
                        let rows = min(height, n - r0), cols = min(width, k - c0)
                        puma_ring_gemm_nt(aBase + c0, k, tBase, width, &c, height, m, rows, cols)
                    }
                }
            }
        }
    }

    /// Y = X·Wᵀ in Float32 with the float kernel, split over the cores like `RingMatrix`.
    static func floatMultiply(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    nonisolated(unsafe) let (aBase, bBase, cBase) = (ap.baseAddress!, bp.baseAddress!, cp.baseAddress!)
                    let tasks = min((n + 3) / 4, ProcessInfo.processInfo.activeProcessorCount * 4)
                    let per = ((n + tasks - 1) / tasks + 3) / 4 * 4
                    DispatchQueue.concurrentPerform(iterations: tasks) { t in
                        let begin = t * per, end = min(n, begin + per)
                        guard begin < end else { return }
                        puma_float_gemm_nt(aBase, k, bBase + begin * k, k, cBase + begin, n, m, end - begin, k)
                    }
                }
            }
        }
        return c
    }
}

/// Seconds taken by `body`.
func timed(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}
