import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import PumaMPC

/// One process's side of a deployment's network: its role's TLS identity, the links it dialed or
/// accepted, and what to do when the network fails (`stop`: tell every peer why, then end).
///
/// Links are mutually authenticated TLS 1.3 connections, one per pair of endpoints: the dialing
/// endpoint sends a `Hello` naming its role (and a dealer's session), the acceptor checks that the
/// certificate presented names the same role and that the role may connect to it, and answers with
/// its own hello; the dialer checks that the answering certificate names the party it dialed.
public final class PeerNetwork: @unchecked Sendable {
    public let local: Endpoint
    public let deployment: Deployment
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let clientContext: NIOSSLContext
    private let serverContext: NIOSSLContext?
    private let lock = NSLock()
    private var links: [Link] = []
    private var server: Channel?
    /// Called with the reason when the network fails; must not return (the CLI prints it and exits).
    let onFailure: @Sendable (String) -> Never

    public init(deployment: Deployment, local: Endpoint, onFailure: @escaping @Sendable (String) -> Never) throws {
        self.deployment = deployment
        self.local = local
        self.onFailure = onFailure
        clientContext = try deployment.tlsContext(for: local, server: false)
        if case .party = local { serverContext = try deployment.tlsContext(for: local, server: true) } else { serverContext = nil }
    }

    /// Ends the process's part in the deployment: sends `reason` as an abort on every open link
    /// (waiting at most a second for them to go out), closes them, and calls `onFailure`.
    public func stop(_ reason: String) -> Never {
        abortAll(reason)
        onFailure(reason)
    }

    /// Sends `reason` as an abort on every open link (waiting at most a second for them to go out)
    /// and closes them: the peers stop, naming this endpoint and the reason.
    public func abortAll(_ reason: String) {
        lock.lock()
        let open = links
        lock.unlock()
        let sent = open.map { $0.channel.writeAndFlush(Frame.abort(reason).encoded($0.channel.allocator)) }
        let deadline = Date(timeIntervalSinceNow: 1)
        for future in sent {
            let done = DispatchSemaphore(value: 0)
            future.whenComplete { _ in done.signal() }
            _ = done.wait(timeout: .now() + max(0, deadline.timeIntervalSinceNow))
        }
        open.forEach { $0.close() }
    }

    func register(_ link: Link) {
        lock.lock()
        links.append(link)
        lock.unlock()
    }

    /// Closes `link` and forgets it.
    func close(_ link: Link) {
        lock.lock()
        links.removeAll { $0 === link }
        lock.unlock()
        link.close()
    }

