import PumaIO

/// Every tensor of a LLaMA model in model order, under its Hugging Face name — the one list from which
/// binding (`LlamaWeights`), the secret-shared numbering (`SharedModelLayout`), the owner's encoding
/// (`OwnerWeights`: which norm it folds into which matrix) and the shared tensors' sizes are derived.
/// Public: it depends on the configuration alone.
public struct LlamaTensorTable: Sendable {
    public enum Role: Sendable, Equatable {
        /// An RMSNorm weight vector: read as Float, folded by the owner into the matrices after it.
        case norm
        /// A matrix the parties hold secret-shared: its number among the shared tensors, and the norm
        /// whose weight the owner folds into its columns (W·diag(w)), if any.
        case shared(number: Int, foldedNorm: String?)
    }

    public struct Entry: Sendable {
        public let name: String
        /// Row-major (`[out, in]` for a projection).
        public let shape: [Int]
        public let role: Role

        public var count: Int { shape.reduce(1, *) }
    }

    /// In file order: the embedding; per layer its input norm, q, k, v, o, post-attention norm, gate,
    /// up, down; the final norm; the output head. Shared numbers run embedding, per layer q k v o gate up down, head.
    public let entries: [Entry]
    private let index: [String: Int]

    public init(_ c: LlamaConfiguration) {
        let (d, f, v) = (c.hiddenSize, c.intermediateSize, c.vocabSize)
        let (q, kv) = (c.numAttentionHeads * c.headDim, c.numKeyValueHeads * c.headDim)
        var entries: [Entry] = []
        var shared = 0
        func matrix(_ name: String, _ shape: [Int], folding norm: String? = nil) {
            entries.append(Entry(name: name, shape: shape, role: .shared(number: shared, foldedNorm: norm)))
            shared += 1
        }
        func norm(_ name: String) { entries.append(Entry(name: name, shape: [d], role: .norm)) }
        matrix("model.embed_tokens.weight", [v, d])
        for l in 0..<c.numHiddenLayers {
            let p = "model.layers.\(l)."
            norm(p + "input_layernorm.weight")
            matrix(p + "self_attn.q_proj.weight", [q, d], folding: p + "input_layernorm.weight")
            matrix(p + "self_attn.k_proj.weight", [kv, d], folding: p + "input_layernorm.weight")
            matrix(p + "self_attn.v_proj.weight", [kv, d], folding: p + "input_layernorm.weight")
            matrix(p + "self_attn.o_proj.weight", [d, q])
            norm(p + "post_attention_layernorm.weight")
            matrix(p + "mlp.gate_proj.weight", [f, d], folding: p + "post_attention_layernorm.weight")
            matrix(p + "mlp.up_proj.weight", [f, d], folding: p + "post_attention_layernorm.weight")
            matrix(p + "mlp.down_proj.weight", [d, f])
        }
        norm("model.norm.weight")
        matrix("lm_head.weight", [v, d], folding: "model.norm.weight")
        self.entries = entries
        index = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.name, $0) })
    }

    public subscript(name: String) -> Entry? { index[name].map { entries[$0] } }

    /// The shared matrices in their numbering.
    public var shared: [Entry] {
        entries.filter { if case .shared = $0.role { return true } else { return false } }
    }

    /// The number a matrix is shared under (names come from this table, so they exist).
    func number(_ name: String) -> Int {
        guard case .shared(let n, _) = self[name]?.role else { preconditionFailure("\(name) is not a shared matrix") }
        return n
    }
}
