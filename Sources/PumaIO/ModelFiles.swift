import Foundation

/// A model as people have it — a Hugging Face directory (`config.json`, safetensors, `tokenizer.model`
/// or `tokenizer.json`) or a GGUF file — opened for its description: configuration, tokenizer and chat
/// template. The weights are mapped only by `checkpoint()` (a deployment's client never calls it).
public struct ModelFiles: @unchecked Sendable {
    public let location: URL
    public let configuration: LlamaConfiguration
    /// The configuration as JSON text, what a deployment's processes compare: config.json as read,
    /// or a GGUF file's configuration encoded in config.json's keys.
    public let configText: String
    public let tokenizer: Tokenizer
    /// The chat template stored with the model (GGUF `tokenizer.chat_template`, or `chat_template` of
    /// tokenizer_config.json), if any.
    public let chatTemplate: String?
    let gguf: GGUFFile?

    /// "GGUF v3" or "Hugging Face directory".
    public var format: String { gguf.map { "GGUF v\($0.version)" } ?? "Hugging Face directory" }

    public init(_ url: URL) throws {
        location = url
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw PumaIOError.missingFile("model \(url.path) (a Hugging Face directory or a GGUF file)")
        }
        if isDirectory.boolValue {
            gguf = nil
            let configURL = url.appendingPathComponent("config.json")
            let data = try InputFile.read(configURL)
            configText = String(decoding: data, as: UTF8.self)
            configuration = try LlamaConfiguration.parse(data, file: configURL.path)
            let settings = try Tokenizer.TokenizerSettings(directory: url)
            tokenizer = try Tokenizer.load(directory: url, settings: settings, defaultBOS: configuration.bosTokenId, defaultEOS: configuration.eosTokenId)
            chatTemplate = settings.chatTemplate
        } else {
            try InputFile.check(url)
            guard GGUFFile.hasMagic(url) else {
                throw PumaIOError.corruptGGUF(file: url.path, reason: "it does not start with the magic 'GGUF' (a model is a Hugging Face directory or a GGUF file)")
            }
            let file = try GGUFFile(url: url)
            gguf = file
            configuration = try GGUFLlama.configuration(file)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            configText = String(decoding: try encoder.encode(configuration), as: UTF8.self)
            tokenizer = try Tokenizer.load(gguf: file)
            chatTemplate = file.metadata["tokenizer.chat_template"]?.string
        }
        if tokenizer.pieceCount > configuration.vocabSize {
            throw PumaIOError.invalidValue(file: gguf == nil ? url.appendingPathComponent("config.json").path : url.path, key: "vocab_size",
                reason: "\(configuration.vocabSize) is smaller than the tokenizer's \(tokenizer.pieceCount) pieces")
        }
    }

    /// The weights, mapped (nothing is read until a tensor is).
    public func checkpoint() throws -> Checkpoint {
        if let gguf { return try Checkpoint(gguf: gguf, configuration: configuration) }
        return try Checkpoint(directory: location, configuration: configuration)
    }
}
