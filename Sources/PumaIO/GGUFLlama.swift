import Foundation

/// A llama-architecture GGUF file read as a Hugging Face LLaMA: the configuration from the `llama.*`
/// keys, tensor names mapped to the Hugging Face ones, and llama.cpp's row permutation of q and k
/// (stored for its interleaved RoPE) undone as rows are read — nothing is copied.
public enum GGUFLlama {
    /// GGUF key → the config.json key it fills (for error messages that name the GGUF key).
    static let configKeys: [String: String] = [
        "hidden_size": "llama.embedding_length", "intermediate_size": "llama.feed_forward_length",
        "num_hidden_layers": "llama.block_count", "num_attention_heads": "llama.attention.head_count",
        "num_key_value_heads": "llama.attention.head_count_kv", "head_dim": "llama.attention.key_length",
        "vocab_size": "llama.vocab_size", "max_position_embeddings": "llama.context_length",
        "rms_norm_eps": "llama.attention.layer_norm_rms_epsilon", "rope_theta": "llama.rope.freq_base",
        "rope_scaling": "llama.rope.scaling.type", "bos_token_id": "tokenizer.ggml.bos_token_id",
        "eos_token_id": "tokenizer.ggml.eos_token_id",
    ]

    /// The configuration the file's metadata describes. Required: `general.architecture = llama`,
    /// block count, embedding and feed-forward lengths, head count. The vocabulary size comes from
    /// `llama.vocab_size`, else the tokenizer's token count, else the embedding's rows; the head
    /// dimension from `llama.rope.dimension_count` when it differs from hidden/heads.
    public static func configuration(_ file: GGUFFile) throws -> LlamaConfiguration {
        let path = file.path
        func invalid(_ key: String, _ reason: String) -> PumaIOError { .invalidValue(file: path, key: key, reason: reason) }
        guard let architecture = file.metadata["general.architecture"] else { throw PumaIOError.missingKey(file: path, key: "general.architecture") }
        guard architecture.string == "llama" else {
            throw invalid("general.architecture", "'\(architecture.string ?? "not a string")' is not supported (puma runs llama-architecture models)")
        }
        func integer(_ key: String) throws -> Int? {
            guard let value = file.metadata[key] else { return nil }
            guard let n = value.integer, n >= 0 else { throw invalid(key, "expected a non-negative integer") }
            return n
        }
        func required(_ key: String) throws -> Int {
            guard let n = try integer(key) else { throw PumaIOError.missingKey(file: path, key: key) }
            return n
        }
        func number(_ key: String) throws -> Double? {
            guard let value = file.metadata[key] else { return nil }
            guard let x = value.number else { throw invalid(key, "expected a number") }
            return x
        }
        let hidden = try required("llama.embedding_length"), heads = try required("llama.attention.head_count")
        guard heads > 0 else { throw invalid("llama.attention.head_count", "must be positive, got 0") }
        var headDim = hidden / heads
        if let rope = try integer("llama.rope.dimension_count"), rope != headDim {
            // A head dimension other than hidden/heads (some fine-tunes); RoPE must cover the whole head.
            if let key = try integer("llama.attention.key_length"), key != rope {
                throw invalid("llama.rope.dimension_count", "\(rope) differs from llama.attention.key_length \(key) (partial RoPE is not supported)")
            }
            headDim = rope
        } else if let key = try integer("llama.attention.key_length") {
            headDim = key
        } else if hidden % heads != 0 {
            throw invalid("llama.embedding_length", "\(hidden) is not divisible by llama.attention.head_count \(heads)")
        }
        let tokens = file.metadata["tokenizer.ggml.tokens"]?.array?.count
        let embeddingRows = file.tensors["token_embd.weight"]?.shape.first
        guard let vocabulary = try integer("llama.vocab_size") ?? tokens ?? embeddingRows else {
            throw PumaIOError.missingKey(file: path, key: "llama.vocab_size")
        }
        var scaling: RopeScaling? = nil
        if let type = file.metadata["llama.rope.scaling.type"] {
            switch type.string {
            case "none"?: break
            case "linear"?:
                guard let factor = try number("llama.rope.scaling.factor"), factor > 0, factor.isFinite else {
                    throw invalid("llama.rope.scaling.factor", "linear scaling needs a positive factor")
                }
                if factor != 1 { scaling = .linear(factor: factor) }
            default:
                throw invalid("llama.rope.scaling.type", "'\(type.string ?? "not a string")' is not supported (puma applies linear and llama3)")
            }
        }
        if let factors = file.tensors["rope_freqs.weight"] {
            guard scaling == nil else { throw invalid("llama.rope.scaling.type", "both a scaling type and rope_freqs.weight are given") }
            guard factors.shape == [headDim / 2] else {
                throw PumaIOError.shapeMismatch(tensor: "rope_freqs.weight", expected: [headDim / 2], found: factors.shape)
            }
            let values = try file.tensor("rope_freqs.weight").floats().map(Double.init)
            guard values.allSatisfy({ $0.isFinite && $0 > 0 }) else { throw invalid("rope_freqs.weight", "frequency factors must be finite and positive") }
            scaling = .frequencyFactors(values)
        }
        let eps = try number("llama.attention.layer_norm_rms_epsilon") ?? 1e-5
        let config = LlamaConfiguration(
            hiddenSize: hidden, intermediateSize: try required("llama.feed_forward_length"),
            numHiddenLayers: try required("llama.block_count"), numAttentionHeads: heads,
            numKeyValueHeads: try integer("llama.attention.head_count_kv") ?? heads, headDim: headDim,
            vocabSize: vocabulary, maxPositionEmbeddings: try integer("llama.context_length") ?? 2048,
            rmsNormEps: eps, ropeTheta: try number("llama.rope.freq_base") ?? 10000, ropeScaling: scaling,
            tieWordEmbeddings: file.tensors["output.weight"] == nil,
            bosTokenId: try integer("tokenizer.ggml.bos_token_id"), eosTokenId: try integer("tokenizer.ggml.eos_token_id"))
        do { try config.validate() } catch PumaIOError.invalidValue(_, let key, let reason) {
            throw PumaIOError.invalidValue(file: path, key: configKeys[key] ?? key, reason: reason)
        }
        return config
    }

