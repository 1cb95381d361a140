import Foundation
import PumaLLaMA

/// The report of `puma eval`: per prompt and summed, plus perplexity. Encoded as snake_case JSON
/// (`first_divergence` is null when the continuations are identical) and rendered as Markdown.
struct EvaluationReport: Encodable {
    struct Prompt: Encodable {
        var prompt: String
        /// The plaintext's greedy continuation (decoded).
        var continuation: String
        var identical: Bool
        /// Index of the first new token whose secure argmax differs, or null.
        var firstDivergence: NullWhenAbsent<Int>
        /// Teacher-forced top-1 agreement over the steps.
        var agreement: Double
        var steps: Int
        var maxLogitError: Double
        var meanLogitError: Double
        var perStepMaxLogitError: [Double]
        /// Secure cost per token: the mean over the passes after the prompt's.
        var bytesPerToken: Double
        var roundsPerToken: Double
        var secondsPerToken: Double
        var promptPassBytes: Int
        var promptPassRounds: Int
    }

    struct Summary: Encodable {
        var identical = 0
        var total = 0
        /// Agreement over all steps of all prompts.
        var agreement = 1.0
        var maxLogitError = 0.0
        var meanLogitError = 0.0
    }

    struct Perplexity: Encodable {
        var plain: Double
        /// The candidate's (secure by default).
        var secure: Double
        /// Mean negative log-likelihood per scored token, in nats.
        var plainLoss: Double
        var secureLoss: Double
        var tokens: Int
        var windows: Int
        var window: Int
    }

    /// Per layer and step, over the prompts' passes: the largest max error, the mean of the mean errors.
    struct TraceRow: Encodable {
        var layer: Int
        var step: String
        var maxError: Double
        var meanError: Double
        var meanMagnitude: Double
        var passes: Int
    }

    var model: String
    /// What was compared with plaintext: secure (its logits opened to the evaluator), cleartext or plain.
    var candidate: String
    var newTokens: Int
    var prompts: [Prompt] = []
    var summary = Summary()
    var perplexity: Perplexity?
    var trace: [TraceRow]?

    init(model: String, candidate: String, newTokens: Int) {
        self.model = model
        self.candidate = candidate
        self.newTokens = newTokens
    }

    mutating func add(prompt: String, result: Evaluation.PromptResult, costs: [PassCost], continuation: String) {
        let later = costs.dropFirst()
        func mean(_ f: (PassCost) -> Double) -> Double { later.isEmpty ? 0 : later.map(f).reduce(0, +) / Double(later.count) }
        prompts.append(Prompt(prompt: prompt, continuation: continuation, identical: result.identical, firstDivergence: NullWhenAbsent(result.firstDivergence),
                              agreement: result.agreement, steps: result.referenceTokens.count, maxLogitError: result.maxLogitError,
                              meanLogitError: result.meanLogitError, perStepMaxLogitError: result.maxLogitErrors,
                              bytesPerToken: mean { Double($0.bytesSent) }, roundsPerToken: mean { Double($0.rounds) },
                              secondsPerToken: mean(\.wallSeconds), promptPassBytes: costs.first?.bytesSent ?? 0,
                              promptPassRounds: costs.first?.rounds ?? 0))
        let steps = prompts.reduce(0) { $0 + $1.steps }
        summary = Summary(identical: prompts.filter(\.identical).count, total: prompts.count,
                          agreement: steps == 0 ? 1 : prompts.reduce(0.0) { $0 + $1.agreement * Double($1.steps) } / Double(steps),
                          maxLogitError: prompts.map(\.maxLogitError).max() ?? 0,
                          meanLogitError: steps == 0 ? 0 : prompts.reduce(0.0) { $0 + $1.meanLogitError * Double($1.steps) } / Double(steps))
    }

    mutating func add(trace errors: [Evaluation.TraceError]) {
        var rows = trace ?? errors.map { TraceRow(layer: $0.layer, step: $0.step.rawValue, maxError: 0, meanError: 0, meanMagnitude: 0, passes: 0) }
        for (i, e) in errors.enumerated() {
            let n = Double(rows[i].passes)
            rows[i].maxError = max(rows[i].maxError, e.maxError)
            rows[i].meanError = (rows[i].meanError * n + e.meanError) / (n + 1)
            rows[i].meanMagnitude = (rows[i].meanMagnitude * n + e.meanMagnitude) / (n + 1)
            rows[i].passes += 1
        }
        trace = rows
    }

    func markdown() -> String {
        var out = "# puma eval: \(model)\n\n" + (candidate == "secure" ? "Secure inference against plaintext (secure logits opened to the evaluator).\n"
                                                                : "The \(candidate) model against plaintext.\n")
        if !prompts.isEmpty {
            out += "\n| # | prompt | identical | first divergence | agreement | max \\|Δ logit\\| | mean \\|Δ logit\\| | MB / token | rounds / token | s / token |\n"
            out += "|---|---|---|---|---|---|---|---|---|---|\n"
            for (i, p) in prompts.enumerated() {
                let shown = p.prompt.count > 40 ? String(p.prompt.prefix(37)) + "…" : p.prompt
                let escaped = shown.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
                out += "| \(i + 1) | \(escaped.isEmpty ? "(empty)" : escaped) | \(p.identical ? "yes" : "no") | "
                    + "\(p.firstDivergence.value.map(String.init) ?? "—") | " + String(format: "%.1f %%", 100 * p.agreement) + " | "
                    + String(format: "%.4f | %.5f | %.2f | %.0f | %.3f |", p.maxLogitError, p.meanLogitError, p.bytesPerToken / 1e6,
                             p.roundsPerToken, p.secondsPerToken) + "\n"
            }
            out += "\n**\(summary.identical)/\(summary.total) identical continuations** of \(newTokens) tokens; teacher-forced agreement "
                + String(format: "%.2f %%; max |Δ logit| %.4f, mean %.5f.\n", 100 * summary.agreement, summary.maxLogitError, summary.meanLogitError)
        }
        if let trace, let first = trace.first {
            let steps = trace.filter { $0.layer == first.layer }.map(\.step)
            out += "\nLayer trace (intermediate values opened to the evaluator), max |secure − plain| over \(first.passes) prompt passes"
                + " (mean in parentheses):\n\n| layer | " + steps.joined(separator: " | ") + " |\n|---|" + steps.map { _ in "---|" }.joined() + "\n"
            for layer in Set(trace.map(\.layer)).sorted() {
                out += "| \(layer) | " + trace.filter { $0.layer == layer }.map { String(format: "%.2e (%.1e)", $0.maxError, $0.meanError) }
                    .joined(separator: " | ") + " |\n"
            }
        }
        if let p = perplexity {
            out += "\nPerplexity over \(p.tokens) scored tokens in \(p.windows) windows of ≤ \(p.window) tokens (the first of each not scored): "
                + String(format: "plain **%.4f** (%.4f nats/token), %@ **%.4f** (%.4f nats/token), %@/plain %+.3f %%.\n",
                         p.plain, p.plainLoss, candidate, p.secure, p.secureLoss, candidate, 100 * (p.secure / p.plain - 1))
        }
        return out
    }
}

/// An optional that encodes as JSON null when absent (synthesized encoding leaves such keys out).
struct NullWhenAbsent<Wrapped: Encodable>: Encodable {
    let value: Wrapped?

    init(_ value: Wrapped?) { self.value = value }

    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}
