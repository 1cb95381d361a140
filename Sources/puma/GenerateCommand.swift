import ArgumentParser
import Foundation
import PumaIO
import PumaLLaMA

/// Where inference runs.
enum InferenceMode: String, ExpressibleByArgument, CaseIterable {
    /// Float32 reference transformer in the clear.
    case plain
    /// The three-party MPC engine.
    case secure
}

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt, streaming the text to stdout (progress and timing go to stderr)."
    )

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "The prompt text (may be empty: generation then starts from BOS alone).")
    var prompt: String

    @Option(name: .customLong("max-tokens"), help: "Maximum number of new tokens.")
    var maxTokens = 32

    @Option(help: "Where inference runs: \(InferenceMode.allCases.map(\.rawValue).joined(separator: ", ")).")
    var mode: InferenceMode = .plain

    @Option(help: "Sampling temperature; 0 means greedy decoding.")
    var temperature: Float = 0

    @Option(name: .customLong("top-p"), help: "Nucleus sampling: keep the most likely tokens up to this probability mass.")
    var topP: Float = 1

    @Option(help: "Seed for sampling (and, in secure mode, the parties' randomness) to make runs reproducible.")
    var seed: UInt64?

    @Flag(name: .customLong("ignore-eos"), help: "Keep generating after the end-of-sequence token.")
    var ignoreEOS = false

    @Option(name: .customLong("report-json"), help: "Write a machine-readable report of the run to this file.")
    var reportJSON: String?

    func validate() throws {
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must be ≥ 0, got \(maxTokens)") }
        guard temperature.isFinite, temperature >= 0 else { throw ValidationError("--temperature must be a finite number ≥ 0") }
        guard topP.isFinite, topP > 0, topP <= 1 else { throw ValidationError("--top-p must lie in (0, 1]") }
    }

    func run() throws {
        if mode == .secure {
            throw ValidationError("--mode secure is not available yet: the three-party engine has not landed; use --mode plain")
        }
        let started = Date()
        let model = try LlamaModel(directory: modelOptions.directory)
        let tokenizer = model.tokenizer
        let config = model.configuration
        let promptIds = try tokenizer.encode(prompt, addBOS: true)
        let generator = Generator(maxPositions: config.maxPositionEmbeddings, vocabularySize: config.vocabSize,
                                  eosId: config.eosTokenId.map(Int32.init) ?? tokenizer.eosId)
        try generator.validate(prompt: promptIds)

        let method: SamplingMethod = temperature == 0 ? .greedy : .temperature(temperature, topP: topP)
        var predictor = PlainPredictor(
            transformer: PlainTransformer(config: config, weights: model.weights),
            sampler: Sampler(method: method, seed: seed ?? UInt64.random(in: 0...UInt64.max)))
        var stream = StreamingDetokenizer(tokenizer: tokenizer)
        let output = FileHandle.standardOutput
        output.write(Data(try stream.append(promptIds).utf8))
        let loaded = Date()
        let result = try generator.run(&predictor, prompt: promptIds, maxTokens: maxTokens, stopAtEOS: !ignoreEOS) { token in
            output.write(Data(try stream.append([token]).utf8))
        }
        output.write(Data((try stream.finish() + "\n").utf8))
        let finished = Date()

        let seconds = finished.timeIntervalSince(loaded)
        let rate = seconds > 0 ? Double(result.tokens.count) / seconds : 0
        standardError("\(mode.rawValue): \(promptIds.count) prompt tokens, \(result.tokens.count) generated in "
            + String(format: "%.3f s (%.1f tokens/s), stop: %@", seconds, rate, result.stop.rawValue))

        if let reportJSON {
            let ids = promptIds + result.tokens
            let report = GenerationReport(
                mode: mode.rawValue, model: modelOptions.directory.path, prompt: prompt, ids: ids,
                promptTokens: promptIds.count, generatedTokens: result.tokens.count, text: try tokenizer.decode(ids),
                stopReason: result.stop.rawValue,
                total: .init(wallSeconds: finished.timeIntervalSince(started), generationSeconds: seconds))
            try report.write(to: URL(fileURLWithPath: reportJSON))
        }
    }
}

/// Writes one line to stderr.
func standardError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
