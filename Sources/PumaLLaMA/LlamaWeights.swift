import Foundation
import PumaIO
import PumaNN

/// One transformer block's weights, row-major, Hugging Face `[out, in]` layout for projections.
/// Matrices stay in the memory-mapped checkpoint in their stored dtype; norms are read as Float.
public struct LlamaLayerWeights: Sendable {
    /// [dim]
    public var inputNorm: [Float]
    /// [heads*headDim, dim]
    public var wq: MappedTensor
    /// [kvHeads*headDim, dim]
    public var wk: MappedTensor
    /// [kvHeads*headDim, dim]
    public var wv: MappedTensor
    /// [dim, heads*headDim]
    public var wo: MappedTensor
    /// [dim]
    public var postAttentionNorm: [Float]
    /// [ffn, dim]
    public var wGate: MappedTensor
    /// [ffn, dim]
    public var wUp: MappedTensor
    /// [dim, ffn]
    public var wDown: MappedTensor
}

/// All weights of a LLaMA model, bound strictly from a checkpoint: every expected tensor present
/// with its exact shape, no tensor left unused. Matrices are read in place from the mapped shards
/// (a 7B checkpoint costs no memory until its pages are touched), never widened whole to Float32.
public struct LlamaWeights: Sendable {
    /// [vocab, dim]
    public var embedding: MappedTensor
    public var layers: [LlamaLayerWeights]
    /// [dim]
    public var finalNorm: [Float]
    /// [vocab, dim]; the embedding matrix when the checkpoint ties them.
    public var lmHead: MappedTensor

    /// The tensor names and shapes a checkpoint with `config` must contain (`LlamaTensorTable`).
    public static func expectedTensors(_ config: LlamaConfiguration) -> [(name: String, shape: [Int])] {
        LlamaTensorTable(config).entries.map { ($0.name, $0.shape) }
    }

    /// Binds every tensor of `checkpoint`. With tied embeddings `lm_head.weight` is not used (and may be absent).
    public init(checkpoint: Checkpoint) throws {
        let config = checkpoint.configuration
        let expected = Self.expectedTensors(config)
        let expectedNames = Set(expected.map(\.name))
        // Older exports carry RoPE's inverse frequencies as a buffer; it is derived from the config.
        let unexpected = checkpoint.tensorNames.filter { !expectedNames.contains($0) && !$0.hasSuffix("rotary_emb.inv_freq") }
        if !unexpected.isEmpty { throw PumaIOError.unexpectedTensors(unexpected) }
        var shapes: [String: [Int]] = [:]
        for (name, shape) in expected { shapes[name] = shape }
        func load(_ name: String) throws -> [Float] { try checkpoint.floats(name, shape: shapes[name]!) }
        func map(_ name: String) throws -> MappedTensor { try checkpoint.tensor(name, shape: shapes[name]!) }

        embedding = try map("model.embed_tokens.weight")
        layers = try (0..<config.numHiddenLayers).map { l in
            let p = "model.layers.\(l)."
            return LlamaLayerWeights(
                inputNorm: try load(p + "input_layernorm.weight"),
                wq: try map(p + "self_attn.q_proj.weight"),
                wk: try map(p + "self_attn.k_proj.weight"),
                wv: try map(p + "self_attn.v_proj.weight"),
                wo: try map(p + "self_attn.o_proj.weight"),
                postAttentionNorm: try load(p + "post_attention_layernorm.weight"),
                wGate: try map(p + "mlp.gate_proj.weight"),
                wUp: try map(p + "mlp.up_proj.weight"),
                wDown: try map(p + "mlp.down_proj.weight"))
        }
        finalNorm = try load("model.norm.weight")
        // Tied embeddings use the embedding matrix even when an `lm_head.weight` is stored, as Hugging Face does.
        lmHead = config.tieWordEmbeddings ? embedding : try map("lm_head.weight")
    }

