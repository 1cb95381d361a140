import Foundation
import NIOCore
import NIOSSL
import PumaMPC
import X509

/// Why a link stopped delivering.
enum LinkFailure: Error, Equatable {
    /// The connection ended (the peer's process stopped, or the network dropped it), with the cause if known.
    case closed(String)
    /// The peer sent an abort: its reason.
    case aborted(String)
    /// Nothing arrived within the timeout.
    case timedOut(Double)
}

/// Frames received on one link, in order, for the one thread that reads them. Reading pauses (TCP
/// back-pressure) while more than `pauseBytes` wait unread, and resumes below half of that.
final class Inbox: @unchecked Sendable {
    private let condition = NSCondition()
    private var frames: [Frame] = []
    private var head = 0
    private var queuedBytes = 0
    private var storedFailure: LinkFailure?
    private var paused = false
    static let pauseBytes = 256 << 20
    /// Resumes reading on the channel (set once the channel exists).
    var resume: (@Sendable () -> Void)?

    /// Queues a frame; returns true when reading should pause.
    func put(_ frame: Frame) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if case .abort(let reason) = frame, storedFailure == nil { storedFailure = .aborted(reason) }
        frames.append(frame)
        queuedBytes += frame.payloadBytes
        condition.broadcast()
        if queuedBytes > Self.pauseBytes && !paused {
            paused = true
            return true
        }
        return false
    }

    /// No more frames will come: `failure` is reported once the queued ones are read.
    func close(_ failure: LinkFailure) {
        condition.lock()
        if storedFailure == nil { storedFailure = failure }
        condition.broadcast()
        condition.unlock()
    }

    /// Why the link failed, once no frame is left to read before it (nil while it works).
    var failure: LinkFailure? {
        condition.lock()
        defer { condition.unlock() }
        if case .aborted = storedFailure { return storedFailure }
        return head == frames.count ? storedFailure : nil
    }

    /// When anything (a keepalive included) last arrived.
    private var lastHeard = Date()

    /// Notes that the peer is alive (any frame arrived).
    func heard() {
        condition.lock()
        lastHeard = Date()
        condition.unlock()
    }

    /// Yields this many times before sleeping on the condition, as `InMemoryNetwork`'s mailboxes do:
    /// a reply usually comes within microseconds, and waking a sleeping thread costs tens of them
    /// (measured over loopback, kjv-1m 16 tokens: 2.5 s against 2.9 s, medians of 6).
    static let spinLimit = 64

    /// Waits (the lock held) until the next frame can be taken; returns why not when it cannot (an
    /// abort is reported as soon as it arrives, before older frames). Times out only when nothing at
    /// all — not even a keepalive — arrived for `timeout` seconds.
    private func awaitFrame(timeout: Double) -> LinkFailure? {
        var spins = 0
        let waitStart = Date()
        while true {
            if case .aborted = storedFailure { return storedFailure }
            if head < frames.count { return nil }
            if let storedFailure { return storedFailure }
            if spins < Inbox.spinLimit {
                spins += 1
                condition.unlock()
                sched_yield()
                condition.lock()
                continue
            }
            let silentSince = max(lastHeard, waitStart)
            if Date().timeIntervalSince(silentSince) >= timeout { return .timedOut(timeout) }
            _ = condition.wait(until: min(silentSince.addingTimeInterval(timeout), Date(timeIntervalSinceNow: Link.keepaliveInterval)))
        }
    }

    /// The next frame, or why there is none (see `awaitFrame`).
    func take(timeout: Double) -> Result<Frame, LinkFailure> {
        condition.lock()
        defer { condition.unlock() }
        if let failure = awaitFrame(timeout: timeout) { return .failure(failure) }
        let frame = frames[head]
        frames[head] = .words([])
        head += 1
        if head == frames.count { frames.removeAll(keepingCapacity: true); head = 0 }
        queuedBytes -= frame.payloadBytes
        if paused && queuedBytes < Self.pauseBytes / 2 {
            paused = false
            resume?()
        }
        return .success(frame)
    }

    /// What `take` would return, without taking the frame.
    func peek(timeout: Double) -> Result<Frame, LinkFailure> {
        condition.lock()
        defer { condition.unlock() }
        if let failure = awaitFrame(timeout: timeout) { return .failure(failure) }
        return .success(frames[head])
    }

    /// Waits up to `seconds` for a frame (or a failure) to be ready to take.
    func hasFrame(within seconds: Double) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: seconds)
        while head == frames.count && storedFailure == nil {
            if !condition.wait(until: deadline) { break }
        }
        return head < frames.count || storedFailure != nil
    }
}

/// The handshake's first frame: who the connecting endpoint says it is, and (for a dealer) which
/// session it opens. The acceptor answers with its own hello, or an abort naming the problem.
struct Hello: Codable, Sendable {
    var role: String
    var session: String?
}

/// The role a certificate names: its subject's common name (the deployment's CA issues one per role).
func certificateRole(_ certificate: NIOSSLCertificate) -> String? {
    guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der) else { return nil }
    for rdn in parsed.subject.reversed() {
        for attribute in rdn.reversed() where attribute.type == .RDNAttributeType.commonName {
            return String(attribute.value)
        }
    }
    return nil
}

