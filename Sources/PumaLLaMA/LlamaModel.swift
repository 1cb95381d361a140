import Foundation
import PumaIO

/// A model directory opened for generation: configuration, weights (mapped) and tokenizer.
public struct LlamaModel: Sendable {
    public let directory: URL
    public let configuration: LlamaConfiguration
    public let weights: LlamaWeights
    public let tokenizer: Tokenizer

    public init(directory: URL) throws {
        let checkpoint = try Checkpoint(directory: directory)
        self.directory = directory
        configuration = checkpoint.configuration
        weights = try LlamaWeights(checkpoint: checkpoint)
        tokenizer = try Tokenizer(url: directory.appendingPathComponent("tokenizer.model"))
        try Self.check(tokenizer, fits: configuration)
    }

    /// Refuses a tokenizer with more pieces than the model has rows.
    public static func check(_ tokenizer: Tokenizer, fits configuration: LlamaConfiguration) throws {
        if tokenizer.pieceCount > configuration.vocabSize {
            throw PumaIOError.invalidValue(file: "config.json", key: "vocab_size",
                reason: "\(configuration.vocabSize) is smaller than the tokenizer's \(tokenizer.pieceCount) pieces")
        }
    }

    /// Ids generation may choose: the tokenizer's pieces. A `vocab_size` above the tokenizer's size
    /// (embeddings padded, e.g. to a multiple of 64) leaves rows no text can come from; they are never chosen.
    public static func choosableTokens(_ configuration: LlamaConfiguration, _ tokenizer: Tokenizer) -> Int {
        min(configuration.vocabSize, tokenizer.pieceCount)
    }

    public var choosableTokens: Int { Self.choosableTokens(configuration, tokenizer) }
}
