import CPumaKernels
import Foundation
import PumaCore
import PumaIO
import PumaLLaMA
import Testing

/// GGUF files built here, the way llama.cpp's converter lays them out.
enum GGUFFixtures {
    /// stories260K (Hugging Face, F32) written as a llama.cpp GGUF: `llama.*` keys, GGUF tensor names,
    /// q/k rows permuted for llama.cpp's RoPE, tied embeddings (no output.weight), its SentencePiece
    /// vocabulary as `tokenizer.ggml.model = llama` (pieces, scores, types). F32 keeps every value exact.
    static func stories(to url: URL) throws {
        let source = try Checkpoint(directory: Fixtures.stories)
        let c = source.configuration
        let tokenizer = try Tokenizer(url: Fixtures.stories.appendingPathComponent("tokenizer.model"))
        let metadata = GGUFLlama.metadata(c) + [("general.name", .string("stories260K"))] + GGUFLlama.vocabulary(tokenizer) + [
            // stories260K's SentencePiece model collapses runs of spaces (llama.cpp's key for it).
            ("tokenizer.ggml.remove_extra_whitespaces", .bool(true)),
            ("tokenizer.chat_template", .string("{{ bos_token }}[INST] {{ message['content'] }} [/INST]")),
        ]
        var tensors: [(GGUFWriter.Tensor, [UInt8])] = []
        func add(_ gguf: String, _ hf: String, permuteHeads: Int? = nil) throws {
            var values = try source.floats(hf, shape: source.info(hf)!.shape)
            let shape = source.info(hf)!.shape
            if let heads = permuteHeads { values = permuteForLlamaCpp(values, heads: heads, columns: shape[1]) }
            let bytes = SafeTensorsWriter.bytes(of: .init(name: gguf, dtype: .f32, shape: shape, values: values))
            tensors.append((.init(name: gguf, dtype: .f32, shape: shape), [UInt8](bytes)))
        }
        try add("token_embd.weight", "model.embed_tokens.weight")
        for l in 0..<c.numHiddenLayers {
            let p = "model.layers.\(l)."
            try add("blk.\(l).attn_norm.weight", p + "input_layernorm.weight")
            try add("blk.\(l).attn_q.weight", p + "self_attn.q_proj.weight", permuteHeads: c.numAttentionHeads)
            try add("blk.\(l).attn_k.weight", p + "self_attn.k_proj.weight", permuteHeads: c.numKeyValueHeads)
            try add("blk.\(l).attn_v.weight", p + "self_attn.v_proj.weight")
            try add("blk.\(l).attn_output.weight", p + "self_attn.o_proj.weight")
            try add("blk.\(l).ffn_norm.weight", p + "post_attention_layernorm.weight")
            try add("blk.\(l).ffn_gate.weight", p + "mlp.gate_proj.weight")
            try add("blk.\(l).ffn_up.weight", p + "mlp.up_proj.weight")
            try add("blk.\(l).ffn_down.weight", p + "mlp.down_proj.weight")
        }
        try add("output_norm.weight", "model.norm.weight")
        try GGUFWriter.write(to: url, metadata: metadata, tensors: tensors)
    }

    /// llama.cpp's `permute` (convert_hf_to_gguf.py): row (h, j, i) of Hugging Face's layout is stored as row (h, i, j).
    static func permuteForLlamaCpp(_ w: [Float], heads: Int, columns: Int) -> [Float] {
        let rows = w.count / columns, headDim = rows / heads, half = headDim / 2
        var out = [Float](repeating: 0, count: w.count)
        for h in 0..<heads {
            for j in 0..<2 {
                for i in 0..<half {
                    let from = h * headDim + j * half + i, to = h * headDim + 2 * i + j
                    out[to * columns..<(to + 1) * columns] = w[from * columns..<(from + 1) * columns]
                }
            }
        }
        return out
    }

