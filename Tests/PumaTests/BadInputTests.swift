import Foundation
import PumaIO
import PumaLLaMA
import PumaNN
import Testing

/// The bad-input campaign of issue 10: every reproduction is refused with one clear error, and
/// seeded mutations of headers and configs never crash the loaders.
@Suite("Bad input: non-regular files, absurd sizes, out-of-range values, mutations")
struct BadInputTests {
    let minimal = #"{"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":100}"#

    func loadConfig(_ text: String) throws -> LlamaConfiguration {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("config.json")
        try Data(text.utf8).write(to: url)
        return try LlamaConfiguration.load(from: url)
    }

    func with(_ key: String, _ value: String) -> String {
        minimal.replacingOccurrences(of: "{", with: "{\"\(key)\":\(value),")
    }

    @Test("config sizes near 2^62, contexts and layer counts of 2^40, ids beyond Int32: refused before anything is allocated")
    func absurdSizes() throws {
        for key in ["vocab_size", "hidden_size", "intermediate_size", "num_attention_heads", "head_dim", "max_position_embeddings", "num_hidden_layers"] {
            var object = try JSONSerialization.jsonObject(with: Data(minimal.utf8)) as! [String: Any]
            object[key] = 1 << 62
            let text = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
            #expect(throws: PumaIOError.self, "\(key) = 2^62") { try loadConfig(text) }
            do { _ = try loadConfig(text) } catch let error as PumaIOError {
                #expect(error.description.contains(key) && error.description.contains("supported maximum"), "\(error)")
            }
        }
        #expect(throws: PumaIOError.invalidValue(file: "config.json", key: "max_position_embeddings",
                                                reason: "1099511627776 is above the supported maximum of 1048576")) {
            try loadConfig(with("max_position_embeddings", String(1 << 40)))
        }
        #expect(throws: PumaIOError.invalidValue(file: "config.json", key: "eos_token_id", reason: "4294967296 is outside the vocabulary of 100")) {
            try loadConfig(with("eos_token_id", String(1 << 32)))
        }
        #expect(throws: PumaIOError.invalidValue(file: "config.json", key: "eos_token_id", reason: "100 is outside the vocabulary of 100")) {
            try loadConfig(with("eos_token_id", "100"))
        }
        #expect(throws: PumaIOError.invalidValue(file: "config.json", key: "bos_token_id", reason: "-1 is outside the vocabulary of 100")) {
            try loadConfig(with("bos_token_id", "-1"))
        }
        #expect(throws: PumaIOError.invalidValue(file: "config.json", key: "hidden_size",
                                                reason: "64 is not divisible by num_attention_heads 6 (and no head_dim is given)")) {
            try loadConfig(minimal.replacingOccurrences(of: #""num_attention_heads":4"#, with: #""num_attention_heads":6"#))
        }
        // With an explicit head_dim, hidden_size need not be heads × head_dim.
        #expect(try loadConfig(with("head_dim", "8").replacingOccurrences(of: #""num_attention_heads":4"#, with: #""num_attention_heads":6"#)).headDim == 8)
        // Sizes each within bounds whose product is not: refused by the parameter bound.
        let big = minimal.replacingOccurrences(of: #""hidden_size":64"#, with: #""hidden_size":65536"#)
            .replacingOccurrences(of: #""intermediate_size":128"#, with: #""intermediate_size":262144"#)
            .replacingOccurrences(of: #""num_hidden_layers":2"#, with: #""num_hidden_layers":1024"#)
            .replacingOccurrences(of: #""num_attention_heads":4"#, with: #""num_attention_heads":64"#)
        do { _ = try loadConfig(big); Issue.record("accepted \(big)") } catch let error as PumaIOError {
            #expect(error.description.contains("parameters, above the supported"), "\(error)")
        }
    }

    @Test("a directory, a FIFO or a device where a file belongs: refused up front, never read or waited on")
    func nonRegularFiles() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try TinyModel.write(to: dir, dtype: .f16, seed: 3)
        let tokenizer = dir.appendingPathComponent("tokenizer.model")
        try FileManager.default.createDirectory(at: tokenizer, withIntermediateDirectories: false)
        #expect(throws: PumaIOError.notARegularFile(tokenizer.path, kind: "a directory")) { try Tokenizer(url: tokenizer) }
        try FileManager.default.removeItem(at: tokenizer)
        try FileManager.default.createSymbolicLink(atPath: tokenizer.path, withDestinationPath: "/dev/zero")
        #expect(throws: PumaIOError.notARegularFile(tokenizer.path, kind: "a device")) { try Tokenizer(url: tokenizer) }
        try FileManager.default.removeItem(at: tokenizer)
        #expect(mkfifo(tokenizer.path, 0o600) == 0)
        #expect(throws: PumaIOError.notARegularFile(tokenizer.path, kind: "a FIFO")) { try Tokenizer(url: tokenizer) }

        // Not a SentencePiece model: the library's own status text stays out of the message.
        let garbage = dir.appendingPathComponent("garbage.model")
        try Data("not a model".utf8).write(to: garbage)
        #expect(throws: PumaIOError.tokenizer("cannot load tokenizer \(garbage.path): not a valid SentencePiece model")) { try Tokenizer(url: garbage) }

        let shard = dir.appendingPathComponent("model-00002-of-00002.safetensors")
        try FileManager.default.removeItem(at: shard)
        #expect(mkfifo(shard.path, 0o600) == 0)
        #expect(throws: PumaIOError.notARegularFile(shard.path, kind: "a FIFO")) { try Checkpoint(directory: dir) }

        let config = dir.appendingPathComponent("config.json")
        try FileManager.default.removeItem(at: config)
        try FileManager.default.createDirectory(at: config, withIntermediateDirectories: false)
        #expect(throws: PumaIOError.notARegularFile(config.path, kind: "a directory")) { try Checkpoint(directory: dir) }
        try FileManager.default.removeItem(at: config)
        try Data(count: InputFile.jsonLimit + 1).write(to: config)
        #expect(throws: PumaIOError.fileTooLarge(config.path, bytes: InputFile.jsonLimit + 1, limit: InputFile.jsonLimit)) {
            try Checkpoint(directory: dir)
        }
    }

    @Test("NaN, ±Inf and values beyond 2^16 in any dtype are refused at binding, naming the tensor and element")
    func nonFiniteWeights() throws {
        let cases: [(TensorDType, Float, String)] = [(.f32, .nan, "nan"), (.f16, .infinity, "inf"), (.bf16, -.infinity, "-inf"), (.f32, 1e6, "1000000.0")]
        for (dtype, value, shown) in cases {
            let dir = try Fixtures.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let name = "model.layers.1.mlp.up_proj.weight"
            var values = [Float](repeating: 0.25, count: 24 * 16)
            values[37] = value
            try TinyModel.write(to: dir, dtype: dtype, seed: 4, omit: [name],
                                extra: [.init(name: name, dtype: dtype, shape: [24, 16], values: values)])
            let checkpoint = try Checkpoint(directory: dir)
            #expect(throws: PumaIOError.self) { try LlamaWeights(checkpoint: checkpoint) }
            do { _ = try LlamaWeights(checkpoint: checkpoint) } catch let error as PumaIOError {
                #expect(error.description == "tensor '\(name)' holds \(shown) at element 37: weights must be finite and below 65536 in magnitude")
            }
        }
    }

    @Test("gate rows that could reach the secure SiLU's range are refused before sharing, naming the tensor; the bound is √dim × the largest folded row norm")
    func gateRange() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let name = "model.layers.1.mlp.gate_proj.weight"
        var values = [Float](repeating: 0.25, count: 24 * 16)
        for i in 0..<16 { values[5 * 16 + i] = 300 }  // row 5: |gate| ≤ 4·‖300·w‖ ≈ 4,800·mean |w|
        let model = try TinyModel.write(to: dir, dtype: .f32, seed: 4, omit: [name],
                                        extra: [.init(name: name, dtype: .f32, shape: [24, 16], values: values)])
        let weights = try LlamaWeights(checkpoint: try Checkpoint(directory: dir))
        // Independent reference in Double: per layer, √dim · max_j ‖W_gate[j] ⊙ w_norm‖₂.
        let expected = (0..<2).map { l -> Double in
            let w = l == 1 ? values : model.tensors["model.layers.\(l).mlp.gate_proj.weight"]!
            let norm = model.tensors["model.layers.\(l).post_attention_layernorm.weight"]!
            var largest = 0.0
            for r in 0..<24 {
                var sum = 0.0
                for i in 0..<16 {
                    let v = Double(w[r * 16 + i]) * Double(norm[i])
                    sum += v * v
                }
                largest = Swift.max(largest, sum)
            }
            return largest.squareRoot() * 4
        }
        let bounds = weights.gateBounds()
        #expect(zip(bounds, expected).allSatisfy { abs($0 - $1) <= 1e-9 * $1 }, "\(bounds) against \(expected)")
        #expect(bounds[0] < NonLinear.siluInputBound && bounds[1] > NonLinear.siluInputBound)
        #expect(throws: SecureRangeError.self) { try weights.checkSecureRanges() }
        do { try weights.checkSecureRanges() } catch let error as SecureRangeError {
            #expect(error.tensor == name && error.bound == bounds[1])
            #expect(error.description.hasPrefix("\(name): its outputs can reach ") && error.description.hasSuffix("beyond the ±2038 the secure SiLU compares in"))
        }
    }

    @Test("tie_word_embeddings with an lm_head stored uses the embeddings, as Hugging Face does")
    func tiedEmbeddings() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = TinyModel.config
        config.tieWordEmbeddings = true
        try TinyModel.write(to: dir, config: config, dtype: .f32, seed: 6)
        let weights = try LlamaWeights(checkpoint: try Checkpoint(directory: dir))
        #expect(weights.lmHead.info.name == "model.embed_tokens.weight")
        #expect(weights.lmHead.floats() == weights.embedding.floats())
    }

    /// Flips, inserts and deletes bytes of a valid header or config, many times over: each
    /// mutant must load or be refused with a `PumaIOError` (a trap would end the test run).
    @Test("seeded mutations of safetensors headers and config files: an error or a valid load, never a crash")
    func mutations() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try TinyModel.write(to: dir, dtype: .bf16, seed: 8)
        let shard = dir.appendingPathComponent("model-00002-of-00002.safetensors")
        let config = dir.appendingPathComponent("config.json")
        let originalShard = try Data(contentsOf: shard), originalConfig = try Data(contentsOf: config)
        let headerEnd = 8 + Int(originalShard.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var random = TestRandom(seed: 10)
        let tokens = [Data("1".utf8), Data("-".utf8), Data("9999999999999999999".utf8), Data("\"".utf8), Data(",".utf8),
                      Data("[".utf8), Data("}".utf8), Data("null".utf8), Data("1e308".utf8), Data("4611686018427387904".utf8)]
        func mutate(_ data: Data, within range: Range<Int>) -> Data {
            var bytes = [UInt8](data)
            for _ in 0..<(1 + Int(random.next() % 4)) {
                let at = min(range.lowerBound + Int(random.next() % UInt64(range.count)), bytes.count - 1)
                switch random.next() % 4 {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: random.next())
                case 1: bytes.replaceSubrange(at..<at, with: tokens[Int(random.next() % UInt64(tokens.count))])
                case 2: bytes.remove(at: at)
                default: bytes[at] = [0x30, 0x39, 0x2D, 0x22, 0x7B, 0x5D][Int(random.next() % 6)]
                }
            }
            return Data(bytes)
        }
        var outcomes = (loaded: 0, refused: 0)
        for round in 0..<300 {
            let mutateShard = round % 2 == 0
            if mutateShard {
                // Mutate the length field (first 8 bytes) sometimes, the JSON header mostly.
                try mutate(originalShard, within: round % 10 == 0 ? 0..<8 : 8..<headerEnd).write(to: shard)
            } else {
                try mutate(originalConfig, within: 0..<originalConfig.count).write(to: config)
            }
            do {
                let checkpoint = try Checkpoint(directory: dir)
                _ = try LlamaWeights(checkpoint: checkpoint)
                outcomes.loaded += 1
            } catch is PumaIOError {
                outcomes.refused += 1
            }
            try (mutateShard ? originalShard : originalConfig).write(to: mutateShard ? shard : config)
        }
        #expect(outcomes.refused > 150, "most mutants are refused: \(outcomes)")
    }
}
