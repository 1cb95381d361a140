import CPumaKernels
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Element types a checkpoint tensor may have: the plain ones (safetensors and GGUF) and llama.cpp's
/// block formats (GGUF only), whose elements come in blocks of 32 or 256 that share their scales. All
/// are widened to `Float` (or fixed-point encoded) on read, block by block.
public enum TensorDType: String, Sendable, CaseIterable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"
    case q8_0 = "Q8_0"
    case q4_0 = "Q4_0"
    case q4_1 = "Q4_1"
    case q4_K = "Q4_K"
    case q5_K = "Q5_K"
    case q6_K = "Q6_K"

    /// F32, F16 and BF16: one element per block, read without dequantization (safetensors allows only these).
    public var isPlain: Bool { blockElements == 1 }

    public var kernelType: puma_dtype {
        switch self {
        case .f32: return PUMA_F32
        case .f16: return PUMA_F16
        case .bf16: return PUMA_BF16
        case .q8_0: return PUMA_Q8_0
        case .q4_0: return PUMA_Q4_0
        case .q4_1: return PUMA_Q4_1
        case .q4_K: return PUMA_Q4_K
        case .q5_K: return PUMA_Q5_K
        case .q6_K: return PUMA_Q6_K
        }
    }

    /// Elements per block (1, 32 or 256).
    public var blockElements: Int { puma_dtype_block_elements(kernelType) }
    /// Bytes per block.
    public var blockBytes: Int { puma_dtype_block_bytes(kernelType) }
    /// Stored bits per weight (4.5 for Q4_K, 16 for F16).
    public var bitsPerElement: Double { Double(blockBytes * 8) / Double(blockElements) }

    /// The bytes `shape` takes in this type, or nil when a row is not made of whole blocks or the size
    /// overflows.
    public func byteCount(shape: [Int]) -> Int? {
        guard let row = shape.last ?? 1 as Int?, row % blockElements == 0 else { return nil }
        var blocks = 1
        for (i, d) in shape.enumerated() {
            let n = i == shape.count - 1 ? d / blockElements : d
            let (p, o) = blocks.multipliedReportingOverflow(by: n)
            if o { return nil }
            blocks = p
        }
        let (bytes, o) = blocks.multipliedReportingOverflow(by: blockBytes)
        return o ? nil : bytes
    }
}

/// A tensor to be written (`SafeTensorsWriter`, `GGUFWriter`): its name, type and row-major shape.
public struct TensorSpec: Sendable {
    public var name: String
    public var dtype: TensorDType
    public var shape: [Int]

    public init(name: String, dtype: TensorDType, shape: [Int]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
    }

    /// Its bytes in `dtype` (0 when the rows are not whole blocks; the writers refuse such tensors).
    public var byteCount: Int { dtype.byteCount(shape: shape) ?? 0 }
}

/// Where one tensor lives inside a checkpoint file.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: TensorDType
    /// Row-major, the last dimension contiguous (Hugging Face order: `[out, in]` for a projection).
    public let shape: [Int]
    /// Byte range relative to the start of the file's data area.
    public let byteRange: Range<Int>

    public init(name: String, dtype: TensorDType, shape: [Int], byteRange: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.byteRange = byteRange
    }

    public var elementCount: Int { shape.reduce(1, *) }
}

/// One tensor of a memory-mapped checkpoint file, read in place: element ranges are dequantized,
/// widened to Float or fixed-point encoded on demand (C kernels), so a 13 GB checkpoint is never
/// converted whole. A tensor may read its rows in another order than stored (`rowOrder`: llama.cpp
/// stores q/k rows permuted for its RoPE, undone here on the fly). Keeps its file mapped while it lives.
public struct MappedTensor: @unchecked Sendable {
    public let info: TensorInfo
    let base: UnsafeRawPointer
    /// Keeps the mapping alive.
    let owner: AnyObject
    /// Logical row r is stored row rowOrder[r]; nil: stored order.
    let rowOrder: [Int32]?

    init(info: TensorInfo, base: UnsafeRawPointer, owner: AnyObject, rowOrder: [Int32]? = nil) {
        self.info = info
        self.base = base
        self.owner = owner
        self.rowOrder = rowOrder
    }

    public var shape: [Int] { info.shape }
    public var count: Int { info.elementCount }

    /// The same tensor with logical row r read from stored row `order[r]`.
    func reorderingRows(_ order: [Int32]) -> MappedTensor {
        MappedTensor(info: info, base: base, owner: owner, rowOrder: order)
    }

