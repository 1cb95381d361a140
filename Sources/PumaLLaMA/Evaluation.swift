import Foundation

/// A language model as an evaluation sees it: fed tokens at consecutive positions, it returns the
/// logits of the last position. For a secure model these are opened to the evaluator — an
/// evaluation setting, not a private run.
public protocol LogitModel {
    mutating func logits(feeding tokens: [Int32]) throws -> [Float]
    /// The logits after each of `tokens` (row r predicts the token after tokens[r]).
    mutating func positionLogits(feeding tokens: [Int32]) throws -> [[Float]]
}

extension LogitModel {
    /// One token at a time.
    public mutating func positionLogits(feeding tokens: [Int32]) throws -> [[Float]] {
        try tokens.map { try logits(feeding: [$0]) }
    }
}

extension PlainPredictor: LogitModel {
    public mutating func logits(feeding tokens: [Int32]) throws -> [Float] {
        _ = try feed(tokens)
        return lastLogits
    }
}

extension CleartextPredictor: LogitModel {
    public func logits(feeding tokens: [Int32]) throws -> [Float] {
        _ = try feed(tokens)
        return lastLogits
    }
}

extension SecurePredictor: LogitModel {
    /// Needs `revealLogits`.
    public func logits(feeding tokens: [Int32]) throws -> [Float] {
        precondition(revealLogits, "evaluating a secure model needs its logits opened")
        _ = try feed(tokens)
        return lastLogits ?? []
    }

    /// One secure pass over all of `tokens`, every position's logits opened.
    public func positionLogits(feeding tokens: [Int32]) throws -> [[Float]] {
        precondition(revealLogits, "evaluating a secure model needs its logits opened")
        opensAllPositions = true
        defer { opensAllPositions = false }
        _ = try feed(tokens)
        return positionLogits
    }
}

/// Offline evaluation of a candidate model (secure inference) against a reference (plaintext):
/// teacher-forced agreement and logit error on prompts, and perplexity on text.
public enum Evaluation {
    /// One prompt's comparison over `newTokens` teacher-forced steps.
    public struct PromptResult: Sendable, Equatable {
        /// The reference's greedy continuation.
        public var referenceTokens: [Int32]
        /// The candidate's argmax at each step, fed the reference's tokens.
        public var candidateTokens: [Int32]
        /// Per step: max |candidate logit − reference logit| over the vocabulary.
        public var maxLogitErrors: [Double]
        /// Per step: mean |candidate logit − reference logit| over the vocabulary.
        public var meanLogitErrors: [Double]

        /// The first step whose argmax differs: where a free-running candidate (with the same
        /// randomness) would leave the reference's continuation. Nil when identical.
        public var firstDivergence: Int? { referenceTokens.indices.first { referenceTokens[$0] != candidateTokens[$0] } }
        public var identical: Bool { firstDivergence == nil }
        /// Fraction of steps whose argmax agrees (1 when there are none).
        public var agreement: Double {
            referenceTokens.isEmpty ? 1 : Double(zip(referenceTokens, candidateTokens).filter { $0 == $1 }.count) / Double(referenceTokens.count)
        }
        public var maxLogitError: Double { maxLogitErrors.max() ?? 0 }
        public var meanLogitError: Double { meanLogitErrors.isEmpty ? 0 : meanLogitErrors.reduce(0, +) / Double(meanLogitErrors.count) }
    }

    /// Feeds `prompt` (BOS included) to both models, then, `newTokens` times (fewer if the context
    /// of `maxPositions` fills), compares the two models' logits and argmaxes over the first
    /// `choosable` ids and feeds both the reference's argmax (teacher forcing).
    public static func compare(prompt: [Int32], newTokens: Int, maxPositions: Int, choosable: Int,
                               reference: inout any LogitModel, candidate: inout any LogitModel) throws -> PromptResult {
        var result = PromptResult(referenceTokens: [], candidateTokens: [], maxLogitErrors: [], meanLogitErrors: [])
        var input = prompt
        var fed = prompt.count
        for step in 0..<newTokens {
            let r = try reference.logits(feeding: input)
            let c = try candidate.logits(feeding: input)
            precondition(r.count == c.count && r.count >= choosable, "logits of different sizes")
            let differences = zip(r, c).map { Double(abs($0 - $1)) }
            result.maxLogitErrors.append(differences.max() ?? 0)
            result.meanLogitErrors.append(differences.reduce(0, +) / Double(max(1, differences.count)))
            let token = argmax(r, below: choosable)
            result.referenceTokens.append(token)
            result.candidateTokens.append(argmax(c, below: choosable))
            if step == newTokens - 1 || fed == maxPositions { break }
            input = [token]
            fed += 1
        }
        return result
    }

