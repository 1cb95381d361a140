import Foundation
import PumaIO
import Testing

@Suite("Checkpoint loading and bad input")
struct CheckpointTests {
    /// Writes a safetensors file whose header is `header` (raw JSON text) and data area `dataBytes` long.
    func rawFile(_ header: String, dataBytes: Int, headerLength: UInt64? = nil, in dir: URL) throws -> URL {
        let url = dir.appendingPathComponent("t.safetensors")
        var data = Data()
        let json = Data(header.utf8)
        withUnsafeBytes(of: (headerLength ?? UInt64(json.count)).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        data.append(Data(count: dataBytes))
        try data.write(to: url)
        return url
    }

    func corruptReason(_ url: URL) -> String? {
        do { _ = try SafeTensorsFile(url: url); return nil } catch let error as PumaIOError {
            if case .corruptSafetensors(_, let reason) = error { return reason }
            return error.description
        } catch { return "\(error)" }
    }

    @Test("F32, F16 and BF16 read back exactly")
    func dtypes() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Values exactly representable in every dtype, including a subnormal half and negatives.
        let values: [Float] = [0, -0.0, 1, -2.5, 0.15625, 65504, 0x1p-24, -0x1p-14, 3.0e4, 1e-3]
        let exactInHalf: [Float] = values.map { Float(Float16($0)) }
        let exactInBF16: [Float] = values.map { Float(bitPattern: UInt32(SafeTensorsWriter.bfloat16Bits($0)) << 16) }
        let url = dir.appendingPathComponent("m.safetensors")
        try SafeTensorsWriter.write([
            .init(name: "a", dtype: .f32, shape: [2, 5], values: values),
            .init(name: "b", dtype: .f16, shape: [10], values: exactInHalf),
            .init(name: "c", dtype: .bf16, shape: [5, 2], values: exactInBF16),
        ], to: url)
        let file = try SafeTensorsFile(url: url)
        #expect(try file.floats("a") == values)
        #expect(try file.floats("b") == exactInHalf)
        #expect(try file.floats("c") == exactInBF16)
        #expect(file.tensors["b"]?.shape == [10])
        // Known bit patterns, independent of the writer: 1.0 and −2.0 in half; 1.0 in bfloat16.
        #expect(exactInHalf[2] == 1 && Float16(-2).bitPattern == 0xC000)
        #expect(SafeTensorsWriter.bfloat16Bits(1) == 0x3F80)
        #expect(SafeTensorsWriter.bfloat16Bits(1.00390625) == 0x3F80)  // halfway: ties to even
        #expect(SafeTensorsWriter.bfloat16Bits(1.01171875) == 0x3F82)  // halfway: ties to even (up)
    }

    @Test("corrupt safetensors files are refused with the reason")
    func corruptFiles() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let short = dir.appendingPathComponent("short.safetensors")
        try Data([1, 2, 3]).write(to: short)
        #expect(corruptReason(short)?.contains("shorter than the 8-byte header length") == true)

