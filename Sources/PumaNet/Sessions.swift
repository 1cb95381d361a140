import Foundation
import PumaLLaMA
import PumaMPC
import PumaNN

/// The control documents of a dealer's session with the three parties, in order:
///
/// 1. dealer → each party: `SessionRequest`; each party → dealer: `SessionVerdict`.
/// 2. dealer → each party: `SessionDecision` (go only if all three accepted; otherwise every party
///    drops the session and keeps serving).
/// 3. Keys (`KeySetup`), then the session's work: for the owner, x2 in chunks to P1 and P2 and a
///    `StoredReport` back from each party; for the client, per pass a `PassCommand`, the protocol's
///    messages, and each party's `LedgerReport`; a `PassCommand` without a pass ends the session.
struct SessionRequest: Codable {
    enum Kind: String, Codable { case share, generate }
    var kind: Kind
    /// The model's config.json, as the dealer read it.
    var config: String
    /// The SiLU approximation (generation only).
    var silu: String?
}

struct SessionVerdict: Codable {
    /// nil: accepted; otherwise why not.
    var refusal: String?
    /// Elements of the shared tensors the party holds (generation only).
    var storedParameters: Int?
}

struct SessionDecision: Codable {
    var go: Bool
}

/// P0 → P1, P2 over the mesh: which dealer's session all three serve next.
struct SessionAnnouncement: Codable {
    var session: String
}

struct StoredReport: Codable {
    var bytes: Int
}

struct PassCommand: Codable {
    /// nil ends the session.
    var pass: PassRequest?
}

/// A party's ledger after a pass, per top-level operation (cumulative over the session).
struct LedgerReport: Codable {
    var records: [String: CostRecord]
    /// Bytes the party has put on the wire (TLS included, to every peer) since the session began.
    var wireBytesSent: Int
}

/// Timeouts of a deployment's processes.
public struct NetworkTimeouts: Sendable {
    /// How long to keep trying to reach a peer that is not listening yet (parties may start in any order).
    public var connect: Double
    /// Seconds of silence (not even a keepalive) after which a peer counts as frozen or unreachable.
    public var message: Double

    public init(connect: Double = 60, message: Double = 30) {
        self.connect = connect
        self.message = message
    }
}

/// A fresh, unguessable session name.
func newSessionName() -> String { (0..<4).map { _ in String(format: "%016llx", UInt64.random(in: 0...UInt64.max)) }.joined() }

/// A dealer's (owner's or client's) links to the three parties, for one session: dialed, authenticated,
/// and the request accepted by all three.
final class DealerSession {
    let network: PeerNetwork
    let transport: NetworkTransport
    let verdicts: [SessionVerdict]

    /// Dials P0, P1 and P2, sends `request`, and goes ahead only if all three accept.
    init(network: PeerNetwork, request: SessionRequest, timeouts: NetworkTimeouts) throws {
        self.network = network
        let session = newSessionName()
        let deadline = Date(timeIntervalSinceNow: timeouts.connect)
        var links: [Endpoint: Link] = [:]
        for i in 0..<3 {
            links[.party(i)] = try network.dial(i, session: session, deadline: deadline, timeout: timeouts.message)
        }
        let transport = NetworkTransport(network: network, links: links, timeout: timeouts.message)
        self.transport = transport
        for i in 0..<3 { transport.sendControl(request, to: .party(i)) }
        let verdicts = (0..<3).map { transport.receiveControl(SessionVerdict.self, from: .party($0)) }
        self.verdicts = verdicts
        let refusals = verdicts.enumerated().compactMap { i, v in v.refusal.map { "P\(i): \($0)" } }
        for i in 0..<3 { transport.sendControl(SessionDecision(go: refusals.isEmpty), to: .party(i)) }
        if !refusals.isEmpty {
            network.shutdown()
            throw DeploymentError("the parties refused the request — " + refusals.joined(separator: "; "))
        }
    }
}
