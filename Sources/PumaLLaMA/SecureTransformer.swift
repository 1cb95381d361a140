import PumaCore
import PumaIO
import PumaMPC
import PumaNN

/// One party's share of the model: every weight as replicated shares, laid out for the secure
/// forward pass (projections that read the same input are concatenated so they cost one round).
struct SecureLayerShares {
    /// [dim]
    var inputNorm: ArithmeticShares
    /// [(heads + 2·kvHeads)·headDim, dim]: q, k and v projections stacked.
    var wqkv: ArithmeticShares
    /// [dim, heads·headDim]
    var wo: ArithmeticShares
    /// [dim]
    var postAttentionNorm: ArithmeticShares
    /// [2·ffn, dim]: gate and up stacked.
    var wGateUp: ArithmeticShares
    /// [dim, ffn]
    var wDown: ArithmeticShares
}

/// The order and sizes in which the model owner shares its tensors (both sides follow it).
enum SecureWeightLayout {
    /// Fixed-point encodings of every tensor, in sharing order.
    static func encode(_ w: LlamaWeights, _ fp: FixedPoint) -> [[UInt64]] {
        var out: [[UInt64]] = [fp.encode(w.embedding)]
        for l in w.layers {
            out += [fp.encode(l.inputNorm), fp.encode(l.wq + l.wk + l.wv), fp.encode(l.wo),
                    fp.encode(l.postAttentionNorm), fp.encode(l.wGate + l.wUp), fp.encode(l.wDown)]
        }
        out += [fp.encode(w.finalNorm), fp.encode(w.lmHead)]
        return out
    }

    /// Element counts in sharing order.
    static func sizes(_ c: LlamaConfiguration) -> [Int] {
        let (d, f, v) = (c.hiddenSize, c.intermediateSize, c.vocabSize)
        let q = c.numAttentionHeads * c.headDim, kv = c.numKeyValueHeads * c.headDim
        var sizes = [v * d]
        for _ in 0..<c.numHiddenLayers { sizes += [d, (q + 2 * kv) * d, d * q, d, 2 * f * d, d * f] }
        return sizes + [d, v * d]
    }
}

/// Party i's side of the secure LLaMA: its weight shares, its secret-shared KV cache, and the
/// forward pass, step for step the plaintext `PlainTransformer` under the same names.
final class SecureTransformerParty: @unchecked Sendable {
    let party: Party
    let config: LlamaConfiguration
    let siluMethod: NonLinear.SiLUMethod
    var embedding: ArithmeticShares!
    var layers: [SecureLayerShares] = []
    var finalNorm: ArithmeticShares!
    var lmHead: ArithmeticShares!
    /// Per layer, keys and values of every processed position: [position × kvHeads·headDim].
    var cacheKeys: [ArithmeticShares]
    var cacheValues: [ArithmeticShares]
    var length = 0
    /// Public RoPE tables: cos and sin per position, the query's pre-scaled by 1/√headDim.
    let rope: RotaryTables

    init(party: Party, config: LlamaConfiguration, siluMethod: NonLinear.SiLUMethod) {
        self.party = party
        self.config = config
        self.siluMethod = siluMethod
        rope = RotaryTables(headDim: config.headDim, positions: config.maxPositionEmbeddings, theta: config.ropeTheta)
        let empty = ArithmeticShares(first: [], second: [])
        cacheKeys = Array(repeating: empty, count: config.numHiddenLayers)
        cacheValues = cacheKeys
    }

    /// Receives the owner's weight shares (one input round per tensor).
    func receiveWeights() {
        party.scope("weights") {
            var shares = SecureWeightLayout.sizes(config).map { party.input(from: .owner, count: $0) }.makeIterator()
            embedding = shares.next()!
            layers = (0..<config.numHiddenLayers).map { _ in
                SecureLayerShares(inputNorm: shares.next()!, wqkv: shares.next()!, wo: shares.next()!,
                                  postAttentionNorm: shares.next()!, wGateUp: shares.next()!, wDown: shares.next()!)
            }
            finalNorm = shares.next()!
            lmHead = shares.next()!
        }
    }

    /// What the client learns from one forward pass.
    struct Options {
        var temperature: Double = 0
        /// Also open the last position's logits to the client (diagnostics: `--mode compare`).
        var revealLogits = false
    }

