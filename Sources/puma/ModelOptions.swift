import ArgumentParser
import Foundation

/// `--model`, shared by every subcommand that loads a checkpoint.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: "Model directory in the Hugging Face layout (default: the embedded models/\(Self.defaultModelName)).")
    var model: String?

    static let defaultModelName = "kjv-1m"

    func validate() throws {
        if model?.isEmpty == true { throw ValidationError("--model must name a model directory, got an empty path") }
    }

    /// The chosen directory: `--model`, else the embedded model under ./models, else the one
    /// next to this source tree (so `swift run` works from any working directory of a clone).
    var directory: URL {
        if let model { return URL(fileURLWithPath: model) }
        let local = URL(fileURLWithPath: "models/\(Self.defaultModelName)")
        if FileManager.default.fileExists(atPath: local.path) { return local }
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("models/\(Self.defaultModelName)")
    }
}
