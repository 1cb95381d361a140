import Foundation

/// A memory-mapped `.safetensors` file: an 8-byte little-endian header length, a JSON header
/// describing each tensor, then the raw data area. The header is fully validated on open (offsets
/// inside the data area, sizes matching shape × dtype, no overlaps); tensor bytes are read from the
/// mapping only when a tensor is asked for, so opening a 13 GB shard costs no memory.
public final class SafeTensorsFile: @unchecked Sendable {
    public let path: String
    public let tensors: [String: TensorInfo]
    private let file: MappedFile
    private let dataOffset: Int
    /// The format's limit on the JSON header (safetensors refuses larger ones too).
    static let headerLimit = 100_000_000

    public init(url: URL) throws {
        path = url.path
        let path = self.path
        file = try MappedFile(url, minimumSize: 8) { size in
            .corruptSafetensors(file: path, reason: "file has \(size) bytes, shorter than the 8-byte header length")
        }
        let (pointer, size) = (file.base, file.size)
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
    }

    /// The tensor's values widened to Float, in row-major order.
    public func floats(_ name: String) throws -> [Float] {
        try tensor(name).floats()
    }

    /// The tensor read in place from the mapping (nothing is copied until asked for).
    public func tensor(_ name: String) throws -> MappedTensor {
        guard let info = tensors[name] else { throw PumaIOError.missingTensor(name) }
        return MappedTensor(info: info, base: file.base + dataOffset + info.byteRange.lowerBound, owner: file)
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
            guard let dtype = TensorDType(rawValue: dtypeName), dtype.isPlain else {
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
            let bytes = dtype.byteCount(shape: shape)
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
