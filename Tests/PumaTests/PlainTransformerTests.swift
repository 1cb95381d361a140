import Foundation
import PumaIO
import PumaLLaMA
import Testing

@Suite("Plaintext transformer")
struct PlainTransformerTests {
    @Test("cached forward equals an independent full-sequence forward", arguments: [TensorDType.f16, .bf16, .f32])
    func tinyModel(dtype: TensorDType) throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tiny = try TinyModel.write(to: dir, dtype: dtype, seed: 42)
        let checkpoint = try Checkpoint(directory: dir)
        #expect(checkpoint.files.count == 2)
        #expect(checkpoint.files.allSatisfy { $0.tensors.allSatisfy { $0.dtype == dtype } })
        let transformer = PlainTransformer(config: checkpoint.configuration, weights: try LlamaWeights(checkpoint: checkpoint))
        let ids: [Int32] = [1, 7, 39, 3, 3, 20, 11, 0, 5, 30, 2, 17]  // fills the whole context
        let reference = tiny.naiveForward(ids)
        var cache = transformer.makeCache()
        for (position, id) in ids.enumerated() {
            let logits = transformer.forward(token: id, cache: &cache)
            expectClose(logits, reference[position], tolerance: 2e-4, "\(dtype) position \(position)")
        }
        // Several tokens in one pass (each weight tile read once for all of them), then one more.
        var batched = transformer.makeCache()
        expectClose(transformer.forward(tokens: Array(ids.prefix(7)), cache: &batched), reference[6], tolerance: 2e-4, "\(dtype) batch of 7")
        expectClose(transformer.forward(tokens: Array(ids[7...]), cache: &batched), reference[ids.count - 1], tolerance: 2e-4, "\(dtype) then 5")
        #expect(batched.length == ids.count)
    }

    @Test("binding is strict: missing, unexpected and misshapen tensors are named")
    func strictBinding() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func bind() throws { _ = try LlamaWeights(checkpoint: Checkpoint(directory: dir)) }

        try TinyModel.write(to: dir, dtype: .f16, seed: 1, omit: ["model.layers.1.mlp.up_proj.weight"])
        #expect(throws: PumaIOError.missingTensor("model.layers.1.mlp.up_proj.weight")) { try bind() }

        try TinyModel.write(to: dir, dtype: .f16, seed: 1, extra: [.init(name: "model.layers.9.bias", dtype: .f32, shape: [1], values: [0])])
        #expect(throws: PumaIOError.unexpectedTensors(["model.layers.9.bias"])) { try bind() }

        try TinyModel.write(to: dir, dtype: .f16, seed: 1, reshape: ["model.layers.0.self_attn.k_proj.weight": [16, 16]])
        #expect(throws: PumaIOError.shapeMismatch(tensor: "model.layers.0.self_attn.k_proj.weight", expected: [8, 16], found: [16, 16])) { try bind() }

        // lm_head may be absent only when embeddings are tied.
        try TinyModel.write(to: dir, dtype: .f16, seed: 1, omit: ["lm_head.weight"])
        #expect(throws: PumaIOError.missingTensor("lm_head.weight")) { try bind() }
        var tied = TinyModel.config
        tied.tieWordEmbeddings = true
        try TinyModel.write(to: dir, config: tied, dtype: .f16, seed: 1, omit: ["lm_head.weight"])
        let weights = try LlamaWeights(checkpoint: Checkpoint(directory: dir))
        #expect(weights.lmHead.info == weights.embedding.info)
    }

    @Test("stories260K: golden logits of the prompt within 1e-4", .enabled(if: Fixtures.hasSharedModels, Comment(rawValue: Fixtures.sharedModelsMissing)))
    func storiesLogits() throws {
        let model = try LlamaModel(at: Fixtures.stories)
        let golden = try Fixtures.json(Fixtures.stories.appendingPathComponent("golden.json"))
        let entry = (golden["logits"] as! [[String: Any]])[0]
        let ids = (entry["ids"] as! [Int]).map(Int32.init)
        #expect(try model.tokenizer.encode(entry["prompt"] as! String, addBOS: true) == ids)
        let expected = (entry["logits"] as! [[Double]]).map { $0.map(Float.init) }
        let transformer = PlainTransformer(config: model.configuration, weights: model.weights)
        var cache = transformer.makeCache()
        for (position, id) in ids.enumerated() {
            expectClose(transformer.forward(token: id, cache: &cache), expected[position], tolerance: 1e-4, "position \(position)")
        }
    }

    @Test("stories260K: all 6 golden greedy continuations (48 tokens) exactly",
          .enabled(if: Fixtures.hasSharedModels, Comment(rawValue: Fixtures.sharedModelsMissing)))
    func storiesGreedy() throws {
        let model = try LlamaModel(at: Fixtures.stories)
        let golden = try Fixtures.json(Fixtures.stories.appendingPathComponent("golden.json"))
        let cases = golden["greedy"] as! [[String: Any]]
        #expect(cases.count == 6)
        let generator = Generator(maxPositions: 512, vocabularySize: 512, eosId: 2)
        for item in cases {
            let promptIds = try model.tokenizer.encode(item["prompt"] as! String, addBOS: true)
            #expect(promptIds == (item["prompt_ids"] as! [Int]).map(Int32.init))
            var predictor = PlainPredictor(transformer: PlainTransformer(config: model.configuration, weights: model.weights),
                                           sampler: Sampler(method: .greedy, seed: 0))
            let result = try generator.run(&predictor, prompt: promptIds, maxTokens: 48, stopAtEOS: false)
            #expect(promptIds + result.tokens == (item["ids"] as! [Int]).map(Int32.init), "\(item["prompt"]!)")
            #expect(try model.tokenizer.decode(promptIds + result.tokens) == item["text"] as? String)
        }
    }
}