    /// Processes `count` new tokens (their one-hot rows come from the client) at the next cache
    /// positions and opens to the client only the index of the chosen next token.
    func forward(count t: Int, options: Options) {
        let p = party
        let c = config
        let f = p.fixedPoint.fractionalBits
        let (dim, heads, kvHeads, headDim, ffn, vocab) =
            (c.hiddenSize, c.numAttentionHeads, c.numKeyValueHeads, c.headDim, c.intermediateSize, c.vocabSize)
        let (qDim, kvDim) = (heads * headDim, kvHeads * headDim)
        let start = length
        let total = start + t
        precondition(total <= c.maxPositionEmbeddings, "context overflow")

        // embed: one-hot rows (shared by the client) × embedding matrix; integers, so no truncation.
        var x = p.scope("embedding") {
            let onehot = p.input(from: .client, count: t * vocab)
            return p.matmul(onehot, embedding, m: t, k: vocab, n: dim)
        }
        for (l, w) in layers.enumerated() {
            // attention: RMSNorm → q/k/v → RoPE → grouped-query causal attention → o_proj → residual
            let h = NonLinear.rmsNorm(p, x, weight: w.inputNorm, dim: dim, eps: c.rmsNormEps)
            let qkv = p.scope("qkv_proj") {
                p.truncate(p.matmul(h, w.wqkv, m: t, k: dim, n: qDim + 2 * kvDim, transposeY: true), bits: f)
            }
            let width = qDim + 2 * kvDim
            let q = qkv.gather((0..<t).flatMap { r in (0..<qDim).map { r * width + $0 } })
            let k = qkv.gather((0..<t).flatMap { r in (0..<kvDim).map { r * width + qDim + $0 } })
            let v = qkv.gather((0..<t).flatMap { r in (0..<kvDim).map { r * width + qDim + kvDim + $0 } })
            let (qRotated, kRotated) = p.scope("rope") { applyRope(q: q, k: k, start: start, count: t) }
            cacheKeys[l] = ArithmeticShares.concatenate([cacheKeys[l], kRotated])
            cacheValues[l] = ArithmeticShares.concatenate([cacheValues[l], v])
            let attention = attend(q: qRotated, keys: cacheKeys[l], values: cacheValues[l], start: start, count: t)
            let o = p.scope("o_proj") {
                p.truncate(p.matmul(attention, w.wo, m: t, k: qDim, n: dim, transposeY: true), bits: f)
            }
            x = p.add(x, o)

            // mlp: RMSNorm → SiLU(gate)·up → down → residual
            let h2 = NonLinear.rmsNorm(p, x, weight: w.postAttentionNorm, dim: dim, eps: c.rmsNormEps)
            let gateUp = p.scope("gate_up_proj") {
                p.truncate(p.matmul(h2, w.wGateUp, m: t, k: dim, n: 2 * ffn, transposeY: true), bits: f)
            }
            let gate = gateUp.gather((0..<t).flatMap { r in (0..<ffn).map { r * 2 * ffn + $0 } })
            let up = gateUp.gather((0..<t).flatMap { r in (0..<ffn).map { r * 2 * ffn + ffn + $0 } })
            let act = p.scope("silu_mul") { p.mulFixed(NonLinear.silu(p, gate, method: siluMethod), up) }
            let down = p.scope("down_proj") {
                p.truncate(p.matmul(act, w.wDown, m: t, k: ffn, n: dim, transposeY: true), bits: f)
            }
            x = p.add(x, down)
        }
        length = total
        // final norm → logits, for the last position only
        let last = x.slice(((t - 1) * dim)..<(t * dim))
        let normed = NonLinear.rmsNorm(p, last, weight: finalNorm, dim: dim, eps: c.rmsNormEps)
        var logits = p.scope("logits") {
            p.truncate(p.matmul(normed, lmHead, m: 1, k: dim, n: vocab, transposeY: true), bits: f)
        }
        if options.revealLogits { p.scope("output") { p.revealToClient(logits) } }
        // Gumbel-max sampling: the client's secret noise is added to logits / T.
        if options.temperature > 0 {
            logits = p.scope("sample") {
                let noise = p.input(from: .client, count: vocab)
                return p.add(p.mulPublicFixed(logits, 1 / options.temperature), noise)
            }
        }
        let (_, index) = p.argmax(logits, rows: 1, cols: vocab)
        p.scope("output") { p.revealToClient(index) }
    }

