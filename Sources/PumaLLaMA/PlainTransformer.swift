import PumaIO

/// The Float32 reference LLaMA forward pass, one token at a time over a KV cache. The secure
/// transformer follows the same steps, in the same order, under the same names.
public struct PlainTransformer: Sendable {
    public let config: LlamaConfiguration
    public let weights: LlamaWeights
    let rope: RotaryTables

    public init(config: LlamaConfiguration, weights: LlamaWeights) {
        self.config = config
        self.weights = weights
        rope = RotaryTables(headDim: config.headDim, positions: config.maxPositionEmbeddings, theta: config.ropeTheta)
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
        let c = config
        let (dim, heads, kvHeads, headDim) = (c.hiddenSize, c.numAttentionHeads, c.numKeyValueHeads, c.headDim)
        let position = cache.length
        precondition(position < c.maxPositionEmbeddings, "position \(position) beyond the context")
        precondition(token >= 0 && Int(token) < c.vocabSize, "token \(token) outside the vocabulary")
        let eps = Float(c.rmsNormEps)

        // embed
        var x = Array(weights.embedding[(Int(token) * dim)..<(Int(token) * dim + dim)])
        for (l, w) in weights.layers.enumerated() {
            // attention: RMSNorm → q/k/v → RoPE → grouped-query causal attention → o_proj → residual
            let h = FloatKernels.rmsNorm(x, weight: w.inputNorm, eps: eps)
            var q = FloatKernels.matVec(w.wq, rows: heads * headDim, cols: dim, h)
            var k = FloatKernels.matVec(w.wk, rows: kvHeads * headDim, cols: dim, h)
            let v = FloatKernels.matVec(w.wv, rows: kvHeads * headDim, cols: dim, h)
            rope.apply(&q, heads: heads, position: position)
            rope.apply(&k, heads: kvHeads, position: position)
            cache.keys[l] += k
            cache.values[l] += v
            let attention = attend(q: q, keys: cache.keys[l], values: cache.values[l], length: position + 1)
            let o = FloatKernels.matVec(w.wo, rows: dim, cols: heads * headDim, attention)
            for i in 0..<dim { x[i] += o[i] }

            // mlp: RMSNorm → SiLU(gate)·up → down → residual
            let h2 = FloatKernels.rmsNorm(x, weight: w.postAttentionNorm, eps: eps)
            let gate = FloatKernels.matVec(w.wGate, rows: c.intermediateSize, cols: dim, h2)
            let up = FloatKernels.matVec(w.wUp, rows: c.intermediateSize, cols: dim, h2)
            let act = zip(gate, up).map { FloatKernels.silu($0) * $1 }
            let down = FloatKernels.matVec(w.wDown, rows: dim, cols: c.intermediateSize, act)
            for i in 0..<dim { x[i] += down[i] }
        }
        cache.length += 1
        // final norm → logits
        let final = FloatKernels.rmsNorm(x, weight: weights.finalNorm, eps: eps)
        return FloatKernels.matVec(weights.lmHead, rows: c.vocabSize, cols: dim, final)
    }

    /// softmax(q·kᵀ/√d)·v per head over `length` cached positions; query head h reads kv head h / (heads/kvHeads).
    func attend(q: [Float], keys: [Float], values: [Float], length: Int) -> [Float] {
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
            for t in 0..<length {
                for i in 0..<headDim { out[h * headDim + i] += p[t] * values[t * kvStride + kvOffset + i] }
            }
        }
        return out
    }
}