    /// The dequantization vectors (scripts/make-dequantization-vectors.py): per type, raw blocks and
    /// the bit patterns of the Float32 values gguf-py dequantizes them to.
    static func dequantizationVectors() throws -> [(TensorDType, [UInt8], [Float])] {
        let root = try Fixtures.json(Fixtures.vectors.appendingPathComponent("dequantization.json"))
        let types = root["types"] as! [String: [String: Any]]
        return types.keys.sorted().map { name in
            let entry = types[name]!
            let bytes = [UInt8](Data(base64Encoded: entry["bytes"] as! String)!)
            let values = (entry["bits"] as! [Int]).map { Float(bitPattern: UInt32($0)) }
            return (TensorDType(rawValue: name)!, bytes, values)
        }
    }
}

@Suite("GGUF: reader, dequantization, llama.cpp layout, SmolLM2")
struct GGUFTests {
    @Test("dequantization of every type equals the gguf package, bit for bit, whole and in odd ranges, and encodes as FixedPoint does")
    func dequantization() throws {
        let vectors = try GGUFFixtures.dequantizationVectors()
        #expect(Set(vectors.map(\.0)) == Set(TensorDType.allCases))
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("types.gguf")
        // Each type as a tensor of two rows, stored one after the other in one file.
        try GGUFWriter.write(to: url, metadata: [("general.architecture", .string("llama"))], tensors: vectors.map { type, bytes, values in
            (GGUFWriter.Tensor(name: type.rawValue, dtype: type, shape: [2, values.count / 2]), bytes)
        })
        let file = try GGUFFile(url: url)
        for level in [1, 0] {
            puma_set_kernel_level(Int32(level))
            defer { puma_set_kernel_level(1) }
            for (type, bytes, expected) in vectors {
                let tensor = try file.tensor(type.rawValue)
                #expect(tensor.info.byteRange.count == bytes.count)
                let got = tensor.floats()
                #expect(got.map(\.bitPattern) == expected.map(\.bitPattern), "\(type.rawValue), kernel level \(level)")
                let range = 37..<(expected.count - 5)  // starts and ends inside blocks
                var part = [Float](repeating: 0, count: range.count)
                tensor.floats(offset: range.lowerBound, count: range.count, into: &part)
                #expect(part.map(\.bitPattern) == expected[range].map(\.bitPattern), "\(type.rawValue) elements \(range)")
                var encoded = [UInt64](repeating: 0, count: range.count)
                let zeros = [UInt64](repeating: 0, count: range.count)
                zeros.withUnsafeBufferPointer { z in
                    tensor.view.encode(offset: range.lowerBound, count: range.count, fractionalBits: 18,
                                       subtracting: (z.baseAddress!, z.baseAddress!), into: &encoded)
                }
                #expect(encoded == FixedPoint.standard.encode(Array(expected[range])), "\(type.rawValue) encoded")
            }
        }
    }

    /// A small valid file to break: two tensors and a few keys.
    static func validFile(_ url: URL) throws -> [UInt8] {
        try GGUFWriter.write(to: url, metadata: [("general.architecture", .string("llama")), ("test.numbers", .array([.uint(1), .uint(2)]))],
                             tensors: [(.init(name: "a", dtype: .f32, shape: [2, 4]), [UInt8](repeating: 0, count: 32)),
                                       (.init(name: "b", dtype: .q8_0, shape: [1, 32]), [UInt8](repeating: 0, count: 34))])
        return Array(try Data(contentsOf: url))
    }

    @Test("malformed files: one clear error each — truncated anywhere, bad magic or version, absurd counts and lengths, bad offsets, unknown types, overlaps")
    func malformed() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("m.gguf")
        let valid = try Self.validFile(url)
        let file = try GGUFFile(url: url)
        #expect(file.version == 3 && file.tensors.count == 2 && file.metadata["test.numbers"] == .array([.uint(1), .uint(2)]))
        #expect(file.tensors["a"]!.shape == [2, 4] && file.tensors["b"]!.dtype == .q8_0)

