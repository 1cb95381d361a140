import ArgumentParser
import Foundation
import PumaCore
import PumaIO
import PumaLLaMA
import PumaNet
import PumaNN

/// Where inference runs.
enum InferenceMode: String, ExpressibleByArgument, CaseIterable {
    /// The three-party MPC engine: nobody running it sees the prompt or the weights.
    case secure
    /// Float32 reference transformer in the clear.
    case plain
    /// Secure generation with the plaintext transformer shadowing it: first divergence, max logit
    /// error. Opens the logits to the client (a diagnostic, not a private run).
    case compare
}

extension NonLinear.SiLUMethod: ExpressibleByArgument {}

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt, streaming the text to stdout (progress, timing and costs go to stderr)."
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup(title: "Deployment (three party processes; the client reads only the model's configuration and tokenizer)")
    var network: NetworkOptions

    @Option(parsing: .unconditional, help: "The prompt text (may be empty: generation then starts from BOS alone).")
    var prompt: String

    @Option(name: .customLong("max-tokens"), parsing: .unconditional, help: "Maximum number of new tokens.")
    var maxTokens = 32

    @Option(parsing: .unconditional, help: "Where inference runs: \(InferenceMode.allCases.map(\.rawValue).joined(separator: ", ")).")
    var mode: InferenceMode = .secure

    @Option(parsing: .unconditional, help: "Sampling temperature; 0 means greedy decoding (secure mode samples by Gumbel-max).")
    var temperature: Float = 0

    @Option(name: .customLong("top-p"), parsing: .unconditional, help: "Nucleus sampling mass (plain mode only).")
    var topP: Float = 1

    @Option(parsing: .unconditional, help: "Seed for sampling and, in secure mode, the parties' randomness: reproducible runs, not private ones.")
    var seed: UInt64?

    @Option(parsing: .unconditional, help: "SiLU approximation in secure mode: \(NonLinear.SiLUMethod.allCases.map(\.rawValue).joined(separator: ", ")).")
    var silu: NonLinear.SiLUMethod = .symmetric

    @Flag(help: "Wrap --prompt as one user turn in the model's chat format (from its stored template: ChatML, LLaMA-2 [INST], LLaMA-3) and stop at its end-of-turn token.")
    var chat = false

    @Flag(name: .customLong("ignore-eos"), help: "Keep generating after the end-of-sequence token.")
    var ignoreEOS = false

    @Flag(name: .customLong("early-stop"),
          help: "Secure modes: stop the passes at EOS instead of running all --max-tokens of them (tells the computing parties how long the output is).")
    var earlyStop = false

    @Option(name: .customLong("report-json"), parsing: .unconditional, help: "Write a machine-readable report of the run to this file.")
    var reportJSON: String?

    func validate() throws {
        if let reportJSON { try OutputFile.checkWritable(reportJSON, option: "--report-json") }
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must be ≥ 0, got \(maxTokens)") }
        guard temperature.isFinite, temperature >= 0 else { throw ValidationError("--temperature must be a finite number ≥ 0") }
        let range = GumbelMax.temperatureRange  // what fixed-point logits/T can hold
        if temperature > 0 && !range.contains(temperature) {
            throw ValidationError("--temperature must be 0 (greedy) or lie in [\(range.lowerBound), \(range.upperBound)], got \(temperature)")
        }
        guard topP.isFinite, topP > 0, topP <= 1 else { throw ValidationError("--top-p must lie in (0, 1]") }
        if mode != .plain && topP < 1 {
            throw ValidationError("--top-p is only available with --mode plain (secure sampling is Gumbel-max over the whole vocabulary)")
        }
        if mode == .plain && earlyStop { throw ValidationError("--early-stop applies to the secure modes (plain generation always stops at EOS)") }
        if mode == .compare && temperature > 0 {
            throw ValidationError("--mode compare is greedy only (drop --temperature)")
        }
        if network.deployment != nil {
            if mode != .secure { throw ValidationError("--deployment runs secure generation only (drop --mode \(mode.rawValue))") }
            if seed != nil { throw ValidationError("--seed does not apply with --deployment: every process draws its keys from its own system generator") }
        }
    }

    /// The client's view of the model in a deployment: the configuration (as text, to compare with
    /// the parties') and the tokenizer; the weights are never mapped.
    struct ClientModel {
        let files: ModelFiles
        var configText: String { files.configText }
        var configuration: LlamaConfiguration { files.configuration }
        var tokenizer: Tokenizer { files.tokenizer }
        var choosableTokens: Int { LlamaModel.choosableTokens(configuration, tokenizer) }
    }

    func run() throws {
        let started = Date()
        let deployed = network.deployment != nil
        // A deployment's client never opens the weights.
        let client = deployed ? ClientModel(files: try ModelFiles(modelOptions.location)) : nil
        let model = deployed ? nil : try LlamaModel(at: modelOptions.location)
        if let model, mode != .plain, silu == .symmetric { try model.weights.checkSecureRanges() }
        let files = client?.files ?? model!.files
        let tokenizer = files.tokenizer
        let config = files.configuration
        let chatFormat = chat ? try ChatFormat(template: files.chatTemplate, tokenizer: tokenizer) : nil
        let promptIds = try chatFormat?.prompt(user: prompt, tokenizer: tokenizer) ?? tokenizer.encodePrompt(prompt)
        let generator = Generator(maxPositions: config.maxPositionEmbeddings, vocabularySize: config.vocabSize,
                                  eosId: chatFormat?.endOfTurn ?? config.eosTokenId.map(Int32.init) ?? tokenizer.eosId)
        try generator.validate(prompt: promptIds)
        let runSeed = seed ?? UInt64.random(in: 0...UInt64.max)
        let method: SamplingMethod = temperature == 0 ? .greedy : .temperature(temperature, topP: topP)
        func plainPredictor() -> PlainPredictor {
            PlainPredictor(transformer: PlainTransformer(config: config, weights: model!.weights),
                           sampler: Sampler(method: method, seed: runSeed), choosable: model!.choosableTokens)
        }
        let progress = TerminalProgress(label: "secure pass", afterText: isatty(1) != 0)
        func securePredictor(revealLogits: Bool) -> SecurePredictor {
            let predictor = SecurePredictor(config: config, weights: model!.weights, seed: seed, siluMethod: silu,
                                            temperature: Double(temperature), revealLogits: revealLogits,
                                            choosable: model!.choosableTokens)
            let layers = config.numHiddenLayers
            // Only models whose passes take a while get a layer counter (it would flicker otherwise).
            if config.parameterCount > 100_000_000 {
                predictor.progress = { layer in progress.step(layer, of: layers, "layer") }
            }
            return predictor
        }

        var stream = StreamingDetokenizer(tokenizer: tokenizer)
        let emit: (Int32) throws -> Void = { token in try Console.out(try stream.append([token])) }
        var secure: (any SecureCosts)?
        var remote: RemotePredictor?
        var comparison: GenerationReport.Comparison?
        var rangeSummary = ""
        let result: (tokens: [Int32], stop: StopReason)
        let generationStart: Date
        switch mode {
        case .plain:
            var predictor = plainPredictor()
            try Console.out(try stream.append(promptIds))
            generationStart = Date()
            result = try generator.run(&predictor, prompt: promptIds, maxTokens: maxTokens, stopAtEOS: !ignoreEOS, onToken: emit)
        case .secure where deployed:
            var predictor = try RemotePredictor(deployment: try network.load(), configText: client!.configText, config: config,
                                                siluMethod: silu, temperature: Double(temperature), choosable: client!.choosableTokens,
                                                timeouts: network.timeouts, onFailure: { reason in
                                                    try? Console.out("\n")
                                                    NetworkOptions.stop("generation stopped before its end: \(reason)")
                                                })
            secure = predictor
            remote = predictor
            try Console.out(try stream.append(promptIds))
            generationStart = Date()
            result = try generator.run(&predictor, prompt: promptIds, maxTokens: maxTokens, stopAtEOS: !ignoreEOS, fixedLength: !earlyStop, onToken: emit)
            predictor.finish()
        case .secure:
            var predictor = securePredictor(revealLogits: false)
            secure = predictor
            try Console.out(try stream.append(promptIds))
            generationStart = Date()
            result = try generator.run(&predictor, prompt: promptIds, maxTokens: maxTokens, stopAtEOS: !ignoreEOS, fixedLength: !earlyStop, onToken: emit)
        case .compare:
            var reference = plainPredictor()
            let plainResult = try generator.run(&reference, prompt: promptIds, maxTokens: maxTokens, stopAtEOS: !ignoreEOS)
            let cleartext = CleartextPredictor(config: config, weights: model!.weights, siluMethod: silu, choosable: model!.choosableTokens)
            var predictor = ComparingPredictor(secure: securePredictor(revealLogits: true), plain: plainPredictor(), cleartext: cleartext)
            secure = predictor.secure
            try Console.out(try stream.append(promptIds))
            generationStart = Date()
            result = try generator.run(&predictor, prompt: promptIds, maxTokens: maxTokens, stopAtEOS: !ignoreEOS, fixedLength: !earlyStop, onToken: emit)
            let common = min(plainResult.tokens.count, result.tokens.count)
            let divergence = (0..<common).first { plainResult.tokens[$0] != result.tokens[$0] }
                ?? (plainResult.tokens.count == result.tokens.count ? nil : min(plainResult.tokens.count, result.tokens.count))
            comparison = .init(plainIds: promptIds + plainResult.tokens, plainText: try tokenizer.decode(promptIds + plainResult.tokens),
                               firstDivergence: divergence, maxLogitError: Double(predictor.logitErrors.max() ?? 0),
                               logitErrors: predictor.logitErrors.map(Double.init),
                               cleartext: .init(maxLogitError: Double(predictor.cleartextErrors.max() ?? 0),
                                                maxSecureError: Double(predictor.protocolErrors.max() ?? 0),
                                                rangeViolations: Dictionary(uniqueKeysWithValues: cleartext.monitor.violations.map { ($0.key.rawValue, $0.value) })))
            rangeSummary = cleartext.monitor.summary
        }
        try Console.out(try stream.finish() + "\n")
        let finished = Date()

        let seconds = finished.timeIntervalSince(generationStart)
        let rate = seconds > 0 ? Double(result.tokens.count) / seconds : 0
        try Console.line("\(mode.rawValue): \(promptIds.count) prompt tokens, \(result.tokens.count) generated in "
            + String(format: "%.3f s (%.2f tokens/s), stop: %@", seconds, rate, result.stop.rawValue)
            + (secure.map { ", \($0.passes.count) secure passes" } ?? ""))
        if let comparison {
            try Console.line("plain:  \(comparison.plainText)")
            try Console.line(comparison.firstDivergence.map { "first divergence at new token \($0)" } ?? "no divergence: secure and plain tokens are identical")
            try Console.line(String(format: "max |secure logit − plain logit| = %.5f", comparison.maxLogitError))
            try Console.line(String(format: "cleartext fixed point: max |cleartext − plain| = %.5f, max |secure − cleartext| = %.5f",
                                    comparison.cleartext.maxLogitError, comparison.cleartext.maxSecureError))
            try Console.line("values outside the protocols' domains (cleartext twin): \(rangeSummary)")
        }
        if let secure { try Console.line(CostTable(predictor: secure).render()) }

        if let reportJSON {
            let ids = promptIds + result.tokens
            var report = GenerationReport(
                mode: mode.rawValue, model: modelOptions.location.path, prompt: prompt, ids: ids,
                promptTokens: promptIds.count, generatedTokens: result.tokens.count, text: try tokenizer.decode(ids),
                stopReason: result.stop.rawValue,
                total: .init(wallSeconds: finished.timeIntervalSince(started), generationSeconds: seconds),
                peakRssBytes: ProcessMemory.peakResidentBytes(), compare: comparison)
            if let secure { report.addCosts(secure) }
            if let remote, let deployment = network.deployment {
                report.wire = .init(deployment: deployment, partyBytesSent: remote.partyWireBytesSent, clientBytesSent: remote.wireBytes.sent)
            }
            try OutputFile.writeJSON(report, to: reportJSON)
        }
    }
}
