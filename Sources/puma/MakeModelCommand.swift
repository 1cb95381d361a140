import ArgumentParser
import Foundation
import PumaIO
import PumaLLaMA

extension SyntheticCheckpoint.Preset: ExpressibleByArgument {}

/// How `make-model` writes the checkpoint.
enum CheckpointFormat: String, ExpressibleByArgument, CaseIterable {
    /// A Hugging Face directory of F16 safetensors shards.
    case hf
    /// One llama.cpp GGUF file.
    case gguf
}

/// `puma make-model`: a random-weight checkpoint of a real LLaMA shape, for benchmarks.
struct MakeModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-model",
        abstract: "Write a random-weight LLaMA checkpoint (F16 Hugging Face shards, or a GGUF file of F16 or quantized blocks) for benchmarks."
    )

    @Option(parsing: .unconditional, help: "Shape: \(SyntheticCheckpoint.Preset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset: SyntheticCheckpoint.Preset

    @Option(parsing: .unconditional, help: "Number of layers (default: the preset's).")
    var layers: Int?

    @Option(parsing: .unconditional, help: "Output directory (--format hf) or file (--format gguf).")
    var out: String

    @Option(parsing: .unconditional, help: "hf: a Hugging Face directory of F16 safetensors; gguf: one GGUF file.")
    var format: CheckpointFormat = .hf

    @Option(parsing: .unconditional, help: "The matrices' type with --format gguf: \(SyntheticCheckpoint.ggufTypes.map(\.rawValue).joined(separator: ", ")).")
    var type: String = "Q4_K"

    @Option(parsing: .unconditional, help: "SentencePiece tokenizer.model to copy in (e.g. ../shared/models/llama2-tokenizer/tokenizer.model).")
    var tokenizer: String

    @Option(parsing: .unconditional, help: "Seed of the random weights.")
    var seed: UInt64 = 1

    func validate() throws {
        if let layers, layers < 1 { throw ValidationError("--layers must be at least 1, got \(layers)") }
        guard FileManager.default.fileExists(atPath: tokenizer) else { throw ValidationError("--tokenizer: no file at \(tokenizer)") }
        guard let dtype = TensorDType(rawValue: type), SyntheticCheckpoint.ggufTypes.contains(dtype) else {
            throw ValidationError("--type must be one of \(SyntheticCheckpoint.ggufTypes.map(\.rawValue).joined(separator: ", ")), got \(type)")
        }
    }

    func run() throws {
        var config = preset.configuration
        if let layers { config.numHiddenLayers = layers }
        let progress = TerminalProgress(label: "writing")
        do {
            switch format {
            case .hf:
                try SyntheticCheckpoint.write(config: config, tokenizer: URL(fileURLWithPath: tokenizer), to: URL(fileURLWithPath: out),
                                              seed: seed) { done, total in progress.update(done, of: total) }
            case .gguf:
                try SyntheticCheckpoint.writeGGUF(config: config, tokenizer: URL(fileURLWithPath: tokenizer), type: TensorDType(rawValue: type)!,
                                                  to: URL(fileURLWithPath: out), seed: seed) { done, total in progress.update(done, of: total) }
            }
        } catch let error as PumaIOError {
            throw error
        } catch {
            throw ValidationErrorMessage("cannot write the checkpoint to \(out): \(error.localizedDescription)")
        }
        progress.finish()
        try Console.line("wrote \(out): \(preset.rawValue), \(config.numHiddenLayers) layers, \(config.parameterCount) parameters ("
            + (format == .hf ? "F16)" : "GGUF, \(type))"))
    }
}
