import Foundation
import PumaIO
import PumaLLaMA
import Testing

@Suite("Embedded default model (models/kjv-1m)")
struct EmbeddedModelTests {
    @Test("loads as a GQA, untied, BF16, two-shard LLaMA")
    func shape() throws {
        let checkpoint = try Checkpoint(directory: Fixtures.embeddedModel)
        let c = checkpoint.configuration
        #expect(checkpoint.files.count == 2)
        #expect(c.numKeyValueHeads < c.numAttentionHeads)
        #expect(!c.tieWordEmbeddings && checkpoint.info("lm_head.weight") != nil)
        #expect(checkpoint.tensorNames.compactMap(checkpoint.info).allSatisfy { $0.dtype == .bf16 })
        #expect((500_000...3_000_000).contains(c.parameterCount))
        let tokenizer = try Tokenizer(url: Fixtures.embeddedModel.appendingPathComponent("tokenizer.model"))
        #expect(tokenizer.pieceCount == c.vocabSize)
    }

    @Test("greedy continuations match the training script's PyTorch forward")
    func golden() throws {
        let model = try LlamaModel(at: Fixtures.embeddedModel)
        let golden = try Fixtures.json(Fixtures.embeddedModel.appendingPathComponent("golden.json"))
        let cases = golden["greedy"] as! [[String: Any]]
        #expect(cases.count == 4)
        let generator = Generator(maxPositions: model.configuration.maxPositionEmbeddings,
                                  vocabularySize: model.configuration.vocabSize, eosId: 2)
        for item in cases {
            let prompt = try model.tokenizer.encode(item["prompt"] as! String, addBOS: true)
            #expect(prompt == (item["prompt_ids"] as! [Int]).map(Int32.init))
            var predictor = PlainPredictor(transformer: PlainTransformer(config: model.configuration, weights: model.weights),
                                           sampler: Sampler(method: .greedy, seed: 0))
            let result = try generator.run(&predictor, prompt: prompt, maxTokens: golden["new_tokens"] as! Int, stopAtEOS: false)
            #expect(prompt + result.tokens == (item["ids"] as! [Int]).map(Int32.init), "\(item["prompt"]!)")
            #expect(try model.tokenizer.decode(prompt + result.tokens) == item["text"] as? String)
        }
    }
}
