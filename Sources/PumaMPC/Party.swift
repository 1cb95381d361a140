import PumaCore

/// One computing party Pi of the three. Protocol code is SPMD: all three parties run the same
/// methods with their own `id`, touching only their own shares, their own PRSS keys and what their
/// transport delivers. Not thread-safe: each party lives on its own thread.
///
/// PRSS keys: Pi holds K_i (shared with P_{i−1}) and K_{i+1} (shared with P_{i+1}); each key drives
/// an AES-128-CTR stream, so the two holders of a key draw the same values when they draw in the same
/// order — which SPMD code guarantees.
public final class Party: @unchecked Sendable {
    public let id: Int
    public let fixedPoint: FixedPoint
    public let ledger = Ledger()
    let transport: Transport
    /// Stream of K_i, shared with P_{i−1}.
    var streamWithPrevious: AESCounterPRG
    /// Stream of K_{i+1}, shared with P_{i+1}.
    var streamWithNext: AESCounterPRG
    /// Seeds shared with each dealer (client, owner) for input sharing: Pi holds seed c_j for the
    /// components x_j it derives (P0: c0 and c1; P1: c1; P2: c0).
    var dealerStreams: [Endpoint: [Int: AESCounterPRG]]

    public var next: Int { (id + 1) % 3 }
    public var previous: Int { (id + 2) % 3 }

    init(id: Int, fixedPoint: FixedPoint, transport: Transport, keyWithPrevious: AESCounterPRG,
         keyWithNext: AESCounterPRG, dealerStreams: [Endpoint: [Int: AESCounterPRG]]) {
        precondition((0..<3).contains(id), "party id must be 0, 1 or 2")
        self.id = id
        self.fixedPoint = fixedPoint
        self.transport = transport
        streamWithPrevious = keyWithPrevious
        streamWithNext = keyWithNext
        self.dealerStreams = dealerStreams
    }

    // MARK: Communication

    /// One round: sends every message, then receives one message from each endpoint in `receive`
    /// (in order). Every party calls this at the same protocol step, even with nothing to send, so
    /// each party's round count is the protocol's.
    func exchange(send: [(to: Endpoint, words: [UInt64])], receive: [Endpoint]) -> [[UInt64]] {
        var sent = 0
        for message in send {
            transport.send(message.words, to: message.to)
            sent += message.words.count
        }
        let received = receive.map { transport.receive(from: $0) }
        ledger.recordRound(bytesSent: 8 * sent, bytesReceived: 8 * received.reduce(0) { $0 + $1.count })
        return received
    }

    // MARK: Correlated randomness (no communication)

    /// `n` values common with party `other` (who draws the same call).
    func common(with other: Int, _ n: Int) -> [UInt64] {
        if other == previous { return streamWithPrevious.words(n) }
        precondition(other == next, "P\(id) shares no key with P\(other)")
        return streamWithNext.words(n)
    }

    /// Pi's part α_i of an arithmetic zero-sharing: α_i = F(K_i) − F(K_{i+1}), so Σα = 0.
    func zeroShare(_ n: Int) -> [UInt64] {
        Words.sub(streamWithPrevious.words(n), streamWithNext.words(n))
    }

    /// Pi's part of a boolean zero-sharing: F(K_i) ⊕ F(K_{i+1}).
    func zeroShareXor(_ n: Int) -> [UInt64] {
        Words.xor(streamWithPrevious.words(n), streamWithNext.words(n))
    }

    // MARK: Public values as shares

    /// The trivial sharing of a public vector: component 0 = v, the others 0.
    public func publicShares(_ v: [UInt64]) -> ArithmeticShares {
        let zero = [UInt64](repeating: 0, count: v.count)
        switch id {
        case 0: return ArithmeticShares(first: v, second: zero)
        case 2: return ArithmeticShares(first: zero, second: v)
        default: return ArithmeticShares(first: zero, second: zero)
        }
    }

    /// The trivial boolean sharing of public words.
    public func publicBits(_ v: [UInt64]) -> BooleanShares {
        let s = publicShares(v)
        return BooleanShares(first: s.first, second: s.second)
    }

    /// Runs `body` inside a named ledger scope.
    public func scope<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        try ledger.scope(name, body)
    }
}
