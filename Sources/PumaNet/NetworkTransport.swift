import Foundation
import PumaMPC

/// The `Transport` of one endpoint over its deployment's links: the protocol code above it is the
/// simulation's, unchanged. A failed link (closed, aborted by the peer, silent past `timeout`, or a
/// frame of the wrong kind) stops the whole process through `PeerNetwork.stop`: protocol steps
/// cannot continue without their messages, and every peer is told why.
public final class NetworkTransport: Transport, @unchecked Sendable {
    public let local: Endpoint
    let network: PeerNetwork
    let links: [Endpoint: Link]
    /// Seconds to wait for any one message before giving up on its sender.
    public let timeout: Double

    init(network: PeerNetwork, links: [Endpoint: Link], timeout: Double) {
        local = network.local
        self.network = network
        self.links = links
        self.timeout = timeout
    }

    private func link(_ peer: Endpoint) -> Link {
        guard let link = links[peer] else { network.stop("\(local) has no link to \(peer)") }
        return link
    }

    public func send(_ words: [UInt64], to peer: Endpoint) {
        do { try link(peer).send(.words(words)) } catch { network.stop("sending to \(peer) failed: \(LinkHandler.describe(error))") }
    }

    /// Sends a bulk chunk and waits until it is on the socket (back-pressure for the weight transfer).
    public func sendWaiting(_ words: [UInt64], to peer: Endpoint) {
        do { try link(peer).send(.words(words), wait: true) } catch {
            network.stop("sending to \(peer) failed: \(failureReason(peer, error))")
        }
    }

    public func receive(from peer: Endpoint) -> [UInt64] {
        switch next(from: peer, timeout: timeout) {
        case .words(let words): return words
        default: network.stop("\(peer) sent a control message where protocol data was expected")
        }
    }

    /// Sends a control document (JSON).
    public func sendControl<T: Encodable>(_ value: T, to peer: Endpoint) {
        guard let data = try? JSONEncoder().encode(value) else { network.stop("could not encode a control message") }
        do { try link(peer).send(.control(data)) } catch { network.stop("sending to \(peer) failed: \(LinkHandler.describe(error))") }
    }

    /// Receives a control document of type `T`; with `timeout` nil, the transport's own.
    public func receiveControl<T: Decodable>(_ type: T.Type, from peer: Endpoint, timeout: Double? = nil) -> T {
        switch next(from: peer, timeout: timeout ?? self.timeout) {
        case .control(let data):
            guard let value = try? JSONDecoder().decode(T.self, from: data) else {
                network.stop("\(peer) sent a malformed control message (expected \(T.self))")
            }
            return value
        default: network.stop("\(peer) sent protocol data where a control message was expected")
        }
    }

    /// Like `receiveControl`, but nil when the peer has gone (closed its connection or aborted) —
    /// for the points where a departed peer ends a session cleanly instead of breaking it.
    public func receiveControlUnlessGone<T: Decodable>(_ type: T.Type, from peer: Endpoint) -> T? {
        if case .failure(let failure) = link(peer).inbox.peek(timeout: timeout), failure != .timedOut(timeout) { return nil }
        return receiveControl(type, from: peer)
    }

    /// Tells `peer` why its session ends (an abort) and closes the link; the process goes on.
    public func dismiss(_ peer: Endpoint, reason: String) {
        guard let link = links[peer] else { return }
        try? link.send(.abort(reason), wait: true)
        network.close(link)
    }

    private func next(from peer: Endpoint, timeout: Double) -> Frame {
        switch link(peer).inbox.take(timeout: timeout) {
        case .success(let frame): return frame
        case .failure(.aborted(let reason)): network.stop("\(peer) stopped: \(reason)")
        case .failure(.closed(let reason)): network.stop("lost the connection to \(peer) (\(reason))")
        case .failure(.timedOut(let seconds)): network.stop("nothing heard from \(peer) for \(Int(seconds)) s (--timeout): it is frozen or unreachable")
        }
    }

    private func failureReason(_ peer: Endpoint, _ error: Error) -> String {
        if case .failure(let failure) = links[peer]?.inbox.take(timeout: 0) { return failure.reason }
        return LinkHandler.describe(error)
    }

    /// Wire bytes sent and received on this transport's links so far (TLS included; links shared
    /// with earlier sessions count from their start: take differences).
    public var wireBytes: (sent: Int, received: Int) {
        links.values.reduce((0, 0)) { ($0.0 + $1.wire.totals.sent, $0.1 + $1.wire.totals.received) }
    }
}
