import ArgumentParser
import Foundation

/// `--model`, shared by every subcommand that loads a checkpoint.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: "A Hugging Face LLaMA directory or a GGUF file (default: the embedded models/\(Self.defaultModelName)).")
    var model: String?

    static let defaultModelName = "kjv-1m"

    func validate() throws {
        if model?.isEmpty == true { throw ValidationError("--model must name a model directory or GGUF file, got an empty path") }
    }

    /// The chosen model (directory or GGUF file): `--model`, else the embedded model under ./models, else the one
    /// next to this source tree (so `swift run` works from any working directory of a clone).
    var location: URL {
        if let model { return URL(fileURLWithPath: model) }
        let local = URL(fileURLWithPath: "models/\(Self.defaultModelName)")
        if FileManager.default.fileExists(atPath: local.path) { return local }
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("models/\(Self.defaultModelName)")
    }
}
