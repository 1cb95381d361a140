import ArgumentParser
import Foundation
import PumaIO
import PumaLLaMA
import PumaNN

/// `puma eval`: secure inference against plaintext over a suite of prompts (teacher-forced
/// agreement, logit error, cost per token) and over a text (perplexity). An evaluation setting:
/// the secure logits are opened to the evaluator.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate secure inference against plaintext: agreement and logit error on prompts, perplexity on a text.",
        discussion: """
        An evaluation setting, not a private run: the secure logits are opened to the evaluator. \
        Prompts: JSON lines {"prompt": "..."}; each is continued greedily by plaintext for --new-tokens \
        steps, both models fed those tokens (teacher forcing). Text: cut into windows of --window tokens \
        that start with BOS; every token after BOS is scored. A Markdown summary goes to stdout.
        """
    )

    @OptionGroup var modelOptions: ModelOptions

    @Option(parsing: .unconditional, help: "JSON lines, one {\"prompt\": \"...\"} per line.")
    var prompts: String?

    @Option(parsing: .unconditional, help: "A UTF-8 text whose perplexity to measure.")
    var text: String?

    @Option(name: .customLong("token-windows"), parsing: .unconditional,
            help: "Perplexity over given windows of token ids instead of a text: JSON {\"windows\": [[id, …], …]}; every token after a window's first is scored.")
    var tokenWindows: String?

    @Option(name: .customLong("new-tokens"), parsing: .unconditional, help: "Teacher-forced steps per prompt.")
    var newTokens = 32

    @Option(parsing: .unconditional, help: "Perplexity window in tokens, BOS included (at most the model's context).")
    var window = 128

    @Option(name: .customLong("max-windows"), parsing: .unconditional, help: "Score at most this many windows of the text.")
    var maxWindows: Int?

    /// What is evaluated against plaintext.
    enum Candidate: String, ExpressibleByArgument, CaseIterable {
        /// The three-party engine (its logits opened to the evaluator).
        case secure
        /// The engine's fixed-point arithmetic in the clear: approximation error without protocol error.
        case cleartext
        /// Plaintext itself: a check of the evaluation (zero error, full agreement).
        case plain
    }

    @Option(parsing: .unconditional, help: "What to evaluate against plaintext: \(Candidate.allCases.map(\.rawValue).joined(separator: ", ")).")
    var candidate: Candidate = .secure

    @Option(parsing: .unconditional, help: "Seed of the parties' randomness (reproducible runs).")
    var seed: UInt64 = 1

    @Option(parsing: .unconditional, help: "SiLU approximation in secure mode: \(NonLinear.SiLUMethod.allCases.map(\.rawValue).joined(separator: ", ")).")
    var silu: NonLinear.SiLUMethod = .symmetric

    @Flag(help: "Wrap each of --prompts as one user turn in the model's chat format (see `puma generate --chat`).")
    var chat = false

    @Flag(help: "With --prompts: open every layer's intermediate values on each prompt's pass and report their error against plaintext (evaluation only).")
    var trace = false

    @Option(parsing: .unconditional, help: "Write the report as JSON to this file.")
    var json: String?

    /// Largest prompts or text file read.
    static let fileLimit = 64 << 20

    func validate() throws {
        if prompts == nil && text == nil && tokenWindows == nil { throw ValidationError("give --prompts FILE, --text FILE or --token-windows FILE") }
        if text != nil && tokenWindows != nil { throw ValidationError("give --text or --token-windows, not both") }
        if chat && prompts == nil { throw ValidationError("--chat formats the --prompts; it does not apply to --text or --token-windows") }
        if trace && (prompts == nil || candidate != .secure) { throw ValidationError("--trace needs --prompts and the secure candidate") }
        if let json { try OutputFile.checkWritable(json, option: "--json") }
        guard newTokens >= 1 else { throw ValidationError("--new-tokens must be ≥ 1, got \(newTokens)") }
        guard window >= 2 else { throw ValidationError("--window must be ≥ 2 (BOS and a scored token), got \(window)") }
        if let maxWindows, maxWindows < 1 { throw ValidationError("--max-windows must be ≥ 1, got \(maxWindows)") }
    }

    func run() throws {
        let model = try LlamaModel(at: modelOptions.location)
        if candidate == .secure && silu == .symmetric { try model.weights.checkSecureRanges() }
        let config = model.configuration
        guard window <= config.maxPositionEmbeddings else {
            throw ValidationErrorMessage("--window \(window) exceeds the model's context of \(config.maxPositionEmbeddings) positions")
        }
        let chatFormat = chat ? try ChatFormat(template: model.files.chatTemplate, tokenizer: model.tokenizer) : nil
        let generator = Generator(maxPositions: config.maxPositionEmbeddings, vocabularySize: config.vocabSize,
                                  eosId: chatFormat?.endOfTurn ?? config.eosTokenId.map(Int32.init) ?? model.tokenizer.eosId)
        func plain() -> PlainPredictor {
            PlainPredictor(transformer: PlainTransformer(config: config, weights: model.weights), sampler: Sampler(method: .greedy, seed: 0),
                           choosable: model.choosableTokens)
        }
        /// The candidate, and its cost per pass (secure only).
        func makeCandidate() -> (model: any LogitModel, costs: () -> [PassCost]) {
            switch candidate {
            case .secure:
                let secure = SecurePredictor(config: config, weights: model.weights, seed: seed, siluMethod: silu, temperature: 0,
                                             revealLogits: true, choosable: model.choosableTokens)
                return (secure, { secure.passes })
            case .cleartext:
                return (CleartextPredictor(config: config, weights: model.weights, siluMethod: silu, choosable: model.choosableTokens), { [] })
            case .plain:
                return (plain(), { [] })
            }
        }
        var report = EvaluationReport(model: modelOptions.location.path, candidate: candidate.rawValue, newTokens: newTokens)

        if let prompts {
            let all = try Self.readPrompts(prompts)
            let progress = TerminalProgress(label: "prompts")
            defer { progress.finish() }
            for (line, prompt) in all.enumerated() {
                progress.step(line, of: all.count, "prompt")
                let ids = try chatFormat?.prompt(user: prompt, tokenizer: model.tokenizer) ?? model.tokenizer.encodePrompt(prompt)
                do { try generator.validate(prompt: ids) } catch { throw ValidationErrorMessage("prompt on line \(line + 1): \(error)") }
                var reference: any LogitModel = plain()
                let (made, costs) = makeCandidate()
                var candidate = made
                let result = try Evaluation.compare(prompt: ids, newTokens: newTokens, maxPositions: config.maxPositionEmbeddings,
                                                    choosable: model.choosableTokens, reference: &reference, candidate: &candidate)
                report.add(prompt: prompt, result: result, costs: costs(), continuation: try model.tokenizer.decode(result.referenceTokens))
                if trace {
                    let secure = SecurePredictor(config: config, weights: model.weights, seed: seed, siluMethod: silu, temperature: 0,
                                                 revealLogits: false, choosable: model.choosableTokens)
                    report.add(trace: try Evaluation.trace(prompt: ids, plain: PlainTransformer(config: config, weights: model.weights), secure: secure))
                }
            }
        }
        var windows: [[Int32]] = []
        if let text {
            guard let body = String(data: try InputFile.read(URL(fileURLWithPath: text), limit: Self.fileLimit), encoding: .utf8) else {
                throw ValidationErrorMessage("--text \(text) is not UTF-8 text")
            }
            let bos = model.tokenizer.addsBOS ? model.tokenizer.bosId : nil
            windows = Evaluation.windows(tokens: try model.tokenizer.encode(body), bos: bos, window: window, maxWindows: maxWindows)
            guard !windows.isEmpty else { throw ValidationErrorMessage("--text \(text) has no tokens to score") }
        }
        if let tokenWindows {
            windows = try Self.readWindows(tokenWindows, vocabulary: config.vocabSize, context: config.maxPositionEmbeddings)
            if let maxWindows { windows = Array(windows.prefix(maxWindows)) }
        }
        if !windows.isEmpty {
            let plainNLL = try Evaluation.negativeLogLikelihood(windows: windows, makeModel: plain)
            let progress = TerminalProgress(label: "\(candidate.rawValue) windows")
            let secureNLL = try Evaluation.negativeLogLikelihood(windows: windows, makeModel: { makeCandidate().model }) {
                progress.update($0, of: windows.count)
            }
            progress.finish()
            report.perplexity = .init(plain: exp(plainNLL.sum / Double(plainNLL.tokens)), secure: exp(secureNLL.sum / Double(secureNLL.tokens)),
                                      plainLoss: plainNLL.sum / Double(plainNLL.tokens), secureLoss: secureNLL.sum / Double(secureNLL.tokens),
                                      tokens: plainNLL.tokens, windows: windows.count, window: windows.map(\.count).max() ?? 0)
        }
        try Console.out(report.markdown())
        if let json { try OutputFile.writeJSON(report, to: json) }
    }

    /// The windows of a `--token-windows` file, each checked against the vocabulary and the context.
    static func readWindows(_ path: String, vocabulary: Int, context: Int) throws -> [[Int32]] {
        let data = try InputFile.read(URL(fileURLWithPath: path), limit: fileLimit)
        // The windows at the top level, or under "perplexity" (as the reference models' golden.json keeps them).
        let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        guard let object, let windows = (object["windows"] ?? (object["perplexity"] as? [String: Any])?["windows"]) as? [[Int]],
              !windows.isEmpty else {
            throw ValidationErrorMessage("--token-windows \(path): expected a JSON object with \"windows\" (or \"perplexity\": {\"windows\"}), a non-empty array of arrays of token ids")
        }
        for (i, w) in windows.enumerated() {
            guard w.count >= 2, w.count <= context, w.allSatisfy({ (0..<vocabulary).contains($0) }) else {
                throw ValidationErrorMessage("--token-windows \(path): window \(i) needs 2…\(context) ids below \(vocabulary)")
            }
        }
        return windows.map { $0.map(Int32.init) }
    }

    /// The prompts of a JSON-lines file (blank lines skipped).
    static func readPrompts(_ path: String) throws -> [String] {
        let data = try InputFile.read(URL(fileURLWithPath: path), limit: fileLimit)
        guard let body = String(data: data, encoding: .utf8) else { throw ValidationErrorMessage("--prompts \(path) is not UTF-8 text") }
        var prompts: [String] = []
        for (n, line) in body.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let prompt = object["prompt"] as? String else {
                throw ValidationErrorMessage("--prompts \(path), line \(n + 1): expected a JSON object with a string \"prompt\"")
            }
            prompts.append(prompt)
        }
        guard !prompts.isEmpty else { throw ValidationErrorMessage("--prompts \(path) holds no prompt") }
        return prompts
    }
}
