import PumaLLaMA
import Testing

/// Replays a script of tokens and records what it was fed.
struct ScriptedPredictor: NextTokenPredictor {
    var script: [Int32]
    var fed: [Int32] = []
    mutating func feed(_ tokens: [Int32]) throws -> Int32 {
        fed += tokens
        return script.removeFirst()
    }
}

@Suite("Generation loop")
struct GeneratorTests {
    let generator = Generator(maxPositions: 8, vocabularySize: 50, eosId: 2)

    @Test("stops at EOS unless told otherwise, and at max tokens")
    func stops() throws {
        var p = ScriptedPredictor(script: [5, 6, 2, 7, 8])
        let r = try generator.run(&p, prompt: [1, 9], maxTokens: 10)
        #expect(r.tokens == [5, 6, 2] && r.stop == .endOfSequence)
        #expect(p.fed == [1, 9, 5, 6])

        var q = ScriptedPredictor(script: [5, 6, 2, 7, 8])
        let s = try generator.run(&q, prompt: [1], maxTokens: 4, stopAtEOS: false)
        #expect(s.tokens == [5, 6, 2, 7] && s.stop == .maxTokens)
        #expect(q.fed == [1, 5, 6, 2])

        var z = ScriptedPredictor(script: [])
        #expect(try generator.run(&z, prompt: [1], maxTokens: 0).tokens.isEmpty)
    }

    @Test("fixed length: after EOS, dummy passes run until max tokens (or the context is full); the text still ends at EOS")
    func fixedLength() throws {
        var p = ScriptedPredictor(script: [5, 2, 7, 8, 9, 9])
        let r = try generator.run(&p, prompt: [1, 9], maxTokens: 5, fixedLength: true)
        #expect(r.tokens == [5, 2] && r.stop == .endOfSequence)
        #expect(p.fed == [1, 9, 5, 2, 2, 2])   // 5 passes: the prompt, 5, then EOS three times
        // The context (8 positions) ends the dummy passes as it would end real ones.
        var q = ScriptedPredictor(script: [2, 3, 3, 3, 3, 3, 3, 3])
        _ = try generator.run(&q, prompt: [1, 9, 9, 9, 9, 9], maxTokens: 10, fixedLength: true)
        #expect(q.fed.count == 8)
    }

    @Test("never feeds a position beyond the context; refuses prompts longer than it")
    func context() throws {
        var p = ScriptedPredictor(script: Array(repeating: 4, count: 20))
        let r = try generator.run(&p, prompt: [1, 3, 3, 3, 3, 3], maxTokens: 100)
        #expect(p.fed.count == 8)          // positions 0..<8 exactly
        #expect(r.tokens.count == 3)       // the last one is predicted from position 7 and never fed
        #expect(r.stop == .contextFull)

        var full = ScriptedPredictor(script: [4])
        #expect(try generator.run(&full, prompt: Array(repeating: 3, count: 8), maxTokens: 5).tokens == [4])
        #expect(throws: GenerationError.promptTooLong(tokens: 9, context: 8)) {
            var q = ScriptedPredictor(script: [4])
            _ = try generator.run(&q, prompt: Array(repeating: 3, count: 9), maxTokens: 1)
        }
        #expect(throws: GenerationError.invalidTokenId(50, vocabulary: 50)) { try generator.validate(prompt: [1, 50]) }
    }

    @Test("seeded sampling is reproducible and respects top-p")
    func sampling() {
        let logits: [Float] = [0, 3, 2.9, -1, 1]
        var a = Sampler(method: .temperature(1, topP: 1), seed: 9)
        var b = Sampler(method: .temperature(1, topP: 1), seed: 9)
        let draws = (0..<200).map { _ in a.sample(logits) }
        #expect(draws == (0..<200).map { _ in b.sample(logits) })
        #expect(Set(draws).count >= 3)
        // top-p 0.5 keeps only the two most likely tokens (probabilities ≈ 0.44 and 0.40).
        var nucleus = Sampler(method: .temperature(1, topP: 0.5), seed: 3)
        #expect(Set((0..<200).map { _ in nucleus.sample(logits) }) == [1, 2])
        var greedy = Sampler(method: .greedy, seed: 0)
        #expect(greedy.sample([1, 5, 5, 0]) == 1)
    }
}
