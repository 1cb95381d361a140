import Foundation
import PumaCore
import PumaIO
import PumaLLaMA
import PumaMPC
import PumaNN

/// Party i as its own process (`puma party`): listens on its address, connects to the other two
/// parties (P1 dials P0; P2 dials P0 and P1; retried until `timeouts.connect`), then serves dealer
/// sessions one at a time until stopped — the owner's sharing (stored in its data directory, see
/// `StoredShares`) and any number of clients' generations. P0 picks each next session and announces
/// it to P1 and P2, so all three serve the same one.
///
/// A party that loses a peer mid-computation, receives an abort or a garbled frame, or hears nothing
/// from a peer for its timeout tells every connected peer why and stops (`PeerNetwork.stop`); its
/// stored shares stay for a restart. A client that leaves between passes ends only its session.
public final class PartyServer {
    let id: Int
    let data: URL
    let timeouts: NetworkTimeouts
    let network: PeerNetwork
    let log: @Sendable (String) -> Void
    /// Links to the other two parties.
    private var mesh: [Endpoint: Link] = [:]
    private var listener: Listener!
    /// "Forever", for waits that only a peer's failure should end.
    static let idle = 1e9

    public init(deployment: Deployment, id: Int, data: URL, timeouts: NetworkTimeouts,
                log: @escaping @Sendable (String) -> Void, onFailure: @escaping @Sendable (String) -> Never) throws {
        self.id = id
        self.data = data
        self.timeouts = timeouts
        self.log = log
        network = try PeerNetwork(deployment: deployment, local: .party(id), onFailure: onFailure)
    }

    /// Tells every peer this party is going away (an operator's SIGTERM or Ctrl-C): they stop too.
    public func shutDown(_ reason: String) {
        network.abortAll("P\(id) was \(reason)")
    }

    /// Connects the parties and serves sessions; returns only through `onFailure` (or the process's end).
    public func run() throws -> Never {
        let id = self.id
        listener = try network.listen(accepting: { role in
            if case .party(let j) = role { return j > id }
            return role == .client || role == .owner
        })
        let deadline = Date(timeIntervalSinceNow: timeouts.connect)
        for j in 0..<id {
            do { mesh[.party(j)] = try network.dial(j, deadline: deadline, timeout: timeouts.message) } catch { network.stop("\(error)") }
        }
        for j in (id + 1)..<3 {
            guard let (_, link) = listener.take(timeout: max(0, deadline.timeIntervalSinceNow), where: { $0.role == "P\(j)" }) else {
                network.stop("P\(j) did not connect within \(Int(timeouts.connect)) s")
            }
            mesh[.party(j)] = link
        }
        log("P\(id): connected to the other parties; serving (\(network.deployment.parties[id]))")
        let meshTransport = NetworkTransport(network: network, links: mesh, timeout: timeouts.message)
        while true {
            let (hello, dealer) = nextSession(meshTransport)
            serve(hello, dealer)
        }
    }

    /// The next dealer session, the same at all three parties.
    private func nextSession(_ meshTransport: NetworkTransport) -> (Hello, Link) {
        func isDealer(_ hello: Hello) -> Bool { hello.session != nil && (hello.role == "client" || hello.role == "owner") }
        if id == 0 {
            while true {
                checkMesh()
                if let taken = listener.take(timeout: 1, where: isDealer) {
                    for j in 1..<3 { meshTransport.sendControl(SessionAnnouncement(session: taken.hello.session!), to: .party(j)) }
                    return taken
                }
            }
        }
        var announcement: SessionAnnouncement?
        while announcement == nil {
            checkMesh(except: .party(0))
            if mesh[.party(0)]!.inbox.hasFrame(within: 1) {
                announcement = meshTransport.receiveControl(SessionAnnouncement.self, from: .party(0))
            }
        }
        let deadline = Date(timeIntervalSinceNow: timeouts.connect)
        while Date() < deadline {
            checkMesh()
            if let taken = listener.take(timeout: 1, where: { isDealer($0) && $0.session == announcement!.session }) { return taken }
        }
        network.stop("the dealer of the session P0 announced did not reach P\(id) within \(Int(timeouts.connect)) s")
    }