    /// The same tensor without the reference that keeps its file mapped: valid only while this
    /// `MappedTensor` (or another on the same file) lives; for hot loops (encoding, prefetching,
    /// releasing pages).
    public var view: MappedTensorView {
        MappedTensorView(base: base, dtype: info.dtype, count: count, rowLength: max(info.shape.last ?? 1, 1), rowOrder: rowOrder)
    }

    /// Elements [offset, offset + count) widened to Float into `out`.
    public func floats(offset: Int, count n: Int, into out: UnsafeMutablePointer<Float>) {
        view.floats(offset: offset, count: n, into: out)
    }

    /// The first element that is NaN, ±Inf or of magnitude ≥ 2^16 (index and value), or nil. Scans
    /// in blocks on all cores and returns each block's pages to the page cache as it goes, so
    /// checking a 13.5 GB checkpoint does not grow the resident set.
    public func firstOutOfRange() -> (index: Int, value: Float)? {
        let block = 1 << 22
        let blocks = (count + block - 1) / block
        nonisolated(unsafe) let found = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(blocks, 1))
        defer { found.deallocate() }
        let view = self.view
        DispatchQueue.concurrentPerform(iterations: blocks) { b in
            let begin = b * block, n = min(block, count - begin)
            let bad = view.firstOutOfRange(offset: begin, count: n)
            found[b] = bad.map { begin + $0 } ?? -1
            view.releaseResidentPages(offset: begin, count: n)
        }
        guard let index = found.prefix(blocks).first(where: { $0 >= 0 }) else { return nil }
        var value: Float = 0
        floats(offset: index, count: 1, into: &value)
        return (index, value)
    }

    /// All elements widened to Float (for small tensors: norms, test models).
    public func floats() -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { out, initialized in
            if count > 0 { floats(offset: 0, count: count, into: out.baseAddress!) }
            initialized = count
        }
    }
}

/// Unretained access to a mapped tensor (see `MappedTensor.view`): widening, fixed-point encoding,
/// prefetching and page release of element ranges, with no reference counting of the mapping. Block
/// formats are dequantized a chunk of blocks at a time into a small buffer on the stack.
public struct MappedTensorView: @unchecked Sendable {
    let base: UnsafeRawPointer
    let dtype: TensorDType
    let count: Int
    let rowLength: Int
    let rowOrder: [Int32]?

    /// Elements dequantized per step for block formats (16 blocks of 256: 16 KB of Float32 on the stack).
    static let chunk = 4096

    /// Calls `body(stored, count, done)` for each run of elements [offset, offset + n) that is contiguous
    /// in the file: `stored` is the run's first element in stored order, `done` its place in the range.
    @inline(__always)
    func forEachRun(offset: Int, count n: Int, _ body: (Int, Int, Int) -> Void) {
        precondition(offset >= 0 && n >= 0 && offset + n <= count, "element range out of bounds")
        guard let rowOrder else { if n > 0 { body(offset, n, 0) }; return }
        var done = 0
        while done < n {
            let e = offset + done
            let (row, column) = e.quotientAndRemainder(dividingBy: rowLength)
            let length = Swift.min(n - done, rowLength - column)
            body(Int(rowOrder[row]) * rowLength + column, length, done)
            done += length
        }
    }

    /// The address of stored element `e` (the start of its block).
    @inline(__always)
    func address(_ e: Int) -> UnsafeRawPointer { base + e / dtype.blockElements * dtype.blockBytes }

    /// Calls `body(values, count, done)` with stored elements [stored, stored + n) as plain data of
    /// `type`: in place for plain types, else dequantized a chunk at a time.
    @inline(__always)
    func withPlain(stored: Int, count n: Int, _ body: (UnsafeRawPointer, puma_dtype, Int, Int) -> Void) {
        if dtype.isPlain { body(base + stored * dtype.blockBytes, dtype.kernelType, n, 0); return }
        let blockSize = dtype.blockElements
        withUnsafeTemporaryAllocation(of: Float.self, capacity: Self.chunk) { buffer in
            var done = 0
            while done < n {
                let e = stored + done
                let skip = e % blockSize
                let length = Swift.min(n - done, Self.chunk - skip)
                let blocks = (skip + length + blockSize - 1) / blockSize
                puma_dequantize(address(e), dtype.kernelType, blocks, buffer.baseAddress!)
                body(UnsafeRawPointer(buffer.baseAddress! + skip), PUMA_F32, length, done)
                done += length
            }
        }
    }

