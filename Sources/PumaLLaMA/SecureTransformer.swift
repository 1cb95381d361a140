import PumaCore
import PumaIO
import PumaMPC
import PumaNN

/// The model owner's side of the shared weights: its tensors under the numbers `SharedModelLayout`
/// gives them (the parties see only that numbering and the shapes, and receive their components
/// through their `WeightShareStorage`); `encode` reads the memory-mapped checkpoint per block.
final class OwnerWeights: PlainTensorSource, @unchecked Sendable {
    let layout: SharedModelLayout
    let fractionalBits: Int
    /// Keeps the checkpoint mapped; `views` (matrices) and `vectors` (encoded norms) are what the
    /// hot path reads, indexed by tensor number.
    private let mappings: [MappedTensor]
    private let views: [MappedTensorView?]
    private let vectors: [[UInt64]?]

    init(weights w: LlamaWeights, config c: LlamaConfiguration, fixedPoint: FixedPoint) {
        fractionalBits = fixedPoint.fractionalBits
        layout = SharedModelLayout(config: c)
        var matrices: [Int: MappedTensor] = [:], norms: [Int: [Float]] = [:]
        func assign(_ m: SharedMatrix, _ tensors: [MappedTensor]) {
            for (part, tensor) in zip(m.parts, tensors) { matrices[part.tensor] = tensor }
        }
        assign(layout.embedding, [w.embedding])
        for (shared, weights) in zip(layout.layers, w.layers) {
            norms[shared.inputNorm] = weights.inputNorm
            assign(shared.qkv, [weights.wq, weights.wk, weights.wv])
            assign(shared.o, [weights.wo])
            norms[shared.postAttentionNorm] = weights.postAttentionNorm
            assign(shared.gateUp, [weights.wGate, weights.wUp])
            assign(shared.down, [weights.wDown])
        }
        norms[layout.finalNorm] = w.finalNorm
        assign(layout.lmHead, [w.lmHead])
        let count = matrices.count + norms.count
        mappings = Array(matrices.values)
        views = (0..<count).map { matrices[$0]?.view }
        vectors = (0..<count).map { norms[$0].map(fixedPoint.encode) }
    }

    func encode(tensor: Int, offset: Int, count: Int, subtracting: (UnsafePointer<UInt64>, UnsafePointer<UInt64>),
                into out: UnsafeMutablePointer<UInt64>) {
        if let view = views[tensor] {
            view.encode(offset: offset, count: count, fractionalBits: fractionalBits, subtracting: subtracting, into: out)
        } else {
            let v = vectors[tensor]!
            for i in 0..<count { out[i] = v[offset + i] &- subtracting.0[i] &- subtracting.1[i] }
        }
    }

    func prefetch(tensor: Int, offset: Int, count: Int) {
        views[tensor]?.prefetch(offset: offset, count: count)
    }

    func release(tensor: Int) {
        views[tensor]?.releaseResidentPages()
    }
}

/// Which shared tensor is which (numbered 0, 1, … in model order): public, derived from the
/// configuration alone. Projections that read the same input are stacked (q/k/v, gate/up) so each
/// costs one round and one truncation.
struct SharedModelLayout: Sendable {
    struct Layer: Sendable {
        var inputNorm: Int
        /// [(heads + 2·kvHeads)·headDim, dim]: q, k and v stacked.
        var qkv: SharedMatrix
        /// [dim, heads·headDim]
        var o: SharedMatrix
        var postAttentionNorm: Int
        /// [2·ffn, dim]: gate and up stacked.
        var gateUp: SharedMatrix
        /// [dim, ffn]
        var down: SharedMatrix
    }

    /// [vocab, dim], used as X · E.
    let embedding: SharedMatrix
    let layers: [Layer]
    let finalNorm: Int
    /// [vocab, dim]
    let lmHead: SharedMatrix
    /// Elements of all shared tensors.
    let parameters: Int

