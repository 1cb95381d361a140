import Foundation
import PumaIO
import PumaLLaMA
import Testing

@Suite("Model formats: RoPE scaling, chat formats, puma tokenize")
struct ModelFormatTests {
    @Test("RoPE scaling: llama3 equals Hugging Face's _compute_llama3_parameters (LLaMA-3.1's settings), linear divides, stored factors divide")
    func ropeScaling() {
        // Reference values from transformers' modeling_rope_utils._compute_llama3_parameters (numpy transcription,
        // θ = 500,000, head dim 128, factor 8, low 1, high 4, original context 8,192): index → inverse frequency.
        let reference: [Int: Double] = [0: 1.0, 20: 0.016560440080994446, 30: 0.0013718935677611381, 40: 3.428102195952591e-05,
                                        45: 1.2297638677963614e-05, 50: 4.411534674558404e-06, 63: 3.068925988914511e-07]
        let llama3 = RopeScaling.inverseFrequencies(headDim: 128, theta: 500_000, scaling: .llama3(
            factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalMaxPositionEmbeddings: 8192))
        for (i, expected) in reference { #expect(abs(llama3[i] / expected - 1) < 1e-12, "index \(i): \(llama3[i]) vs \(expected)") }
        let base = RopeScaling.inverseFrequencies(headDim: 64, theta: 10_000, scaling: nil)
        #expect(zip(RopeScaling.inverseFrequencies(headDim: 64, theta: 10_000, scaling: .linear(factor: 4)), base).allSatisfy { $0 == $1 / 4 })
        let factors = (0..<32).map { 1 + Double($0) / 8 }
        #expect(RopeScaling.inverseFrequencies(headDim: 64, theta: 10_000, scaling: .frequencyFactors(factors)) == zip(base, factors).map { $0 / $1 })
    }

    @Test("rope_scaling in config.json: llama3 and linear read, default and null mean none, other kinds refused by name")
    func ropeScalingConfig() throws {
        func parse(_ scaling: String) throws -> LlamaConfiguration {
            try LlamaConfiguration.parse(Data("""
            {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100,
             "rope_scaling": \(scaling)}
            """.utf8), file: "config.json")
        }
        #expect(try parse(#"{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}"#)
            .ropeScaling == .llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalMaxPositionEmbeddings: 8192))
        #expect(try parse(#"{"type": "linear", "factor": 2}"#).ropeScaling == .linear(factor: 2))
        #expect(try parse("null").ropeScaling == nil)
        #expect(try parse(#"{"rope_type": "default"}"#).ropeScaling == nil)
        #expect(throws: PumaIOError.invalidValue(file: "config.json", key: "rope_scaling", reason: "rope_type 'yarn' is not supported (puma applies linear and llama3)")) {
            try parse(#"{"rope_type": "yarn", "factor": 4}"#)
        }
        #expect(throws: PumaIOError.invalidValue(file: "config.json", key: "rope_scaling", reason: "needs a positive 'factor'")) {
            try parse(#"{"rope_type": "linear", "factor": -1}"#)
        }
        // The configuration's JSON (what a deployment sends for a GGUF model) round-trips the scaling.
        let c = try parse(#"{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}"#)
        #expect(try LlamaConfiguration.parse(JSONEncoder().encode(c), file: "x") == c)
    }

