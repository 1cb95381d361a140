import Foundation
import PumaCore
import PumaIO
import PumaMPC
import PumaNN

/// Communication and time of one secure forward pass.
public struct PassCost: Sendable {
    public var tokens: Int
    public var wallSeconds: Double
    public var bytesSent: Int
    public var rounds: Int
    /// Per top-level operation (all parties and the client).
    public var ops: [String: CostRecord]
    /// P0, P1, P2 alone: bytes each sent, rounds each took.
    public var perParty: [CostRecord] = []

    public init(tokens: Int, wallSeconds: Double, bytesSent: Int, rounds: Int, ops: [String: CostRecord], perParty: [CostRecord] = []) {
        self.tokens = tokens
        self.wallSeconds = wallSeconds
        self.bytesSent = bytesSent
        self.rounds = rounds
        self.ops = ops
        self.perParty = perParty
    }

    /// What was spent between two readings of the same ledgers (P0, P1, P2 first), the weight sharing left out.
    public init(tokens: Int, wallSeconds: Double, between before: CostReport, and after: CostReport) {
        let opsBefore = before.byScope(depth: 1)
        var ops: [String: CostRecord] = [:]
        for (name, r) in after.byScope(depth: 1) where !SecurePredictor.setupScopes.contains(name) {
            ops[name] = r - (opsBefore[name] ?? CostRecord())
        }
        self.init(tokens: tokens, wallSeconds: wallSeconds, bytesSent: after.total.bytesSent - before.total.bytesSent,
                  rounds: after.total.rounds - before.total.rounds, ops: ops,
                  perParty: (0..<3).map { after.total(ofLedger: $0) - before.total(ofLedger: $0) })
    }
}

/// Secure generation: three simulated parties hold the model owner's weights (as seeds and per-tile
/// re-derived components, see `WeightSharing`) and the KV cache as replicated shares; the client
/// shares each new token's one-hot row and learns only the chosen next token (greedy: secret argmax; with a temperature: Gumbel-max with the client's secret
/// noise). Each `feed` is one secure forward pass over the fed tokens.
public final class SecurePredictor: NextTokenPredictor, SecureCosts {
    public let simulation: Simulation
    /// Ledger scopes of the one-time weight sharing, left out of per-pass tables.
    static let setupScopes: Set<String> = ["weights", "owner input"]
    let parties: [FixedPointTransformer<PartyIO>]
    let config: LlamaConfiguration
    let temperature: Double
    let revealLogits: Bool
    /// Tokens are chosen among ids below this (public: the tokenizer's size when embeddings are padded).
    let choosable: Int
    /// The client's generator for Gumbel noise.
    var clientRandom: ClientRandom
    /// What each party keeps in a deployment (bytes): P0 seeds only, P1 and P2 also x2.
    public let storedBytes: [Int]
    /// Reports layers done during a pass (P0's thread), for progress display.
    public var progress: (@Sendable (Int) -> Void)? {
        didSet { parties[0].progress = progress }
    }
    /// Cost of sharing the weights (once).
    public private(set) var setupCost: PassCost
    /// Cost of every forward pass, in order.
    public private(set) var passes: [PassCost] = []
    /// The last position's logits, opened to the client only when `revealLogits` (compare mode).
    public private(set) var lastLogits: [Float]?
    /// Evaluation: with `revealLogits`, each pass opens the logits after every token it is fed
    /// (`positionLogits`), not only the last.
    public var opensAllPositions = false
    /// The logits after each token of the last pass, when `opensAllPositions`.
    public private(set) var positionLogits: [[Float]] = []
    /// Evaluation: each pass opens every layer's `TraceStep` values to the client (`layerTrace`).
    public var opensLayerTrace = false
    /// The last pass's trace, [layer][step] in `TraceStep` order, when `opensLayerTrace`.
    public private(set) var layerTrace: [[[Float]]] = []

