import CPumaKernels
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Element types a safetensors tensor may have; all are widened to `Float` on read.
public enum TensorDType: String, Sendable, CaseIterable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"

    public var byteCount: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        }
    }
}

/// Where one tensor lives inside a safetensors file.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: TensorDType
    public let shape: [Int]
    /// Byte range relative to the start of the data area (after the header).
    public let byteRange: Range<Int>

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A memory-mapped `.safetensors` file: an 8-byte little-endian header length, a JSON header
/// describing each tensor, then the raw data area. The header is fully validated on open (offsets
/// inside the data area, sizes matching shape × dtype, no overlaps); tensor bytes are read from the
/// mapping only when a tensor is asked for, so opening a 13 GB shard costs no memory.
public final class SafeTensorsFile: @unchecked Sendable {
    public let path: String
    public let tensors: [String: TensorInfo]
    private let base: UnsafeRawPointer
    private let mappedSize: Int
    private let dataOffset: Int
    /// The format's limit on the JSON header (safetensors refuses larger ones too).
    static let headerLimit = 100_000_000

    public init(url: URL) throws {
        path = url.path
        try InputFile.check(url)
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw PumaIOError.unreadableFile(path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw PumaIOError.unreadableFile(path, reason: String(cString: strerror(errno))) }
        let size = Int(st.st_size)
        guard size >= 8 else {
            throw PumaIOError.corruptSafetensors(file: path, reason: "file has \(size) bytes, shorter than the 8-byte header length")
        }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw PumaIOError.unreadableFile(path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        let pointer = UnsafeRawPointer(mapped)
        do {
            let headerLength = UInt64(littleEndian: pointer.loadUnaligned(as: UInt64.self))
            guard headerLength <= UInt64(Self.headerLimit) else {
                throw PumaIOError.corruptSafetensors(file: path, reason: "header length \(headerLength) is above the format's limit of \(Self.headerLimit) bytes")
            }
            guard headerLength <= UInt64(size - 8) else {
                throw PumaIOError.corruptSafetensors(file: path,
                    reason: "header length \(headerLength) does not fit after the 8-byte length field in a file of \(size) bytes")
            }
            let header = Data(bytes: pointer + 8, count: Int(headerLength))
            tensors = try Self.parseHeader(header, dataSize: size - 8 - Int(headerLength), path: path)
            dataOffset = 8 + Int(headerLength)
        } catch {
            munmap(mapped, size)
            throw error
        }
        base = pointer
        mappedSize = size
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), mappedSize) }

    /// The tensor's values widened to Float, in row-major order.
    public func floats(_ name: String) throws -> [Float] {
        try tensor(name).floats()
    }

    /// The tensor read in place from the mapping (nothing is copied until asked for).
    public func tensor(_ name: String) throws -> MappedTensor {
        guard let info = tensors[name] else { throw PumaIOError.missingTensor(name) }
        return MappedTensor(info: info, base: base + dataOffset + info.byteRange.lowerBound, owner: self)
    }

    static func parseHeader(_ header: Data, dataSize: Int, path: String) throws -> [String: TensorInfo] {
        func corrupt(_ reason: String) -> PumaIOError { .corruptSafetensors(file: path, reason: reason) }
        guard let object = try? JSONSerialization.jsonObject(with: header), let entries = object as? [String: Any] else {
            throw corrupt("header is not a JSON object")
        }
        var result: [String: TensorInfo] = [:]
        for (name, value) in entries where name != "__metadata__" {
            guard let entry = value as? [String: Any] else { throw corrupt("entry '\(name)' is not an object") }
            guard let dtypeName = entry["dtype"] as? String else { throw corrupt("tensor '\(name)' has no dtype") }
            guard let dtype = TensorDType(rawValue: dtypeName) else {
                throw PumaIOError.unsupportedDType(file: path, tensor: name, dtype: dtypeName)
            }
            guard let shape = integers(entry["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
                throw corrupt("tensor '\(name)' has no valid shape")
            }
            guard let offsets = integers(entry["data_offsets"]), offsets.count == 2 else {
                throw corrupt("tensor '\(name)' has no valid data_offsets")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin <= end else { throw corrupt("tensor '\(name)' data_offsets [\(begin), \(end)] are reversed (begin > end)") }
            guard begin >= 0, end <= dataSize else {
                throw corrupt("tensor '\(name)' data_offsets [\(begin), \(end)] lie outside the data area of \(dataSize) bytes")
            }
            var bytes: Int? = dtype.byteCount
            for d in shape {
                if let b = bytes { let (p, o) = b.multipliedReportingOverflow(by: d); bytes = o ? nil : p }
            }
            guard let needed = bytes, needed == end - begin else {
                throw corrupt("tensor '\(name)' spans \(end - begin) bytes but shape \(shape) of \(dtypeName) needs \(bytes.map(String.init) ?? "more than Int.max")")
            }
            result[name] = TensorInfo(name: name, dtype: dtype, shape: shape, byteRange: begin..<end)
        }
        let ordered = result.values.filter { !$0.byteRange.isEmpty }.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }
        for (a, b) in zip(ordered, ordered.dropFirst()) where b.byteRange.lowerBound < a.byteRange.upperBound {
            throw corrupt("tensors '\(a.name)' and '\(b.name)' overlap")
        }
        return result
    }

    private static func integers(_ value: Any?) -> [Int]? {
        guard let list = value as? [Any] else { return nil }
        var out: [Int] = []
        for item in list {
            guard let number = item as? NSNumber, let exact = Int(exactly: number.doubleValue) else { return nil }
            out.append(exact)
        }
        return out
    }
}

