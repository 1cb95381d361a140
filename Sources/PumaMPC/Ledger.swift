import Foundation

/// Communication and time spent by one party, per operation scope.
public struct CostRecord: Sendable, Equatable, Codable {
    public var rounds = 0
    public var bytesSent = 0
    public var bytesReceived = 0
    /// Inclusive wall time of the scope (nested scopes included).
    public var seconds: Double = 0

    public init(rounds: Int = 0, bytesSent: Int = 0, bytesReceived: Int = 0, seconds: Double = 0) {
        self.rounds = rounds
        self.bytesSent = bytesSent
        self.bytesReceived = bytesReceived
        self.seconds = seconds
    }
}

extension CostRecord {
    /// What was spent between two readings of the same counters.
    public static func - (after: CostRecord, before: CostRecord) -> CostRecord {
        CostRecord(rounds: after.rounds - before.rounds, bytesSent: after.bytesSent - before.bytesSent,
                   bytesReceived: after.bytesReceived - before.bytesReceived, seconds: after.seconds - before.seconds)
    }
}

/// Counts every message a party sends and receives, and its rounds (one phase of messages that
/// depend on the previous phase). Costs are kept per scope path such as `"layer/softmax/truncation"`;
/// communication is charged to the innermost open scope, wall time to every open scope.
/// Owned by one party (not shared between threads).
public final class Ledger: @unchecked Sendable {
    public private(set) var records: [String: CostRecord] = [:]
    private var stack: [String] = []

    public init() {}

    private var path: String { stack.isEmpty ? "unscoped" : stack.joined(separator: "/") }

    /// Runs `body` inside the scope `name`.
    public func scope<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        stack.append(name)
        let key = path
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            records[key, default: CostRecord()].seconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            stack.removeLast()
        }
        return try body()
    }

    /// Records one communication round with the given traffic.
    public func recordRound(bytesSent: Int, bytesReceived: Int) {
        var r = records[path, default: CostRecord()]
        r.rounds += 1
        r.bytesSent += bytesSent
        r.bytesReceived += bytesReceived
        records[path] = r
    }

    /// Records one round of a client's or owner's traffic under the top-level name `name`, with no
    /// wall time (a dealer's time is spent waiting for the parties).
    public func charge(_ name: String, bytesSent: Int, bytesReceived: Int) {
        var r = records[name, default: CostRecord()]
        r.rounds += 1
        r.bytesSent += bytesSent
        r.bytesReceived += bytesReceived
        records[name] = r
    }

    /// Communication summed by the first `depth` components of each scope path; time is that of
    /// the scope at exactly that depth (inclusive of what it nests).
    public static func grouped(_ records: [String: CostRecord], depth: Int) -> [String: CostRecord] {
        var out: [String: CostRecord] = [:]
        for (key, r) in records {
            let parts = key.split(separator: "/")
            let name = parts.prefix(depth).joined(separator: "/")
            out[name, default: CostRecord()].rounds += r.rounds
            out[name, default: CostRecord()].bytesSent += r.bytesSent
            out[name, default: CostRecord()].bytesReceived += r.bytesReceived
            if parts.count <= depth { out[name, default: CostRecord()].seconds += r.seconds }
        }
        return out
    }

    public func reset() { records = [:] }
}

/// The three parties' ledgers combined: rounds are the slowest party's, bytes are summed.
public struct CostReport: Sendable {
    public var perParty: [[String: CostRecord]]

    public init(ledgers: [Ledger]) { perParty = ledgers.map(\.records) }

    /// From each ledger's records (e.g. received from parties in other processes).
    public init(records: [[String: CostRecord]]) { perParty = records }

    /// Total over all parties and scopes: rounds = max over parties, bytes sent summed.
    public var total: CostRecord { combine(perParty.map { Self.sum($0.values) }) }

    /// The totals of ledger `i` alone (its rounds and bytes over all scopes).
    public func total(ofLedger i: Int) -> CostRecord { Self.sum(perParty[i].values) }

    /// Per top-level (or deeper) scope.
    public func byScope(depth: Int = 1) -> [String: CostRecord] {
        let grouped = perParty.map { Ledger.grouped($0, depth: depth) }
        var names = Set<String>()
        for g in grouped { names.formUnion(g.keys) }
        var out: [String: CostRecord] = [:]
        for name in names { out[name] = combine(grouped.map { $0[name] ?? CostRecord() }) }
        return out
    }

    /// Ledger `i` alone, per top-level (or deeper) scope.
    public func byScope(depth: Int = 1, ofLedger i: Int) -> [String: CostRecord] { Ledger.grouped(perParty[i], depth: depth) }

    private func combine(_ records: [CostRecord]) -> CostRecord {
        CostRecord(rounds: records.map(\.rounds).max() ?? 0,
                   bytesSent: records.reduce(0) { $0 + $1.bytesSent },
                   bytesReceived: records.reduce(0) { $0 + $1.bytesReceived },
                   seconds: records.map(\.seconds).max() ?? 0)
    }

    private static func sum<S: Sequence>(_ records: S) -> CostRecord where S.Element == CostRecord {
        records.reduce(CostRecord()) {
            CostRecord(rounds: $0.rounds + $1.rounds, bytesSent: $0.bytesSent + $1.bytesSent,
                       bytesReceived: $0.bytesReceived + $1.bytesReceived, seconds: $0.seconds + $1.seconds)
        }
    }
}

/// A network to model time on: each round costs one latency, each byte 1/bandwidth.
public struct NetworkModel: Sendable, Equatable {
    public var name: String
    public var latencySeconds: Double
    public var bitsPerSecond: Double

    /// PUMA's LLaMA setting: 0.1 ms, 20 Gbps.
    public static let lan = NetworkModel(name: "LAN", latencySeconds: 1e-4, bitsPerSecond: 20e9)
    /// A wide-area preset: 40 ms, 100 Mbps.
    public static let wan = NetworkModel(name: "WAN", latencySeconds: 4e-2, bitsPerSecond: 100e6)

    /// Modeled network time of one party's traffic: rounds × latency + bytes sent / bandwidth.
    public func seconds(rounds: Int, bytesSent: Int) -> Double {
        Double(rounds) * latencySeconds + Double(bytesSent) * 8 / bitsPerSecond
    }

    /// The slowest party's modeled time, leaving out scopes whose first path component is in `excluding`.
    public func seconds(_ report: CostReport, excluding: Set<String> = []) -> Double {
        report.perParty.map { records -> Double in
            let kept = records.filter { !excluding.contains(String($0.key.split(separator: "/").first ?? "")) }.values
            return seconds(rounds: kept.reduce(0) { $0 + $1.rounds }, bytesSent: kept.reduce(0) { $0 + $1.bytesSent })
        }.max() ?? 0
    }
}