    /// The `llama.*` keys that describe `c` (what `configuration` reads back; RoPE scaling is not written).
    public static func metadata(_ c: LlamaConfiguration) -> [(String, GGUFValue)] {
        [
            ("general.architecture", .string("llama")),
            ("llama.block_count", .uint(UInt64(c.numHiddenLayers))), ("llama.context_length", .uint(UInt64(c.maxPositionEmbeddings))),
            ("llama.embedding_length", .uint(UInt64(c.hiddenSize))), ("llama.feed_forward_length", .uint(UInt64(c.intermediateSize))),
            ("llama.attention.head_count", .uint(UInt64(c.numAttentionHeads))), ("llama.attention.head_count_kv", .uint(UInt64(c.numKeyValueHeads))),
            ("llama.rope.dimension_count", .uint(UInt64(c.headDim))),
            ("llama.rope.freq_base", .float(c.ropeTheta)), ("llama.attention.layer_norm_rms_epsilon", .float(c.rmsNormEps)),
        ]
    }

    /// A SentencePiece tokenizer as GGUF's `llama` tokenizer keys: pieces, scores, types, special ids.
    public static func vocabulary(_ tokenizer: Tokenizer) -> [(String, GGUFValue)] {
        let ids = 0..<Int32(tokenizer.pieceCount)
        var keys: [(String, GGUFValue)] = [
            ("tokenizer.ggml.model", .string("llama")),
            ("tokenizer.ggml.tokens", .array(ids.map { .string(tokenizer.piece($0) ?? "") })),
            ("tokenizer.ggml.scores", .array(ids.map { .float(Double(tokenizer.sentencePieceEntry($0)?.score ?? 0)) })),
            ("tokenizer.ggml.token_type", .array(ids.map { .int(Int64(tokenizer.sentencePieceEntry($0)?.type ?? 1)) })),
        ]
        for (key, id) in [("bos", tokenizer.bosId), ("eos", tokenizer.eosId), ("unknown", tokenizer.unkId)] where id >= 0 {
            keys.append(("tokenizer.ggml.\(key)_token_id", .uint(UInt64(id))))
        }
        return keys
    }

    /// GGUF tensor names → Hugging Face names (layer tensors `blk.N.…`).
    static let globalNames = ["token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
                              "output.weight": "lm_head.weight"]
    static let layerNames = [
        "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm", "attn_q": "self_attn.q_proj",
        "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
        "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
    ]

    /// The Hugging Face name of a GGUF tensor, or nil for one puma does not know (left under its own name).
    public static func huggingFaceName(_ name: String) -> String? {
        if let global = globalNames[name] { return global }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "blk", let layer = Int(parts[1]), layer >= 0, String(layer) == parts[1],
              parts[3] == "weight", let kind = layerNames[String(parts[2])] else { return nil }
        return "model.layers.\(layer).\(kind).weight"
    }

    /// The GGUF name of a Hugging Face tensor name (the inverse of `huggingFaceName`).
    public static func ggufName(_ name: String) -> String? {
        if let global = globalNames.first(where: { $0.value == name })?.key { return global }
        let parts = name.split(separator: ".")
        guard parts.count >= 5, parts[0] == "model", parts[1] == "layers", let layer = Int(parts[2]),
              let kind = layerNames.first(where: { $0.value == parts[3...].dropLast().joined(separator: ".") })?.key else { return nil }
        return "blk.\(layer).\(kind).weight"
    }

    /// Every tensor under its Hugging Face name (`rope_freqs.weight`, read into the configuration,
    /// is left out); q and k read with llama.cpp's permutation undone.
    public static func tensors(_ file: GGUFFile, configuration c: LlamaConfiguration) throws -> [String: MappedTensor] {
        var table: [String: MappedTensor] = [:]
        for name in file.tensors.keys where name != "rope_freqs.weight" {
            var tensor = try file.tensor(name)
            let hf = huggingFaceName(name) ?? name
            if hf.hasSuffix("self_attn.q_proj.weight") || hf.hasSuffix("self_attn.k_proj.weight") {
                let heads = hf.hasSuffix("q_proj.weight") ? c.numAttentionHeads : c.numKeyValueHeads
                guard tensor.shape.count == 2, tensor.shape[0] == heads * c.headDim else {
                    throw PumaIOError.shapeMismatch(tensor: name, expected: [heads * c.headDim, c.hiddenSize], found: tensor.shape)
                }
                tensor = tensor.reorderingRows(ropeRowOrder(heads: heads, headDim: c.headDim))
            }
            table[hf] = tensor
        }
        return table
    }

    /// llama.cpp's converter stores q/k row (h, i, j) — head h, pair i, half j — where Hugging Face has
    /// row (h, j, i) (`permute` in convert_hf_to_gguf.py); this is the stored row of each Hugging Face row.
    static func ropeRowOrder(heads: Int, headDim: Int) -> [Int32] {
        let half = headDim / 2
        var order = [Int32](repeating: 0, count: heads * headDim)
        for h in 0..<heads {
            for j in 0..<2 {
                for i in 0..<half { order[h * headDim + j * half + i] = Int32(h * headDim + 2 * i + j) }
            }
        }
        return order
    }
}