    private func pipeline(_ channel: Channel, ssl: ChannelHandler, wire: WireCounter, handler: LinkHandler) -> EventLoopFuture<Void> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandlers([wire, ssl, ByteToMessageHandler(FrameDecoder()), handler])
        }
    }

    // MARK: Dialing

    /// Connects to party `peer`, retrying while it is not yet listening until `deadline`, and completes
    /// the handshake (see the type's description). Throws a one-line `DeploymentError` on failure.
    func dial(_ peer: Int, session: String? = nil, deadline: Date, timeout: Double) throws -> Link {
        let address = deployment.parties[peer]
        let wire = WireCounter()
        let handler = LinkHandler(onHello: { _, _, _ in nil })
        handler.skipHello()
        let context = clientContext
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                do {
                    let ssl = try NIOSSLClientHandler(context: context, serverHostname: nil)
                    return pipeline(channel, ssl: ssl, wire: wire, handler: handler)
                } catch { return channel.eventLoop.makeFailedFuture(error) }
            }
        var channel: Channel?
        var lastError = ""
        while channel == nil {
            do { channel = try bootstrap.connect(host: address.host, port: address.port).wait() } catch {
                lastError = (error as? NIOConnectionError)?.connectionErrors.first.map { LinkHandler.describe($0.error) }
                    ?? LinkHandler.describe(error)
                guard Date() < deadline else {
                    throw DeploymentError("could not connect to P\(peer) at \(address): \(lastError)")
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        let link = Link(peer: .party(peer), channel: channel!, inbox: handler.inbox, wire: wire)
        register(link)
        let hello = try JSONEncoder().encode(Hello(role: local.description, session: session))
        try? link.send(.control(hello))
        switch link.inbox.take(timeout: timeout) {
        case .success(.control(let data)):
            guard let answer = try? JSONDecoder().decode(Hello.self, from: data) else {
                close(link)
                throw DeploymentError("P\(peer) at \(address) answered the handshake with something other than a hello")
            }
            let certified = (try? channel!.pipeline.handler(type: NIOSSLHandler.self).map { $0.peerCertificate }.wait()).flatMap { $0 }
                .flatMap(certificateRole)
            guard answer.role == "P\(peer)", certified == "P\(peer)" else {
                close(link)
                throw DeploymentError("the peer at \(address) is not P\(peer): it claims \(answer.role) with a certificate for \(certified ?? "nobody")")
            }
            return link
        case .success:
            close(link)
            throw DeploymentError("P\(peer) at \(address) answered the handshake with something other than a hello")
        case .failure(let failure):
            close(link)
            throw DeploymentError("P\(peer) at \(address) refused the connection: \(failure.reason)")
        }
    }

    // MARK: Listening

    /// Listens on this party's address; accepted links whose handshake passes wait in the returned
    /// `Listener` until the party takes them. `accepts(role)` says which roles may connect.
    func listen(accepting accepts: @escaping @Sendable (Endpoint) -> Bool) throws -> Listener {
        guard case .party(let id) = local, let context = serverContext else { preconditionFailure("only parties listen") }
        let listener = Listener(network: self)
        let localRole = local.description
        let address = deployment.parties[id]
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                let wire = WireCounter()
                let box = HandlerBox()
                let handler = LinkHandler(onHello: { hello, certified, channel in
                    guard let claimed = Endpoint(role: hello.role), accepts(claimed) else {
                        return "\(localRole) does not accept connections from \(hello.role)"
                    }
                    guard certified == hello.role else {
                        return "the peer claims \(hello.role) but its certificate is for \(certified ?? "nobody")"
                    }
                    let answer = (try? JSONEncoder().encode(Hello(role: localRole))) ?? Data()
                    channel.writeAndFlush(Frame.control(answer).encoded(channel.allocator), promise: nil)
                    listener.add(hello, Link(peer: claimed, channel: channel, inbox: box.handler!.inbox, wire: wire))
                    return nil
                })
                box.handler = handler
                return pipeline(channel, ssl: NIOSSLServerHandler(context: context), wire: wire, handler: handler)
            }
        do {
            server = try bootstrap.bind(host: address.host, port: address.port).wait()
        } catch {
            throw DeploymentError("P\(id) cannot listen on \(address): \(LinkHandler.describe(error))")
        }
        return listener
    }

    /// Stops listening and closes every link (a normal end).
    public func shutdown() {
        server?.close(promise: nil)
        lock.lock()
        let open = links
        links = []
        lock.unlock()
        open.forEach { $0.close() }
        try? group.syncShutdownGracefully()
    }
}

/// Lets a handler's hello callback reach the handler's own inbox.
private final class HandlerBox: @unchecked Sendable {
    var handler: LinkHandler?
}

/// Accepted, authenticated links waiting for their party to take them.
final class Listener: @unchecked Sendable {
    private let condition = NSCondition()
    private var waiting: [(hello: Hello, link: Link)] = []
    private unowned let network: PeerNetwork

    init(network: PeerNetwork) { self.network = network }

    func add(_ hello: Hello, _ link: Link) {
        network.register(link)
        condition.lock()
        waiting.append((hello, link))
        condition.broadcast()
        condition.unlock()
    }

    /// The first waiting link whose hello satisfies `matches`, or nil after `timeout` seconds.
    /// Links whose connection has already failed are dropped.
    func take(timeout: Double, where matches: (Hello) -> Bool) -> (hello: Hello, link: Link)? {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while true {
            let gone = waiting.filter { !$0.link.channel.isActive }
            gone.forEach { network.close($0.link) }
            waiting.removeAll { entry in gone.contains { $0.link === entry.link } }
            if let i = waiting.firstIndex(where: { matches($0.hello) }) { return waiting.remove(at: i) }
            if !condition.wait(until: deadline) { return nil }
        }
    }
}

extension LinkFailure {
    /// The failure as the end of an error line.
    var reason: String {
        switch self {
        case .closed(let why): return why
        case .aborted(let why): return why
        case .timedOut(let seconds): return "nothing heard for \(Int(seconds)) s"
        }
    }
}
