import ArgumentParser
import Foundation
import PumaNet

/// `puma bench transport`: the deployment's TLS link over loopback against the in-memory network.
struct TransportBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transport",
        abstract: "One link's throughput and round trip: mutual TLS over loopback (two endpoints in this process) vs the in-memory network."
    )

    @Option(parsing: .unconditional, help: "Megabytes sent one way per measurement.")
    var megabytes = 512

    @Option(name: .customLong("message-kilobytes"), parsing: .unconditional, help: "Size of each message in kilobytes.")
    var messageKilobytes = 1024

    @Option(name: .customLong("round-trips"), parsing: .unconditional, help: "One-word round trips timed.")
    var roundTrips = 2000

    @Option(name: .customLong("json"), parsing: .unconditional, help: "Also write the results as JSON to this file.")
    var jsonPath: String?

    func validate() throws {
        if let jsonPath { try OutputFile.checkWritable(jsonPath, option: "--json") }
        guard (1...65536).contains(megabytes) else { throw ValidationError("--megabytes must lie in 1…65536") }
        guard (1...1_048_576).contains(messageKilobytes) else { throw ValidationError("--message-kilobytes must lie in 1…1048576") }
        guard (1...1_000_000).contains(roundTrips) else { throw ValidationError("--round-trips must lie in 1…1000000") }
    }

    func run() throws {
        let total = megabytes << 20, message = messageKilobytes << 10
        let results = [TransportBenchmark.inMemory(totalBytes: total, messageBytes: message, pingPongs: roundTrips),
                       try TransportBenchmark.loopback(totalBytes: total, messageBytes: message, pingPongs: roundTrips)]
        try Console.printLine("transport             GB/s   round trip µs   wire bytes per payload byte   (\(megabytes) MB in \(messageKilobytes) KB messages)")
        for r in results {
            try Console.printLine(r.transport.padding(toLength: 18, withPad: " ", startingAt: 0)
                + String(format: " %7.2f   %13.1f   %27.4f", r.bytesPerSecond / 1e9, r.roundTripSeconds * 1e6, r.wireOverhead))
        }
        if let jsonPath { try OutputFile.writeJSON(results, to: jsonPath) }
    }
}