        func reason(_ bytes: [UInt8]) -> String? {
            try? Data(bytes).write(to: url)
            do { _ = try GGUFFile(url: url); return nil } catch { return "\(error)" }
        }
        func patch(_ bytes: [UInt8], at offset: Int, _ value: some FixedWidthInteger) -> [UInt8] {
            var out = bytes
            withUnsafeBytes(of: value.littleEndian) { out.replaceSubrange(offset..<(offset + $0.count), with: $0) }
            return out
        }
        // Every truncation of the header and of the data fails with an error, never a crash.
        for length in stride(from: 0, to: valid.count, by: 3) {
            #expect(reason(Array(valid.prefix(length))) != nil, "truncated to \(length) bytes")
        }
        #expect(reason(patch(valid, at: 0, UInt32(0x4655_4746)))?.contains("does not start with the magic 'GGUF'") == true)
        #expect(reason(patch(valid, at: 4, UInt32(1)))?.contains("version 1 is not supported") == true)
        #expect(reason(patch(valid, at: 8, UInt64(1) << 40))?.contains("claims 1099511627776 tensors") == true)
        #expect(reason(patch(valid, at: 16, UInt64(1) << 50))?.contains("metadata entries") == true)
        #expect(reason(patch(valid, at: 24, UInt64.max))?.contains("claims 18446744073709551615 bytes") == true)
        // The tensor descriptions: find "a", then its dims, type and offset.
        let a = Self.find(Array("\u{1}\0\0\0\0\0\0\0a".utf8), in: valid)!  // length 1, then "a"
        let aType = a + 9 + 4 + 16, aOffset = aType + 4
        #expect(reason(patch(valid, at: aType, UInt32(10)))?.contains("tensor 'a' has GGML type Q2_K (10), which puma does not read") == true)
        #expect(reason(patch(valid, at: aType, UInt32(99)))?.contains("has GGML type number 99") == true)
        #expect(reason(patch(valid, at: aOffset, UInt64(4)))?.contains("starts at offset 4, not a multiple of the alignment 32") == true)
        #expect(reason(patch(valid, at: aOffset, UInt64(1) << 60))?.contains("lies outside the data area") == true)
        #expect(reason(patch(valid, at: aOffset, UInt64(32)))?.contains("overlap") == true)
        #expect(reason(patch(valid, at: a + 9, UInt32(7)))?.contains("has 7 dimensions") == true)
        let b = Self.find(Array("\u{1}\0\0\0\0\0\0\0b".utf8), in: valid)!
        #expect(reason(patch(valid, at: b + 13, UInt64(31)))?.contains("not made of whole Q8_0 blocks of 32") == true)
        // A bool that is neither 0 nor 1, an unknown value type, an array of an unknown type.
        let numbers = Self.find(Array("test.numbers".utf8), in: valid)! + 12
        #expect(reason(patch(valid, at: numbers, UInt32(13)))?.contains("unknown value type 13") == true)
        #expect(reason(patch(valid, at: numbers + 4, UInt32(42)))?.contains("array of unknown type 42") == true)
        #expect(reason(patch(valid, at: numbers + 8, UInt64(1) << 61))?.contains("claims 2305843009213693952 items") == true)
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        return (0...(haystack.count - needle.count)).first { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }

