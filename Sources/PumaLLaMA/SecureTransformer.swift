import CPumaKernels
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
    /// Keeps the checkpoint mapped; `views` are what the hot path reads, indexed by tensor number.
    private let mappings: [MappedTensor]
    private let views: [MappedTensorView]
    /// Per tensor that an RMSNorm feeds (q, k, v; gate, up; lm_head): the norm's weights times 2^f,
    /// one per column. The owner folds each norm's weight into the matrices after it (W·diag(w)),
    /// so the parties' RMSNorm has no weight product to pay for.
    private let columnScales: [Int: [Double]]

    init(weights w: LlamaWeights, config c: LlamaConfiguration, fixedPoint: FixedPoint) {
        fractionalBits = fixedPoint.fractionalBits
        layout = SharedModelLayout(config: c)
        let shared = LlamaTensorTable(c).shared
        var scales: [Int: [Double]] = [:]
        mappings = shared.map { w.matrix($0.name)! }
        for entry in shared {
            if case .shared(let number, let norm?) = entry.role {
                scales[number] = w.norm(norm)!.map { Double($0) * Double(UInt64(1) << UInt64(fixedPoint.fractionalBits)) }
            }
        }
        views = mappings.map(\.view)
        columnScales = scales
    }

    func encode(tensor: Int, offset: Int, count: Int, subtracting: (UnsafePointer<UInt64>, UnsafePointer<UInt64>),
                into out: UnsafeMutablePointer<UInt64>) {
        guard let scales = columnScales[tensor] else {
            views[tensor].encode(offset: offset, count: count, fractionalBits: fractionalBits, subtracting: subtracting, into: out)
            return
        }
        // Row segment by row segment, each element times its column's scale.
        scales.withUnsafeBufferPointer { scale in
            var done = 0
            while done < count {
                let column = (offset + done) % scale.count
                let length = Swift.min(count - done, scale.count - column)
                views[tensor].encode(offset: offset + done, count: length, scales: scale.baseAddress! + column,
                                     subtracting: (subtracting.0 + done, subtracting.1 + done), into: out + done)
                done += length
            }
        }
    }

    func prefetch(tensor: Int, offset: Int, count: Int) {
        views[tensor].prefetch(offset: offset, count: count)
    }

    func release(tensor: Int) {
        views[tensor].releaseResidentPages()
    }
}

/// Which shared tensor is which (numbered as `LlamaTensorTable` numbers them): public, derived from the
/// configuration alone. Projections that read the same input are stacked (q/k/v, gate/up) so each
/// costs one round and one truncation.
struct SharedModelLayout: Sendable {
    struct Layer: Sendable {
        /// [(heads + 2·kvHeads)·headDim, dim]: q, k and v stacked (the input norm's weight folded in).
        var qkv: SharedMatrix
        /// [dim, heads·headDim]
        var o: SharedMatrix
        /// [2·ffn, dim]: gate and up stacked (the post-attention norm's weight folded in).
        var gateUp: SharedMatrix
        /// [dim, ffn]
        var down: SharedMatrix
    }

    /// [vocab, dim], used as X · E.
    let embedding: SharedMatrix
    let layers: [Layer]
    /// [vocab, dim] (the final norm's weight folded in)
    let lmHead: SharedMatrix
    /// Elements of all shared tensors.
    let parameters: Int