    /// The first index of the largest of `logits[0..<n]` (greedy decoding's choice).
    public static func argmax(_ logits: [Float], below n: Int) -> Int32 {
        var best = 0
        for i in 1..<n where logits[i] > logits[best] { best = i }
        return Int32(best)
    }

    /// Windows for perplexity (the usual convention): the text's tokens (no BOS) cut into pieces of
    /// `window − 1`, each prefixed with BOS, at most `maxWindows` of them; a shorter last piece counts.
    /// For a model that adds no BOS (`bos` nil): consecutive pieces of `window` tokens, each piece's
    /// first token its context only.
    public static func windows(tokens: [Int32], bos: Int32?, window: Int, maxWindows: Int?) -> [[Int32]] {
        precondition(window >= 2, "a window holds a first token and at least one scored token")
        var out: [[Int32]] = []
        var start = 0
        let prefix = bos.map { [$0] } ?? []
        while start < tokens.count && out.count < (maxWindows ?? Int.max) {
            let end = min(tokens.count, start + window - prefix.count)
            if prefix.isEmpty && end - start < 2 { break }  // a lone last token has nothing to be scored after
            out.append(prefix + tokens[start..<end])
            start = end
        }
        return out
    }

    /// Negative log-likelihood, summed, and the number of scored tokens: every token of a window
    /// after its first (BOS) is scored by the log-probability (log-softmax over the whole
    /// vocabulary, in Double) that `makeModel()` — a fresh model per window, fed the window but its
    /// last token in one pass — gives it after its prefix.
    /// `progress` sees the number of windows done.
    public static func negativeLogLikelihood(windows: [[Int32]], makeModel: () throws -> any LogitModel,
                                             progress: (Int) -> Void = { _ in }) throws -> (sum: Double, tokens: Int) {
        var sum = 0.0, count = 0
        for (done, window) in windows.enumerated() where window.count > 1 {
            defer { progress(done + 1) }
            var model = try makeModel()
            let rows = try model.positionLogits(feeding: Array(window.dropLast()))
            for (i, logits) in rows.enumerated() {
                sum -= logSoftmax(logits, at: Int(window[i + 1]))
                count += 1
            }
        }
        return (sum, count)
    }

    /// How far one intermediate value of one layer is from plaintext.
    public struct TraceError: Sendable, Equatable {
        public var layer: Int
        public var step: TraceStep
        public var maxError: Double
        public var meanError: Double
        /// Mean |plaintext value|: the scale the errors compare to.
        public var meanMagnitude: Double
    }

    /// One pass over `prompt` in the clear and on shares, every layer's `TraceStep` values opened
    /// (an evaluation setting): their max and mean absolute error per layer and step.
    public static func trace(prompt: [Int32], plain: PlainTransformer, secure: SecurePredictor) throws -> [TraceError] {
        var reference: [[[Float]]] = Array(repeating: [], count: plain.config.numHiddenLayers)
        var cache = plain.makeCache()
        _ = plain.forward(tokens: prompt, cache: &cache, allPositions: false) { layer, _, values in reference[layer].append(values) }
        secure.opensLayerTrace = true
        defer { secure.opensLayerTrace = false }
        _ = try secure.feed(prompt)
        var out: [TraceError] = []
        for (layer, steps) in secure.layerTrace.enumerated() {
            for (i, values) in steps.enumerated() {
                let expected = reference[layer][i]
                precondition(values.count == expected.count, "trace: \(TraceStep.allCases[i]) of layer \(layer) differs in size")
                let errors = zip(values, expected).map { Double(abs($0 - $1)) }
                out.append(TraceError(layer: layer, step: TraceStep.allCases[i], maxError: errors.max() ?? 0,
                                      meanError: errors.reduce(0, +) / Double(max(1, errors.count)),
                                      meanMagnitude: expected.reduce(0.0) { $0 + Double(abs($1)) } / Double(max(1, expected.count))))
            }
        }
        return out
    }

    /// log softmax(logits)[index], in Double.
    public static func logSoftmax(_ logits: [Float], at index: Int) -> Double {
        let top = Double(logits.max() ?? 0)
        let total = logits.reduce(0.0) { $0 + Foundation.exp(Double($1) - top) }
        return Double(logits[index]) - top - Foundation.log(total)
    }
}
