import ArgumentParser
import Foundation
import PumaLLaMA
import PumaMPC
import PumaNet

/// `--deployment` and the network's timeouts, shared by the commands of a three-process deployment.
struct NetworkOptions: ParsableArguments {
    @Option(name: .customLong("deployment"), parsing: .unconditional, help: "Deployment directory (from `puma deploy init`).")
    var deployment: String?

    @Option(name: .customLong("timeout"), parsing: .unconditional,
            help: "Seconds of silence (not even a keepalive, sent every 0.5 s) after which a peer counts as frozen or unreachable.")
    var timeout: Double = 30

    @Option(name: .customLong("connect-timeout"), parsing: .unconditional, help: "Seconds to keep trying to reach a peer that is not listening yet.")
    var connectTimeout: Double = 60

    func validate() throws {
        guard timeout.isFinite, timeout >= 2 else { throw ValidationError("--timeout must be at least 2 seconds (four keepalive intervals)") }
        guard connectTimeout.isFinite, connectTimeout > 0 else { throw ValidationError("--connect-timeout must be a positive number of seconds") }
        if deployment?.isEmpty == true { throw ValidationError("--deployment must name a directory") }
    }

    var timeouts: NetworkTimeouts { NetworkTimeouts(connect: connectTimeout, message: timeout) }

    /// The deployment named by `--deployment` (which the command requires).
    func load() throws -> Deployment {
        guard let deployment else { throw ValidationError("--deployment is required") }
        return try Deployment(directory: URL(fileURLWithPath: deployment))
    }

    /// What a process does when its network fails: one error line, exit status 1.
    static let stop: @Sendable (String) -> Never = { reason in
        try? Console.line("Error: \(reason)")
        Foundation.exit(1)
    }
}

struct DeployCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Set up a deployment of three parties on separate machines.",
        subcommands: [DeployInitCommand.self]
    )
}

struct DeployInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a deployment directory: parties.json, a new CA, and a certificate and key per role (P0, P1, P2, owner, client)."
    )

    @Option(parsing: .unconditional, help: "Directory to create (must not hold a deployment already).")
    var out: String

    @Option(parsing: .unconditional, help: "The parties' addresses, P0,P1,P2 as HOST:PORT,HOST:PORT,HOST:PORT (default: 127.0.0.1 ports \(Deployment.defaultPorts.map(String.init).joined(separator: ", "))).")
    var hosts: String?

    @Option(parsing: .unconditional, help: "Days the certificates stay valid.")
    var days = 365

    func validate() throws {
        guard (1...36500).contains(days) else { throw ValidationError("--days must lie in 1…36500") }
        _ = try addresses()
    }

    func addresses() throws -> [Deployment.Address] {
        guard let hosts else { return Deployment.defaultPorts.map { Deployment.Address(host: "127.0.0.1", port: $0) } }
        let parts = hosts.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let parsed = parts.compactMap(Deployment.Address.init(parsing:))
        guard parts.count == 3, parsed.count == 3 else {
            throw ValidationError("--hosts needs three HOST:PORT entries separated by commas, got \"\(hosts)\"")
        }
        return parsed
    }

    func run() throws {
        let directory = URL(fileURLWithPath: out)
        try Deployment.initialize(at: directory, hosts: try addresses(), days: days)
        try Console.printLine("Wrote deployment \(directory.path): parties.json, ca.pem and a certificate and key per role.")
        try Console.printLine("Give each machine parties.json, ca.pem and its own role's R.pem and R-key.pem; keep ca-key.pem offline.")
    }
}

struct PartyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "party",
        abstract: "Run computing party P0, P1 or P2 of a deployment until stopped."
    )

    @OptionGroup var network: NetworkOptions

    @Option(parsing: .unconditional, help: "This party's index: 0, 1 or 2.")
    var id: Int

    @Option(parsing: .unconditional, help: "Where this party keeps its weight shares (default: DEPLOYMENT/P<id>-data).")
    var data: String?

    func validate() throws {
        guard (0...2).contains(id) else { throw ValidationError("--id must be 0, 1 or 2, got \(id)") }
        if network.deployment == nil { throw ValidationError("--deployment is required") }
    }

    func run() throws {
        let deployment = try network.load()
        let directory = data.map { URL(fileURLWithPath: $0) } ?? deployment.directory.appendingPathComponent("P\(id)-data")
        let server = try PartyServer(deployment: deployment, id: id, data: directory, timeouts: network.timeouts,
                                     log: { try? Console.line($0) }, onFailure: NetworkOptions.stop)
        // SIGTERM or Ctrl-C: tell the peers (they stop with that reason), then exit 0.
        let id = self.id
        let handlers = [SIGTERM, SIGINT].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                server.shutDown("shut down by its operator (\(signalNumber == SIGTERM ? "SIGTERM" : "SIGINT"))")
                try? Console.line("P\(id): shut down")
                Foundation.exit(0)
            }
            source.resume()
            return source
        }
        try withExtendedLifetime(handlers) { try server.run() }
    }
}

struct OwnerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "owner",
        abstract: "Share a model's weights with a deployment's parties once, then exit."
    )

    @OptionGroup var network: NetworkOptions
    @OptionGroup var modelOptions: ModelOptions

    func validate() throws {
        if network.deployment == nil { throw ValidationError("--deployment is required") }
    }

    func run() throws {
        let deployment = try network.load()
        let model = try LlamaModel(at: modelOptions.location)
        // The parties' SiLU relies on this range: the owner refuses weights that could leave it.
        try model.weights.checkSecureRanges()
        let progress = TerminalProgress(label: "sharing", afterText: false)
        let summary = try OwnerUpload.run(deployment: deployment, model: model, timeouts: network.timeouts,
                                          progress: { done, total in progress.step(done >> 20, of: max(1, total >> 20), "M parameters") },
                                          onFailure: NetworkOptions.stop)
        progress.finish()
        try Console.line(String(format: "shared %d parameters in %.1f s: %.1f MB on the wire; stored P0 %@, P1 %@, P2 %@",
                                summary.parameters, summary.seconds, Double(summary.wireBytesSent) / 1e6,
                                InspectCommand.bytes(summary.storedBytes[0]), InspectCommand.bytes(summary.storedBytes[1]),
                                InspectCommand.bytes(summary.storedBytes[2])))
    }
}
