import Foundation
import PumaIO
import PumaLLaMA
import PumaNN
import Testing

@Suite("Secure transformer")
struct SecureTransformerTests {
    @Test("stories260K: secure greedy reproduces all 6 golden continuations (48 tokens)",
          .enabled(if: Fixtures.hasSharedModels, Comment(rawValue: Fixtures.sharedModelsMissing)))
    func storiesGolden() throws {
        let model = try LlamaModel(directory: Fixtures.stories)
        let golden = try Fixtures.json(Fixtures.stories.appendingPathComponent("golden.json"))
        let cases = golden["greedy"] as! [[String: Any]]
        let generator = Generator(maxPositions: 512, vocabularySize: 512, eosId: 2)
        for item in cases {
            let prompt = (item["prompt_ids"] as! [Int]).map(Int32.init)
            var predictor = SecurePredictor(config: model.configuration, weights: model.weights, seed: 1)
            let result = try generator.run(&predictor, prompt: prompt, maxTokens: 48, stopAtEOS: false)
            #expect(prompt + result.tokens == (item["ids"] as! [Int]).map(Int32.init), "\(item["prompt"]!)")
        }
    }
}
