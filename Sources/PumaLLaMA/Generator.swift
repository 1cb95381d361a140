import PumaIO

/// Anything that, fed tokens at consecutive positions, proposes the token that follows the last
/// one: the plaintext transformer with a sampler, or (later) the secure engine.
public protocol NextTokenPredictor {
    /// Appends `tokens` to the context and returns the chosen next token.
    mutating func feed(_ tokens: [Int32]) throws -> Int32
}

/// The plaintext transformer plus a sampler, as a `NextTokenPredictor`.
public struct PlainPredictor: NextTokenPredictor {
    public let transformer: PlainTransformer
    public private(set) var cache: PlainTransformer.KVCache
    public var sampler: Sampler
    /// Tokens are chosen among ids below this (the tokenizer's size when embeddings are padded beyond it).
    public let choosable: Int
    /// Logits of the most recent position, the whole vocabulary (for comparisons and evaluation).
    public private(set) var lastLogits: [Float] = []

    public init(transformer: PlainTransformer, sampler: Sampler, choosable: Int? = nil) {
        self.transformer = transformer
        self.sampler = sampler
        self.choosable = min(choosable ?? transformer.config.vocabSize, transformer.config.vocabSize)
        cache = transformer.makeCache()
    }

    public mutating func feed(_ tokens: [Int32]) throws -> Int32 {
        lastLogits = transformer.forward(tokens: tokens, cache: &cache)
        return sampler.sample(choosable == lastLogits.count ? lastLogits : Array(lastLogits.prefix(choosable)))
    }

    /// Appends `tokens` and returns the logits after each of them (evaluation), in one pass.
    public mutating func positionLogits(feeding tokens: [Int32]) -> [[Float]] {
        let all = transformer.forward(tokens: tokens, cache: &cache, allPositions: true)
        let vocab = transformer.config.vocabSize
        lastLogits = Array(all.suffix(vocab))
        return (0..<tokens.count).map { Array(all[($0 * vocab)..<(($0 + 1) * vocab)]) }
    }
}

/// Why generation ended.
public enum StopReason: String, Sendable {
    case endOfSequence = "eos"
    case maxTokens = "max_tokens"
    case contextFull = "context_full"
}

public enum GenerationError: Error, CustomStringConvertible, Equatable {
    case promptTooLong(tokens: Int, context: Int)
    case invalidTokenId(Int32, vocabulary: Int)

    public var description: String {
        switch self {
        case .promptTooLong(let tokens, let context):
            return "the prompt is \(tokens) tokens (with BOS) but the model's context holds \(context) positions"
        case .invalidTokenId(let id, let vocabulary):
            return "token id \(id) is outside the model's vocabulary of \(vocabulary)"
        }
    }
}

/// The generation loop shared by every mode: feed the prompt, then feed each chosen token back,
/// until EOS, `maxTokens`, or the context is full. `onToken` sees each new token as it comes.
///
/// With `fixedLength` (secure generation), the loop does not stop early at EOS: it keeps running
/// forward passes on a dummy token (EOS again) whose results are discarded, so that exactly
/// `maxTokens` passes run (fewer only when the context fills, which depends on public lengths
/// alone). The computing parties then learn the prompt length and `maxTokens`, not where the text ended.
public struct Generator {
    public let maxPositions: Int
    public let vocabularySize: Int
    public let eosId: Int32?

    public init(maxPositions: Int, vocabularySize: Int, eosId: Int32?) {
        self.maxPositions = maxPositions
        self.vocabularySize = vocabularySize
        self.eosId = eosId
    }

    /// Checks that a prompt (BOS included) fits the context and the vocabulary.
    public func validate(prompt: [Int32]) throws {
        if prompt.count > maxPositions { throw GenerationError.promptTooLong(tokens: prompt.count, context: maxPositions) }
        if let bad = prompt.first(where: { $0 < 0 || Int($0) >= vocabularySize }) {
            throw GenerationError.invalidTokenId(bad, vocabulary: vocabularySize)
        }
    }

    /// Returns the new tokens (not the prompt, nothing after EOS) and why generation stopped.
    public func run<P: NextTokenPredictor>(
        _ predictor: inout P, prompt: [Int32], maxTokens: Int, stopAtEOS: Bool = true, fixedLength: Bool = false,
        onToken: (Int32) throws -> Void = { _ in }
    ) throws -> (tokens: [Int32], stop: StopReason) {
        try validate(prompt: prompt)
        guard maxTokens > 0 else { return ([], .maxTokens) }
        var generated: [Int32] = []
        var next = try predictor.feed(prompt)
        while true {
            generated.append(next)
            try onToken(next)
            let stop: StopReason? = stopAtEOS && next == eosId ? .endOfSequence
                : generated.count >= maxTokens ? .maxTokens
                // The token just chosen goes to position prompt.count + generated.count - 1.
                : prompt.count + generated.count > maxPositions ? .contextFull : nil
            if let stop {
                if fixedLength && stop == .endOfSequence {
                    var passes = generated.count
                    while passes < maxTokens && prompt.count + passes <= maxPositions {
                        _ = try predictor.feed([next])
                        passes += 1
                    }
                }
                return (generated, stop)
            }
            next = try predictor.feed([next])
        }
    }
}
