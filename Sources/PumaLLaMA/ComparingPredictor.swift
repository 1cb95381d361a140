/// Secure generation with a plaintext shadow: the plaintext transformer is fed exactly the tokens
/// the secure pass is fed, and every step records how far the secure logits (opened to the client
/// for this diagnostic) are from the plaintext ones. Used by `puma generate --mode compare`.
public final class ComparingPredictor: NextTokenPredictor {
    public let secure: SecurePredictor
    public private(set) var plain: PlainPredictor
    /// Per step: max |secure logit − plaintext logit|.
    public private(set) var logitErrors: [Float] = []
    /// Per step: the plaintext's argmax (what greedy plaintext decoding would pick here).
    public private(set) var plainChoices: [Int32] = []

    public init(secure: SecurePredictor, plain: PlainPredictor) {
        precondition(secure.revealLogits, "the secure predictor must open its logits for a comparison")
        self.secure = secure
        self.plain = plain
    }

    public func feed(_ tokens: [Int32]) throws -> Int32 {
        let token = try secure.feed(tokens)
        plainChoices.append(try plain.feed(tokens))
        let reference = plain.lastLogits
        let opened = secure.lastLogits ?? []
        logitErrors.append(zip(opened, reference).map { abs($0 - $1) }.max() ?? 0)
        return token
    }
}