    /// Secret-shares `weights` from the model owner to the three parties by seeds: each party's
    /// storage regenerates or re-derives its components tile by tile during every pass (see
    /// `WeightSharing`); the one-time transfer of x2 is recorded in the ledger.
    /// - Parameters:
    ///   - seed: makes the parties' keys and the client's noise reproducible (measurement, not secrecy).
    ///   - temperature: 0 for greedy; otherwise Gumbel-max sampling at this temperature.
    ///   - revealLogits: also open each pass's last logits to the client (for `--mode compare`).
    ///   - choosable: choose tokens among ids below this (default: the whole vocabulary).
    ///   - recordDeliveries: keep every message each endpoint receives (`simulation.network`), for tests.
    public init(config: LlamaConfiguration, weights: LlamaWeights, seed: UInt64?, fixedPoint: FixedPoint = .standard,
                siluMethod: NonLinear.SiLUMethod = .symmetric, temperature: Double = 0, revealLogits: Bool = false,
                choosable: Int? = nil, recordDeliveries: Bool = false) {
        self.config = config
        self.choosable = min(choosable ?? config.vocabSize, config.vocabSize)
        self.temperature = temperature
        self.revealLogits = revealLogits
        clientRandom = ClientRandom(seed: seed)
        let simulation = Simulation(seed: seed, fixedPoint: fixedPoint, recordDeliveries: recordDeliveries)
        self.simulation = simulation
        let owner = OwnerWeights(weights: weights, config: config, fixedPoint: fixedPoint)
        let storage = simulation.weightStorage(source: owner)
        let parties = simulation.parties.map {
            FixedPointTransformer(io: PartyIO(party: $0, storage: storage[$0.id]), config: config, model: owner.layout, siluMethod: siluMethod)
        }
        self.parties = parties
        storedBytes = (0..<3).map { WeightSharing.storedBytes(party: $0, parameters: owner.layout.parameters) }
        let start = DispatchTime.now().uptimeNanoseconds
        let parameters = owner.layout.parameters
        // The one-time sharing: in a deployment the owner sends x2 to P1 and P2 (one round, 8 bytes
        // per parameter each), who keep it on disk; the ledgers record it so.
        _ = simulation.run(dealers: { s in
            s.owner.ledger.charge("owner input", bytesSent: 16 * parameters, bytesReceived: 0)
        }) { party in
            party.scope("weights") { party.ledger.recordRound(bytesSent: 0, bytesReceived: party.id == 0 ? 0 : 8 * parameters) }
            return 0
        }
        let total = simulation.report.total
        setupCost = PassCost(tokens: 0, wallSeconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9,
                             bytesSent: total.bytesSent, rounds: total.rounds, ops: [:])
    }

    /// Elements of all the tensors the owner shares for `config` (the lm head separately even when tied).
    public static func sharedParameters(_ config: LlamaConfiguration) -> Int { SharedModelLayout(config: config).parameters }

    /// All five ledgers (weight sharing included; `SecureCosts` leaves it out).
    public var costReport: CostReport { simulation.report }

    public func feed(_ tokens: [Int32]) throws -> Int32 {
        let vocab = config.vocabSize
        let onehot = ClientPass.onehot(tokens, vocabulary: vocab)
        var noise: [UInt64] = []
        if temperature > 0 {
            noise = GumbelMax.noise(count: choosable, fixedPoint: simulation.parties[0].fixedPoint, using: &clientRandom)
        }
        let before = simulation.report
        let start = DispatchTime.now().uptimeNanoseconds
        var received: [UInt64] = []
        var logits: [UInt64] = []
        let options = FixedPointTransformer<PartyIO>.Options(temperature: temperature, revealLogits: revealLogits,
                                                             allPositions: opensAllPositions, trace: opensLayerTrace, choosable: choosable)
        let traced = opensLayerTrace ? config.numHiddenLayers * TraceStep.allCases.count : 0
        var opened: [[UInt64]] = []
        let count = tokens.count
        let parties = self.parties
        let reveal = revealLogits
        _ = simulation.run(dealers: { s in
            (opened, logits, received) = ClientPass.run(s.client, onehot: onehot, noise: noise, traced: traced, revealLogits: reveal)
        }) { party in
            parties[party.id].forward(count: count, options: options)
            return 0
        }
        passes.append(PassCost(tokens: tokens.count, wallSeconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9,
                               between: before, and: simulation.report))
        let steps = TraceStep.allCases.count
        layerTrace = stride(from: 0, to: traced, by: steps).map { l in
            (0..<steps).map { simulation.parties[0].fixedPoint.decode(opened[l + $0]).map(Float.init) }
        }
        if revealLogits {
            let decoded = simulation.parties[0].fixedPoint.decode(logits).map(Float.init)
            lastLogits = Array(decoded.suffix(vocab))
            positionLogits = opensAllPositions ? (0..<(decoded.count / vocab)).map { Array(decoded[($0 * vocab)..<(($0 + 1) * vocab)]) } : []
        }
        let token = Int32(truncatingIfNeeded: received[0])
        guard token >= 0, Int(token) < vocab else { throw GenerationError.invalidTokenId(token, vocabulary: vocab) }
        return token
    }
}

/// The client's randomness for Gumbel noise: the system's cryptographic generator (getrandom), or,
/// with a seed, a reproducible one (a measurement setting: the noise is then predictable).
struct ClientRandom: RandomNumberGenerator {
    private var seeded: SeededGenerator?
    private var system = SystemRandomNumberGenerator()