    init(config c: LlamaConfiguration) {
        let (d, f, v) = (c.hiddenSize, c.intermediateSize, c.vocabSize)
        let (q, kv) = (c.numAttentionHeads * c.headDim, c.numKeyValueHeads * c.headDim)
        embedding = SharedMatrix(parts: [.init(tensor: 0, rows: v)], columns: d)
        layers = (0..<c.numHiddenLayers).map { l in
            let b = 1 + 9 * l
            return Layer(inputNorm: b,
                         qkv: SharedMatrix(parts: [.init(tensor: b + 1, rows: q), .init(tensor: b + 2, rows: kv), .init(tensor: b + 3, rows: kv)], columns: d),
                         o: SharedMatrix(parts: [.init(tensor: b + 4, rows: d)], columns: q),
                         postAttentionNorm: b + 5,
                         gateUp: SharedMatrix(parts: [.init(tensor: b + 6, rows: f), .init(tensor: b + 7, rows: f)], columns: d),
                         down: SharedMatrix(parts: [.init(tensor: b + 8, rows: d)], columns: f))
        }
        finalNorm = 1 + 9 * c.numHiddenLayers
        lmHead = SharedMatrix(parts: [.init(tensor: finalNorm + 1, rows: v)], columns: d)
        parameters = embedding.count + lmHead.count + d
            + layers.reduce(0) { $0 + 2 * d + $1.qkv.count + $1.o.count + $1.gateUp.count + $1.down.count }
    }
}

/// Party i's side of the secure LLaMA: its weight-share storage, its secret-shared KV cache, and
/// the forward pass, step for step the plaintext `PlainTransformer` under the same names.
final class SecureTransformerParty: @unchecked Sendable {
    let party: Party
    let config: LlamaConfiguration
    let siluMethod: NonLinear.SiLUMethod
    let model: SharedModelLayout
    /// This party's storage of its two weight components, read tile by tile during each product.
    let storage: WeightShareStorage
    /// Shares of the norm weights (small: fetched once).
    var inputNorms: [ArithmeticShares] = [], postAttentionNorms: [ArithmeticShares] = []
    var finalNorm: ArithmeticShares!
    /// Per layer, keys and values of every processed position: [position × kvHeads·headDim], grown in place.
    var cacheKeys: [ArithmeticShares]
    var cacheValues: [ArithmeticShares]
    var length = 0
    /// Public RoPE tables: cos and sin per position.
    let rope: RotaryTables
    /// Called by P0 after each layer of a pass with the number of layers done.
    var progress: (@Sendable (Int) -> Void)?

    init(party: Party, config: LlamaConfiguration, model: SharedModelLayout, storage: WeightShareStorage, siluMethod: NonLinear.SiLUMethod) {
        self.party = party
        self.config = config
        self.model = model
        self.storage = storage
        self.siluMethod = siluMethod
        rope = RotaryTables(headDim: config.headDim, theta: config.ropeTheta)
        let empty = ArithmeticShares(first: [], second: [])
        cacheKeys = Array(repeating: empty, count: config.numHiddenLayers)
        cacheValues = cacheKeys
    }

    /// The one-time sharing: in a deployment the owner sends x2 to P1 and P2 (one round, 8 bytes per
    /// parameter each), who keep it on disk; the ledger records it so. Norm weights are then read once.
    func receiveWeights() {
        party.scope("weights") {
            party.ledger.recordRound(bytesSent: 0, bytesReceived: party.id == 0 ? 0 : 8 * model.parameters)
            let dim = config.hiddenSize
            inputNorms = model.layers.map { storage.shares(tensor: $0.inputNorm, count: dim) }
            postAttentionNorms = model.layers.map { storage.shares(tensor: $0.postAttentionNorm, count: dim) }
            finalNorm = storage.shares(tensor: model.finalNorm, count: dim)
        }
    }

    /// What the client learns from one forward pass.
    struct Options {
        var temperature: Double = 0
        /// Also open the last position's logits to the client (diagnostics: `--mode compare`).
        var revealLogits = false
        /// The next token is chosen among ids below this.
        var choosable: Int
    }

