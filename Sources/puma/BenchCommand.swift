import ArgumentParser
import Foundation
import PumaCore
import PumaMPC

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks (build with -c release).",
        subcommands: [ProtocolsBench.self, AccuracyBench.self, GemmBench.self, GenerateBench.self, TransportBench.self]
    )
}

/// `puma bench protocols`: throughput, rounds and bytes per element of every primitive.
struct ProtocolsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "protocols",
        abstract: "Per primitive: elements per second in the 3-party simulation, rounds, bytes per element."
    )

    @Option(parsing: .unconditional, help: "Elements per primitive (rows for max/argmax and matmul).")
    var elements = 100_000

    @Option(parsing: .unconditional, help: "Columns for max/argmax, and the inner/outer size of the matmul ([n×w]·[w×w]).")
    var width = 16

    @Option(parsing: .unconditional, help: "Repetitions; the fastest is reported.")
    var repeats = 3

    @Option(parsing: .unconditional, help: "Seed for the parties' keys (reproducible runs).")
    var seed: UInt64 = 1

    @Option(name: .customLong("json"), parsing: .unconditional, help: "Also write the results as JSON to this file.")
    var jsonPath: String?

    func validate() throws {
        if let jsonPath { try OutputFile.checkWritable(jsonPath, option: "--json") }
        guard elements > 0, width > 1, repeats > 0 else { throw ValidationError("--elements, --repeats must be positive and --width at least 2") }
        guard elements >= width else { throw ValidationError("--elements (\(elements)) must be at least --width (\(width))") }
        guard elements <= 50_000_000 / width else { throw ValidationError("--elements × --width must stay below 50,000,000") }
    }

    struct Row: Encodable {
        var primitive: String
        var elements: Int
        var seconds: Double
        var elementsPerSecond: Double
        var rounds: Int
        var bytesPerElement: Double
        var declaredRounds: Int
        var declaredBytesPerElement: Double
    }

    func run() throws {
        let n = elements
        var random = AESCounterPRG(seed: seed, stream: 99)
        // Encoded reals in [−64, 64): the range activations live in.
        let a = random.words(n).map { UInt64(bitPattern: Int64(bitPattern: $0) >> 39) }
        let b = random.words(n).map { UInt64(bitPattern: Int64(bitPattern: $0) >> 39) }
        let wide = random.words(n * width).map { UInt64(bitPattern: Int64(bitPattern: $0) >> 39) }
        var rows: [Row] = []
        for primitive in Primitive.allCases {
            var best = Double.infinity
            var measured = CostRecord()
            var size = n
            for _ in 0..<repeats {
                let sim = Simulation(seed: seed)
                let timings = sim.run(dealers: { s in
                    s.client.share(a); s.client.share(b); s.client.share(wide)
                    s.client.ledger.reset()
                    if primitive == .input { s.client.share(a) }
                    if primitive == .revealToClient { _ = s.client.receiveOutput() }
                }) { p -> (Double, Int) in
                    let x = p.input(from: .client, count: n), y = p.input(from: .client, count: n)
                    let w = p.input(from: .client, count: n * self.width)
                    let operands = PrimitiveOperands(party: p, a: x, b: y, wide: w, width: self.width)
                    p.ledger.reset()
                    let start = DispatchTime.now().uptimeNanoseconds
                    var size = n
                    switch primitive {
                    case .input: _ = p.input(from: .client, count: n)
                    case .revealToClient: p.revealToClient(x)
                    default: size = primitive.exercise(on: p, operands)
                    }
                    return (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, size)
                }
                let seconds = timings.map(\.0).max()!
                size = timings[0].1
                if seconds < best {
                    best = seconds
                    measured = CostReport(ledgers: sim.parties.map(\.ledger) + [sim.client.ledger]).total
                }
            }
            let declared = primitive.cost(n: size, width: width)
            rows.append(Row(primitive: primitive.rawValue, elements: size, seconds: best,
                            elementsPerSecond: Double(size) / best, rounds: measured.rounds,
                            bytesPerElement: Double(measured.bytesSent) / Double(size),
                            declaredRounds: declared.rounds,
                            declaredBytesPerElement: Double(8 * declared.elements) / Double(size)))
        }
        var lines = ["primitive        elements   seconds   elements/s   rounds   bytes/element"]
        for r in rows {
            lines.append(r.primitive.padding(toLength: 15, withPad: " ", startingAt: 0)
                + String(format: " %9d  %8.4f  %11.0f  %7d  %14.1f", r.elements, r.seconds, r.elementsPerSecond, r.rounds, r.bytesPerElement))
        }
        try Console.printLine(lines.joined(separator: "\n"))
        try Console.line("3 parties simulated in one process on \(ProcessInfo.processInfo.activeProcessorCount) cores; "
            + "max/argmax over rows of \(width); matmul [n×\(width)]·[\(width)×\(width)]; fastest of \(repeats)")
        if let jsonPath { try OutputFile.writeJSON(rows, to: jsonPath) }
    }
}
