import Foundation

/// Writes a GGUF v3 file (what `GGUFFile` reads): the metadata in the order given, the tensor
/// descriptions, then each tensor's bytes at 32-byte alignment, streamed in chunks so a 7B model is
/// never held whole. Integers are written as UINT32/INT32 when they fit (as llama.cpp writes its
/// keys), floats as FLOAT32.
public enum GGUFWriter {
    /// A tensor to write: its GGUF name, type and row-major shape.
    public typealias Tensor = TensorSpec

    static let alignment = 32

    /// Writes `tensors`, their bytes produced by `produce(tensor, byteOffset, buffer)` at most
    /// `chunkBytes` at a time, in whole blocks of the tensor's type.
    public static func write(to url: URL, metadata: [(String, GGUFValue)], tensors: [Tensor], chunkBytes: Int = 32 << 20,
                             produce: (Int, Int, UnsafeMutableRawBufferPointer) throws -> Void) throws {
        for tensor in tensors where tensor.dtype.byteCount(shape: tensor.shape) == nil {
            throw PumaIOError.invalidValue(file: url.path, key: tensor.name,
                reason: "shape \(tensor.shape) is not made of whole \(tensor.dtype.rawValue) blocks of \(tensor.dtype.blockElements)")
        }
        var header = Data()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { header.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { header.append(contentsOf: $0) } }
        func string(_ s: String) { u64(UInt64(s.utf8.count)); header.append(contentsOf: Array(s.utf8)) }
        func type(of value: GGUFValue) -> UInt32 {
            switch value {
            case .uint(let v): return v <= UInt64(UInt32.max) ? 4 : 10
            case .int(let v): return Int64(Int32.min)...Int64(Int32.max) ~= v ? 5 : 11
            case .float: return 6
            case .bool: return 7
            case .string: return 8
            case .array: return 9
            }
        }
        func body(_ value: GGUFValue, as t: UInt32) {
            switch value {
            case .uint(let v): if t == 4 { u32(UInt32(v)) } else { u64(v) }
            case .int(let v): if t == 5 { u32(UInt32(bitPattern: Int32(v))) } else { u64(UInt64(bitPattern: v)) }
            case .float(let v): u32(Float(v).bitPattern)
            case .bool(let b): header.append(b ? 1 : 0)
            case .string(let s): string(s)
            case .array(let items):
                // One item type for the whole array: the widest any item needs.
                let itemType = items.map(type(of:)).max() ?? 4
                u32(itemType)
                u64(UInt64(items.count))
                for item in items { body(item, as: itemType) }
            }
        }
        header.append(contentsOf: Array("GGUF".utf8))
        u32(3)
        u64(UInt64(tensors.count))
        u64(UInt64(metadata.count))
        for (key, value) in metadata {
            string(key)
            let t = type(of: value)
            u32(t)
            body(value, as: t)
        }
        var offsets: [Int] = []
        var offset = 0
        for tensor in tensors {
            offsets.append(offset)
            offset = (offset + tensor.byteCount + alignment - 1) / alignment * alignment
        }
        for (tensor, start) in zip(tensors, offsets) {
            string(tensor.name)
            u32(UInt32(tensor.shape.count))
            for d in tensor.shape.reversed() { u64(UInt64(d)) }  // contiguous dimension first
            u32(GGUFFile.ggmlTypes.first { $0.value == tensor.dtype }!.key)
            u64(UInt64(start))
        }
        header.append(contentsOf: [UInt8](repeating: 0, count: (alignment - header.count % alignment) % alignment))

        guard FileManager.default.createFile(atPath: url.path, contents: nil), let handle = try? FileHandle(forWritingTo: url) else {
            throw PumaIOError.unreadableFile(url.path, reason: "cannot be written")
        }
        defer { try? handle.close() }
        try handle.write(contentsOf: header)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(chunkBytes, 256), alignment: 64)
        defer { buffer.deallocate() }
        for (i, tensor) in tensors.enumerated() {
            var done = 0
            let step = max(chunkBytes / tensor.dtype.blockBytes, 1) * tensor.dtype.blockBytes  // whole blocks per chunk
            while done < tensor.byteCount {
                let n = min(step, tensor.byteCount - done)
                let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n])
                try produce(i, done, chunk)
                try handle.write(contentsOf: Data(bytesNoCopy: chunk.baseAddress!, count: n, deallocator: .none))
                done += n
            }
            let padding = (alignment - tensor.byteCount % alignment) % alignment
            if i < tensors.count - 1 && padding > 0 { try handle.write(contentsOf: Data(count: padding)) }
        }
    }

    /// Writes tensors whose bytes are given whole (tests, small models).
    public static func write(to url: URL, metadata: [(String, GGUFValue)], tensors: [(Tensor, [UInt8])]) throws {
        try write(to: url, metadata: metadata, tensors: tensors.map(\.0)) { i, offset, buffer in
            tensors[i].1.withUnsafeBytes { source in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[offset..<(offset + buffer.count)]))
            }
        }
    }
}
