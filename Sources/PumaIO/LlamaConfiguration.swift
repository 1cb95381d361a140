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
        case tieWordEmbeddings = "tie_word_embeddings"
        case bosTokenId = "bos_token_id"
        case eosTokenId = "eos_token_id"
    }

    public init(
        hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int, numAttentionHeads: Int,
        numKeyValueHeads: Int? = nil, headDim: Int? = nil, vocabSize: Int,
        maxPositionEmbeddings: Int, rmsNormEps: Double = 1e-6, ropeTheta: Double = 10000,
        tieWordEmbeddings: Bool = false, bosTokenId: Int? = 1, eosTokenId: Int? = 2
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
        self.init(
            hiddenSize: try required(.hiddenSize),
            intermediateSize: try required(.intermediateSize),
            numHiddenLayers: try required(.numHiddenLayers),
            numAttentionHeads: try required(.numAttentionHeads),
            numKeyValueHeads: try optional(.numKeyValueHeads),
            headDim: try optional(.headDim),
            vocabSize: try required(.vocabSize),
            maxPositionEmbeddings: try optional(.maxPositionEmbeddings) ?? 2048,
            rmsNormEps: try optional(.rmsNormEps) ?? 1e-6,
            ropeTheta: try optional(.ropeTheta) ?? 10000,
            tieWordEmbeddings: try optional(.tieWordEmbeddings) ?? false,
            bosTokenId: try optional(.bosTokenId) ?? 1,
            eosTokenId: eos ?? 2
        )
        try validate()
    }

    /// Loads and validates `config.json` at `url`.
    public static func load(from url: URL) throws -> LlamaConfiguration {
        guard FileManager.default.fileExists(atPath: url.path) else { throw PumaIOError.missingFile(url.path) }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw PumaIOError.unreadableFile(url.path, reason: error.localizedDescription)
        }
        guard (try? JSONSerialization.jsonObject(with: data)) is [String: Any] else {
            throw PumaIOError.invalidJSON(file: url.path, reason: "expected a JSON object")
        }
        return try JSONDecoder().decode(LlamaConfiguration.self, from: data)
    }

    /// Checks the relations between the sizes that the transformer relies on.
    public func validate() throws {
        func positive(_ value: Int, _ key: CodingKeys) throws {
            if value <= 0 { throw PumaIOError.invalidValue(file: "config.json", key: key.rawValue, reason: "must be positive, got \(value)") }
        }
        try positive(hiddenSize, .hiddenSize)
        try positive(intermediateSize, .intermediateSize)
        try positive(numHiddenLayers, .numHiddenLayers)
        try positive(numAttentionHeads, .numAttentionHeads)
        try positive(numKeyValueHeads, .numKeyValueHeads)
        try positive(headDim, .headDim)
        try positive(vocabSize, .vocabSize)
        try positive(maxPositionEmbeddings, .maxPositionEmbeddings)
        if numAttentionHeads % numKeyValueHeads != 0 {
            throw PumaIOError.invalidValue(file: "config.json", key: "num_key_value_heads",
                reason: "\(numKeyValueHeads) does not divide num_attention_heads \(numAttentionHeads)")
        }
        if headDim % 2 != 0 {
            throw PumaIOError.invalidValue(file: "config.json", key: "head_dim", reason: "must be even for rotary embeddings, got \(headDim)")
        }
        if !(rmsNormEps >= 0) || !ropeTheta.isFinite || ropeTheta <= 0 {
            throw PumaIOError.invalidValue(file: "config.json", key: "rms_norm_eps/rope_theta", reason: "must be finite and non-negative")
        }
    }

    /// Number of parameters the transformer has with this configuration.
    public var parameterCount: Int {
        let attention = hiddenSize * numAttentionHeads * headDim * 2 + hiddenSize * numKeyValueHeads * headDim * 2
        let mlp = 3 * hiddenSize * intermediateSize
        let perLayer = attention + mlp + 2 * hiddenSize
        let head = tieWordEmbeddings ? 0 : vocabSize * hiddenSize
        return vocabSize * hiddenSize + numHiddenLayers * perLayer + hiddenSize + head
    }
}