        let tooLong = try rawFile("{}", dataBytes: 0, headerLength: 1000, in: dir)
        #expect(corruptReason(tooLong)?.contains("header length 1000 does not fit after the 8-byte length field in a file of 10 bytes") == true)
        // A header length equal to the file size: the same wording, not "exceeds".
        let equal = try rawFile("{}", dataBytes: 0, headerLength: 10, in: dir)
        #expect(corruptReason(equal)?.contains("header length 10 does not fit after the 8-byte length field in a file of 10 bytes") == true)
        let huge = try rawFile("{}", dataBytes: 0, headerLength: 1 << 62, in: dir)
        #expect(corruptReason(huge)?.contains("above the format's limit") == true)
        let reversed = try rawFile(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#, dataBytes: 8, in: dir)
        #expect(corruptReason(reversed)?.contains("data_offsets [8, 4] are reversed") == true)

        let notJSON = try rawFile("{not json", dataBytes: 0, in: dir)
        #expect(corruptReason(notJSON) == "header is not a JSON object")

        let outside = try rawFile(#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, dataBytes: 8, in: dir)
        #expect(corruptReason(outside)?.contains("lie outside the data area of 8 bytes") == true)

        let overlap = try rawFile(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, dataBytes: 12, in: dir)
        #expect(corruptReason(overlap)?.contains("overlap") == true)

        let sizeMismatch = try rawFile(#"{"w":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}}"#, dataBytes: 8, in: dir)
        #expect(corruptReason(sizeMismatch)?.contains("spans 8 bytes but shape [3] of F16 needs 6") == true)

        let badShape = try rawFile(#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, dataBytes: 4, in: dir)
        #expect(corruptReason(badShape)?.contains("no valid shape") == true)

        let unknown = try rawFile(#"{"w":{"dtype":"I8","shape":[4],"data_offsets":[0,4]}}"#, dataBytes: 4, in: dir)
        #expect(throws: PumaIOError.unsupportedDType(file: unknown.path, tensor: "w", dtype: "I8")) { try SafeTensorsFile(url: unknown) }
    }

    @Test("config.json: defaults, missing keys, wrong types, inconsistent values")
    func configuration() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("config.json")
        func load(_ text: String) throws -> LlamaConfiguration {
            try Data(text.utf8).write(to: url)
            return try LlamaConfiguration.load(from: url)
        }
        let minimal = #"{"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":100}"#
        let config = try load(minimal)
        #expect(config.numKeyValueHeads == 4)
        #expect(config.headDim == 16)
        #expect(config.maxPositionEmbeddings == 2048)
        #expect(config.ropeTheta == 10000)
        #expect(config.tieWordEmbeddings == false)
        #expect(try load(#"{"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":100,"eos_token_id":[7,8]}"#).eosTokenId == 7)

        #expect(throws: PumaIOError.missingFile(url.deletingLastPathComponent().appendingPathComponent("nope.json").path)) {
            try LlamaConfiguration.load(from: url.deletingLastPathComponent().appendingPathComponent("nope.json"))
        }
        #expect(throws: PumaIOError.invalidJSON(file: url.path, reason: "expected a JSON object")) { try load("hidden_size: 64") }
        #expect(throws: PumaIOError.missingKey(file: "config.json", key: "vocab_size")) {
            try load(#"{"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4}"#)
        }
        #expect(throws: PumaIOError.invalidValue(file: "config.json", key: "hidden_size", reason: "expected Int")) {
            try load(minimal.replacingOccurrences(of: #""hidden_size":64"#, with: #""hidden_size":"big""#))
        }
        #expect(throws: PumaIOError.invalidValue(file: "config.json", key: "num_key_value_heads", reason: "3 does not divide num_attention_heads 4")) {
            try load(minimal.replacingOccurrences(of: "{", with: #"{"num_key_value_heads":3,"#))
        }
        #expect(throws: PumaIOError.invalidValue(file: "config.json", key: "num_hidden_layers", reason: "must be positive, got 0")) {
            try load(minimal.replacingOccurrences(of: #""num_hidden_layers":2"#, with: #""num_hidden_layers":0"#))
        }
    }

    @Test("model directory: missing dir, missing config, missing shard, index mismatches")
    func directories() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let absent = dir.appendingPathComponent("absent")
        #expect(throws: PumaIOError.missingFile("model directory \(absent.path)")) { try Checkpoint(directory: absent) }
        #expect(throws: PumaIOError.missingFile(dir.appendingPathComponent("config.json").path)) { try Checkpoint(directory: dir) }

        try Data(#"{"hidden_size":4,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":2,"vocab_size":10}"#.utf8)
            .write(to: dir.appendingPathComponent("config.json"))
        #expect(throws: PumaIOError.missingFile(dir.appendingPathComponent("model.safetensors").path + " (nor model.safetensors.index.json)")) {
            try Checkpoint(directory: dir)
        }
        let index = dir.appendingPathComponent("model.safetensors.index.json")
        try Data(#"{"weight_map":{"a":"one.safetensors","b":"two.safetensors"}}"#.utf8).write(to: index)
        try SafeTensorsWriter.write([.init(name: "a", dtype: .f32, shape: [1], values: [1])], to: dir.appendingPathComponent("one.safetensors"))
        #expect(throws: PumaIOError.missingShard(index: index.path, shard: "two.safetensors")) { try Checkpoint(directory: dir) }

        try SafeTensorsWriter.write([.init(name: "c", dtype: .f32, shape: [1], values: [1])], to: dir.appendingPathComponent("two.safetensors"))
        #expect(throws: PumaIOError.corruptSafetensors(file: dir.appendingPathComponent("two.safetensors").path,
                                                      reason: "the index places 'b' here but the file does not contain it")) {
            try Checkpoint(directory: dir)
        }
        try Data(#"{"metadata":{}}"#.utf8).write(to: index)
        #expect(throws: PumaIOError.missingKey(file: index.path, key: "weight_map")) { try Checkpoint(directory: dir) }
        try Data(#"{"weight_map":{"a":"../one.safetensors"}}"#.utf8).write(to: index)
        #expect(throws: PumaIOError.invalidValue(file: index.path, key: "weight_map", reason: "shard name '../one.safetensors' must be a plain file name")) {
            try Checkpoint(directory: dir)
        }
    }
}