    /// Stops if a party link failed while idle (a peer stopped between sessions).
    private func checkMesh(except skipped: Endpoint? = nil) {
        for (peer, link) in mesh where peer != skipped {
            if let failure = link.inbox.failure { network.stop("\(peer) is gone: \(failure.reason)") }
        }
    }

    private func serve(_ hello: Hello, _ link: Link) {
        let dealer = link.peer
        var links = mesh
        links[dealer] = link
        let transport = NetworkTransport(network: network, links: links, timeout: timeouts.message)
        let request = transport.receiveControl(SessionRequest.self, from: dealer)
        let started = Date()
        switch (request.kind, dealer) {
        case (.share, .owner): share(request, transport)
        case (.generate, .client): generate(request, transport, link: link)
        default:
            transport.sendControl(SessionVerdict(refusal: "\(dealer) cannot open a \(request.kind.rawValue) session"), to: dealer)
            _ = transport.receiveControl(SessionDecision.self, from: dealer)
        }
        network.close(link)
        log(String(format: "P%d: %@ session from %@ done in %.1f s", id, request.kind.rawValue, "\(dealer)", Date().timeIntervalSince(started)))
    }

    private func share(_ request: SessionRequest, _ transport: NetworkTransport) {
        let config: LlamaConfiguration
        do { config = try LlamaConfiguration.parse(Data(request.config.utf8), file: "the owner's config.json") } catch {
            transport.sendControl(SessionVerdict(refusal: "\(error)"), to: .owner)
            _ = transport.receiveControl(SessionDecision.self, from: .owner)
            return
        }
        transport.sendControl(SessionVerdict(), to: .owner)
        guard transport.receiveControl(SessionDecision.self, from: .owner).go else { return }
        let parameters = OwnerSharing.tensorSizes(config).reduce(0, +)
        do {
            let bytes = try StoredShares.receive(into: data, party: id, config: request.config, parameters: parameters, transport: transport)
            transport.sendControl(StoredReport(bytes: bytes), to: .owner)
            log("P\(id): stored the owner's shares of \(parameters) parameters (\(bytes) bytes) in \(data.path)")
        } catch {
            network.stop("storing the weight shares in \(data.path) failed: \(error)")
        }
    }

    private func generate(_ request: SessionRequest, _ transport: NetworkTransport, link: Link) {
        var refusal: String?
        var shares: StoredShares?
        var storage: StoredWeightStorage?
        do {
            let stored = try StoredShares(directory: data, party: id)
            let asked = try LlamaConfiguration.parse(Data(request.config.utf8), file: "the client's config.json")
            if asked != stored.configuration {
                refusal = "the client's config.json differs from the model whose shares P\(id) holds"
            } else {
                storage = try StoredWeightStorage(shares: stored, party: id)
                shares = stored
            }
        } catch { refusal = "\(error)" }
        let silu = NonLinear.SiLUMethod(rawValue: request.silu ?? NonLinear.SiLUMethod.symmetric.rawValue)
        if refusal == nil && silu == nil { refusal = "unknown SiLU method \(request.silu ?? "")" }
        transport.sendControl(SessionVerdict(refusal: refusal, storedParameters: shares?.manifest.parameters), to: .client)
        guard transport.receiveControl(SessionDecision.self, from: .client).go, let shares, let storage, let silu else { return }

        let wireBefore = transport.wireBytes.sent
        let party = KeySetup.party(id: id, fixedPoint: .standard, transport: transport, dealers: [.client])
        let generation = PartyGeneration(party: party, storage: storage, config: shares.configuration, siluMethod: silu)
        var passes = 0
        // Between passes every party has finished the last one, so a client that leaves (or asks for
        // a pass the model cannot take: all three parties check alike) ends only its own session.
        while true {
            guard let command = transport.receiveControlUnlessGone(PassCommand.self, from: .client) else {
                log("P\(id): the client left after \(passes) passes")
                return
            }
            guard let pass = command.pass else { break }
            do { try generation.check(pass) } catch {
                transport.dismiss(.client, reason: "P\(id) refused the pass: \(error)")
                log("P\(id): refused a pass after \(passes): \(error)")
                return
            }
            generation.pass(pass)
            passes += 1
            transport.sendControl(LedgerReport(records: Ledger.grouped(party.ledger.records, depth: 1),
                                               wireBytesSent: transport.wireBytes.sent - wireBefore), to: .client)
        }
        log("P\(id): \(passes) secure passes")
    }
}