    /// Processes `count` new tokens (their one-hot rows come from the client) at the next cache
    /// positions and opens to the client only the index of the chosen next token.
    func forward(count t: Int, options: Options) {
        let p = party
        let c = config
        let f = p.fixedPoint.fractionalBits
        let (dim, vocab) = (c.hiddenSize, c.vocabSize)
        precondition(length + t <= c.maxPositionEmbeddings, "context overflow")
        let layout = PassLayout(config: c, rope: rope, fixedPoint: p.fixedPoint, start: length, count: t)

        // embed: one-hot rows (shared by the client) × embedding matrix; integers, so no truncation.
        var x = p.scope("embedding") {
            let onehot = p.input(from: .client, count: t * vocab)
            return p.matmul(onehot, weights: model.embedding, layout: .inputRows, storage: storage, m: t)
        }
        for (l, w) in model.layers.enumerated() {
            // attention: RMSNorm → q/k/v → RoPE → grouped-query causal attention → o_proj → residual
            let h = NonLinear.rmsNorm(p, x, weight: inputNorms[l], dim: dim, eps: c.rmsNormEps)
            let qkv = p.scope("qkv_proj") {
                p.truncate(p.matmul(h, weights: w.qkv, layout: .outputRows, storage: storage, m: t), bits: f)
            }
            let (q, k) = p.scope("rope") { applyRope(q: qkv.gather(layout.qColumns), k: qkv.gather(layout.kColumns), layout) }
            cacheKeys[l].append(k)
            cacheValues[l].append(qkv.gather(layout.vColumns))
            let attention = attend(q: q, keys: cacheKeys[l], values: cacheValues[l], layout)
            let o = p.scope("o_proj") {
                p.truncate(p.matmul(attention, weights: w.o, layout: .outputRows, storage: storage, m: t), bits: f)
            }
            x = p.add(x, o)

            // mlp: RMSNorm → SiLU(gate)·up → down → residual
            let h2 = NonLinear.rmsNorm(p, x, weight: postAttentionNorms[l], dim: dim, eps: c.rmsNormEps)
            let gateUp = p.scope("gate_up_proj") {
                p.truncate(p.matmul(h2, weights: w.gateUp, layout: .outputRows, storage: storage, m: t), bits: f)
            }
            let act = p.scope("silu_mul") {
                p.mulFixed(NonLinear.silu(p, gateUp.gather(layout.gateColumns), method: siluMethod), gateUp.gather(layout.upColumns))
            }
            let down = p.scope("down_proj") {
                p.truncate(p.matmul(act, weights: w.down, layout: .outputRows, storage: storage, m: t), bits: f)
            }
            x = p.add(x, down)
            if p.id == 0 { progress?(l + 1) }
        }
        length += t
        // final norm → logits, for the last position only
        let last = x.slice(((t - 1) * dim)..<(t * dim))
        let normed = NonLinear.rmsNorm(p, last, weight: finalNorm, dim: dim, eps: c.rmsNormEps)
        var logits = p.scope("logits") {
            p.truncate(p.matmul(normed, weights: model.lmHead, layout: .outputRows, storage: storage, m: 1), bits: f)
        }
        if options.revealLogits { p.scope("output") { p.revealToClient(logits) } }
        let n = options.choosable
        if n < vocab { logits = logits.slice(0..<n) }
        // Gumbel-max sampling: the client's secret noise is added to logits / T.
        if options.temperature > 0 {
            logits = p.scope("sample") {
                let noise = p.input(from: .client, count: n)
                return GumbelMax.perturb(p, logits: logits, noise: noise, temperature: options.temperature)
            }
        }
        let (_, index) = p.argmax(logits, rows: 1, cols: n)
        p.scope("output") { p.revealToClient(index) }
    }

    /// RoPE with public tables: x·cos + rotate_half(x)·sin, one truncation for q and k together.
    func applyRope(q: ArithmeticShares, k: ArithmeticShares, _ layout: PassLayout) -> (ArithmeticShares, ArithmeticShares) {
        let p = party
        let (tq, tk) = (layout.queryRope, layout.keyRope)
        let rotatedQ = p.add(p.mulPublic(q, tq.cos), p.mulPublic(q.gather(tq.partner), tq.sin))
        let rotatedK = p.add(p.mulPublic(k, tk.cos), p.mulPublic(k.gather(tk.partner), tk.sin))
        let both = p.truncate(ArithmeticShares.concatenate([rotatedQ, rotatedK]), bits: p.fixedPoint.fractionalBits)
        return (both.slice(0..<q.count), both.slice(q.count..<both.count))
    }

    /// softmax(q·kᵀ)·v per head over the cache, causal: new row r sees positions 0…start + r.
    func attend(q: ArithmeticShares, keys: ArithmeticShares, values: ArithmeticShares, _ layout: PassLayout) -> ArithmeticShares {
        let p = party
        let f = p.fixedPoint.fractionalBits
        let (heads, group, headDim) = (config.numAttentionHeads, config.numAttentionHeads / config.numKeyValueHeads, config.headDim)
        let (t, total) = (layout.count, layout.total)
        let qHeads = layout.queryHeads.map { q.gather($0) }
        let kHeads = layout.cacheHeads.map { keys.gather($0) }
        let vHeads = layout.cacheHeads.map { values.gather($0) }
        // scores [heads][t × total]
        let scores = p.scope("attention_scores") {
            p.truncate(ArithmeticShares.concatenate(
                p.matmul((0..<heads).map { (qHeads[$0], kHeads[$0 / group]) }, m: t, k: headDim, n: total, transposeY: true)), bits: f)
        }
        // Causal mask: only the visible scores are exponentiated; masked places become public zeros.
        let probabilities = NonLinear.softmax(p, scores.gather(layout.visibleScores), lengths: layout.visibleLengths)
        let full = ArithmeticShares.concatenate([probabilities, p.publicShares([0])]).gather(layout.scatterProbabilities)
        return p.scope("attention_values") {
            let perHead = p.matmul((0..<heads).map { h in (full.slice((h * t * total)..<((h + 1) * t * total)), vHeads[h / group]) },
                                   m: t, k: total, n: headDim)
            return p.truncate(ArithmeticShares.concatenate(perHead), bits: f).gather(layout.mergeHeads)
        }
    }
}