    /// stories260K with `rope_scaling` added to its config.json (the weights linked, not copied).
    static func scaledStories(_ scaling: String, in dir: URL) throws -> URL {
        let model = dir.appendingPathComponent("scaled")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: Fixtures.stories.path) where name != "config.json" {
            try FileManager.default.createSymbolicLink(at: model.appendingPathComponent(name), withDestinationURL: Fixtures.stories.appendingPathComponent(name))
        }
        var config = try Fixtures.json(Fixtures.stories.appendingPathComponent("config.json"))
        config["rope_scaling"] = try JSONSerialization.jsonObject(with: Data(scaling.utf8))
        try JSONSerialization.data(withJSONObject: config).write(to: model.appendingPathComponent("config.json"))
        return model
    }

    @Test("RoPE scaling reaches both transformers: scaled stories260K's plain logits change, and secure tokens equal plain ones",
          .enabled(if: Fixtures.hasSharedModels, Comment(rawValue: Fixtures.sharedModelsMissing)))
    func ropeScalingInTransformers() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let plainModel = try LlamaModel(at: Fixtures.stories)
        let prompt = try plainModel.tokenizer.encodePrompt("Once upon a time")
        func logits(_ model: LlamaModel) -> [Float] {
            let transformer = PlainTransformer(config: model.configuration, weights: model.weights)
            var cache = transformer.makeCache()
            return transformer.forward(tokens: prompt, cache: &cache)
        }
        let unscaled = logits(plainModel)
        for scaling in [#"{"type": "linear", "factor": 4}"#,
                        #"{"rope_type": "llama3", "factor": 8, "low_freq_factor": 1, "high_freq_factor": 4, "original_max_position_embeddings": 4}"#] {
            let model = try LlamaModel(at: Self.scaledStories(scaling, in: dir))
            #expect(model.configuration.ropeScaling != nil)
            let scaled = logits(model)
            #expect(zip(scaled, unscaled).map { abs($0 - $1) }.max()! > 0.01, "\(scaling) changed nothing")
            let generator = Generator(maxPositions: 512, vocabularySize: 512, eosId: 2)
            var plain = PlainPredictor(transformer: PlainTransformer(config: model.configuration, weights: model.weights),
                                       sampler: Sampler(method: .greedy, seed: 0))
            var secure = SecurePredictor(config: model.configuration, weights: model.weights, seed: 11, temperature: 0)
            let expected = try generator.run(&plain, prompt: prompt, maxTokens: 8, stopAtEOS: false).tokens
            #expect(try generator.run(&secure, prompt: prompt, maxTokens: 8, stopAtEOS: false).tokens == expected, "\(scaling)")
            try FileManager.default.removeItem(at: dir.appendingPathComponent("scaled"))
        }
    }

    @Test("GGUF rope scaling: llama.rope.scaling.type linear and rope_freqs.weight become the configuration's scaling")
    func ggufRopeScaling() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("rope.gguf")
        let keys: [(String, GGUFValue)] = [
            ("general.architecture", .string("llama")), ("llama.block_count", .uint(1)), ("llama.embedding_length", .uint(64)),
            ("llama.feed_forward_length", .uint(128)), ("llama.attention.head_count", .uint(4)), ("llama.vocab_size", .uint(100)),
        ]
        try GGUFWriter.write(to: url, metadata: keys + [("llama.rope.scaling.type", .string("linear")), ("llama.rope.scaling.factor", .float(2))], tensors: [])
        #expect(try GGUFLlama.configuration(GGUFFile(url: url)).ropeScaling == .linear(factor: 2))
        let factors = (0..<8).map { Float(1 + $0) }
        try GGUFWriter.write(to: url, metadata: keys, tensors: [(.init(name: "rope_freqs.weight", dtype: .f32, shape: [8]),
                                                               [UInt8](SafeTensorsWriter.bytes(of: .init(name: "rope_freqs.weight", dtype: .f32, shape: [8], values: factors))))])
        #expect(try GGUFLlama.configuration(GGUFFile(url: url)).ropeScaling == .frequencyFactors(factors.map(Double.init)))
        try GGUFWriter.write(to: url, metadata: keys + [("llama.rope.scaling.type", .string("yarn"))], tensors: [])
        #expect(throws: PumaIOError.invalidValue(file: url.path, key: "llama.rope.scaling.type", reason: "'yarn' is not supported (puma applies linear and llama3)")) {
            try GGUFLlama.configuration(GGUFFile(url: url))
        }
        try GGUFWriter.write(to: url, metadata: [("general.architecture", .string("gemma"))], tensors: [])
        #expect(throws: PumaIOError.invalidValue(file: url.path, key: "general.architecture", reason: "'gemma' is not supported (puma runs llama-architecture models)")) {
            try GGUFLlama.configuration(GGUFFile(url: url))
        }
        try GGUFWriter.write(to: url, metadata: Array(keys.prefix(3)), tensors: [])
        #expect(throws: PumaIOError.missingKey(file: url.path, key: "llama.attention.head_count")) { try GGUFLlama.configuration(GGUFFile(url: url)) }
    }

    /// A tokenizer with the given special tokens (byte-level BPE over the 256 byte characters).
    static func tokenizer(special: [String], eos: Int32? = nil) throws -> Tokenizer {
        let bytes = (0..<256).map { b -> String in
            let c: Unicode.Scalar
            switch b {
            case 33...126, 161...172, 174...255: c = Unicode.Scalar(UInt32(b))!
            default:
                let printable = Array(33...126) + Array(161...172) + Array(174...255)
                c = Unicode.Scalar(UInt32(256 + (0..<256).filter { !printable.contains($0) }.firstIndex(of: b)!))!
            }
            return String(Character(c))
        }
        let tokens = bytes + special
        let added = special.enumerated().map { (id: Int32(256 + $0.offset), text: $0.element) }
        let bpe = try BPETokenizer(tokens: tokens, merges: [], added: added, control: Set(added.map(\.id)), preTokenizer: .gpt2,
                                   ignoreMerges: false, source: "test")
        return Tokenizer(bpe: bpe, bosId: added.first?.id ?? -1, eosId: eos ?? added.last?.id ?? -1, unkId: -1, addsBOS: false)
    }

    @Test("chat formats recognised from their templates; an unknown or absent template is one clear error that names it")
    func chatFormats() throws {
        let chatML = try Self.tokenizer(special: ["<|im_start|>", "<|im_end|>"])
        let template = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nBe brief.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
        let format = try ChatFormat(template: template, tokenizer: chatML)
        #expect(format.kind == .chatML && format.defaultSystem == "Be brief." && format.endOfTurn == 257)
        #expect(format.text(user: "Hi") == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        let ids = try format.prompt(user: "Hi", tokenizer: chatML)
        #expect(ids.first == 256 && ids.filter { $0 == 257 }.count == 2)
        // ChatML without a default system line.
        let plain = try ChatFormat(template: "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n'}}{% endfor %}", tokenizer: chatML)
        #expect(plain.defaultSystem == nil && plain.text(user: "x") == "<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n")

        let llama3 = try Self.tokenizer(special: ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"])
        let l3 = try ChatFormat(template: "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] | trim }}<|eot_id|>{% endfor %}",
                                tokenizer: llama3)
        #expect(l3.kind == .llama3 && l3.endOfTurn == 259)
        #expect(try l3.prompt(user: " Hi ", tokenizer: llama3) == [256, 257] + llama3.encode("user") + [258] + llama3.encode("\n\nHi") + [259, 257]
                + llama3.encode("assistant") + [258] + llama3.encode("\n\n"))

        #expect(throws: PumaIOError.tokenizer("the model stores no chat template, so --chat cannot format the prompt")) {
            try ChatFormat(template: nil, tokenizer: chatML)
        }
        #expect(throws: PumaIOError.tokenizer("the model's chat template is not one puma knows (ChatML, LLaMA-2 [INST], LLaMA-3 headers): \"<start_of_turn>user\\n{{ content }}…\"")) {
            try ChatFormat(template: "<start_of_turn>user\n{{ content }}", tokenizer: chatML)
        }
        #expect(throws: PumaIOError.tokenizer("the chat template uses <|eot_id|>, which the tokenizer does not have")) {
            try ChatFormat(template: "<|start_header_id|>", tokenizer: chatML)
        }
    }

    @Test("puma tokenize prints ids and pieces (JSON: no BOS unless the model adds one); --chat wraps the text; bad GGUF files are one Error line",
          .enabled(if: Fixtures.hasSmolLM && Fixtures.hasSharedModels, Comment(rawValue: Fixtures.smolLMMissing)))
    func tokenizeCommand() throws {
        let (strings, ids) = try BPETokenizerTests.vectors()
        let json = try PumaProcess(["tokenize", "--model", Fixtures.smolLMFile.path, "--text", strings[10], "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        #expect((object["ids"] as! [Int]).map(Int32.init) == ids["smollm"]![10])
        #expect((object["pieces"] as! [String]).joined() == strings[10])
        let lines = try PumaProcess(["tokenize", "--model", Fixtures.stories.path, "--text", "Once upon"])
        #expect(lines.stdout == "     1 -> '<s>'\n   403 -> ' Once'\n   407 -> ' upon'\n", "\(lines.stdout)")
        let chat = try PumaProcess(["tokenize", "--model", Fixtures.smolLMFile.path, "--text", "Hi", "--chat", "--json"])
        #expect(chat.stdout.hasPrefix(#"{"ids":[1,9690,198,"#) && chat.stdout.contains(#"1,4093,198,26843,2,198,1,520,9531,198],"#), "\(chat.stdout)")
        let noTemplate = try PumaProcess(["generate", "--model", Fixtures.stories.path, "--chat", "--prompt", "x", "--mode", "plain"])
        #expect(noTemplate.status != 0 && noTemplate.stderr.contains("the model stores no chat template"), "\(noTemplate.stderr)")

        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.gguf")
        var bytes = try Data(contentsOf: Fixtures.smolLMFile.deletingLastPathComponent().appendingPathComponent("golden.json")).prefix(100)
        try bytes.write(to: bad)
        for command in [["inspect"], ["generate", "--prompt", "x"], ["tokenize", "--text", "x"]] {
            let run = try PumaProcess(command + ["--model", bad.path])
            #expect(run.status != 0 && run.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }.count == 1, "\(run.stderr)")
            #expect(run.stderr.contains("does not start with the magic 'GGUF'"), "\(run.stderr)")
        }
        bytes = try Data(contentsOf: Fixtures.smolLMFile, options: .alwaysMapped).prefix(5000)
        try bytes.write(to: bad)
        let truncated = try PumaProcess(["inspect", "--model", bad.path])
        #expect(truncated.status != 0 && truncated.stderr.contains("corrupt GGUF file \(bad.path): "), "\(truncated.stderr)")
    }
}