    init(config c: LlamaConfiguration) {
        let table = LlamaTensorTable(c)
        func matrix(_ names: [String]) -> SharedMatrix {
            let entries = names.map { table[$0]! }
            return SharedMatrix(parts: entries.map { .init(tensor: table.number($0.name), rows: $0.shape[0]) }, columns: entries[0].shape[1])
        }
        embedding = matrix(["model.embed_tokens.weight"])
        layers = (0..<c.numHiddenLayers).map { l in
            let p = "model.layers.\(l)."
            return Layer(qkv: matrix(["q_proj", "k_proj", "v_proj"].map { p + "self_attn.\($0).weight" }),
                         o: matrix([p + "self_attn.o_proj.weight"]),
                         gateUp: matrix([p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"]),
                         down: matrix([p + "mlp.down_proj.weight"]))
        }
        lmHead = matrix(["lm_head.weight"])
        parameters = table.shared.reduce(0) { $0 + $1.count }
    }
}

/// What the fixed-point transformer needs besides arithmetic: the owner's weights and the client's
/// inputs and outputs. On shares (`PartyIO`) a party streams its weight components from its storage
/// and exchanges inputs and outputs with the client over the network; in the clear (`CleartextIO`)
/// they are the encoded values themselves.
protocol TransformerIO: AnyObject {
    associatedtype Backend: FixedPointBackend
    var backend: Backend { get }
    /// X[m×k] · W (`.inputRows`) or X · Wᵀ (`.outputRows`) for one of the owner's matrices, then the
    /// public linear map `then` (if any) on the untruncated product, truncated by `bits` when given
    /// (fused with the product on shares: each party applies the map to its additive share).
    func weightProduct(_ x: Backend.Value, _ w: SharedMatrix, layout: Party.WeightLayout, m: Int, truncatingBy bits: Int?,
                       then map: PublicLinearMap?) -> Backend.Value
    /// The same product truncated by each of `bits` (on shares from one opening).
    func weightProduct(_ x: Backend.Value, _ w: SharedMatrix, layout: Party.WeightLayout, m: Int, truncatingEachBy bits: [Int]) -> [Backend.Value]
    /// The client's next input, `count` elements.
    func clientInput(count: Int) -> Backend.Value
    /// Opens x to the client (and to nobody else).
    func openToClient(_ x: Backend.Value)
}

/// Party i's side of the secure LLaMA: the party, its storage of its two weight components (read
/// tile by tile during each product), and the client on the other end of its transport.
final class PartyIO: TransformerIO, @unchecked Sendable {
    let party: Party
    let storage: WeightShareStorage

    init(party: Party, storage: WeightShareStorage) {
        self.party = party
        self.storage = storage
    }

    var backend: Party { party }

    func weightProduct(_ x: ArithmeticShares, _ w: SharedMatrix, layout: Party.WeightLayout, m: Int, truncatingBy bits: Int?,
                       then map: PublicLinearMap?) -> ArithmeticShares {
        party.matmul(x, weights: w, layout: layout, storage: storage, m: m, truncatingBy: bits, then: map.map { map in { map.apply($0) } })
    }

    func weightProduct(_ x: ArithmeticShares, _ w: SharedMatrix, layout: Party.WeightLayout, m: Int, truncatingEachBy bits: [Int]) -> [ArithmeticShares] {
        party.matmul(x, weights: w, layout: layout, storage: storage, m: m, truncatingEachBy: bits)
    }

    func clientInput(count: Int) -> ArithmeticShares { party.input(from: .client, count: count) }
    func openToClient(_ x: ArithmeticShares) { party.revealToClient(x) }
}

/// The same transformer in the clear on ring values (`CleartextBackend`, with its `RangeMonitor`):
/// the owner's tensors encoded block by block, the client's inputs queued before a pass and the
/// opened values collected after it. For `--mode compare`: float ↔ cleartext ↔ secure.
final class CleartextIO: TransformerIO, @unchecked Sendable {
    let backend: CleartextBackend
    let owner: OwnerWeights
    /// Inputs the next pass reads, in order.
    var inputs: [[UInt64]] = []
    /// Values opened to the client, in order.
    var opened: [[UInt64]] = []

    init(owner: OwnerWeights, monitor: RangeMonitor) {
        self.owner = owner
        backend = CleartextBackend(fixedPoint: FixedPoint(fractionalBits: owner.fractionalBits), monitor: monitor)
    }

    /// Zeros to subtract when encoding (the owner's encoder also derives shares; here nothing is
    /// subtracted), grown to the largest block encoded so far.
    private var zeros: [UInt64] = []

    /// Encodes rows [r0, r1) of a tensor with `columns` columns into `out`.
    private func encode(tensor: Int, rows: Range<Int>, columns: Int, into out: UnsafeMutablePointer<UInt64>) {
        let n = rows.count * columns
        if zeros.count < n { zeros = [UInt64](repeating: 0, count: n) }
        zeros.withUnsafeBufferPointer { z in
            owner.encode(tensor: tensor, offset: rows.lowerBound * columns, count: n, subtracting: (z.baseAddress!, z.baseAddress!), into: out)
        }
    }

    func weightProduct(_ x: [UInt64], _ w: SharedMatrix, layout: Party.WeightLayout, m: Int, truncatingBy bits: Int?,
                       then map: PublicLinearMap?) -> [UInt64] {
        let (k, n) = layout == .outputRows ? (w.columns, w.rows) : (w.rows, w.columns)
        var z = [UInt64](repeating: 0, count: m * n)
        let blockRows = 256
        var block = [UInt64](repeating: 0, count: blockRows * w.columns)
        x.withUnsafeBufferPointer { xp in
            z.withUnsafeMutableBufferPointer { zp in
                block.withUnsafeMutableBufferPointer { bp in
                    var rowOffset = 0
                    for part in w.parts {
                        for r0 in stride(from: 0, to: part.rows, by: blockRows) {
                            let r1 = min(part.rows, r0 + blockRows)
                            encode(tensor: part.tensor, rows: r0..<r1, columns: w.columns, into: bp.baseAddress!)
                            switch layout {
                            case .outputRows:  // Z[:, rows] += X · blockᵀ
                                puma_ring_gemm_nt(xp.baseAddress!, k, bp.baseAddress!, w.columns, zp.baseAddress! + rowOffset + r0, n, m, r1 - r0, k)
                            case .inputRows:   // Z += X[:, rows] · block
                                puma_ring_gemm_nn(xp.baseAddress! + r0, k, bp.baseAddress!, w.columns, zp.baseAddress!, n, m, n, r1 - r0)
                            }
                        }
                        rowOffset += part.rows
                    }
                }
            }
        }
        if let map {  // through the backend, so the monitor checks its products and sums
            z = backend.add(backend.mulPublic(z, map.factor), backend.mulPublic(backend.gather(z, map.partner), map.partnerFactor))
        }
        return bits.map { backend.truncate(z, bits: $0) } ?? z
    }

    func weightProduct(_ x: [UInt64], _ w: SharedMatrix, layout: Party.WeightLayout, m: Int, truncatingEachBy bits: [Int]) -> [[UInt64]] {
        let z = weightProduct(x, w, layout: layout, m: m, truncatingBy: nil, then: nil)
        return bits.map { backend.truncate(z, bits: $0) }
    }

    func clientInput(count: Int) -> [UInt64] {
        let input = inputs.removeFirst()
        precondition(input.count == count, "cleartext transformer: input of \(input.count) elements, \(count) expected")
        return input
    }

    func openToClient(_ x: [UInt64]) { opened.append(x) }
}

/// The LLaMA forward pass in fixed point, written once over `TransformerIO`: step for step the
/// plaintext `PlainTransformer` under the same names, with a KV cache in the backend's values.
/// On shares it is party i's side of the secure LLaMA; in the clear, its exact cleartext twin.
final class FixedPointTransformer<IO: TransformerIO>: @unchecked Sendable {
    typealias Value = IO.Backend.Value
    let io: IO
    let b: IO.Backend
    let config: LlamaConfiguration
    let siluMethod: NonLinear.SiLUMethod
    let model: SharedModelLayout
    /// Per layer, keys and values of every processed position: [position × kvHeads·headDim].
    var cacheKeys: [Value]
    var cacheValues: [Value]
    var length = 0
    /// Public RoPE angles.
    let rope: RotaryTables
    /// Called after each layer of a pass with the number of layers done.
    var progress: (@Sendable (Int) -> Void)?

    init(io: IO, config: LlamaConfiguration, model: SharedModelLayout, siluMethod: NonLinear.SiLUMethod) {
        self.io = io
        b = io.backend
        self.config = config
        self.model = model
        self.siluMethod = siluMethod
        rope = RotaryTables(config: config)
        cacheKeys = Array(repeating: io.backend.constant([]), count: config.numHiddenLayers)
        cacheValues = cacheKeys
    }

    /// What the client learns from one forward pass.
    struct Options {
        var temperature: Double = 0
        /// Also open the last position's logits to the client (diagnostics: `--mode compare`).
        var revealLogits = false
        /// With `revealLogits`, open every new position's logits, [count × vocab] (evaluation).
        var allPositions = false
        /// Open each layer's `TraceStep` values to the client, in order (evaluation: `puma eval --trace`).
        var trace = false
        /// The next token is chosen among ids below this.
        var choosable: Int
    }

    /// Processes `count` new tokens (their one-hot rows come from the client) at the next cache
    /// positions and opens to the client only the index of the chosen next token.
    func forward(count t: Int, options: Options) {
        let c = config
        let f = b.fixedPoint.fractionalBits
        let (dim, vocab) = (c.hiddenSize, c.vocabSize)
        precondition(length + t <= c.maxPositionEmbeddings, "context overflow")
        let layout = PassLayout(config: c, fractionalBits: f, rope: rope, start: length, count: t)

        // embed: one-hot rows (shared by the client) × embedding matrix; integers, so no truncation.
        var x = b.scope("embedding") {
            io.weightProduct(io.clientInput(count: t * vocab), model.embedding, layout: .inputRows, m: t, truncatingBy: nil, then: nil)
        }
        // The residual stream x travels with xs = x / 2^s, what RMSNorm squares: each product added
        // to x is truncated by both amounts from one opening, so no norm truncates x itself.
        let s = NonLinear.rmsNormShift(dim: dim)
        var xs = b.scope("embedding") { b.truncate(x, bits: s) }
        func trace(_ v: Value) { if options.trace { b.scope("trace") { io.openToClient(v) } } }
        for (l, w) in model.layers.enumerated() {
            // attention: RMSNorm → q/k/v → RoPE → grouped-query causal attention → o_proj → residual
            let h = NonLinear.rmsNorm(b, x, scaled: xs, dim: dim, eps: c.rmsNormEps)
            trace(h)
            // RoPE (and the attention scale) rotate the untruncated q and k: one truncation for both.
            let qkv = b.scope("qkv_proj") {
                io.weightProduct(h, w.qkv, layout: .outputRows, m: t, truncatingBy: f + PassLayout.ropeBits, then: layout.rope)
            }
            b.append(&cacheKeys[l], b.gather(qkv, layout.kColumns))
            b.append(&cacheValues[l], b.gather(qkv, layout.vColumns))
            let attention = attend(q: b.gather(qkv, layout.qColumns), keys: cacheKeys[l], values: cacheValues[l], layout, trace: trace)
            let o = b.scope("o_proj") { io.weightProduct(attention, w.o, layout: .outputRows, m: t, truncatingEachBy: [f, f + s]) }
            x = b.add(x, o[0])
            xs = b.add(xs, o[1])
            trace(x)

            // mlp: RMSNorm → SiLU(gate)·up → down → residual
            let h2 = NonLinear.rmsNorm(b, x, scaled: xs, dim: dim, eps: c.rmsNormEps)
            trace(h2)
            // gate at f fractional bits, up at `upBits` (one truncation for both, gate's product scaled
            // up first); SiLU(gate)·up is then left untruncated at f + upBits bits for down_proj's truncation.
            let upBits = PassLayout.upBits
            let gateUp = b.scope("gate_up_proj") {
                io.weightProduct(h2, w.gateUp, layout: .outputRows, m: t, truncatingBy: 2 * f - upBits, then: layout.gateScale)
            }
            let act = b.scope("silu_mul") {
                b.mul(NonLinear.silu(b, b.gather(gateUp, layout.gateColumns), method: siluMethod), b.gather(gateUp, layout.upColumns))
            }
            if options.trace { trace(b.scope("trace") { b.truncate(act, bits: upBits) }) }
            let down = b.scope("down_proj") {
                io.weightProduct(act, w.down, layout: .outputRows, m: t, truncatingEachBy: [f + upBits, f + upBits + s])
            }
            x = b.add(x, down[0])
            xs = b.add(xs, down[1])
            trace(x)
            progress?(l + 1)
        }
        length += t
        // final norm → logits, for the last position only (all of them when evaluating)
        let rows = options.revealLogits && options.allPositions ? t : 1
        let lastRows = Array(((t - rows) * dim)..<(t * dim))
        let normed = NonLinear.rmsNorm(b, b.gather(x, lastRows), scaled: b.gather(xs, lastRows), dim: dim, eps: c.rmsNormEps)
        var logits = b.scope("logits") { io.weightProduct(normed, model.lmHead, layout: .outputRows, m: rows, truncatingBy: f, then: nil) }
        if options.revealLogits { b.scope("output") { io.openToClient(logits) } }
        if rows > 1 { logits = b.gather(logits, Array(((rows - 1) * vocab)..<(rows * vocab))) }
        let n = options.choosable
        if n < vocab { logits = b.gather(logits, Array(0..<n)) }
        // Gumbel-max sampling: the client's secret noise is added to logits / T.
        if options.temperature > 0 {
            logits = b.scope("sample") {
                GumbelMax.perturb(b, logits: logits, noise: io.clientInput(count: n), temperature: options.temperature)
            }
        }
        let (_, index) = b.argmax(logits, rows: 1, cols: n)
        b.scope("output") { io.openToClient(index) }
    }

    /// softmax(q·kᵀ)·v per head over the cache, causal: new row r sees positions 0…start + r.
    func attend(q: Value, keys: Value, values: Value, _ layout: PassLayout, trace: (Value) -> Void = { _ in }) -> Value {
        let f = b.fixedPoint.fractionalBits
        let (heads, group, headDim) = (config.numAttentionHeads, config.numAttentionHeads / config.numKeyValueHeads, config.headDim)
        let (t, total) = (layout.count, layout.total)
        let qHeads = layout.queryHeads.map { b.gather(q, $0) }
        let kHeads = layout.cacheHeads.map { b.gather(keys, $0) }
        let vHeads = layout.cacheHeads.map { b.gather(values, $0) }
        // scores [heads][t × total]
        let scores = b.scope("attention_scores") {
            b.concatenate(b.matmul((0..<heads).map { (qHeads[$0], kHeads[$0 / group]) }, m: t, k: headDim, n: total,
                                   transposeY: true, truncatingBy: f))
        }
        // Causal mask: only the visible scores are exponentiated; masked places become public zeros.
        let probabilities = NonLinear.softmax(b, b.gather(scores, layout.visibleScores), lengths: layout.visibleLengths)
        trace(probabilities)
        let full = b.gather(b.concatenate([probabilities, b.constant([0])]), layout.scatterProbabilities)
        return b.scope("attention_values") {
            let perHead = b.matmul((0..<heads).map { h in (b.part(full, h, of: t * total), vHeads[h / group]) },
                                   m: t, k: total, n: headDim, transposeY: false, truncatingBy: f)
            return b.gather(b.concatenate(perHead), layout.mergeHeads)
        }
    }
}

/// The public index maps and tables of one forward pass over `count` new tokens after `start`
/// cached ones. They are the same for every layer, so a pass builds them once.
struct PassLayout {
    /// Fractional bits of the RoPE coefficients: the rotated q, k (and v, scaled by 2^ropeBits to
    /// share the truncation) carry 2f + 16 bits before it, so |v| < 2^10, |k| < 2^9.5 and |q| < 2^13
    /// (q's coefficients carry 1/√headDim) keep it in range — far above LLaMA's q, k, v, and
    /// reported by the cleartext twin otherwise. Coefficient rounding: 2^−17, 1e−4 relative for q's.
    static let ropeBits = 16

    /// Fractional bits of up in the MLP: gate_up's product is truncated by 2f − upBits, gate's first
    /// scaled by 2^(f − upBits) (`gateScale`), so gate keeps f bits and up 12 (resolution 2.4e−4);
    /// SiLU(gate)·up then needs no truncation of its own (a reshare, 3 words, instead of 7.33) and
    /// carries f + 12 bits into down_proj, which truncates by f + 12: its outputs must stay below
    /// 2^(62 − 2f − 12) = 2^14 = 16,384 in magnitude (6× LLaMA-2-7B's largest activations, about
    /// 2,600; the cleartext twin reports any beyond).
    static let upBits = 12

    let count: Int
    let total: Int
    /// Columns of q, k, v in the stacked qkv projection, and of gate and up in gate_up; row-major over tokens.
    let qColumns, kColumns, vColumns, gateColumns, upColumns: [Int]
    /// RoPE on the stacked qkv product (x·cos + rotate_half(x)·sin on q and k, ×1 on v), coefficients
    /// at `ropeBits`; the query's carry the attention scale 1/√headDim, so scores need no extra step.
    let rope: PublicLinearMap
    /// gate's columns of the stacked gate_up product × 2^(f − upBits), up's × 1 (see `upBits`).
    let gateScale: PublicLinearMap
    /// Per query head: its [count × headDim] block of q. Per kv head: its [total × headDim] block of the cache.
    let queryHeads, cacheHeads: [[Int]]
    /// Causal mask: the visible scores of [heads][count × total], row lengths, the way back (masked
    /// places point past the end, at a public zero), and [heads][count × headDim] → [count × heads·headDim].
    let visibleScores, visibleLengths, scatterProbabilities, mergeHeads: [Int]

    init(config c: LlamaConfiguration, fractionalBits f: Int, rope: RotaryTables, start: Int, count t: Int) {
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
        let ropeCoding = FixedPoint(fractionalBits: Self.ropeBits)
        var map = PublicLinearMap(count: t * qkvWidth, scale: UInt64(1) << UInt64(Self.ropeBits))
        for r in 0..<t {
            let (cos, sin) = rope.angles(position: start + r)
            for (offset, headCount, scale) in [(0, heads, 1 / Double(headDim).squareRoot()), (qDim, kvHeads, 1.0)] {
                for h in 0..<headCount {
                    for i in 0..<headDim {
                        let e = r * qkvWidth + offset + h * headDim + i
                        map.partner[e] = e - i + (i < half ? i + half : i - half)
                        map.factor[e] = ropeCoding.encode(Double(cos[i % half]) * scale)
                        map.partnerFactor[e] = ropeCoding.encode((i < half ? -1 : 1) * Double(sin[i % half]) * scale)
                    }
                }
            }
        }
        self.rope = map
        var gateScale = PublicLinearMap(count: t * 2 * ffn, scale: 1)
        for e in gateColumns { gateScale.factor[e] = UInt64(1) << UInt64(f - Self.upBits) }
        self.gateScale = gateScale

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

/// A public linear map on a vector, y_i = factor_i·x_i + partnerFactor_i·x_{partner_i} (ring
/// arithmetic), applied to a product before its truncation: on shares each party applies it to its
/// additive share, which is sound because the map is linear and public.
struct PublicLinearMap {
    var partner: [Int]
    var factor: [UInt64]
    var partnerFactor: [UInt64]

    /// x ↦ scale·x.
    init(count: Int, scale: UInt64) {
        partner = Array(0..<count)
        factor = [UInt64](repeating: scale, count: count)
        partnerFactor = [UInt64](repeating: 0, count: count)
    }

    func apply(_ x: [UInt64]) -> [UInt64] {
        precondition(x.count == partner.count, "linear map on \(x.count) elements, \(partner.count) expected")
        return x.indices.map { x[$0] &* factor[$0] &+ x[partner[$0]] &* partnerFactor[$0] }
    }
}