    /// Elements [offset, offset + count) widened to Float into `out`.
    public func floats(offset: Int, count n: Int, into out: UnsafeMutablePointer<Float>) {
        let blockSize = dtype.blockElements
        forEachRun(offset: offset, count: n) { stored, length, done in
            // Whole blocks (every row of a matrix is) go straight into `out`.
            if blockSize > 1 && stored % blockSize == 0 && length % blockSize == 0 {
                puma_dequantize(address(stored), dtype.kernelType, length / blockSize, out + done)
                return
            }
            withPlain(stored: stored, count: length) { src, type, m, d in puma_to_float(src, type, m, out + done + d) }
        }
    }

    /// encode(W) − a − b of elements [offset, offset + count) into `out`, where (a, b) = `subtracting`
    /// and encode is exactly `FixedPoint.encode` with `fractionalBits` of the dequantized value.
    public func encode(offset: Int, count n: Int, fractionalBits: Int,
                       subtracting: (UnsafePointer<UInt64>, UnsafePointer<UInt64>), into out: UnsafeMutablePointer<UInt64>) {
        forEachRun(offset: offset, count: n) { stored, length, done in
            withPlain(stored: stored, count: length) { src, type, m, d in
                let at = done + d
                puma_encode_fixed_minus(src, type, m, Int32(fractionalBits), subtracting.0 + at, subtracting.1 + at, out + at)
            }
        }
    }

    /// round(W_i · scales_i) − a − b of elements [offset, offset + count) into `out`: per-element
    /// scales (e.g. a norm weight times 2^f, folded into the matrix after the norm), exact in double.
    public func encode(offset: Int, count n: Int, scales: UnsafePointer<Double>,
                       subtracting: (UnsafePointer<UInt64>, UnsafePointer<UInt64>), into out: UnsafeMutablePointer<UInt64>) {
        forEachRun(offset: offset, count: n) { stored, length, done in
            withPlain(stored: stored, count: length) { src, type, m, d in
                let at = done + d
                puma_encode_fixed_scaled_minus(src, type, m, scales + at, subtracting.0 + at, subtracting.1 + at, out + at)
            }
        }
    }

    /// The first element of [offset, offset + count), relative to offset, that is NaN, ±Inf or of
    /// magnitude ≥ 2^16 after dequantization, or nil.
    func firstOutOfRange(offset: Int, count n: Int) -> Int? {
        var first: Int? = nil
        forEachRun(offset: offset, count: n) { stored, length, done in
            guard first == nil else { return }
            withPlain(stored: stored, count: length) { src, type, m, d in
                guard first == nil else { return }
                let bad = puma_first_out_of_range(src, type, m)
                if bad >= 0 { first = done + d + bad }
            }
        }
        return first
    }

    /// The stored bytes that hold elements [offset, offset + count) (whole blocks, all rows they touch).
    func storedBytes(offset: Int, count n: Int) -> (start: UnsafeRawPointer, bytes: Int)? {
        guard n > 0 else { return nil }
        var low = Int.max, high = 0
        forEachRun(offset: offset, count: n) { stored, length, _ in
            low = Swift.min(low, stored)
            high = Swift.max(high, stored + length)
        }
        let blockSize = dtype.blockElements
        let first = low / blockSize, last = (high + blockSize - 1) / blockSize
        return (base + first * dtype.blockBytes, (last - first) * dtype.blockBytes)
    }

    /// Starts bringing elements [offset, offset + count) into cache (e.g. while other work runs).
    public func prefetch(offset: Int, count n: Int) {
        if let (start, bytes) = storedBytes(offset: offset, count: n) { puma_prefetch(start, bytes) }
    }

    /// Unmaps the tensor's pages from this process (`MADV_DONTNEED` on its whole pages): they stay in
    /// the kernel's page cache and come back on the next read without disk I/O (a minor fault per
    /// 64 KB with fault-around), so a 13.5 GB checkpoint read tensor by tensor does not pile up in
    /// the process's resident set. The mapping is read-only, so nothing is lost.
    public func releaseResidentPages() { releaseResidentPages(offset: 0, count: count) }

    /// `releaseResidentPages` for the whole pages within the stored bytes of elements [offset, offset + count).
    public func releaseResidentPages(offset: Int, count n: Int) {
        guard let (start, bytes) = storedBytes(offset: offset, count: n) else { return }
        let first = Int(bitPattern: start)
        let begin = (first + Self.pageSize - 1) / Self.pageSize * Self.pageSize
        let end = (first + bytes) / Self.pageSize * Self.pageSize
        if end > begin { _ = madvise(UnsafeMutableRawPointer(bitPattern: begin), end - begin, Int32(MADV_DONTNEED)) }
    }

    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
}