/// One tensor of a memory-mapped safetensors file, read in place: element ranges are widened to
/// Float or fixed-point encoded on demand (vectorised C kernels), so a 13 GB checkpoint is never
/// converted whole. Keeps its file mapped while it lives.
public struct MappedTensor: @unchecked Sendable {
    public let info: TensorInfo
    let base: UnsafeRawPointer
    /// Keeps the mapping alive.
    let owner: SafeTensorsFile

    public var shape: [Int] { info.shape }
    public var count: Int { info.elementCount }

    /// The same tensor without the reference that keeps its file mapped: valid only while this
    /// `MappedTensor` (or another on the same file) lives; for hot loops (encoding, prefetching,
    /// releasing pages).
    public var view: MappedTensorView { MappedTensorView(base: base, dtype: kernelType, count: count, elementSize: info.dtype.byteCount) }

    var kernelType: puma_dtype {
        switch info.dtype {
        case .f32: return PUMA_F32
        case .f16: return PUMA_F16
        case .bf16: return PUMA_BF16
        }
    }

    /// Elements [offset, offset + count) widened to Float into `out`.
    public func floats(offset: Int, count n: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(offset >= 0 && n >= 0 && offset + n <= count, "\(info.name): element range out of bounds")
        puma_to_float(base + offset * info.dtype.byteCount, kernelType, n, out)
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
            let bad = puma_first_out_of_range(view.base + begin * view.elementSize, view.dtype, n)
            found[b] = bad < 0 ? -1 : begin + bad
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

/// Unretained access to a mapped tensor (see `MappedTensor.view`): fixed-point encoding,
/// prefetching and page release of element ranges, with no reference counting.
public struct MappedTensorView: @unchecked Sendable {
    let base: UnsafeRawPointer
    let dtype: puma_dtype
    let count: Int
    /// Bytes per element.
    let elementSize: Int

    /// encode(W) − a − b of elements [offset, offset + count) into `out`, where (a, b) = `subtracting`
    /// and encode is exactly `FixedPoint.encode` with `fractionalBits`.
    public func encode(offset: Int, count n: Int, fractionalBits: Int,
                       subtracting: (UnsafePointer<UInt64>, UnsafePointer<UInt64>), into out: UnsafeMutablePointer<UInt64>) {
        precondition(offset >= 0 && n >= 0 && offset + n <= count, "element range out of bounds")
        puma_encode_fixed_minus(base + offset * elementSize, dtype, n, Int32(fractionalBits), subtracting.0, subtracting.1, out)
    }

    /// round(W_i · scales_i) − a − b of elements [offset, offset + count) into `out`: per-element
    /// scales (e.g. a norm weight times 2^f, folded into the matrix after the norm), exact in double.
    public func encode(offset: Int, count n: Int, scales: UnsafePointer<Double>,
                       subtracting: (UnsafePointer<UInt64>, UnsafePointer<UInt64>), into out: UnsafeMutablePointer<UInt64>) {
        precondition(offset >= 0 && n >= 0 && offset + n <= count, "element range out of bounds")
        puma_encode_fixed_scaled_minus(base + offset * elementSize, dtype, n, scales, subtracting.0, subtracting.1, out)
    }

    /// Starts bringing elements [offset, offset + count) into cache (e.g. while other work runs).
    public func prefetch(offset: Int, count n: Int) {
        precondition(offset >= 0 && n >= 0 && offset + n <= count, "element range out of bounds")
        puma_prefetch(base + offset * elementSize, n * elementSize)
    }

    /// Unmaps the tensor's pages from this process (`MADV_DONTNEED` on its whole pages): they stay in
    /// the kernel's page cache and come back on the next read without disk I/O (a minor fault per
    /// 64 KB with fault-around), so a 13.5 GB checkpoint read tensor by tensor does not pile up in
    /// the process's resident set. The mapping is read-only, so nothing is lost.
    public func releaseResidentPages() { releaseResidentPages(offset: 0, count: count) }

    /// `releaseResidentPages` for the whole pages within elements [offset, offset + count).
    public func releaseResidentPages(offset: Int, count n: Int) {
        precondition(offset >= 0 && n >= 0 && offset + n <= count, "element range out of bounds")
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let first = Int(bitPattern: base) + offset * elementSize
        let start = (first + page - 1) / page * page
        let end = (first + n * elementSize) / page * page
        if end > start { _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, Int32(MADV_DONTNEED)) }
    }
}
