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

    /// The file's bytes.
    public static func encode(_ tensors: [Tensor], metadata: [String: String] = ["format": "pt"]) -> Data {
        var header: [String: Any] = ["__metadata__": metadata]
        var payload = Data()
        for tensor in tensors.sorted(by: { $0.name < $1.name }) {
            let begin = payload.count
            payload.append(bytes(of: tensor))
            header[tensor.name] = ["dtype": tensor.dtype.rawValue, "shape": tensor.shape, "data_offsets": [begin, payload.count]]
        }
        var json = try! JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(payload)
        return out
    }

    public static func write(_ tensors: [Tensor], to url: URL) throws {
        try encode(tensors).write(to: url)
    }

    /// Little-endian element bytes of `tensor` in its dtype.
    public static func bytes(of tensor: Tensor) -> Data {
        var data = Data(capacity: tensor.values.count * tensor.dtype.byteCount)
        for v in tensor.values {
            switch tensor.dtype {
            case .f32: withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) }
            case .f16: withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { data.append(contentsOf: $0) }
            case .bf16: withUnsafeBytes(of: bfloat16Bits(v).littleEndian) { data.append(contentsOf: $0) }
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