    /// RoPE with public tables: x·cos + rotate_half(x)·sin, one truncation. The query tables carry
    /// the attention scale 1/√headDim, so the scores need no extra step.
    func applyRope(q: ArithmeticShares, k: ArithmeticShares, start: Int, count t: Int) -> (ArithmeticShares, ArithmeticShares) {
        let p = party
        let fp = p.fixedPoint
        let half = rope.halfDim
        let headDim = config.headDim
        let scale = 1 / Double(headDim).squareRoot()
        func tables(_ heads: Int, _ s: Double) -> (perm: [Int], cos: [UInt64], sin: [UInt64]) {
            var perm: [Int] = [], cos: [UInt64] = [], sin: [UInt64] = []
            for r in 0..<t {
                let base = (start + r) * half
                for h in 0..<heads {
                    for i in 0..<headDim {
                        let o = (r * heads + h) * headDim
                        let pair = i < half ? i + half : i - half
                        perm.append(o + pair)
                        cos.append(fp.encode(Double(rope.cos[base + i % half]) * s))
                        let sign: Double = i < half ? -1 : 1
                        sin.append(fp.encode(sign * Double(rope.sin[base + i % half]) * s))
                    }
                }
            }
            return (perm, cos, sin)
        }
        let tq = tables(config.numAttentionHeads, scale), tk = tables(config.numKeyValueHeads, 1)
        let rotatedQ = p.add(p.mulPublic(q, tq.cos), p.mulPublic(q.gather(tq.perm), tq.sin))
        let rotatedK = p.add(p.mulPublic(k, tk.cos), p.mulPublic(k.gather(tk.perm), tk.sin))
        let both = p.truncate(ArithmeticShares.concatenate([rotatedQ, rotatedK]), bits: fp.fractionalBits)
        return (both.slice(0..<q.count), both.slice(q.count..<both.count))
    }

    /// softmax(q·kᵀ)·v per head over the cache, causal: new row r sees positions 0…start + r.
    func attend(q: ArithmeticShares, keys: ArithmeticShares, values: ArithmeticShares, start: Int, count t: Int) -> ArithmeticShares {
        let p = party
        let f = p.fixedPoint.fractionalBits
        let (heads, kvHeads, headDim) = (config.numAttentionHeads, config.numKeyValueHeads, config.headDim)
        let group = heads / kvHeads
        let (qDim, kvDim) = (heads * headDim, kvHeads * headDim)
        let total = start + t
        let qHeads = (0..<heads).map { h in q.gather((0..<t).flatMap { r in (0..<headDim).map { r * qDim + h * headDim + $0 } }) }
        let kHeads = (0..<kvHeads).map { g in keys.gather((0..<total).flatMap { r in (0..<headDim).map { r * kvDim + g * headDim + $0 } }) }
        let vHeads = (0..<kvHeads).map { g in values.gather((0..<total).flatMap { r in (0..<headDim).map { r * kvDim + g * headDim + $0 } }) }
        // scores [heads][t × total]
        let scores = p.scope("attention_scores") {
            p.truncate(ArithmeticShares.concatenate(
                p.matmul((0..<heads).map { (qHeads[$0], kHeads[$0 / group]) }, m: t, k: headDim, n: total, transposeY: true)), bits: f)
        }
        // Causal mask: keep row r's first start + r + 1 scores (public positions, never exponentiated).
        var kept: [Int] = [], lengths: [Int] = []
        for h in 0..<heads {
            for r in 0..<t {
                let visible = start + r + 1
                kept += (0..<visible).map { h * t * total + r * total + $0 }
                lengths.append(visible)
            }
        }
        let probabilities = NonLinear.softmax(p, scores.gather(kept), lengths: lengths)
        // Back to [heads][t × total] with public zeros at the masked places.
        var position = [Int](repeating: probabilities.count, count: heads * t * total)
        for (i, index) in kept.enumerated() { position[index] = i }
        let full = ArithmeticShares.concatenate([probabilities, p.publicShares([0])]).gather(position)
        return p.scope("attention_values") {
            let perHead = p.matmul((0..<heads).map { h in (full.slice((h * t * total)..<((h + 1) * t * total)), vHeads[h / group]) },
                                   m: t, k: total, n: headDim)
            let joined = p.truncate(ArithmeticShares.concatenate(perHead), bits: f)
            // [heads][t × headDim] → [t × heads·headDim]
            return joined.gather((0..<t).flatMap { r in (0..<heads).flatMap { h in (0..<headDim).map { h * t * headDim + r * headDim + $0 } } })
        }
    }
}
