import PumaCore
import PumaIO
import PumaMPC
import PumaNN

/// What the client asks of one secure pass when the parties are separate processes: public to the
/// parties, as it is in the simulation (the number of new tokens is each pass's size).
public struct PassRequest: Codable, Sendable, Equatable {
    public var tokens: Int
    /// 0 for greedy; otherwise (the CLI's Float, widened) the client shares Gumbel noise after the one-hot rows.
    public var temperature: Double
    /// The next token is chosen among ids below this.
    public var choosable: Int

    public init(tokens: Int, temperature: Double, choosable: Int) {
        self.tokens = tokens
        self.temperature = temperature
        self.choosable = choosable
    }
}

/// Why a party refuses a client's request (sent back to the client as its error).
public struct RequestRefused: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Party i's side of one generation session in a deployment: the same fixed-point transformer as
/// the simulation's, on this party's own shares and storage, with a KV cache for the session.
public final class PartyGeneration {
    private let transformer: FixedPointTransformer<PartyIO>
    private let config: LlamaConfiguration

    public init(party: Party, storage: WeightShareStorage, config: LlamaConfiguration, siluMethod: NonLinear.SiLUMethod = .symmetric) {
        self.config = config
        transformer = FixedPointTransformer(io: PartyIO(party: party, storage: storage), config: config,
                                            model: SharedModelLayout(config: config), siluMethod: siluMethod)
    }

    /// Checks `request` against the model and the session's context, before any party computes.
    public func check(_ request: PassRequest) throws {
        guard request.tokens >= 1 else { throw RequestRefused("a pass needs at least one token") }
        guard transformer.length + request.tokens <= config.maxPositionEmbeddings else {
            throw RequestRefused("the context holds \(config.maxPositionEmbeddings) positions; this pass would reach \(transformer.length + request.tokens)")
        }
        guard (1...config.vocabSize).contains(request.choosable) else {
            throw RequestRefused("choosable ids \(request.choosable) outside 1…\(config.vocabSize)")
        }
        let range = GumbelMax.temperatureRange
        guard request.temperature == 0 || range.contains(Float(request.temperature)) else {
            throw RequestRefused("temperature \(request.temperature) outside 0 or [\(range.lowerBound), \(range.upperBound)]")
        }
    }

    /// One secure forward pass over the client's next `request.tokens` tokens (see `check`).
    public func pass(_ request: PassRequest) {
        transformer.forward(count: request.tokens, options: .init(temperature: request.temperature, choosable: request.choosable))
    }
}

/// The model owner's side of sharing its weights with parties in other processes: x2 = encode(W) −
/// x0 − x1 of every shared tensor, in tensor order (each row-major), where x0 and x1 come from the
/// owner's seeds c0 and c1 (see `WeightSharing`). P1 and P2 store x2; all parties keep their seeds.
public final class OwnerSharing {
    private let owner: OwnerWeights
    private let config: LlamaConfiguration

    public init(weights: LlamaWeights, config: LlamaConfiguration, fixedPoint: FixedPoint = .standard) {
        self.config = config
        owner = OwnerWeights(weights: weights, config: config, fixedPoint: fixedPoint)
    }

    /// Elements of each shared tensor, in tensor order (public: derived from the configuration).
    public static func tensorSizes(_ config: LlamaConfiguration) -> [Int] {
        LlamaTensorTable(config).shared.map(\.count)
    }

    /// Calls `body` with x2 of every tensor in order, in chunks of at most `chunkElements` (a chunk
    /// never spans two tensors); `seeds` are the owner's c0 and c1.
    public func explicitComponent(seeds: [SeekableStreams], chunkElements: Int = 1 << 20,
                                  _ body: (UnsafeBufferPointer<UInt64>) throws -> Void) rethrows {
        precondition(seeds.count == 2 && chunkElements > 0)
        let x0 = UnsafeMutablePointer<UInt64>.allocate(capacity: chunkElements)
        let x1 = UnsafeMutablePointer<UInt64>.allocate(capacity: chunkElements)
        let out = UnsafeMutablePointer<UInt64>.allocate(capacity: chunkElements)
        defer { x0.deallocate(); x1.deallocate(); out.deallocate() }
        for (tensor, size) in Self.tensorSizes(config).enumerated() {
            let stream = WeightSharing.stream(tensor: tensor)
            for offset in stride(from: 0, to: size, by: chunkElements) {
                let count = min(chunkElements, size - offset)
                seeds[0].words(stream: stream, offset: offset, into: x0, count: count)
                seeds[1].words(stream: stream, offset: offset, into: x1, count: count)
                owner.encode(tensor: tensor, offset: offset, count: count, subtracting: (UnsafePointer(x0), UnsafePointer(x1)), into: out)
                try body(UnsafeBufferPointer(start: out, count: count))
            }
            owner.release(tensor: tensor)
        }
    }
}
