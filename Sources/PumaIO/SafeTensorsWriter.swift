import Foundation

/// Writes tensors in the safetensors format (sorted names, 8-byte aligned header, packed data):
/// used for synthetic checkpoints in tests and benchmarks. Narrowing to F16/BF16 rounds to nearest even.
public enum SafeTensorsWriter {
    public struct Tensor: Sendable {
        public var name: String
        public var dtype: TensorDType
        public var shape: [Int]
        public var values: [Float]

        public init(name: String, dtype: TensorDType, shape: [Int], values: [Float]) {
            precondition(shape.reduce(1, *) == values.count, "\(name): \(values.count) values for shape \(shape)")
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.values = values
        }
    }

    /// A tensor whose bytes are produced on demand (for checkpoints too large to hold).
    public typealias StreamedTensor = TensorSpec

    /// Writes a safetensors file without holding its data: the header first, then each tensor (in
    /// the order given) in chunks that `produce(tensor, byteOffset, buffer)` fills, at most
    /// `chunkBytes` at a time.
    public static func write(streaming tensors: [StreamedTensor], to url: URL, chunkBytes: Int = 32 << 20,
                             metadata: [String: String] = ["format": "pt"],
                             produce: (StreamedTensor, Int, UnsafeMutableRawBufferPointer) -> Void) throws {
        var offset = 0
        let entries = tensors.map { tensor in
            defer { offset += tensor.byteCount }
            return HeaderEntry(name: tensor.name, dtype: tensor.dtype, shape: tensor.shape, range: offset..<(offset + tensor.byteCount))
        }
        guard FileManager.default.createFile(atPath: url.path, contents: nil), let handle = FileHandle(forWritingAtPath: url.path) else {
            throw PumaIOError.unreadableFile(url.path, reason: "cannot create the file")
        }
        defer { try? handle.close() }
        try handle.write(contentsOf: header(entries, metadata: metadata))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkBytes, alignment: 64)
        defer { buffer.deallocate() }
        for tensor in tensors {
            var done = 0
            while done < tensor.byteCount {
                let n = min(chunkBytes, tensor.byteCount - done)
                let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n])
                produce(tensor, done, chunk)
                try handle.write(contentsOf: Data(bytesNoCopy: chunk.baseAddress!, count: n, deallocator: .none))
                done += n
            }
        }
    }

    /// The file's bytes.
    public static func encode(_ tensors: [Tensor], metadata: [String: String] = ["format": "pt"]) -> Data {
        var entries: [HeaderEntry] = []
        var payload = Data()
        for tensor in tensors.sorted(by: { $0.name < $1.name }) {
            let begin = payload.count
            payload.append(bytes(of: tensor))
            entries.append(HeaderEntry(name: tensor.name, dtype: tensor.dtype, shape: tensor.shape, range: begin..<payload.count))
        }
        return header(entries, metadata: metadata) + payload
    }

    struct HeaderEntry {
        var name: String
        var dtype: TensorDType
        var shape: [Int]
        var range: Range<Int>
    }

    /// The 8-byte little-endian header length and the JSON header, padded with spaces to a multiple of 8.
    static func header(_ entries: [HeaderEntry], metadata: [String: String]) -> Data {
        var header: [String: Any] = ["__metadata__": metadata]
        for e in entries {
            header[e.name] = ["dtype": e.dtype.rawValue, "shape": e.shape, "data_offsets": [e.range.lowerBound, e.range.upperBound]]
        }
        var json = try! JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        return out + json
    }

    public static func write(_ tensors: [Tensor], to url: URL) throws {
        try encode(tensors).write(to: url)
    }

    /// Little-endian element bytes of `tensor` in its dtype.
    public static func bytes(of tensor: Tensor) -> Data {
        precondition(tensor.dtype.isPlain, "safetensors holds F32, F16 and BF16 only")
        var data = Data(capacity: tensor.values.count * tensor.dtype.blockBytes)
        for v in tensor.values {
            switch tensor.dtype {
            case .f32: withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) }
            case .f16: withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { data.append(contentsOf: $0) }
            case .bf16: withUnsafeBytes(of: bfloat16Bits(v).littleEndian) { data.append(contentsOf: $0) }
            default: break
            }
        }
        return data
    }

    /// Float → bfloat16 bits, round to nearest even (NaN stays NaN).
    public static func bfloat16Bits(_ v: Float) -> UInt16 {
        let bits = v.bitPattern
        if v.isNaN { return UInt16(bits >> 16) | 0x40 }
        let rounding = 0x7FFF + ((bits >> 16) & 1)
        return UInt16((bits &+ rounding) >> 16)
    }
}
