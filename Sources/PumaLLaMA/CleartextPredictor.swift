import Foundation
import PumaCore
import PumaIO
import PumaMPC
import PumaNN

/// The fixed-point transformer in the clear: the secure computation's twin without parties — the
/// same encodings, approximations and order of operations, with floor truncation where the protocol
/// rounds by ±1 ulp — and a `RangeMonitor` counting every value outside the protocols' domains
/// (which the secure run would get wrong silently). Greedy; for `--mode compare`.
public final class CleartextPredictor: NextTokenPredictor {
    let transformer: FixedPointTransformer<CleartextIO>
    let choosable: Int
    public let monitor = RangeMonitor()
    /// The last position's logits, decoded.
    public private(set) var lastLogits: [Float] = []

    public init(config: LlamaConfiguration, weights: LlamaWeights, fixedPoint: FixedPoint = .standard,
                siluMethod: NonLinear.SiLUMethod = .symmetric, choosable: Int? = nil) {
        let io = CleartextIO(owner: OwnerWeights(weights: weights, config: config, fixedPoint: fixedPoint), monitor: monitor)
        transformer = FixedPointTransformer(io: io, config: config, model: io.owner.layout, siluMethod: siluMethod)
        self.choosable = min(choosable ?? config.vocabSize, config.vocabSize)
    }

    public func feed(_ tokens: [Int32]) throws -> Int32 {
        let vocab = transformer.config.vocabSize
        var onehot = [UInt64](repeating: 0, count: tokens.count * vocab)
        for (r, token) in tokens.enumerated() { onehot[r * vocab + Int(token)] = 1 }
        let io = transformer.io
        io.inputs = [onehot]
        io.opened = []
        transformer.forward(count: tokens.count, options: .init(revealLogits: true, choosable: choosable))
        lastLogits = io.backend.fixedPoint.decode(io.opened[0]).map(Float.init)
        return Int32(truncatingIfNeeded: io.opened[1][0])
    }
}
