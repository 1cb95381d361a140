import Foundation
import PumaIO

/// A model opened for generation — a Hugging Face directory or a GGUF file: configuration, tokenizer,
/// chat template and weights (mapped, read in place).
public struct LlamaModel: Sendable {
    public let files: ModelFiles
    public let weights: LlamaWeights

    public init(at location: URL) throws {
        files = try ModelFiles(location)
        weights = try LlamaWeights(checkpoint: files.checkpoint())
    }

    public var location: URL { files.location }
    public var configuration: LlamaConfiguration { files.configuration }
    public var tokenizer: Tokenizer { files.tokenizer }

    /// Ids generation may choose: the tokenizer's pieces. A `vocab_size` above the tokenizer's size
    /// (embeddings padded, e.g. to a multiple of 64) leaves rows no text can come from; they are never chosen.
    public static func choosableTokens(_ configuration: LlamaConfiguration, _ tokenizer: Tokenizer) -> Int {
        min(configuration.vocabSize, tokenizer.pieceCount)
    }

    public var choosableTokens: Int { Self.choosableTokens(configuration, tokenizer) }
}
