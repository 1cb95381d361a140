import ArgumentParser
import Foundation
import PumaCore
import PumaIO
import PumaLLaMA
import PumaMPC

/// `puma bench generate`: one secure generation of a fixed-length prompt, measured per forward pass
/// (wall time, bytes in total and per party, rounds, modeled network time), with the weight-sharing
/// set-up, peak RSS (of the secure run), and the plaintext transformer fed the same tokens for the
/// secure/plain ratio.
struct GenerateBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Secure generation cost per forward pass, against plaintext on the same tokens."
    )

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .customLong("prompt-tokens"), parsing: .unconditional, help: "Prompt length in tokens, BOS included.")
    var promptTokens = 8

    @Option(name: .customLong("new-tokens"), parsing: .unconditional, help: "Tokens to generate (one secure forward pass each).")
    var newTokens = 2

    @Option(parsing: .unconditional, help: "Seed of the parties' keys (a measurement setting, not a private one).")
    var seed: UInt64 = 1

    @Option(name: .customLong("json"), parsing: .unconditional, help: "Also write the results as JSON to this file.")
    var jsonPath: String?

    func validate() throws {
        if let jsonPath { try OutputFile.checkWritable(jsonPath, option: "--json") }
        guard promptTokens >= 1 else { throw ValidationError("--prompt-tokens must be at least 1 (BOS)") }
        guard newTokens >= 1 else { throw ValidationError("--new-tokens must be at least 1") }
    }

    struct Result: Encodable {
        var model: String
        var config: [String: Int]
        var promptTokens: Int
        var newTokens: Int
        var setupSeconds: Double
        var setupBytesSent: Int
        /// Bytes each party keeps in a deployment (P0 seeds; P1, P2 seeds and x2).
        var storedBytesPerParty: [Int]
        var perToken: [GenerationReport.PassReport]
        var ops: [String: GenerationReport.OpReport]
        var secureWallSeconds: Double
        var plainWallSeconds: Double
        var ratio: Double
        /// Of the secure run (read before the plaintext one).
        var peakRssBytes: Int?
    }

    func run() throws {
        let model = try LlamaModel(at: modelOptions.location)
        let c = model.configuration
        guard promptTokens + newTokens - 1 <= c.maxPositionEmbeddings else {
            throw ValidationErrorMessage("--prompt-tokens + --new-tokens − 1 exceeds the model's context of \(c.maxPositionEmbeddings) positions")
        }
        let prompt = try Self.prompt(model.tokenizer, tokens: promptTokens)
        let progress = TerminalProgress(label: "secure")
        try model.weights.checkSecureRanges()
        let secure = SecurePredictor(config: c, weights: model.weights, seed: seed)
        let setupSeconds = secure.setupCost.wallSeconds
        var fed = [prompt]
        var next: Int32 = 0
        for pass in 1...newTokens {
            secure.progress = { layer in progress.step(layer, of: c.numHiddenLayers, "pass \(pass), layer") }
            if pass > 1 { fed.append([next]) }
            next = try secure.feed(fed[pass - 1])
        }
        progress.finish()
        // Before the plaintext run, whose mapped checkpoint stays resident.
        let peakResident = ProcessMemory.peakResidentBytes()

        // The plaintext transformer, fed exactly the same passes.
        let plain = PlainTransformer(config: c, weights: model.weights)
        var cache = plain.makeCache()
        let plainSeconds = timed { for tokens in fed { _ = plain.forward(tokens: tokens, cache: &cache) } }

        let passes = secure.passes.map(GenerationReport.PassReport.init)
        let secureSeconds = secure.passTotal.wallSeconds
        let result = Result(
            model: modelOptions.location.path,
            config: ["layers": c.numHiddenLayers, "hidden": c.hiddenSize, "intermediate": c.intermediateSize,
                     "heads": c.numAttentionHeads, "kv_heads": c.numKeyValueHeads, "vocab": c.vocabSize],
            promptTokens: prompt.count, newTokens: newTokens, setupSeconds: setupSeconds,
            setupBytesSent: secure.setupCost.bytesSent, storedBytesPerParty: secure.storedBytes, perToken: passes,
            ops: GenerationReport.OpReport.all(secure),
            secureWallSeconds: secureSeconds, plainWallSeconds: plainSeconds, ratio: secureSeconds / max(plainSeconds, 1e-9),
            peakRssBytes: peakResident)

        var lines = [String(format: "%@: %d layers, hidden %d; prompt %d tokens, %d new; set-up %.2f s",
                            modelOptions.location.lastPathComponent, c.numHiddenLayers, c.hiddenSize, prompt.count, newTokens, setupSeconds),
                     "pass  tokens   wall s     MB sent   MB P0 / P1 / P2          rounds   LAN s    WAN s"]
        for (i, p) in passes.enumerated() {
            let parties = (p.perParty ?? []).map { String(format: "%.1f", Double($0.bytesSent) / 1e6) }.joined(separator: " / ")
            lines.append(String(format: "%4d  %6d  %7.2f  %10.1f   ", i + 1, p.tokens, p.wallSeconds, Double(p.bytesSent) / 1e6)
                + parties.padding(toLength: 24, withPad: " ", startingAt: 0)
                + String(format: "%7d  %6.2f  %7.1f", p.rounds, p.modeledSeconds?["LAN"] ?? 0, p.modeledSeconds?["WAN"] ?? 0))
        }
        lines.append(String(format: "secure %.2f s, plain %.2f s on the same tokens: secure/plain %.1f×; peak RSS %.2f GB",
                            secureSeconds, plainSeconds, result.ratio, Double(result.peakRssBytes ?? 0) / 1e9))
        lines.append("weights stored per party in a deployment: "
            + secure.storedBytes.enumerated().map { "P\($0.offset) \(InspectCommand.bytes($0.element))" }.joined(separator: ", "))
        try Console.printLine(lines.joined(separator: "\n"))
        if let jsonPath { try OutputFile.writeJSON(result, to: jsonPath) }
    }

    /// BOS (when the model adds one) and then ids of a fixed English text (repeated if it is too short).
    static func prompt(_ tokenizer: Tokenizer, tokens: Int) throws -> [Int32] {
        let text = "Once upon a time, in a quiet village by the sea, there lived an old fisherman who told stories to the children every evening. "
        let ids = try tokenizer.encode(text, addBOS: false)
        var out: [Int32] = tokenizer.addsBOS ? [tokenizer.bosId] : []
        while out.count < tokens { out += ids.prefix(tokens - out.count) }
        return out
    }
}