/// The public index maps and tables of one forward pass over `count` new tokens after `start`
/// cached ones. They are the same for every layer, so a pass builds them once.
struct PassLayout {
    /// cos, sin (sign of rotate_half folded in) and the partner element of each q or k element.
    struct RopeTables {
        var partner: [Int] = []
        var cos: [UInt64] = []
        var sin: [UInt64] = []
    }

    let count: Int
    let total: Int
    /// Columns of q, k, v in the stacked qkv projection, and of gate and up in gate_up; row-major over tokens.
    let qColumns, kColumns, vColumns, gateColumns, upColumns: [Int]
    /// The query's tables carry the attention scale 1/√headDim, so scores need no extra step.
    let queryRope, keyRope: RopeTables
    /// Per query head: its [count × headDim] block of q. Per kv head: its [total × headDim] block of the cache.
    let queryHeads, cacheHeads: [[Int]]
    /// Causal mask: the visible scores of [heads][count × total], row lengths, the way back (masked
    /// places point past the end, at a public zero), and [heads][count × headDim] → [count × heads·headDim].
    let visibleScores, visibleLengths, scatterProbabilities, mergeHeads: [Int]

    init(config c: LlamaConfiguration, rope: RotaryTables, fixedPoint fp: FixedPoint, start: Int, count t: Int) {
        let (heads, kvHeads, headDim, ffn) = (c.numAttentionHeads, c.numKeyValueHeads, c.headDim, c.intermediateSize)
        let (qDim, kvDim) = (heads * headDim, kvHeads * headDim)
        let total = start + t
        count = t
        self.total = total
        func columns(width: Int, offset: Int, count n: Int) -> [Int] {
            (0..<t).flatMap { r in (0..<n).map { r * width + offset + $0 } }
        }
        let qkvWidth = qDim + 2 * kvDim
        qColumns = columns(width: qkvWidth, offset: 0, count: qDim)
        kColumns = columns(width: qkvWidth, offset: qDim, count: kvDim)
        vColumns = columns(width: qkvWidth, offset: qDim + kvDim, count: kvDim)
        gateColumns = columns(width: 2 * ffn, offset: 0, count: ffn)
        upColumns = columns(width: 2 * ffn, offset: ffn, count: ffn)

        let half = rope.halfDim
        func tables(_ headCount: Int, scale: Double) -> RopeTables {
            var out = RopeTables()
            for r in 0..<t {
                let (cos, sin) = rope.angles(position: start + r)
                for h in 0..<headCount {
                    for i in 0..<headDim {
                        out.partner.append((r * headCount + h) * headDim + (i < half ? i + half : i - half))
                        out.cos.append(fp.encode(Double(cos[i % half]) * scale))
                        out.sin.append(fp.encode((i < half ? -1 : 1) * Double(sin[i % half]) * scale))
                    }
                }
            }
            return out
        }
        queryRope = tables(heads, scale: 1 / Double(headDim).squareRoot())
        keyRope = tables(kvHeads, scale: 1)

        queryHeads = (0..<heads).map { h in columns(width: qDim, offset: h * headDim, count: headDim) }
        cacheHeads = (0..<kvHeads).map { g in (0..<total).flatMap { r in (0..<headDim).map { r * kvDim + g * headDim + $0 } } }
        var visible: [Int] = [], lengths: [Int] = []
        for h in 0..<heads {
            for r in 0..<t {
                visible += (0..<(start + r + 1)).map { h * t * total + r * total + $0 }
                lengths.append(start + r + 1)
            }
        }
        var scatter = [Int](repeating: visible.count, count: heads * t * total)
        for (i, index) in visible.enumerated() { scatter[index] = i }
        visibleScores = visible
        visibleLengths = lengths
        scatterProbabilities = scatter
        mergeHeads = (0..<t).flatMap { r in (0..<heads).flatMap { h in (0..<headDim).map { h * t * headDim + r * headDim + $0 } } }
    }
}
