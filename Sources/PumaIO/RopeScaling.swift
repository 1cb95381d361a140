import Foundation

/// How a checkpoint stretches RoPE beyond its training context: Hugging Face's `rope_scaling`
/// (`linear`: every frequency divided by `factor`; `llama3`: LLaMA-3.1's wavelength-dependent blend),
/// or per-frequency divisors stored with the weights (GGUF's `rope_freqs.weight`, which is how
/// llama.cpp carries `llama3`).
public struct RopeScaling: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable { case linear, llama3, frequencyFactors = "frequency_factors" }

    public var kind: Kind
    public var factor: Double
    public var lowFrequencyFactor: Double
    public var highFrequencyFactor: Double
    public var originalMaxPositionEmbeddings: Int
    /// `frequencyFactors`: the divisor of each inverse frequency, headDim/2 of them.
    public var frequencyFactors: [Double]

    enum CodingKeys: String, CodingKey {
        case kind = "rope_type", legacyKind = "type", factor
        case lowFrequencyFactor = "low_freq_factor", highFrequencyFactor = "high_freq_factor"
        case originalMaxPositionEmbeddings = "original_max_position_embeddings"
        case frequencyFactors = "frequency_factors"
    }

    public static func linear(factor: Double) -> RopeScaling {
        RopeScaling(kind: .linear, factor: factor, lowFrequencyFactor: 1, highFrequencyFactor: 1, originalMaxPositionEmbeddings: 0, frequencyFactors: [])
    }

    public static func llama3(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalMaxPositionEmbeddings: Int) -> RopeScaling {
        RopeScaling(kind: .llama3, factor: factor, lowFrequencyFactor: lowFrequencyFactor, highFrequencyFactor: highFrequencyFactor,
                    originalMaxPositionEmbeddings: originalMaxPositionEmbeddings, frequencyFactors: [])
    }

    public static func frequencyFactors(_ factors: [Double]) -> RopeScaling {
        RopeScaling(kind: .frequencyFactors, factor: 1, lowFrequencyFactor: 1, highFrequencyFactor: 1, originalMaxPositionEmbeddings: 0, frequencyFactors: factors)
    }

    init(kind: Kind, factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalMaxPositionEmbeddings: Int, frequencyFactors: [Double]) {
        self.kind = kind
        self.factor = factor
        self.lowFrequencyFactor = lowFrequencyFactor
        self.highFrequencyFactor = highFrequencyFactor
        self.originalMaxPositionEmbeddings = originalMaxPositionEmbeddings
        self.frequencyFactors = frequencyFactors
    }

    /// Reads `rope_scaling` of config.json: `{"rope_type" (or "type"): "linear" | "llama3", "factor", …}`;
    /// "default" means none (nil). Other kinds (yarn, dynamic, longrope) are refused by name.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func invalid(_ reason: String) -> PumaIOError { .invalidValue(file: "config.json", key: "rope_scaling", reason: reason) }
        let name = (try? c.decode(String.self, forKey: .kind)) ?? (try? c.decode(String.self, forKey: .legacyKind))
        guard let name else { throw invalid("has no rope_type") }
        guard let kind = Kind(rawValue: name) else {
            throw invalid("rope_type '\(name)' is not supported (puma applies linear and llama3)")
        }
        func number(_ key: CodingKeys) throws -> Double {
            guard let v = try? c.decode(Double.self, forKey: key), v.isFinite, v > 0 else { throw invalid("needs a positive '\(key.rawValue)'") }
            return v
        }
        switch kind {
        case .linear: self = .linear(factor: try number(.factor))
        case .llama3:
            let original = try number(.originalMaxPositionEmbeddings)
            self = .llama3(factor: try number(.factor), lowFrequencyFactor: try number(.lowFrequencyFactor),
                           highFrequencyFactor: try number(.highFrequencyFactor), originalMaxPositionEmbeddings: Int(original))
            if !(highFrequencyFactor > lowFrequencyFactor) { throw invalid("high_freq_factor must exceed low_freq_factor") }
        case .frequencyFactors:
            let factors = (try? c.decode([Double].self, forKey: .frequencyFactors)) ?? []
            guard !factors.isEmpty, factors.allSatisfy({ $0.isFinite && $0 > 0 }) else { throw invalid("needs positive frequency_factors") }
            self = .frequencyFactors(factors)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        switch kind {
        case .linear: try c.encode(factor, forKey: .factor)
        case .llama3:
            try c.encode(factor, forKey: .factor)
            try c.encode(lowFrequencyFactor, forKey: .lowFrequencyFactor)
            try c.encode(highFrequencyFactor, forKey: .highFrequencyFactor)
            try c.encode(originalMaxPositionEmbeddings, forKey: .originalMaxPositionEmbeddings)
        case .frequencyFactors: try c.encode(frequencyFactors, forKey: .frequencyFactors)
        }
    }

    /// RoPE's inverse frequencies θ^(−2i/headDim), i < headDim/2, scaled: Hugging Face's
    /// `_compute_linear_scaling_rope_parameters` and `_compute_llama3_parameters`, in double precision.
    public static func inverseFrequencies(headDim: Int, theta: Double, scaling: RopeScaling?) -> [Double] {
        let base = (0..<headDim / 2).map { 1.0 / Foundation.pow(theta, Double(2 * $0) / Double(headDim)) }
        guard let s = scaling else { return base }
        switch s.kind {
        case .linear: return base.map { $0 / s.factor }
        case .frequencyFactors: return zip(base, s.frequencyFactors).map { $0 / $1 }
        case .llama3:
            let original = Double(s.originalMaxPositionEmbeddings)
            let lowWavelength = original / s.lowFrequencyFactor, highWavelength = original / s.highFrequencyFactor
            return base.map { f in
                let wavelength = 2 * Double.pi / f
                if wavelength < highWavelength { return f }
                if wavelength > lowWavelength { return f / s.factor }
                let smooth = (original / wavelength - s.lowFrequencyFactor) / (s.highFrequencyFactor - s.lowFrequencyFactor)
                return (1 - smooth) * f / s.factor + smooth * f
            }
        }
    }
}
