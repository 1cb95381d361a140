import Foundation

/// One metadata value of a GGUF file.
public enum GGUFValue: Sendable, Equatable {
    case uint(UInt64)
    case int(Int64)
    case float(Double)
    case bool(Bool)
    case string(String)
    case array([GGUFValue])

    /// The value as an Int when it is an integer that fits.
    public var integer: Int? {
        switch self {
        case .uint(let v): return Int(exactly: v)
        case .int(let v): return Int(exactly: v)
        default: return nil
        }
    }

    /// The value as a Double when it is a number.
    public var number: Double? {
        switch self {
        case .float(let v): return v
        case .uint(let v): return Double(v)
        case .int(let v): return Double(v)
        default: return nil
        }
    }

    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    public var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var array: [GGUFValue]? { if case .array(let a) = self { return a } else { return nil } }
}

/// A memory-mapped GGUF file (llama.cpp's format, versions 2 and 3): magic "GGUF", version, tensor and
/// metadata counts, the metadata (typed key–value pairs), the tensor descriptions, then the aligned
/// data area. Everything before the data is validated on open — counts, string and array lengths
/// against the bytes left, types, alignment, each tensor's offset, size and dimensions inside the
/// data area and without overlap, with overflow-checked arithmetic — and tensors are read in place
/// only when asked for. Shapes are given in row-major order (GGUF lists the contiguous dimension first).
public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let version: UInt32
    public let metadata: [String: GGUFValue]
    /// Tensors by their GGUF name (`blk.0.attn_q.weight`, …).
    public let tensors: [String: TensorInfo]
    /// The data area's alignment (`general.alignment`, default 32).
    public let alignment: Int
    private let file: MappedFile
    private let dataOffset: Int

    /// The GGML type numbers puma reads, and the names of some it does not (for errors).
    static let ggmlTypes: [UInt32: TensorDType] = [
        0: .f32, 1: .f16, 2: .q4_0, 3: .q4_1, 8: .q8_0, 12: .q4_K, 13: .q5_K, 14: .q6_K, 30: .bf16,
    ]
    static let otherGGMLTypeNames: [UInt32: String] = [
        6: "Q5_0", 7: "Q5_1", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS",
        19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64",
        28: "F64", 29: "IQ1_M", 34: "TQ1_0", 35: "TQ2_0",
    ]
    /// Nested arrays deeper than this are refused (real files nest at most once).
    static let arrayDepthLimit = 4
    /// GGML tensors have at most four dimensions.
    static let dimensionLimit = 4

    /// True when the file at `url` starts with the GGUF magic.
    public static func hasMagic(_ url: URL) -> Bool {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 4)) == Data("GGUF".utf8)
    }

    public init(url: URL) throws {
        path = url.path
        let path = self.path
        file = try MappedFile(url, minimumSize: 24) { size in
            .corruptGGUF(file: path, reason: "file has \(size) bytes, shorter than the 24-byte header")
        }
        (version, metadata, tensors, alignment, dataOffset) = try Self.parse(file.bytes, path: path)
    }

    /// The tensor read in place from the mapping.
    public func tensor(_ name: String) throws -> MappedTensor {
        guard let info = tensors[name] else { throw PumaIOError.missingTensor(name) }
        return MappedTensor(info: info, base: file.base + dataOffset + info.byteRange.lowerBound, owner: file)
    }

    // MARK: Parsing

    /// A bounds-checked little-endian reader over the mapped bytes.
    private struct Cursor {
        let bytes: UnsafeRawBufferPointer
        var offset = 0
        let path: String

        func corrupt(_ reason: String) -> PumaIOError { .corruptGGUF(file: path, reason: reason) }
        var remaining: Int { bytes.count - offset }

        mutating func take<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
            guard remaining >= MemoryLayout<T>.size else {
                throw corrupt("the file ends inside \(what()) (offset \(offset))")
            }
            let value = T(littleEndian: bytes.baseAddress!.loadUnaligned(fromByteOffset: offset, as: T.self))
            offset += MemoryLayout<T>.size
            return value
        }

        mutating func string(_ what: @autoclosure () -> String) throws -> String {
            let length = try take(UInt64.self, "the length of \(what())")
            guard length <= UInt64(remaining) else {
                throw corrupt("\(what()) claims \(length) bytes, more than the \(remaining) left in the file")
            }
            let raw = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + Int(length))])
            offset += Int(length)
            guard let text = String(validating: raw, as: UTF8.self) else { throw corrupt("\(what()) is not valid UTF-8") }
            return text
        }
    }

    /// The smallest encoding of one value of each metadata type (to bound array counts by the bytes left).
    private static func minimumSize(_ type: UInt32) -> Int {
        switch type {
        case 0, 1, 7: return 1
        case 2, 3: return 2
        case 4, 5, 6: return 4
        case 8: return 8
        case 9: return 12
        default: return 8
        }
    }

    private static func value(_ cursor: inout Cursor, type: UInt32, key: String, depth: Int = 0) throws -> GGUFValue {
        switch type {
        case 0: return .uint(UInt64(try cursor.take(UInt8.self, "'\(key)'")))
        case 1: return .int(Int64(try cursor.take(Int8.self, "'\(key)'")))
        case 2: return .uint(UInt64(try cursor.take(UInt16.self, "'\(key)'")))
        case 3: return .int(Int64(try cursor.take(Int16.self, "'\(key)'")))
        case 4: return .uint(UInt64(try cursor.take(UInt32.self, "'\(key)'")))
        case 5: return .int(Int64(try cursor.take(Int32.self, "'\(key)'")))
        case 6: return .float(Double(Float(bitPattern: try cursor.take(UInt32.self, "'\(key)'"))))
        case 7:
            let b = try cursor.take(UInt8.self, "'\(key)'")
            guard b <= 1 else { throw cursor.corrupt("'\(key)' is a bool of value \(b)") }
            return .bool(b == 1)
        case 8: return .string(try cursor.string("the value of '\(key)'"))
        case 9:
            guard depth < arrayDepthLimit else { throw cursor.corrupt("'\(key)' nests arrays deeper than \(arrayDepthLimit)") }
            let itemType = try cursor.take(UInt32.self, "the item type of '\(key)'")
            guard itemType <= 12 else { throw cursor.corrupt("'\(key)' is an array of unknown type \(itemType)") }
            let count = try cursor.take(UInt64.self, "the length of '\(key)'")
            guard count <= UInt64(cursor.remaining / minimumSize(itemType)) else {
                throw cursor.corrupt("'\(key)' claims \(count) items, more than the \(cursor.remaining) bytes left can hold")
            }
            var items: [GGUFValue] = []
            items.reserveCapacity(Int(count))
            for _ in 0..<Int(count) { items.append(try value(&cursor, type: itemType, key: key, depth: depth + 1)) }
            return .array(items)
        case 10: return .uint(try cursor.take(UInt64.self, "'\(key)'"))
        case 11: return .int(try cursor.take(Int64.self, "'\(key)'"))
        case 12: return .float(Double(bitPattern: try cursor.take(UInt64.self, "'\(key)'")))
        default: throw cursor.corrupt("'\(key)' has unknown value type \(type)")
        }
    }

    static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws
        -> (UInt32, [String: GGUFValue], [String: TensorInfo], Int, Int) {
        var cursor = Cursor(bytes: bytes, path: path)
        guard try cursor.take(UInt32.self, "the magic") == 0x4655_4747 else {
            throw cursor.corrupt("it does not start with the magic 'GGUF'")
        }
        let version = try cursor.take(UInt32.self, "the version")
        guard version == 2 || version == 3 else {
            throw cursor.corrupt("version \(version) is not supported (puma reads GGUF versions 2 and 3)")
        }
        let tensorCount = try cursor.take(UInt64.self, "the tensor count")
        let keyCount = try cursor.take(UInt64.self, "the metadata count")
        // A key takes at least 12 bytes (length, type, one byte of value); a tensor description 28.
        guard keyCount <= UInt64(cursor.remaining / 12) else {
            throw cursor.corrupt("it claims \(keyCount) metadata entries, more than the \(cursor.remaining) bytes left can hold")
        }
        var metadata: [String: GGUFValue] = [:]
        for i in 0..<Int(keyCount) {
            let key = try cursor.string("metadata key \(i)")
            let type = try cursor.take(UInt32.self, "the type of '\(key)'")
            guard metadata[key] == nil else { throw cursor.corrupt("the key '\(key)' appears twice") }
            metadata[key] = try value(&cursor, type: type, key: key)
        }
        guard tensorCount <= UInt64(cursor.remaining / 28) else {
            throw cursor.corrupt("it claims \(tensorCount) tensors, more than the \(cursor.remaining) bytes left can hold")
        }
        var alignment = 32
        if let value = metadata["general.alignment"] {
            guard case .uint(let a) = value, a > 0, a <= 1 << 20, a & (a - 1) == 0 else {
                throw cursor.corrupt("general.alignment must be a power of two up to 2^20")
            }
            alignment = Int(a)
        }
        var described: [(name: String, shape: [Int], type: UInt32, offset: UInt64)] = []
        var names = Set<String>()
        for i in 0..<Int(tensorCount) {
            let name = try cursor.string("the name of tensor \(i)")
            guard names.insert(name).inserted else { throw cursor.corrupt("the tensor '\(name)' appears twice") }
            let dimensions = try cursor.take(UInt32.self, "the dimension count of '\(name)'")
            guard dimensions >= 1 && dimensions <= UInt32(dimensionLimit) else {
                throw cursor.corrupt("tensor '\(name)' has \(dimensions) dimensions (1 to \(dimensionLimit) allowed)")
            }
            var shape: [Int] = []
            for _ in 0..<dimensions {
                let d = try cursor.take(UInt64.self, "a dimension of '\(name)'")
                guard d <= UInt64(Int32.max) else { throw cursor.corrupt("tensor '\(name)' has a dimension of \(d)") }
                shape.insert(Int(d), at: 0)  // GGUF lists the contiguous dimension first
            }
            let type = try cursor.take(UInt32.self, "the type of '\(name)'")
            let offset = try cursor.take(UInt64.self, "the offset of '\(name)'")
            described.append((name, shape, type, offset))
        }
        let (padded, overflow) = cursor.offset.addingReportingOverflow(alignment - 1)
        let dataOffset = overflow ? Int.max : padded / alignment * alignment
        guard dataOffset <= bytes.count else {
            throw cursor.corrupt("the data area would start at byte \(dataOffset), past the end of the file (\(bytes.count) bytes)")
        }
        let dataSize = bytes.count - dataOffset
        var tensors: [String: TensorInfo] = [:]
        for t in described {
            guard let dtype = ggmlTypes[t.type] else {
                let name = otherGGMLTypeNames[t.type].map { "\($0) (\(t.type))" } ?? "number \(t.type)"
                throw PumaIOError.unsupportedGGUFType(file: path, tensor: t.name, type: name)
            }
            guard t.offset % UInt64(alignment) == 0 else {
                throw cursor.corrupt("tensor '\(t.name)' starts at offset \(t.offset), not a multiple of the alignment \(alignment)")
            }
            guard let bytes = dtype.byteCount(shape: t.shape) else {
                throw cursor.corrupt("tensor '\(t.name)' of shape \(t.shape) is not made of whole \(dtype.rawValue) blocks of \(dtype.blockElements) (or is too large)")
            }
            guard t.offset <= UInt64(dataSize), UInt64(bytes) <= UInt64(dataSize) - t.offset else {
                throw cursor.corrupt("tensor '\(t.name)' (\(bytes) bytes at offset \(t.offset)) lies outside the data area of \(dataSize) bytes")
            }
            let begin = Int(t.offset)
            tensors[t.name] = TensorInfo(name: t.name, dtype: dtype, shape: t.shape, byteRange: begin..<(begin + bytes))
        }
        let ordered = tensors.values.filter { !$0.byteRange.isEmpty }.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }
        for (a, b) in zip(ordered, ordered.dropFirst()) where b.byteRange.lowerBound < a.byteRange.upperBound {
            throw cursor.corrupt("tensors '\(a.name)' and '\(b.name)' overlap")
        }
        return (version, metadata, tensors, alignment, dataOffset)
    }
}
