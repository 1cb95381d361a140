import Foundation

/// The hyper-parameters of a LLaMA checkpoint, read from Hugging Face's `config.json`.
/// Absent optional keys take the Hugging Face defaults; a missing required key or an
/// inconsistent value throws an error that names the key.
public struct LlamaConfiguration: Codable, Sendable, Equatable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    /// Grouped-query attention: defaults to `numAttentionHeads` (plain multi-head attention).
    public var numKeyValueHeads: Int
    /// Defaults to `hiddenSize / numAttentionHeads`.
    public var headDim: Int
    public var vocabSize: Int
    public var maxPositionEmbeddings: Int
    public var rmsNormEps: Double
    public var ropeTheta: Double
    /// Linear or LLaMA-3 RoPE scaling (nil: none).
    public var ropeScaling: RopeScaling?
    public var tieWordEmbeddings: Bool
    public var bosTokenId: Int?
    public var eosTokenId: Int?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads"
        case headDim = "head_dim"
        case vocabSize = "vocab_size"
        case maxPositionEmbeddings = "max_position_embeddings"
        case rmsNormEps = "rms_norm_eps"
        case ropeTheta = "rope_theta"
        case ropeScaling = "rope_scaling"
        case tieWordEmbeddings = "tie_word_embeddings"
        case bosTokenId = "bos_token_id"
        case eosTokenId = "eos_token_id"
    }

    public init(
        hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int, numAttentionHeads: Int,
        numKeyValueHeads: Int? = nil, headDim: Int? = nil, vocabSize: Int,
        maxPositionEmbeddings: Int, rmsNormEps: Double = 1e-6, ropeTheta: Double = 10000,
        ropeScaling: RopeScaling? = nil, tieWordEmbeddings: Bool = false, bosTokenId: Int? = 1, eosTokenId: Int? = 2
    ) {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.numKeyValueHeads = numKeyValueHeads ?? numAttentionHeads
        self.headDim = headDim ?? hiddenSize / max(numAttentionHeads, 1)
        self.vocabSize = vocabSize
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling
        self.tieWordEmbeddings = tieWordEmbeddings
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func required<T: Decodable>(_ key: CodingKeys) throws -> T {
            guard c.contains(key) else {
                throw PumaIOError.missingKey(file: "config.json", key: key.rawValue)
            }
            do { return try c.decode(T.self, forKey: key) } catch {
                throw PumaIOError.invalidValue(file: "config.json", key: key.rawValue, reason: "expected \(T.self)")
            }
        }
        func optional<T: Decodable>(_ key: CodingKeys) throws -> T? {
            do { return try c.decodeIfPresent(T.self, forKey: key) } catch {
                throw PumaIOError.invalidValue(file: "config.json", key: key.rawValue, reason: "expected \(T.self)")
            }
        }
        // `eos_token_id` may be a list in newer configs; the first entry is the stop token.
        var eos: Int? = nil
        if c.contains(.eosTokenId) {
            if let list = try? c.decode([Int].self, forKey: .eosTokenId) { eos = list.first } else { eos = try optional(.eosTokenId) }
        }
        // `rope_scaling` may be null, or of type "default" (none); RopeScaling refuses kinds it cannot apply.
        var scaling: RopeScaling? = nil
        if c.contains(.ropeScaling), (try? c.decodeNil(forKey: .ropeScaling)) == false {
            struct Kind: Decodable { var rope_type: String?; var type: String? }
            let kind = try? c.decode(Kind.self, forKey: .ropeScaling)
            if (kind?.rope_type ?? kind?.type) != "default" {
                do { scaling = try c.decode(RopeScaling.self, forKey: .ropeScaling) } catch let error as PumaIOError { throw error } catch {
                    throw PumaIOError.invalidValue(file: "config.json", key: "rope_scaling", reason: "expected an object")
                }
            }
        }
        let hidden: Int = try required(.hiddenSize), heads: Int = try required(.numAttentionHeads)
        let headDim: Int? = try optional(.headDim)
        try Self.checkBound(.hiddenSize, hidden)
        try Self.checkBound(.numAttentionHeads, heads)
        if headDim == nil, heads > 0, hidden % heads != 0 {
            throw PumaIOError.invalidValue(file: "config.json", key: "hidden_size",
                reason: "\(hidden) is not divisible by num_attention_heads \(heads) (and no head_dim is given)")
        }
        self.init(
            hiddenSize: hidden,
            intermediateSize: try required(.intermediateSize),
            numHiddenLayers: try required(.numHiddenLayers),
            numAttentionHeads: heads,
            numKeyValueHeads: try optional(.numKeyValueHeads),
            headDim: headDim,
            vocabSize: try required(.vocabSize),
            maxPositionEmbeddings: try optional(.maxPositionEmbeddings) ?? 2048,
            rmsNormEps: try optional(.rmsNormEps) ?? 1e-6,
            ropeTheta: try optional(.ropeTheta) ?? 10000,
            ropeScaling: scaling,
            tieWordEmbeddings: try optional(.tieWordEmbeddings) ?? false,
            bosTokenId: try optional(.bosTokenId) ?? 1,
            eosTokenId: eos ?? 2
        )
        try validate()
    }

    /// Loads and validates `config.json` at `url`.
    public static func load(from url: URL) throws -> LlamaConfiguration {
        try parse(InputFile.read(url), file: url.path)
    }

    /// Parses and validates the text of a `config.json` (`file` names it in errors).
    public static func parse(_ data: Data, file: String) throws -> LlamaConfiguration {
        guard (try? JSONSerialization.jsonObject(with: data)) is [String: Any] else {
            throw PumaIOError.invalidJSON(file: file, reason: "expected a JSON object")
        }
        return try JSONDecoder().decode(LlamaConfiguration.self, from: data)
    }

    /// Upper bounds on each size, far above any LLaMA (LLaMA-3.1-405B: hidden 16384, ffn 53248,
    /// 126 layers, 128 heads, vocab 128256, context 131072), so that every size product fits an Int
    /// and nothing absurd is allocated before the checkpoint is even read.
    static let limits: [(CodingKeys, Int)] = [
        (.hiddenSize, 1 << 16), (.intermediateSize, 1 << 18), (.numHiddenLayers, 1024), (.numAttentionHeads, 1024),
        (.numKeyValueHeads, 1024), (.headDim, 1 << 12), (.vocabSize, 1 << 22), (.maxPositionEmbeddings, 1 << 20),
    ]
    /// The largest parameter count accepted (2^40, over a trillion).
    static let parameterLimit = 1 << 40

    static func checkBound(_ key: CodingKeys, _ value: Int) throws {
        let limit = limits.first { $0.0 == key }!.1
        if value <= 0 { throw PumaIOError.invalidValue(file: "config.json", key: key.rawValue, reason: "must be positive, got \(value)") }
        if value > limit {
            throw PumaIOError.invalidValue(file: "config.json", key: key.rawValue, reason: "\(value) is above the supported maximum of \(limit)")
        }
    }

    /// Checks each size against its bounds and the relations between sizes the transformer relies on.
    public func validate() throws {
        func invalid(_ key: CodingKeys, _ reason: String) -> PumaIOError {
            .invalidValue(file: "config.json", key: key.rawValue, reason: reason)
        }
        let values: [CodingKeys: Int] = [
            .hiddenSize: hiddenSize, .intermediateSize: intermediateSize, .numHiddenLayers: numHiddenLayers,
            .numAttentionHeads: numAttentionHeads, .numKeyValueHeads: numKeyValueHeads, .headDim: headDim,
            .vocabSize: vocabSize, .maxPositionEmbeddings: maxPositionEmbeddings,
        ]
        for (key, _) in Self.limits { try Self.checkBound(key, values[key]!) }
        if numAttentionHeads % numKeyValueHeads != 0 {
            throw invalid(.numKeyValueHeads, "\(numKeyValueHeads) does not divide num_attention_heads \(numAttentionHeads)")
        }
        if headDim % 2 != 0 { throw invalid(.headDim, "must be even for rotary embeddings, got \(headDim)") }
        if !(rmsNormEps >= 0 && rmsNormEps <= 1) { throw invalid(.rmsNormEps, "must lie in [0, 1], got \(rmsNormEps)") }
        if !(ropeTheta.isFinite && ropeTheta > 0) { throw invalid(.ropeTheta, "must be finite and positive, got \(ropeTheta)") }
        if let s = ropeScaling, s.kind == .frequencyFactors, s.frequencyFactors.count != headDim / 2 {
            throw invalid(.ropeScaling, "has \(s.frequencyFactors.count) frequency factors for a head dimension of \(headDim) (needs \(headDim / 2))")
        }
        for (key, id) in [(CodingKeys.bosTokenId, bosTokenId), (.eosTokenId, eosTokenId)] {
            if let id, !(0..<vocabSize).contains(id) { throw invalid(key, "\(id) is outside the vocabulary of \(vocabSize)") }
        }
        if parameterCount > Self.parameterLimit {
            throw invalid(.hiddenSize, "these sizes make \(parameterCount) parameters, above the supported \(Self.parameterLimit)")
        }
    }

    /// Number of parameters the transformer has with this configuration (sizes within `limits`
    /// keep every product below 2^56).
    public var parameterCount: Int {
        let attention = hiddenSize * numAttentionHeads * headDim * 2 + hiddenSize * numKeyValueHeads * headDim * 2
        let mlp = 3 * hiddenSize * intermediateSize
        let perLayer = attention + mlp + 2 * hiddenSize
        let head = tieWordEmbeddings ? 0 : vocabSize * hiddenSize
        return vocabSize * hiddenSize + numHiddenLayers * perLayer + hiddenSize + head
    }
}