/// Counts the bytes a connection puts on and takes off the wire (TLS records included).
final class WireCounter: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let lock = NSLock()
    private var sent = 0
    private var received = 0

    var totals: (sent: Int, received: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (sent, received)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let n = unwrapInboundIn(data).readableBytes
        lock.lock(); received += n; lock.unlock()
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let n = unwrapOutboundIn(data).readableBytes
        lock.lock(); sent += n; lock.unlock()
        context.write(data, promise: promise)
    }
}

/// The last handler of a link's pipeline: the first frame must be the peer's hello, checked against
/// the certificate it presented (`onHello` decides); every later frame goes to the inbox.
final class LinkHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = Frame

    let inbox = Inbox()
    private var greeted = false
    /// Called on the event loop with the peer's hello and its certificate's role; returns nil to
    /// accept, or the reason to refuse (sent to the peer as an abort before closing).
    let onHello: (Hello, String?, Channel) -> String?

    init(onHello: @escaping (Hello, String?, Channel) -> String?) {
        self.onHello = onHello
    }

    /// For dialed links: the peer's answering hello goes to the inbox like any frame (the dialer checks it).
    func skipHello() { greeted = true }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        inbox.heard()
        if case .keepalive = frame { return }
        if greeted {
            if inbox.put(frame) { context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in } }
            return
        }
        greeted = true
        let hello: Hello
        switch frame {
        case .control(let data):
            guard let decoded = try? JSONDecoder().decode(Hello.self, from: data) else {
                refuse(context, "the first frame is not a hello")
                return
            }
            hello = decoded
        case .abort(let reason):
            inbox.close(.aborted(reason))
            context.close(promise: nil)
            return
        case .words, .keepalive:
            refuse(context, "the first frame is not a hello")
            return
        }
        let role = (try? context.pipeline.syncOperations.nioSSL_peerCertificate()).flatMap { $0 }.flatMap(certificateRole)
        if let reason = onHello(hello, role, context.channel) { refuse(context, reason) }
    }

    private func refuse(_ context: ChannelHandlerContext, _ reason: String) {
        inbox.close(.closed(reason))
        let channel = context.channel
        context.writeAndFlush(NIOAny(Frame.abort(reason).encoded(channel.allocator))).whenComplete { _ in channel.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        inbox.close(.closed("connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        inbox.close(.closed(Self.describe(error)))
        context.close(promise: nil)
    }

    /// A short description of a connection error for an error line.
    static func describe(_ error: Error) -> String {
        if let garbled = error as? GarbledFrame { return garbled.description }
        if let decoding = error as? ByteToMessageDecoderError, case .dataReceivedInErrorState(let inner, _) = decoding {
            return describe(inner)
        }
        if let ssl = error as? NIOSSLError {
            switch ssl {
            case .uncleanShutdown: return "connection closed"
            case .handshakeFailed: return "TLS handshake failed (\(tlsReasons(ssl)))"
            default: return "TLS: \(tlsReasons(ssl))"
            }
        }
        if let ssl = error as? BoringSSLError { return "TLS: \(tlsReasons(ssl))" }
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)).lowercased() }
        if let channel = error as? ChannelError {
            switch channel {
            case .connectTimeout: return "connection timed out"
            case .ioOnClosedChannel, .alreadyClosed, .eof: return "connection closed"
            default: return "\(channel)"
            }
        }
        return "\(error)"
    }
}

/// BoringSSL's reason codes in an error ("CERTIFICATE_VERIFY_FAILED" → "certificate verify failed"),
/// without its source locations.
func tlsReasons(_ error: Error) -> String {
    let text = "\(error)"
    var reasons: [String] = []
    var rest = text[...]
    while let range = rest.range(of: "OPENSSL_internal:") {
        let reason = rest[range.upperBound...].prefix { $0.isUppercase || $0.isNumber || $0 == "_" }
        let readable = reason.lowercased().replacingOccurrences(of: "_", with: " ")
        if !reason.isEmpty && !reasons.contains(readable) { reasons.append(readable) }
        rest = rest[range.upperBound...]
    }
    return reasons.isEmpty ? text : reasons.joined(separator: ", ")
}

/// One authenticated connection to a peer endpoint: frames out, the inbox in.
final class Link: @unchecked Sendable {
    let peer: Endpoint
    let channel: Channel
    let inbox: Inbox
    let wire: WireCounter

    init(peer: Endpoint, channel: Channel, inbox: Inbox, wire: WireCounter) {
        self.peer = peer
        self.channel = channel
        self.inbox = inbox
        self.wire = wire
        inbox.resume = { [channel] in channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in } }
        let interval = TimeAmount.milliseconds(Int64(Self.keepaliveInterval * 1000))
        let keepalive = channel.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [channel] _ in
            channel.writeAndFlush(Frame.keepalive.encoded(channel.allocator), promise: nil)
        }
        channel.closeFuture.whenComplete { _ in keepalive.cancel() }
    }

    /// Seconds between keepalives; a peer's --timeout must be several of these.
    static let keepaliveInterval = 0.5

    /// Queues `frame` for sending; with `wait`, returns once it is written to the socket (back-pressure
    /// for bulk transfers).
    func send(_ frame: Frame, wait: Bool = false) throws {
        let future = channel.writeAndFlush(frame.encoded(channel.allocator))
        if wait { try future.wait() }
    }

    func close() { channel.close(promise: nil) }
}
