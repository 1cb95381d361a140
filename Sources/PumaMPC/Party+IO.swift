import PumaCore

/// Input sharing and opening.
extension Party {
    /// Receives a dealer's (client's or model owner's) input of `count` elements.
    ///
    /// The dealer sets x0 = PRG(c0), x1 = PRG(c1) from seeds it shares with the parties, and sends
    /// x2 = x − x0 − x1 to P1 and P2. Cost: 1 round, 2n elements (from the dealer); P0 receives nothing.
    public func input(from dealer: Endpoint, count n: Int) -> ArithmeticShares {
        scope("input") {
            let received = exchange(send: [], receive: id == 0 ? [] : [dealer])
            switch id {
            case 0: return ArithmeticShares(first: dealerStreams[dealer]![0]!.words(n), second: dealerStreams[dealer]![1]!.words(n))
            case 1: return ArithmeticShares(first: dealerStreams[dealer]![1]!.words(n), second: received[0])
            default: return ArithmeticShares(first: received[0], second: dealerStreams[dealer]![0]!.words(n))
            }
        }
    }

    /// Opens x to all three parties: Pi sends x_{i+1} to P_{i−1}. Cost: 1 round, 3n elements.
    public func revealToAll(_ x: ArithmeticShares) -> [UInt64] {
        scope("reveal") {
            let missing = exchange(send: [(.party(previous), x.second)], receive: [.party(next)])[0]
            return Words.add(Words.add(x.first, x.second), missing)
        }
    }

    /// Opens boolean shares to all three parties. Cost: 1 round, 3n words.
    public func revealToAll(_ x: BooleanShares) -> [UInt64] {
        scope("reveal") {
            let missing = exchange(send: [(.party(previous), x.second)], receive: [.party(next)])[0]
            return Words.xor(Words.xor(x.first, x.second), missing)
        }
    }

    /// Opens x to the client only: P0 sends x0, P1 sends x1 + x2; P2 sends nothing.
    /// Cost: 1 round, 2n elements. The parties learn nothing.
    public func revealToClient(_ x: ArithmeticShares) {
        scope("reveal") {
            switch id {
            case 0: _ = exchange(send: [(.client, x.first)], receive: [])
            case 1: _ = exchange(send: [(.client, Words.add(x.first, x.second))], receive: [])
            default: _ = exchange(send: [], receive: [])
            }
        }
    }
}

/// The client's or the model owner's side of the protocol: secret-shares inputs, receives outputs.
/// Holds the seeds c0 (shared with P0 and P2) and c1 (shared with P0 and P1).
public final class Dealer: @unchecked Sendable {
    public let endpoint: Endpoint
    public let ledger = Ledger()
    let transport: Transport
    var seed0: AESCounterPRG
    var seed1: AESCounterPRG

    init(endpoint: Endpoint, transport: Transport, seed0: AESCounterPRG, seed1: AESCounterPRG) {
        self.endpoint = endpoint
        self.transport = transport
        self.seed0 = seed0
        self.seed1 = seed1
    }

    /// Secret-shares `values` (ring elements) to the three parties; pairs with `Party.input`.
    public func share(_ values: [UInt64]) {
        let x0 = seed0.words(values.count)
        let x1 = seed1.words(values.count)
        let x2 = Words.sub(Words.sub(values, x0), x1)
        transport.send(x2, to: .party(1))
        transport.send(x2, to: .party(2))
        ledger.charge("\(endpoint) input", bytesSent: 16 * values.count, bytesReceived: 0)
    }

    /// Receives an output opened with `Party.revealToClient`.
    public func receiveOutput() -> [UInt64] {
        let a = transport.receive(from: .party(0))
        let b = transport.receive(from: .party(1))
        ledger.charge("\(endpoint) output", bytesSent: 0, bytesReceived: 8 * (a.count + b.count))
        return Words.add(a, b)
    }
}
