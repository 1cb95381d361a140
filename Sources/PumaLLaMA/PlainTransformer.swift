import PumaIO

/// The Float32 reference LLaMA forward pass over a KV cache, one or several tokens per pass, with
/// the weights read in place from the mapped checkpoint. The secure transformer follows the same
/// steps, in the same order, under the same names.
public struct PlainTransformer: Sendable {
    public let config: LlamaConfiguration
    public let weights: LlamaWeights
    let rope: RotaryTables

    public init(config: LlamaConfiguration, weights: LlamaWeights) {
        self.config = config
        self.weights = weights
        rope = RotaryTables(config: config)
    }

    /// Keys and values of every processed position, per layer: [layer][position*kvHeads*headDim].
    public struct KVCache: Sendable {
        public var keys: [[Float]]
        public var values: [[Float]]
        public var length = 0

        public init(layers: Int) {
            keys = Array(repeating: [], count: layers)
            values = Array(repeating: [], count: layers)
        }
    }

    public func makeCache() -> KVCache { KVCache(layers: config.numHiddenLayers) }

    /// Processes `token` at the next position of `cache` and returns the logits for the position after it.
    public func forward(token: Int32, cache: inout KVCache) -> [Float] {
        forward(tokens: [token], cache: &cache)
    }

    /// Processes `tokens` at the next positions of `cache` in one pass (each weight tile is read
    /// once for all of them) and returns the logits for the position after the last one.
    public func forward(tokens: [Int32], cache: inout KVCache) -> [Float] {
        forward(tokens: tokens, cache: &cache, allPositions: false)
    }

    /// As `forward(tokens:cache:)`, with the logits after every one of `tokens` ([t × vocab],
    /// row r predicting the token after tokens[r]) when `allPositions` (evaluation). `trace`, if
    /// given, sees each layer's intermediate values (`TraceStep`) as the secure transformer opens them.
    public func forward(tokens: [Int32], cache: inout KVCache, allPositions: Bool,
                        trace: ((_ layer: Int, _ step: TraceStep, _ values: [Float]) -> Void)? = nil) -> [Float] {
        let c = config
        let (dim, heads, kvHeads, headDim) = (c.hiddenSize, c.numAttentionHeads, c.numKeyValueHeads, c.headDim)
        let (t, start) = (tokens.count, cache.length)
        precondition(t > 0 && start + t <= c.maxPositionEmbeddings, "positions \(start)..<\(start + t) beyond the context")
        precondition(tokens.allSatisfy { $0 >= 0 && Int($0) < c.vocabSize }, "token outside the vocabulary")
        let eps = Float(c.rmsNormEps)
        let qDim = heads * headDim

        // embed: one row of the table per token, [t × dim]
        var x = [Float](repeating: 0, count: t * dim)
        x.withUnsafeMutableBufferPointer { out in
            for (r, token) in tokens.enumerated() { weights.embedding.floats(offset: Int(token) * dim, count: dim, into: out.baseAddress! + r * dim) }
        }
        for (l, w) in weights.layers.enumerated() {
            // attention: RMSNorm → q/k/v → RoPE → grouped-query causal attention → o_proj → residual
            let h = FloatKernels.rmsNorm(rows: x, weight: w.inputNorm, eps: eps)
            // The secure norm leaves its weight to the next matrix: trace x/RMS.
            trace?(l, .attentionNorm, FloatKernels.rmsNorm(rows: x, weight: [Float](repeating: 1, count: dim), eps: eps))
            var q = FloatKernels.matmul(h, m: t, w.wq)
            var k = FloatKernels.matmul(h, m: t, w.wk)
            let v = FloatKernels.matmul(h, m: t, w.wv)
            for r in 0..<t {
                rope.apply(&q, row: r, heads: heads, position: start + r)
                rope.apply(&k, row: r, heads: kvHeads, position: start + r)
            }
            cache.keys[l] += k
            cache.values[l] += v
            var attention = [Float]()
            attention.reserveCapacity(t * qDim)
            var probabilities = [[[Float]]](repeating: [], count: heads)  // [head][row] → the row's softmax
            for r in 0..<t {
                attention += attend(q: Array(q[(r * qDim)..<((r + 1) * qDim)]), keys: cache.keys[l], values: cache.values[l], length: start + r + 1) {
                    probabilities[$0].append($1)
                }
            }
            trace?(l, .softmax, probabilities.flatMap { $0.flatMap { $0 } })
            let o = FloatKernels.matmul(attention, m: t, w.wo)
            for i in x.indices { x[i] += o[i] }
            trace?(l, .attentionResidual, x)

            // mlp: RMSNorm → SiLU(gate)·up → down → residual
            let h2 = FloatKernels.rmsNorm(rows: x, weight: w.postAttentionNorm, eps: eps)
            trace?(l, .mlpNorm, FloatKernels.rmsNorm(rows: x, weight: [Float](repeating: 1, count: dim), eps: eps))
            let gate = FloatKernels.matmul(h2, m: t, w.wGate)
            let up = FloatKernels.matmul(h2, m: t, w.wUp)
            let act = zip(gate, up).map { FloatKernels.silu($0) * $1 }
            trace?(l, .siluMul, act)
            let down = FloatKernels.matmul(act, m: t, w.wDown)
            for i in x.indices { x[i] += down[i] }
            trace?(l, .hidden, x)
        }
        cache.length += t
        // final norm → logits, for the last position (or all of them)
        let rows = allPositions ? t : 1
        let final = FloatKernels.rmsNorm(rows: Array(x[((t - rows) * dim)...]), weight: weights.finalNorm, eps: eps)
        return FloatKernels.matmul(final, m: rows, weights.lmHead)
    }

    /// softmax(q·kᵀ/√d)·v per head over `length` cached positions; query head h reads kv head h / (heads/kvHeads).
    /// `probabilities` sees each head's softmax.
    func attend(q: [Float], keys: [Float], values: [Float], length: Int, probabilities: (Int, [Float]) -> Void = { _, _ in }) -> [Float] {
        let (heads, kvHeads, headDim) = (config.numAttentionHeads, config.numKeyValueHeads, config.headDim)
        let group = heads / kvHeads
        let kvStride = kvHeads * headDim
        let scale = 1 / Float(headDim).squareRoot()
        var out = [Float](repeating: 0, count: heads * headDim)
        for h in 0..<heads {
            let kvOffset = (h / group) * headDim
            var scores = [Float](repeating: 0, count: length)
            for t in 0..<length {
                var s: Float = 0
                for i in 0..<headDim { s += q[h * headDim + i] * keys[t * kvStride + kvOffset + i] }
                scores[t] = s * scale
            }
            let p = FloatKernels.softmax(scores)
            probabilities(h, p)
            for t in 0..<length {
                for i in 0..<headDim { out[h * headDim + i] += p[t] * values[t * kvStride + kvOffset + i] }
            }
        }
        return out
    }
}

/// The intermediate values of a layer that an evaluation trace compares (`puma eval --trace`), in
/// the order the transformers produce them.
public enum TraceStep: String, CaseIterable, Sendable {
    /// x / RMS(x) before q/k/v (the norm's weight is folded into the matrices on shares).
    case attentionNorm = "attention_norm"
    /// Every head's attention probabilities, [head][row][position ≤ row].
    case softmax
    /// The hidden state after attention and its residual.
    case attentionResidual = "attention_residual"
    /// x / RMS(x) before gate/up.
    case mlpNorm = "mlp_norm"
    /// SiLU(gate) · up.
    case siluMul = "silu_mul"
    /// The layer's output: the hidden state after the MLP and its residual.
    case hidden
}
