import PumaCore

/// The key set-up of a deployment, over the network (the simulation does the same centrally, see
/// `Simulation`): every key is drawn from the system's cryptographic generator by the one endpoint
/// that owns it and sent only to the endpoints that must hold it, so no process ever holds a key
/// it should not. Keys travel as two words (16 bytes) each, over the transport's encrypted links.
public enum KeySetup {
    /// A fresh AES-128 key from the system's generator, as two words.
    static func freshKey() -> [UInt64] { Words.fromBytes(AESCounterPRG.randomKey()) }

    static func prg(_ words: [UInt64]) -> AESCounterPRG {
        precondition(words.count == 2, "a key is two words")
        return AESCounterPRG(key: Words.toBytes(words))
    }

    /// Party `id`'s side of one session's set-up: it draws its PRSS key K_id and sends it to
    /// P_{id−1} (who shares it), receives K_{id+1} from P_{id+1}, then receives from each dealer the
    /// seeds it holds (P0: c0 and c1; P1: c1; P2: c0). One round among the parties, then one per dealer.
    public static func party(id: Int, fixedPoint: FixedPoint, transport: Transport, dealers: [Endpoint]) -> Party {
        let own = freshKey()
        transport.send(own, to: .party((id + 2) % 3))
        let fromNext = transport.receive(from: .party((id + 1) % 3))
        var streams: [Endpoint: [Int: AESCounterPRG]] = [:]
        for dealer in dealers {
            streams[dealer] = receiveDealerSeeds(party: id, from: dealer, transport: transport).mapValues(prg)
        }
        return Party(id: id, fixedPoint: fixedPoint, transport: transport, keyWithPrevious: prg(own),
                     keyWithNext: prg(fromNext), dealerStreams: streams)
    }

    /// Receives the seeds party `id` holds of `dealer`'s two (see `Simulation.dealerSeeds`), by index.
    public static func receiveDealerSeeds(party id: Int, from dealer: Endpoint, transport: Transport) -> [Int: [UInt64]] {
        var seeds: [Int: [UInt64]] = [:]
        for j in Simulation.dealerSeeds(heldBy: id) { seeds[j] = transport.receive(from: dealer) }
        return seeds
    }

    /// The dealer's side: draws its seeds c0 and c1 and sends c0 to P0 and P2, c1 to P0 and P1.
    /// Returns the two seeds (the owner keeps them: they are its weights' seeded components).
    public static func dealerSeeds(transport: Transport) -> [[UInt64]] {
        let seeds = [freshKey(), freshKey()]
        for i in 0..<3 {
            for j in Simulation.dealerSeeds(heldBy: i) { transport.send(seeds[j], to: .party(i)) }
        }
        return seeds
    }

    /// A dealer (the client) for one session: its seeds sent to the parties as `dealerSeeds` does.
    public static func dealer(_ endpoint: Endpoint, transport: Transport) -> Dealer {
        let seeds = dealerSeeds(transport: transport)
        return Dealer(endpoint: endpoint, transport: transport, seed0: prg(seeds[0]), seed1: prg(seeds[1]))
    }

    /// The seekable streams of seed words (the owner's seeds, for weight components).
    public static func seekable(_ words: [UInt64]) -> SeekableStreams { prg(words).seekable }
}
