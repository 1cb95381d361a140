import Foundation
import PumaCore
import PumaIO
import PumaLLaMA
import PumaMPC
import PumaNN

/// The model owner as its own process (`puma owner`): shares its weights with the deployment's
/// parties once — its seeds c0 and c1 to the parties that hold them, x2 = encode(W) − x0 − x1 of
/// every tensor to P1 and P2, in chunks, each chunk waiting for the socket (the checkpoint streams
/// through; nothing is held whole).
public enum OwnerUpload {
    public struct Summary: Sendable {
        public var parameters: Int
        /// What each party reported storing (bytes).
        public var storedBytes: [Int]
        public var wireBytesSent: Int
        public var seconds: Double
    }

    public static func run(deployment: Deployment, model: LlamaModel, timeouts: NetworkTimeouts,
                           progress: @escaping (Int, Int) -> Void = { _, _ in },
                           onFailure: @escaping @Sendable (String) -> Never) throws -> Summary {
        let started = Date()
        let configText = model.files.configText
        let network = try PeerNetwork(deployment: deployment, local: .owner, onFailure: onFailure)
        let session = try DealerSession(network: network, request: SessionRequest(kind: .share, config: configText), timeouts: timeouts)
        let transport = session.transport
        let seeds = KeySetup.dealerSeeds(transport: transport)
        let parameters = OwnerSharing.tensorSizes(model.configuration).reduce(0, +)
        var sent = 0
        OwnerSharing(weights: model.weights, config: model.configuration).explicitComponent(seeds: seeds.map(KeySetup.seekable)) { chunk in
            let words = Array(chunk)
            transport.sendWaiting(words, to: .party(1))
            transport.sendWaiting(words, to: .party(2))
            sent += words.count
            progress(sent, parameters)
        }
        let stored = (0..<3).map { transport.receiveControl(StoredReport.self, from: .party($0)).bytes }
        let wire = transport.wireBytes.sent
        network.shutdown()
        return Summary(parameters: parameters, storedBytes: stored, wireBytesSent: wire, seconds: Date().timeIntervalSince(started))
    }
}

/// The client of a deployment (`puma generate --deployment`): knows only the model's config.json and
/// tokenizer; opens one session with the three parties, shares each pass's one-hot rows (and Gumbel
/// noise) with its own fresh seeds, and learns only the chosen tokens. Each party reports its
/// ledger after every pass, so the costs are the simulation's (`SecureCosts`).
public final class RemotePredictor: NextTokenPredictor, SecureCosts {
    private let session: DealerSession
    private let client: Dealer
    private let config: LlamaConfiguration
    private let temperature: Double
    private let choosable: Int
    private var random = SystemRandomNumberGenerator()
    private var partyRecords: [[String: CostRecord]] = [[:], [:], [:]]
    /// Bytes each party has put on the wire this session (TLS included), as of its last report.
    public private(set) var partyWireBytesSent = [0, 0, 0]
    public private(set) var passes: [PassCost] = []
    public let setupCost: PassCost
    public let storedBytes: [Int]

    public init(deployment: Deployment, configText: String, config: LlamaConfiguration, siluMethod: NonLinear.SiLUMethod,
                temperature: Double, choosable: Int, timeouts: NetworkTimeouts,
                onFailure: @escaping @Sendable (String) -> Never) throws {
        self.config = config
        self.temperature = temperature
        self.choosable = min(choosable, config.vocabSize)
        let network = try PeerNetwork(deployment: deployment, local: .client, onFailure: onFailure)
        session = try DealerSession(network: network, request: SessionRequest(kind: .generate, config: configText, silu: siluMethod.rawValue),
                                    timeouts: timeouts)
        let parameters = session.verdicts[0].storedParameters ?? 0
        storedBytes = (0..<3).map { WeightSharing.storedBytes(party: $0, parameters: parameters) }
        // As in the simulation: the owner's one round of x2 to P1 and P2, done earlier by `puma owner`.
        setupCost = PassCost(tokens: 0, wallSeconds: 0, bytesSent: 16 * parameters, rounds: 1, ops: [:])
        client = KeySetup.dealer(.client, transport: session.transport)
    }

    public var costReport: CostReport { CostReport(records: partyRecords + [client.ledger.records]) }

    /// Wire bytes (TLS included) this client sent and received.
    public var wireBytes: (sent: Int, received: Int) { session.transport.wireBytes }

    public func feed(_ tokens: [Int32]) throws -> Int32 {
        let transport = session.transport
        let request = PassRequest(tokens: tokens.count, temperature: temperature, choosable: choosable)
        let noise = temperature > 0 ? GumbelMax.noise(count: choosable, fixedPoint: .standard, using: &random) : []
        let before = costReport
        let start = Date()
        for i in 0..<3 { transport.sendControl(PassCommand(pass: request), to: .party(i)) }
        let (_, _, received) = ClientPass.run(client, onehot: ClientPass.onehot(tokens, vocabulary: config.vocabSize), noise: noise)
        for i in 0..<3 {
            let report = transport.receiveControl(LedgerReport.self, from: .party(i))
            partyRecords[i] = report.records
            partyWireBytesSent[i] = report.wireBytesSent
        }
        passes.append(PassCost(tokens: tokens.count, wallSeconds: Date().timeIntervalSince(start), between: before, and: costReport))
        let token = Int32(truncatingIfNeeded: received[0])
        guard token >= 0, Int(token) < config.vocabSize else { throw GenerationError.invalidTokenId(token, vocabulary: config.vocabSize) }
        return token
    }

    /// Ends the session: the parties drop its keys and cache and wait for the next one.
    public func finish() {
        for i in 0..<3 { session.transport.sendControl(PassCommand(pass: nil), to: .party(i)) }
        session.network.shutdown()
    }
}
