/// Secure generation with two shadows fed exactly the tokens the secure pass is fed: the plaintext
/// Float transformer and the cleartext fixed-point one (`CleartextPredictor`). Every step records how
/// far the secure logits (opened to the client for this diagnostic) are from each, so float ↔
/// cleartext ↔ secure separates approximation error, protocol error and range errors (the
/// cleartext twin counts the latter). Used by `puma generate --mode compare`.
public final class ComparingPredictor: NextTokenPredictor {
    public let secure: SecurePredictor
    public private(set) var plain: PlainPredictor
    public let cleartext: CleartextPredictor
    /// Per step: max |secure logit − plaintext logit|.
    public private(set) var logitErrors: [Float] = []
    /// Per step: max |cleartext logit − plaintext logit| (the approximations' and encodings' error).
    public private(set) var cleartextErrors: [Float] = []
    /// Per step: max |secure logit − cleartext logit| (the protocols' error).
    public private(set) var protocolErrors: [Float] = []
    /// Per step: the plaintext's argmax (what greedy plaintext decoding would pick here).
    public private(set) var plainChoices: [Int32] = []

    public init(secure: SecurePredictor, plain: PlainPredictor, cleartext: CleartextPredictor) {
        precondition(secure.revealLogits, "the secure predictor must open its logits for a comparison")
        self.secure = secure
        self.plain = plain
        self.cleartext = cleartext
    }

    public func feed(_ tokens: [Int32]) throws -> Int32 {
        let token = try secure.feed(tokens)
        plainChoices.append(try plain.feed(tokens))
        _ = try cleartext.feed(tokens)
        func maxDifference(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }
        let opened = secure.lastLogits ?? []
        logitErrors.append(maxDifference(opened, plain.lastLogits))
        cleartextErrors.append(maxDifference(cleartext.lastLogits, plain.lastLogits))
        protocolErrors.append(maxDifference(opened, cleartext.lastLogits))
        return token
    }
}