    /// A matrix by its Hugging Face name (the output head is the embedding when they are tied).
    public func matrix(_ name: String) -> MappedTensor? {
        switch name {
        case "model.embed_tokens.weight": return embedding
        case "lm_head.weight": return lmHead
        default: return layerField(name) { (layer: LlamaLayerWeights, kind: String) -> MappedTensor? in
            switch kind {
            case "self_attn.q_proj.weight": return layer.wq
            case "self_attn.k_proj.weight": return layer.wk
            case "self_attn.v_proj.weight": return layer.wv
            case "self_attn.o_proj.weight": return layer.wo
            case "mlp.gate_proj.weight": return layer.wGate
            case "mlp.up_proj.weight": return layer.wUp
            case "mlp.down_proj.weight": return layer.wDown
            default: return nil
            }
        }
        }
    }

    /// A norm's weights by its Hugging Face name.
    public func norm(_ name: String) -> [Float]? {
        if name == "model.norm.weight" { return finalNorm }
        return layerField(name) { layer, kind in
            kind == "input_layernorm.weight" ? layer.inputNorm : kind == "post_attention_layernorm.weight" ? layer.postAttentionNorm : nil
        }
    }

    /// `field(layer, rest)` for a name `model.layers.N.rest`.
    private func layerField<T>(_ name: String, _ field: (LlamaLayerWeights, String) -> T?) -> T? {
        let prefix = "model.layers."
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let l = Int(rest[..<dot]), layers.indices.contains(l) else { return nil }
        return field(layers[l], String(rest[rest.index(after: dot)...]))
    }
}

/// A weight whose products could leave the range the secure protocols compare in.
public struct SecureRangeError: Error, CustomStringConvertible, Equatable {
    public let tensor: String
    public let bound: Double
    public let limit: Double

    public var description: String {
        "\(tensor): its outputs can reach \(String(format: "%.0f", bound)) (√dim × its largest row norm, the norm's weight folded in), "
            + "beyond the ±\(String(format: "%.0f", limit)) the secure SiLU compares in"
    }
}

extension LlamaWeights {
    /// Per layer, the largest magnitude the gate projection can output in the secure transformer:
    /// RMSNorm's output x/RMS(x) has Euclidean norm at most √dim, and the norm's weight w is folded
    /// into W_gate, so |gate_j| ≤ √dim·‖W_gate[j]·diag(w)‖₂ (Cauchy–Schwarz) for every input. Reads
    /// each gate weight once, rows spread over the cores, pages returned as it goes.
    public func gateBounds() -> [Double] {
        layers.map { layer in
            let (rows, dim) = (layer.wGate.shape[0], layer.wGate.shape[1])
            let norm = layer.postAttentionNorm.map(Double.init)
            let blockRows = 64
            let blocks = (rows + blockRows - 1) / blockRows
            nonisolated(unsafe) let largest = UnsafeMutableBufferPointer<Double>.allocate(capacity: blocks)
            defer { largest.deallocate() }
            let tensor = layer.wGate
            DispatchQueue.concurrentPerform(iterations: blocks) { b in
                let r0 = b * blockRows, r1 = Swift.min(rows, r0 + blockRows)
                var values = [Float](repeating: 0, count: (r1 - r0) * dim)
                values.withUnsafeMutableBufferPointer { tensor.floats(offset: r0 * dim, count: (r1 - r0) * dim, into: $0.baseAddress!) }
                tensor.view.releaseResidentPages(offset: r0 * dim, count: (r1 - r0) * dim)
                var best = 0.0
                for r in 0..<(r1 - r0) {
                    var sum = 0.0
                    for i in 0..<dim { let v = Double(values[r * dim + i]) * norm[i]; sum += v * v }
                    best = Swift.max(best, sum)
                }
                largest[b] = best
            }
            return (largest.max() ?? 0).squareRoot() * Double(dim).squareRoot()
        }
    }

    /// Refuses weights whose gate projection could reach the secure SiLU's comparison range
    /// (`NonLinear.siluInputBound`): its comparisons would then be wrong, silently. The model owner
    /// runs this before sharing anything.
    public func checkSecureRanges() throws {
        for (l, bound) in gateBounds().enumerated() where !(bound < NonLinear.siluInputBound) {
            throw SecureRangeError(tensor: "model.layers.\(l).mlp.gate_proj.weight", bound: bound, limit: NonLinear.siluInputBound)
        }
    }
}
