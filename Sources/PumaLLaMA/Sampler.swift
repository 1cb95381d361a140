import Foundation

/// How the next token is chosen from logits.
public enum SamplingMethod: Sendable, Equatable {
    /// argmax (first index on ties).
    case greedy
    /// Softmax of logits/temperature, restricted to the smallest set of tokens whose probability
    /// reaches `topP` (nucleus sampling), drawn from a seeded generator.
    case temperature(Float, topP: Float)
}

/// A small, fast, seedable PRNG (xoshiro256**, seeded through SplitMix64) so that sampled runs
/// are reproducible with `--seed`. Not for cryptography.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var z = seed
        func splitmix() -> UInt64 {
            z &+= 0x9E37_79B9_7F4A_7C15
            var x = z
            x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
            x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
            return x ^ (x >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }
}

/// Chooses tokens from logits according to a `SamplingMethod`.
public struct Sampler: Sendable {
    public let method: SamplingMethod
    private var rng: SeededGenerator

    public init(method: SamplingMethod, seed: UInt64) {
        self.method = method
        rng = SeededGenerator(seed: seed)
    }

    public mutating func sample(_ logits: [Float]) -> Int32 {
        switch method {
        case .greedy:
            return Int32(FloatKernels.argmax(logits))
        case .temperature(let t, let topP):
            let probs = FloatKernels.softmax(logits.map { $0 / t })
            let order = probs.indices.sorted { probs[$0] > probs[$1] || (probs[$0] == probs[$1] && $0 < $1) }
            var kept: [Int] = []
            var mass: Float = 0
            for i in order {
                kept.append(i)
                mass += probs[i]
                if mass >= topP { break }
            }
            var u = Float.random(in: 0..<1, using: &rng) * mass
            for i in kept {
                u -= probs[i]
                if u < 0 { return Int32(i) }
            }
            return Int32(kept.last!)
        }
    }
}
