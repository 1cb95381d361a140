import Foundation
import PumaCore
import PumaIO
import PumaLLaMA
import PumaMPC
import Testing

/// What every endpoint receives during secure generation, message by message: the client gets only
/// the shares of the chosen token, the parties get from the client only its input shares, and
/// nobody hears from the model owner during a pass.
@Suite("Deliveries: exactly what the client and each party receive")
struct DeliveryTests {
    func tinyModel(seed: UInt64) throws -> (URL, LlamaConfiguration, LlamaWeights) {
        let dir = try Fixtures.temporaryDirectory()
        try TinyModel.write(to: dir, dtype: .f32, seed: seed)
        let checkpoint = try Checkpoint(directory: dir)
        return (dir, checkpoint.configuration, try LlamaWeights(checkpoint: checkpoint))
    }

    @Test("per pass: the client receives one word from P0 and one from P1 (its token), parties only their input shares from it",
          arguments: [0.0, 1.5])
    func perPass(temperature: Double) throws {
        let (dir, c, weights) = try tinyModel(seed: 30)
        defer { try? FileManager.default.removeItem(at: dir) }
        let choosable = 33
        let predictor = SecurePredictor(config: c, weights: weights, seed: 8, temperature: temperature,
                                        choosable: choosable, recordDeliveries: true)
        let network = predictor.simulation.network
        // Set-up: the owner's x2 is modeled (ledger), not sent here; nothing reaches anyone.
        for e in [Endpoint.client, .owner, .party(0), .party(1), .party(2)] { #expect(network.deliveries(to: e).isEmpty, "\(e)") }
        var counts: [Endpoint: Int] = [:]
        func newDeliveries(_ e: Endpoint) -> [InMemoryNetwork.Delivery] {
            let all = network.deliveries(to: e)
            defer { counts[e] = all.count }
            return Array(all.dropFirst(counts[e] ?? 0))
        }
        let fed: [[Int32]] = [[1, 6, 9, 2], [5], [7]]
        var tokens: [Int32] = []
        for tokensFed in fed {
            tokens.append(try predictor.feed(tokensFed))
            let client = newDeliveries(.client)
            #expect(client.map(\.from) == [.party(0), .party(1)] && client.allSatisfy { $0.words.count == 1 },
                    "the client receives \(client.map { "\($0.from):\($0.words.count)" })")
            #expect(newDeliveries(.owner).isEmpty)
            for i in 0..<3 {
                let received = newDeliveries(.party(i))
                let fromClient = received.filter { $0.from == .client }.map(\.words.count)
                var expected = i == 0 ? [] : [tokensFed.count * c.vocabSize]  // P0 derives its components from seeds
                if temperature > 0 && i != 0 { expected.append(choosable) }   // the client's Gumbel noise
                #expect(fromClient == expected, "P\(i) received \(fromClient) words from the client")
                #expect(received.allSatisfy { $0.from != .owner && $0.from != .party(i) })
                #expect(received.count > fromClient.count, "P\(i) also hears from the other parties")
            }
        }
        #expect(tokens.allSatisfy { $0 >= 0 && $0 < choosable })
    }

    @Test("compare mode additionally opens the last logits to the client, and only to it")
    func revealedLogits() throws {
        let (dir, c, weights) = try tinyModel(seed: 31)
        defer { try? FileManager.default.removeItem(at: dir) }
        let predictor = SecurePredictor(config: c, weights: weights, seed: 8, revealLogits: true, recordDeliveries: true)
        _ = try predictor.feed([1, 4])
        let client = predictor.simulation.network.deliveries(to: .client)
        #expect(client.map { "\($0.from):\($0.words.count)" } == ["P0:\(c.vocabSize)", "P1:\(c.vocabSize)", "P0:1", "P1:1"])
    }

    @Test("Gumbel-max on shares samples softmax(logits/T): chi-square over 20,000 secure draws")
    func gumbelDistribution() {
        let logits: [Double] = [1.0, 0.5, 0, -0.5, 2.0, -3.0]
        let temperature = 0.8
        let rows = 20_000, cols = logits.count
        let fp = FixedPoint.standard
        var random = SeededGenerator(seed: 12)
        let noise = GumbelMax.noise(count: rows * cols, fixedPoint: fp, using: &random)
        let repeated = (0..<rows).flatMap { _ in logits.map(fp.encode) }
        let indices = MPC.run([repeated, noise]) { p, v in
            p.argmax(GumbelMax.perturb(p, logits: v[0], noise: v[1], temperature: temperature), rows: rows, cols: cols).indices
        }
        var histogram = [Int](repeating: 0, count: cols)
        for i in indices { histogram[Int(i)] += 1 }
        let weights = logits.map { exp($0 / temperature) }
        let total = weights.reduce(0, +)
        let chi = zip(histogram, weights).reduce(0.0) { sum, pair in
            let expected = Double(rows) * pair.1 / total
            return sum + (Double(pair.0) - expected) * (Double(pair.0) - expected) / expected
        }
        // 5 degrees of freedom: the 0.999 quantile is 20.5.
        #expect(chi < 20.5, "chi-square \(chi); histogram \(histogram), expected \(weights.map { Double(rows) * $0 / total })")
    }
}