    @Test("stories260K as a llama.cpp GGUF: configuration, names, q/k rows and tokenizer recovered; logits equal the Hugging Face folder's, secure tokens too",
          .enabled(if: Fixtures.hasSharedModels, Comment(rawValue: Fixtures.sharedModelsMissing)))
    func storiesAsGGUF() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("stories260K.gguf")
        try GGUFFixtures.stories(to: url)
        let gguf = try LlamaModel(at: url), hf = try LlamaModel(at: Fixtures.stories)
        var expected = hf.configuration
        expected.rmsNormEps = Double(Float(expected.rmsNormEps))  // GGUF stores it as FLOAT32
        #expect(gguf.configuration == expected)
        #expect(gguf.tokenizer.pieceCount == 512 && gguf.tokenizer.addsBOS)
        for text in ["Once upon a time", "  two  spaces", "Ünïcödé 🦙", "Lily's ball\nwas red."] {
            #expect(try gguf.tokenizer.encodePrompt(text) == hf.tokenizer.encodePrompt(text), "\(text.debugDescription)")
        }
        let prompt = try hf.tokenizer.encodePrompt("Once upon a time")
        var cacheA = PlainTransformer(config: gguf.configuration, weights: gguf.weights).makeCache()
        var cacheB = PlainTransformer(config: hf.configuration, weights: hf.weights).makeCache()
        let a = PlainTransformer(config: gguf.configuration, weights: gguf.weights).forward(tokens: prompt, cache: &cacheA)
        let b = PlainTransformer(config: hf.configuration, weights: hf.weights).forward(tokens: prompt, cache: &cacheB)
        #expect(a == b)
        // Secure mode reads the same fixed-point weights from either file: the same tokens.
        let generator = Generator(maxPositions: 512, vocabularySize: 512, eosId: 2)
        func secureTokens(_ model: LlamaModel) throws -> [Int32] {
            var predictor = SecurePredictor(config: model.configuration, weights: model.weights, seed: 7, temperature: 0,
                                            revealLogits: false, choosable: model.choosableTokens)
            return try generator.run(&predictor, prompt: prompt, maxTokens: 6, stopAtEOS: false).tokens
        }
        #expect(try secureTokens(gguf) == secureTokens(hf))
        // The chat template stored with it is LLaMA-2's [INST]: BOS, then the wrapped text.
        let chat = try ChatFormat(template: gguf.files.chatTemplate, tokenizer: gguf.tokenizer)
        #expect(chat.kind == .llama2 && chat.endOfTurn == 2)
        #expect(try chat.prompt(user: " Hi ", tokenizer: gguf.tokenizer) == hf.tokenizer.encode("[INST] Hi [/INST]", addBOS: true))
    }

    @Test("GGUF's llama tokenizer, rebuilt for libsentencepiece from pieces, scores and types, passes the 46 LLaMA vectors",
          .enabled(if: Fixtures.hasSharedModels, Comment(rawValue: Fixtures.sharedModelsMissing)))
    func llamaVocabulary() throws {
        let original = try Tokenizer(url: Fixtures.llamaTokenizer.appendingPathComponent("tokenizer.model"))
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("vocab.gguf")
        try GGUFWriter.write(to: url, metadata: [("general.architecture", .string("llama"))] + GGUFLlama.vocabulary(original), tensors: [])
        let tokenizer = try Tokenizer.load(gguf: GGUFFile(url: url))
        #expect(tokenizer.pieceCount == 32000 && tokenizer.bosId == 1 && tokenizer.eosId == 2 && tokenizer.addsBOS)
        var inputs = try String(contentsOf: Fixtures.llamaTokenizer.appendingPathComponent("ggml-vocab-llama-spm.gguf.inp"), encoding: .utf8)
            .components(separatedBy: "\n__ggml_vocab_test__\n")
        if inputs.last == "" { inputs.removeLast() }
        let outputs = try String(contentsOf: Fixtures.llamaTokenizer.appendingPathComponent("ggml-vocab-llama-spm.gguf.out"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).prefix(inputs.count)
        #expect(inputs.count == 46)
        for (input, output) in zip(inputs, outputs) {
            #expect(try tokenizer.encode(input) == output.split(separator: " ").map { Int32($0)! }, "\(input.debugDescription)")
        }
        let ids = try tokenizer.encode("Ünïcödé 🦙 and 你好", addBOS: true)
        #expect(try tokenizer.decode(ids) == original.decode(ids))
    }

    @Test("SmolLM2-135M-Instruct (Q4_1 GGUF): configuration, tensor types and what inspect reports",
          .enabled(if: Fixtures.hasSmolLM, Comment(rawValue: Fixtures.smolLMMissing)))
    func smolLMFile() throws {
        let files = try ModelFiles(Fixtures.smolLMFile)
        let c = files.configuration
        #expect((c.numHiddenLayers, c.hiddenSize, c.intermediateSize, c.numAttentionHeads, c.numKeyValueHeads, c.headDim) == (30, 576, 1536, 9, 3, 64))
        #expect((c.vocabSize, c.maxPositionEmbeddings, c.ropeTheta, c.tieWordEmbeddings) == (49152, 8192, 100_000, true))
        #expect(Float(c.rmsNormEps) == 1e-5 && c.bosTokenId == 1 && c.eosTokenId == 2 && c.parameterCount == 134_515_008)
        let checkpoint = try files.checkpoint()
        let types = Dictionary(grouping: checkpoint.files[0].tensors, by: \.dtype).mapValues(\.count)
        #expect(types == [.q8_0: 1, .q4_1: 210, .f32: 61])
        #expect(checkpoint.info("model.layers.3.self_attn.k_proj.weight")?.shape == [192, 576])
        // The configuration a deployment compares round-trips through config.json's keys.
        #expect(try LlamaConfiguration.parse(Data(files.configText.utf8), file: "config") == c)
        let run = try PumaProcess(["inspect", "--model", Fixtures.smolLMFile.path])
        #expect(run.status == 0, "\(run.stderr)")
        for line in ["(GGUF v3)", "Q4_1 210 (66.4 MB, 5.00 bits/weight)", "Q8_0 1 (30.1 MB, 8.50 bits/weight)",
                     "tokenizer: byte-level BPE (smollm), 49152 pieces (bos 1, eos 2, unk 0), no BOS added",
                     "chat template: ChatML with a default system line", "P1 stores 1.3 GB"] {
            #expect(run.stdout.contains(line), "\(line) in \(run.stdout)")
        }
    }

    @Test("SmolLM2 plain mode reproduces golden.json: the 4 chats' 32 greedy tokens (--chat --ignore-eos) and the perplexity of its 8 windows within 0.05 %",
          .enabled(if: Fixtures.hasSmolLM, Comment(rawValue: Fixtures.smolLMMissing)))
    func smolLMGolden() throws {
        let model = try LlamaModel(at: Fixtures.smolLMFile)
        let golden = try Fixtures.json(Fixtures.smolLM.appendingPathComponent("golden.json"))
        let chat = try ChatFormat(template: model.files.chatTemplate, tokenizer: model.tokenizer)
        #expect(chat.kind == .chatML && chat.endOfTurn == 2)
        #expect(chat.defaultSystem == "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        let cases = golden["greedy"] as! [[String: Any]]
        #expect(cases.count == 4)
        let transformer = PlainTransformer(config: model.configuration, weights: model.weights)
        let generator = Generator(maxPositions: model.configuration.maxPositionEmbeddings, vocabularySize: model.configuration.vocabSize,
                                  eosId: chat.endOfTurn)
        for item in cases {
            let prompt = item["prompt"] as! String
            #expect(chat.text(user: prompt) == item["chat_text"] as! String)
            let ids = try chat.prompt(user: prompt, tokenizer: model.tokenizer)
            #expect(ids == (item["prompt_ids"] as! [Int]).map(Int32.init), "\(prompt)")
            var predictor = PlainPredictor(transformer: transformer, sampler: Sampler(method: .greedy, seed: 0), choosable: model.choosableTokens)
            let result = try generator.run(&predictor, prompt: ids, maxTokens: 32, stopAtEOS: false)
            #expect(ids + result.tokens == (item["ids"] as! [Int]).map(Int32.init), "\(prompt)")
        }
        let perplexity = golden["perplexity"] as! [String: Any]
        let windows = (perplexity["windows"] as! [[Int]]).map { $0.map(Int32.init) }
        let nll = try Evaluation.negativeLogLikelihood(windows: windows) {
            PlainPredictor(transformer: transformer, sampler: Sampler(method: .greedy, seed: 0), choosable: model.choosableTokens)
        }
        #expect(nll.tokens == 1016)
        let ppl = exp(nll.sum / Double(nll.tokens)), expected = perplexity["ppl"] as! Double
        #expect(abs(ppl / expected - 1) < 5e-4, "perplexity \(ppl) against \(expected)")
    }

    @Test("SmolLM2 secure mode runs on the GGUF (its accuracy is issue 20's): a token per pass, the chat format's end-of-turn honoured",
          .enabled(if: Fixtures.hasSmolLM, Comment(rawValue: Fixtures.smolLMMissing)))
    func smolLMSecure() throws {
        let run = try PumaProcess(["generate", "--model", Fixtures.smolLMFile.path, "--chat", "--prompt", "Hi", "--max-tokens", "2",
                                   "--seed", "3", "--silu", "puma"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.hasPrefix("system\nYou are a helpful AI assistant named SmolLM"), "\(run.stdout)")
        #expect(run.stderr.contains("31 prompt tokens, ") && run.stderr.contains("2 secure passes"), "\(run.stderr)")
    }
}
