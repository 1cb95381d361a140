import Foundation
import PumaLLaMA
import PumaMPC

/// The `--report-json` document of `puma generate`.
struct GenerationReport: Encodable {
    struct Timing: Encodable {
        /// Whole command: loading, weight sharing, tokenizing and generating.
        var wallSeconds: Double
        /// The generation loop alone (prompt processing included).
        var generationSeconds: Double
        var bytesSent: Int?
        var rounds: Int?
    }

    struct PartyCost: Encodable {
        var bytesSent: Int
        var rounds: Int
    }

    /// One forward pass (or the set-up): bytes summed over all senders; per party P0, P1, P2; and
    /// the slowest party's modeled network time on the LAN and WAN presets.
    struct PassReport: Encodable {
        var tokens: Int
        var wallSeconds: Double
        var bytesSent: Int
        var rounds: Int
        var perParty: [PartyCost]?
        var modeledSeconds: [String: Double]?

        init(_ c: PassCost) {
            tokens = c.tokens
            wallSeconds = c.wallSeconds
            bytesSent = c.bytesSent
            rounds = c.rounds
            if !c.perParty.isEmpty {
                perParty = c.perParty.map { PartyCost(bytesSent: $0.bytesSent, rounds: $0.rounds) }
                modeledSeconds = Dictionary(uniqueKeysWithValues: [NetworkModel.lan, .wan].map { model in
                    (model.name, c.perParty.map { model.seconds(rounds: $0.rounds, bytesSent: $0.bytesSent) }.max() ?? 0)
                })
            }
        }
    }

    /// One operation over all passes: bytes summed over the parties, rounds of the slowest, and per party.
    struct OpReport: Encodable {
        var bytesSent: Int
        var rounds: Int
        var wallSeconds: Double
        var perParty: [PartyCost]

        /// Every operation of `secure`'s passes (the weight sharing left out).
        static func all(_ secure: any SecureCosts) -> [String: OpReport] {
            let parties = secure.operationCostsPerParty
            return Dictionary(uniqueKeysWithValues: secure.operationCosts.map { name, r in
                (name, OpReport(bytesSent: r.bytesSent, rounds: r.rounds, wallSeconds: r.seconds,
                                perParty: parties.map { PartyCost(bytesSent: $0[name]?.bytesSent ?? 0, rounds: $0[name]?.rounds ?? 0) }))
            })
        }
    }

    struct Comparison: Encodable {
        var plainIds: [Int32]
        var plainText: String
        /// Index among the new tokens of the first difference; nil when identical.
        var firstDivergence: Int?
        var maxLogitError: Double
        var logitErrors: [Double]
        /// The cleartext fixed-point twin: its error against plaintext, the secure run's against it,
        /// and values it saw outside the protocols' domains, per kind (empty: none).
        var cleartext: Cleartext
    }

    struct Cleartext: Encodable {
        var maxLogitError: Double
        var maxSecureError: Double
        var rangeViolations: [String: Int]
    }

    var mode: String
    var model: String
    var prompt: String
    /// BOS + prompt ids + generated ids.
    var ids: [Int32]
    var promptTokens: Int
    var generatedTokens: Int
    /// decode(ids).
    var text: String
    var stopReason: String
    var total: Timing
    var peakRssBytes: Int?
    var compare: Comparison?
    /// Secure modes: sharing the weights (once).
    var setup: PassReport?
    /// Secure modes: one entry per forward pass (the first covers the whole prompt).
    var perToken: [PassReport]?
    /// Secure modes: per operation, all passes together.
    var ops: [String: OpReport]?
    var modeledSeconds: [String: Double]?
    /// `--deployment`: bytes each process put on the wire (TLS included) during the session.
    var wire: Wire?

    struct Wire: Encodable {
        var deployment: String
        /// P0, P1, P2.
        var partyBytesSent: [Int]
        var clientBytesSent: Int
    }

    mutating func addCosts(_ secure: any SecureCosts) {
        setup = PassReport(secure.setupCost)
        perToken = secure.passes.map(PassReport.init)
        total.bytesSent = secure.passTotal.bytesSent
        total.rounds = secure.passTotal.rounds
        ops = OpReport.all(secure)
        modeledSeconds = Dictionary(uniqueKeysWithValues: [NetworkModel.lan, .wan].map { ($0.name, secure.modeledSeconds($0)) })
    }
}

/// A plain one-line error for the CLI.
struct ValidationErrorMessage: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