    init(seed: UInt64?) { seeded = seed.map(SeededGenerator.init) }

    mutating func next() -> UInt64 { seeded?.next() ?? system.next() }
}

/// Gumbel-max sampling inside the engine: argmax(logits/T + g) with g_i = −log(−log u_i), u_i
/// uniform in (0, 1), is distributed as softmax(logits/T) (Gumbel 1954; the usual "Gumbel-max
/// trick"). The client draws and secret-shares g, so only the chosen index is ever opened.
public enum GumbelMax {
    /// Temperatures the fixed-point engine can hold: logits/T must stay far inside the truncation's
    /// domain (|x| < 2^62 before dividing by 2^18, so |logit|/T < 2^26) and 1/T must keep its
    /// precision (at T = 100 it is encoded within 0.02 %). Below 0.01 sampling is greedy decoding in
    /// all but name.
    public static let temperatureRange: ClosedRange<Float> = 0.01...100

    /// `count` fixed-point Gumbel(0, 1) samples.
    public static func noise<R: RandomNumberGenerator>(count: Int, fixedPoint: FixedPoint, using random: inout R) -> [UInt64] {
        (0..<count).map { _ in
            let u = Double.random(in: Double.leastNonzeroMagnitude..<1, using: &random)
            return fixedPoint.encode(-Foundation.log(-Foundation.log(u)))
        }
    }

    /// logits/T + noise: a public product and a truncation (2 rounds on shares), then the caller's argmax.
    public static func perturb<B: FixedPointBackend>(_ b: B, logits: B.Value, noise: B.Value, temperature: Double) -> B.Value {
        b.add(b.mulPublicFixed(logits, 1 / temperature), noise)
    }
}

/// What every secure run reports: its passes, the one-time sharing, and the ledgers behind them.
public protocol SecureCosts {
    /// Every forward pass, in order.
    var passes: [PassCost] { get }
    /// Sharing the weights (once).
    var setupCost: PassCost { get }
    /// What each party keeps in a deployment (bytes).
    var storedBytes: [Int] { get }
    /// The parties' (and dealers') ledgers over the whole run.
    var costReport: CostReport { get }
}

extension SecureCosts {
    /// All forward passes together: tokens, wall time, bytes and rounds summed.
    public var passTotal: PassCost {
        passes.reduce(PassCost(tokens: 0, wallSeconds: 0, bytesSent: 0, rounds: 0, ops: [:])) {
            PassCost(tokens: $0.tokens + $1.tokens, wallSeconds: $0.wallSeconds + $1.wallSeconds,
                     bytesSent: $0.bytesSent + $1.bytesSent, rounds: $0.rounds + $1.rounds, ops: [:])
        }
    }

    /// Per top-level operation over all passes (the weight sharing left out).
    public var operationCosts: [String: CostRecord] {
        costReport.byScope(depth: 1).filter { !SecurePredictor.setupScopes.contains($0.key) }
    }

    /// Per top-level operation over all passes, for P0, P1 and P2 alone (bytes each sent, rounds each took).
    public var operationCostsPerParty: [[String: CostRecord]] {
        let report = costReport
        return (0..<3).map { report.byScope(depth: 1, ofLedger: $0).filter { !SecurePredictor.setupScopes.contains($0.key) } }
    }

    /// Modeled network time of all passes on `model`, for the slowest party (weight sharing left out).
    public func modeledSeconds(_ model: NetworkModel) -> Double {
        model.seconds(costReport, excluding: SecurePredictor.setupScopes)
    }
}

/// The client's side of one secure pass, in the simulation and in a deployment alike.
public enum ClientPass {
    /// The one-hot rows of `tokens` ([count × vocabulary] ring elements): the client's input to the embedding.
    public static func onehot(_ tokens: [Int32], vocabulary: Int) -> [UInt64] {
        var rows = [UInt64](repeating: 0, count: tokens.count * vocabulary)
        for (r, token) in tokens.enumerated() { rows[r * vocabulary + Int(token)] = 1 }
        return rows
    }

    /// Shares the one-hot rows (and, when sampling, the Gumbel noise) and receives what the pass opens
    /// to the client, in the transformer's order: `traced` trace values, the logits when
    /// `revealLogits`, then the chosen token (one element).
    public static func run(_ client: Dealer, onehot: [UInt64], noise: [UInt64], traced: Int = 0,
                           revealLogits: Bool = false) -> (trace: [[UInt64]], logits: [UInt64], token: [UInt64]) {
        client.share(onehot)
        let trace = (0..<traced).map { _ in client.receiveOutput() }
        let logits = revealLogits ? client.receiveOutput() : []
        if !noise.isEmpty { client.share(noise) }
        return (trace, logits, client.receiveOutput())
    }
}
