import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A TCP socket bound to a free port on 127.0.0.1, and that port.
func boundLoopbackSocket() -> (socket: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}

/// Free TCP ports on loopback: bound to port 0 together (so they differ), then released.
func freePorts(_ n: Int) -> [Int] {
    let bound = (0..<n).map { _ in boundLoopbackSocket() }
    bound.forEach { close($0.socket) }
    return bound.map(\.port)
}

/// A `puma` process running in the background, its output in files.
final class BackgroundPuma {
    let process = Process()
    let stdout: URL, stderr: URL

    init(_ arguments: [String], in directory: URL, name: String) throws {
        stdout = directory.appendingPathComponent("\(name).out")
        stderr = directory.appendingPathComponent("\(name).err")
        _ = FileManager.default.createFile(atPath: stdout.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderr.path, contents: nil)
        process.executableURL = PumaProcess.executable
        process.arguments = arguments
        process.currentDirectoryURL = Fixtures.packageRoot
        process.standardOutput = try FileHandle(forWritingTo: stdout)
        process.standardError = try FileHandle(forWritingTo: stderr)
        try process.run()
    }

    /// Waits up to `seconds` for the process to end; true if it did.
    func waitForExit(_ seconds: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        return !process.isRunning
    }

    /// Waits until stderr contains `text` (up to `seconds`).
    func waitFor(_ text: String, _ seconds: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while Date() < deadline {
            if errorText.contains(text) { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    /// Waits until stdout holds more than `characters` characters (up to `seconds`).
    func waitForOutput(beyond characters: Int, _ seconds: Double = 60) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while Date() < deadline {
            if outputText.count > characters { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    var outputText: String { (try? String(contentsOf: stdout, encoding: .utf8)) ?? "" }
    var errorText: String { (try? String(contentsOf: stderr, encoding: .utf8)) ?? "" }
    var errorLines: [Substring] { errorText.split(separator: "\n").filter { $0.hasPrefix("Error:") } }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    func stop() {
        if process.isRunning { process.terminate() }
        if !waitForExit(5) { signal(SIGKILL) }
        process.waitUntilExit()
    }
}

/// A deployment on loopback in a temporary directory: three `puma party` processes on free ports,
/// optionally with the embedded model's weights shared by `puma owner`.
final class LoopbackCluster {
    let directory: URL
    let deployment: URL
    let ports: [Int]
    private(set) var parties: [BackgroundPuma] = []

    /// A relay between P2 and P1 (P2 reaches P1 through it), when asked for.
    private(set) var meshRelay: FaultyRelay?

    /// - Parameter relayMesh: P2 dials P1 through a `FaultyRelay` (`meshRelay`).
    init(timeout: Double = 60, share: Bool = true, relayMesh: Bool = false) throws {
        directory = try Fixtures.temporaryDirectory()
        deployment = directory.appendingPathComponent("deployment")
        ports = freePorts(3)
        let created = try PumaProcess(["deploy", "init", "--out", deployment.path, "--hosts", ports.map { "127.0.0.1:\($0)" }.joined(separator: ",")])
        guard created.status == 0 else { throw ClusterError("deploy init failed: \(created.stderr)") }
        var p2Deployment = deployment
        if relayMesh {
            let relay = FaultyRelay(to: ports[1])
            meshRelay = relay
            p2Deployment = try routedCopy("p2-deployment", p1: relay.port)
        }
        for i in 0..<3 {
            parties.append(try BackgroundPuma(["party", "--deployment", (i == 2 ? p2Deployment : deployment).path, "--id", "\(i)",
                                               "--data", deployment.appendingPathComponent("P\(i)-data").path,
                                               "--timeout", "\(timeout)", "--connect-timeout", "20"],
                                              in: directory, name: "P\(i)"))
        }
        do {
            for (i, party) in parties.enumerated() where !party.waitFor("serving", 30) {
                throw ClusterError("P\(i) did not start: \(party.errorText)")
            }
            if share {
                let owner = try PumaProcess(["owner", "--deployment", deployment.path])
                guard owner.status == 0 else { throw ClusterError("puma owner failed: \(owner.stderr)") }
            }
        } catch {
            tearDown()  // no party outlives a cluster that failed to start
            throw error
        }
    }

    /// A copy of the deployment directory in which P1's address is `p1` (a relay's port).
    func routedCopy(_ name: String, p1 port: Int) throws -> URL {
        try clientCopy(name) { dir in
            let url = dir.appendingPathComponent("parties.json")
            let text = try String(contentsOf: url, encoding: .utf8).replacingOccurrences(of: "\(ports[1])", with: "\(port)")
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
    }

    /// A copy of the deployment directory for a client, with `edit` applied (a different address, certificate…).
    func clientCopy(_ name: String, _ edit: (URL) throws -> Void = { _ in }) throws -> URL {
        let copy = directory.appendingPathComponent(name)
        try FileManager.default.copyItem(at: deployment, to: copy)
        try edit(copy)
        return copy
    }

    func generate(_ arguments: [String], deployment: URL? = nil) throws -> PumaProcess {
        try PumaProcess(["generate", "--deployment", (deployment ?? self.deployment).path] + arguments)
    }

    func startGenerate(_ arguments: [String], deployment: URL? = nil, name: String = "client") throws -> BackgroundPuma {
        try BackgroundPuma(["generate", "--deployment", (deployment ?? self.deployment).path] + arguments, in: directory, name: name)
    }

    var running: [Int] { parties.indices.filter { parties[$0].process.isRunning } }

    func tearDown() {
        parties.forEach { $0.stop() }
        meshRelay?.close()
        try? FileManager.default.removeItem(at: directory)
    }
}

struct ClusterError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A TCP relay on loopback between a client and one party, which can drop or garble the connection
/// on demand (faults a real network can have).
final class FaultyRelay: @unchecked Sendable {
    enum Fault { case none, drop, garble }
    let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var fault = Fault.none
    private var sockets: [Int32] = []

    init(to target: Int) {
        let (listener, port) = boundLoopbackSocket()
        self.listener = listener
        self.port = port
        listen(listener, 4)
        Thread.detachNewThread { [self] in
            while true {
                let inbound = accept(listener, nil, nil)
                if inbound < 0 { return }
                let outbound = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var server = sockaddr_in()
                server.sin_family = sa_family_t(AF_INET)
                server.sin_addr.s_addr = inet_addr("127.0.0.1")
                server.sin_port = UInt16(target).bigEndian
                for _ in 0..<200 {  // the target may not listen yet
                    let connected = withUnsafePointer(to: &server) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(outbound, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
                    }
                    if connected { break }
                    Thread.sleep(forTimeInterval: 0.05)
                }
                lock.lock(); sockets += [inbound, outbound]; lock.unlock()
                Thread.detachNewThread { self.pump(from: inbound, to: outbound) }
                Thread.detachNewThread { self.pump(from: outbound, to: inbound) }
            }
        }
    }

    /// Applies `fault` to the relayed connections from now on.
    func inject(_ fault: Fault) {
        lock.lock()
        self.fault = fault
        let open = sockets
        lock.unlock()
        if fault == .drop { open.forEach { shutdown($0, Int32(SHUT_RDWR)) } }
    }

    private func pump(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = read(source, &buffer, buffer.count)
            if n <= 0 { break }
            lock.lock()
            if fault == .garble { buffer[n / 2] ^= 0x5A }
            lock.unlock()
            if write(destination, buffer, n) != n { break }
        }
        shutdown(destination, Int32(SHUT_RDWR))
    }

    func close() {
        Glibc.shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
        inject(.drop)
    }
}

@Suite("Three party processes over mutual TLS (puma deploy, party, owner, generate --deployment)", .serialized)
struct DeploymentTests {
    static let prompt = "And the LORD said unto Moses,"

    @Test("the kjv-1m goldens over loopback, token for token, with the simulation's payload bytes and rounds")
    func goldensOverLoopback() throws {
        let cluster = try LoopbackCluster()
        defer { cluster.tearDown() }
        let golden = try Fixtures.json(Fixtures.embeddedModel.appendingPathComponent("golden.json"))
        let newTokens = golden["new_tokens"] as! Int
        // The client's model directory holds config.json and tokenizer.model only: it never reads weights.
        let clientModel = cluster.directory.appendingPathComponent("client-model")
        try FileManager.default.createDirectory(at: clientModel, withIntermediateDirectories: true)
        for name in ["config.json", "tokenizer.model"] {
            try FileManager.default.copyItem(at: Fixtures.embeddedModel.appendingPathComponent(name), to: clientModel.appendingPathComponent(name))
        }
        for (k, item) in (golden["greedy"] as! [[String: Any]]).enumerated() {
            let report = cluster.directory.appendingPathComponent("report\(k).json")
            let run = try cluster.generate(["--model", clientModel.path, "--prompt", item["prompt"] as! String, "--max-tokens", "\(newTokens)",
                                            "--ignore-eos", "--report-json", report.path])
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout == (item["text"] as! String) + "\n")
            let json = try Fixtures.json(report)
            #expect((json["ids"] as! [Int]) == item["ids"] as! [Int])
            if k == 0 {
                // The same generation in the simulation: identical protocol payload, pass by pass.
                let simulated = cluster.directory.appendingPathComponent("simulated.json")
                let sim = try PumaProcess(["generate", "--prompt", item["prompt"] as! String, "--max-tokens", "\(newTokens)", "--ignore-eos",
                                           "--report-json", simulated.path])
                #expect(sim.status == 0)
                let reference = try Fixtures.json(simulated)
                func passes(_ j: [String: Any]) -> [[Int]] {
                    (j["per_token"] as! [[String: Any]]).map { [$0["bytes_sent"] as! Int, $0["rounds"] as! Int] + ($0["per_party"] as! [[String: Any]]).map { $0["bytes_sent"] as! Int } }
                }
                #expect(passes(json) == passes(reference))
                #expect((json["ops"] as! [String: Any]).keys.sorted() == (reference["ops"] as! [String: Any]).keys.sorted())
                let wire = json["wire"] as! [String: Any]
                let partyWire = wire["party_bytes_sent"] as! [Int]
                let payload = (json["per_token"] as! [[String: Any]]).reduce([0, 0, 0]) { sums, pass in
                    zip(sums, (pass["per_party"] as! [[String: Any]]).map { $0["bytes_sent"] as! Int }).map { $0 + $1 }
                }
                // On the wire: the payload plus framing, TLS records and control messages, a few percent more.
                for i in 0..<3 { #expect(partyWire[i] > payload[i] && partyWire[i] < payload[i] * 11 / 10 + 200_000, "P\(i): \(partyWire[i]) vs \(payload[i])") }
            }
        }
        // Parties serve any number of sessions and keep running.
        #expect(cluster.running == [0, 1, 2])
        defer {
            // An operator stops P0 (SIGTERM): it exits 0 and the others stop, naming it.
            cluster.parties[0].process.terminate()
            #expect(cluster.parties[0].waitForExit(10) && cluster.parties[0].process.terminationStatus == 0)
            for party in cluster.parties[1...] {
                #expect(party.waitForExit(10) && party.process.terminationStatus == 1)
                #expect(party.errorLines.count == 1 && party.errorText.contains("P0 was shut down by its operator (SIGTERM)"), "\(party.errorText)")
            }
        }
        // What each party keeps: P0 seeds only, P1 and P2 x2 (8 bytes per parameter), keys owner-only.
        let parameters = (try Fixtures.json(cluster.deployment.appendingPathComponent("P1-data/shares.json")))["parameters"] as! Int
        for i in 0..<3 {
            let data = cluster.deployment.appendingPathComponent("P\(i)-data")
            let x2 = data.appendingPathComponent("x2.bin")
            #expect(FileManager.default.fileExists(atPath: x2.path) == (i != 0))
            if i != 0 { #expect((try FileManager.default.attributesOfItem(atPath: x2.path)[.size] as! Int) == 8 * parameters) }
            let seeds = try FileManager.default.attributesOfItem(atPath: data.appendingPathComponent("seeds.json").path)
            #expect((seeds[.posixPermissions] as! Int) == 0o600)
        }
        for role in ["P0", "P1", "P2", "owner", "client", "ca"] {
            let key = try FileManager.default.attributesOfItem(atPath: cluster.deployment.appendingPathComponent("\(role)-key.pem").path)
            #expect((key[.posixPermissions] as! Int) == 0o600)
        }
    }

    @Test("a peer from another CA or claiming another role, a client for another model, a client that dies: the parties keep serving")
    func refusedPeers() throws {
        let cluster = try LoopbackCluster()
        defer { cluster.tearDown() }
        // Another deployment's CA and certificates, the same addresses.
        let foreign = cluster.directory.appendingPathComponent("foreign")
        let created = try PumaProcess(["deploy", "init", "--out", foreign.path, "--hosts", cluster.ports.map { "127.0.0.1:\($0)" }.joined(separator: ",")])
        #expect(created.status == 0)
        var run = try cluster.generate(["--prompt", Self.prompt, "--max-tokens", "4", "--connect-timeout", "5"], deployment: foreign)
        #expect(run.status != 0 && run.stdout.isEmpty)
        #expect(run.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }.count == 1, "\(run.stderr)")
        #expect(run.stderr.contains("P0") && run.stderr.contains("TLS"), "\(run.stderr)")

        // The owner's certificate presented by a process claiming to be the client.
        let impostor = try cluster.clientCopy("impostor") { dir in
            for suffix in [".pem", "-key.pem"] {
                try FileManager.default.removeItem(at: dir.appendingPathComponent("client\(suffix)"))
                try FileManager.default.copyItem(at: dir.appendingPathComponent("owner\(suffix)"), to: dir.appendingPathComponent("client\(suffix)"))
            }
        }
        run = try cluster.generate(["--prompt", Self.prompt, "--max-tokens", "4"], deployment: impostor)
        #expect(run.status != 0 && run.stdout.isEmpty)
        #expect(run.stderr.contains("the peer claims client but its certificate is for owner"), "\(run.stderr)")

        // A client for a different model: refused by every party before any computation.
        let other = cluster.directory.appendingPathComponent("other-model")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        var config = try Fixtures.json(Fixtures.embeddedModel.appendingPathComponent("config.json"))
        config["rms_norm_eps"] = 1e-3
        try JSONSerialization.data(withJSONObject: config).write(to: other.appendingPathComponent("config.json"))
        try FileManager.default.copyItem(at: Fixtures.embeddedModel.appendingPathComponent("tokenizer.model"), to: other.appendingPathComponent("tokenizer.model"))
        run = try cluster.generate(["--model", other.path, "--prompt", Self.prompt, "--max-tokens", "4"])
        #expect(run.status != 0 && run.stdout.isEmpty)
        #expect(run.stderr.contains("differs from the model whose shares P0 holds"), "\(run.stderr)")

        // A client killed mid-generation: the parties finish the pass and end its session.
        let client = try cluster.startGenerate(["--prompt", Self.prompt, "--max-tokens", "200", "--ignore-eos"])
        #expect(client.waitForOutput(beyond: Self.prompt.count + 10))
        client.signal(SIGKILL)
        #expect(client.waitForExit(5))
        #expect(cluster.parties.allSatisfy { $0.waitFor("the client left", 10) }, "\(cluster.parties.map(\.errorText))")

        #expect(cluster.running == [0, 1, 2])
        run = try cluster.generate(["--prompt", Self.prompt, "--max-tokens", "4"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.hasPrefix(Self.prompt))
    }

    /// Starts a long generation on a new cluster whose parties wait `timeout` seconds for a message,
    /// and hands both to `inject`.
    func withLongGeneration(timeout: Double = 60, _ inject: (LoopbackCluster, BackgroundPuma) throws -> Void) throws {
        let cluster = try LoopbackCluster(timeout: timeout)
        defer { cluster.tearDown() }
        try inject(cluster, try cluster.startGenerate(["--prompt", Self.prompt, "--max-tokens", "200", "--ignore-eos"]))
    }

    @Test("a killed party, a hung party, a dropped and a garbled connection between parties end every process with one clear line")
    func faults() throws {
        // Every process must end within `bound` seconds with one error line, and the client must not
        // end as if it had finished.
        func check(_ cluster: LoopbackCluster, _ client: BackgroundPuma, mentioning text: String, bound: Double = 20) {
            #expect(client.waitForExit(bound), "the client did not stop")
            #expect(client.process.terminationStatus != 0)
            #expect(client.errorLines.count == 1 && client.errorText.contains(text), "client: \(client.errorText)")
            #expect(!client.outputText.isEmpty && client.outputText.count < 200 * 3, "a partial continuation only")
            for (i, party) in cluster.parties.enumerated() where party.process.isRunning || party.process.terminationReason == .exit {
                #expect(party.waitForExit(bound), "P\(i) did not stop")
                #expect(party.process.terminationStatus != 0 && party.errorLines.count == 1, "P\(i): \(party.errorText)")
            }
        }
        // P1 killed mid-generation.
        try withLongGeneration { cluster, client in
            #expect(client.waitForOutput(beyond: Self.prompt.count + 10))
            cluster.parties[1].signal(SIGKILL)
            check(cluster, client, mentioning: "P1")
        }
        // P2 hangs (stopped): the others give up after their --timeout; P2, resumed, finds itself alone.
        try withLongGeneration(timeout: 3) { cluster, client in
            #expect(client.waitForOutput(beyond: Self.prompt.count + 10))
            cluster.parties[2].signal(SIGSTOP)
            #expect(client.waitForExit(20))
            #expect(client.errorText.contains("nothing heard from P2 for 3 s"), "client: \(client.errorText)")
            cluster.parties[2].signal(SIGCONT)
            check(cluster, client, mentioning: "P2")
        }
        // The connection between P2 and P1 dropped, then garbled, by the network.
        for fault in [FaultyRelay.Fault.drop, .garble] {
            let cluster = try LoopbackCluster(relayMesh: true)
            defer { cluster.tearDown() }
            let client = try cluster.startGenerate(["--prompt", Self.prompt, "--max-tokens", "200", "--ignore-eos"])
            #expect(client.waitForOutput(beyond: Self.prompt.count + 10))
            cluster.meshRelay!.inject(fault)
            check(cluster, client, mentioning: "P")
            #expect(cluster.running.isEmpty)
        }
        // The client's connection to P1 dropped: the client stops with one line; the parties end its
        // session (P1 finishes the pass without it) and keep serving.
        let cluster = try LoopbackCluster()
        defer { cluster.tearDown() }
        let relay = FaultyRelay(to: cluster.ports[1])
        defer { relay.close() }
        let client = try cluster.startGenerate(["--prompt", Self.prompt, "--max-tokens", "200", "--ignore-eos"],
                                               deployment: try cluster.routedCopy("routed", p1: relay.port))
        #expect(client.waitForOutput(beyond: Self.prompt.count + 10))
        relay.inject(.drop)
        try #require(client.waitForExit(20), "the client is still running 20 s after its link to P1 dropped")
        #expect(client.process.terminationStatus != 0 && client.errorLines.count == 1 && client.errorText.contains("P1"), "\(client.errorText)")
        #expect(cluster.parties.allSatisfy { $0.waitFor("the client left", 10) }, "\(cluster.parties.map(\.errorText))")
        #expect(cluster.running == [0, 1, 2])
    }

    @Test("bad deployment options and directories give one clear line")
    func badInput() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cli = CLITests()
        try cli.expectFailure(["party", "--deployment", dir.path, "--id", "3"], "--id must be 0, 1 or 2")
        try cli.expectFailure(["party", "--id", "0"], "--deployment is required")
        try cli.expectFailure(["party", "--deployment", dir.path, "--id", "0"], "parties.json does not exist")
        try cli.expectFailure(["deploy", "init", "--out", dir.appendingPathComponent("d").path, "--hosts", "a:1,b"], "--hosts needs three HOST:PORT entries")
        try cli.expectFailure(["deploy", "init", "--out", dir.appendingPathComponent("d").path, "--hosts", "a:1,b:2,c:99999"], "--hosts needs three")
        let created = try PumaProcess(["deploy", "init", "--out", dir.appendingPathComponent("d").path])
        #expect(created.status == 0)
        try cli.expectFailure(["deploy", "init", "--out", dir.appendingPathComponent("d").path], "refusing to overwrite a deployment")
        let d = dir.appendingPathComponent("d").path
        try cli.expectFailure(["generate", "--deployment", d, "--prompt", "x", "--mode", "plain"], "--deployment runs secure generation only")
        try cli.expectFailure(["generate", "--deployment", d, "--prompt", "x", "--seed", "1"], "--seed does not apply with --deployment")
        try cli.expectFailure(["generate", "--deployment", d, "--prompt", "x", "--timeout", "1"], "--timeout must be at least 2 seconds")
        try "{\"format\": \"puma-deployment-1\", \"parties\": []}".write(to: dir.appendingPathComponent("d/parties.json"), atomically: true, encoding: .utf8)
        try cli.expectFailure(["generate", "--deployment", d, "--prompt", "x"], "must list three parties")
        try FileManager.default.removeItem(at: dir.appendingPathComponent("d/client-key.pem"))
        try cli.expectFailure(["owner", "--deployment", d], "must list three parties")
        // Nobody listening: the client gives up after --connect-timeout.
        let ports = freePorts(3)
        let lonely = dir.appendingPathComponent("lonely").path
        #expect(try PumaProcess(["deploy", "init", "--out", lonely, "--hosts", ports.map { "127.0.0.1:\($0)" }.joined(separator: ",")]).status == 0)
        try cli.expectFailure(["generate", "--deployment", lonely, "--prompt", "x", "--connect-timeout", "1"], "could not connect to P0")
        try FileManager.default.removeItem(at: dir.appendingPathComponent("lonely/client-key.pem"))
        try cli.expectFailure(["generate", "--deployment", lonely, "--prompt", "x"], "client-key.pem is missing or unreadable")
    }
}

/// A TLS peer holding one of a deployment's certificates that writes raw bytes: frames that puma
/// itself never sends.
final class RawTLSPeer {
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let channel: Channel

    init(deployment: URL, role: String, port: Int) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateChain = try NIOSSLCertificate.fromPEMFile(deployment.appendingPathComponent("\(role).pem").path).map { .certificate($0) }
        tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: deployment.appendingPathComponent("\(role)-key.pem").path, format: .pem))
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(deployment.appendingPathComponent("ca.pem").path))
        tls.certificateVerification = .noHostnameVerification
        let context = try NIOSSLContext(configuration: tls)
        let received = self.received
        channel = try ClientBootstrap(group: group).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandlers([try NIOSSLClientHandler(context: context, serverHostname: nil), Collector(received)])
            }
        }.connect(host: "127.0.0.1", port: port).wait()
    }

    /// Everything the party sent back, as text (frames' JSON payloads are readable in it).
    private let received = Received()

    final class Received: @unchecked Sendable {
        let lock = NSLock()
        var bytes: [UInt8] = []
    }

    final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let received: Received
        init(_ received: Received) { self.received = received }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            received.lock.lock()
            received.bytes += buffer.readBytes(length: buffer.readableBytes) ?? []
            received.lock.unlock()
        }
    }

    /// Waits until what the party sent back contains `text` (up to `seconds`).
    func waitFor(_ text: String, _ seconds: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while Date() < deadline {
            received.lock.lock()
            let seen = String(decoding: received.bytes, as: UTF8.self)
            received.lock.unlock()
            if seen.contains(text) { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    /// A well-formed frame: "PUMA", kind, three zero bytes, payload length (little-endian), payload.
    static func frame(kind: UInt8, _ payload: [UInt8]) -> [UInt8] {
        Array("PUMA".utf8) + [kind, 0, 0, 0] + withUnsafeBytes(of: UInt64(payload.count).littleEndian, Array.init) + payload
    }

    /// A control frame carrying `json`.
    static func control(_ json: String) -> [UInt8] { frame(kind: 2, Array(json.utf8)) }

    func write(_ bytes: [UInt8]) throws {
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        try channel.writeAndFlush(buffer).wait()
    }

    func close() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}

extension DeploymentTests {
    @Test("a garbled frame from an authenticated peer mid-session stops every party with one clear line")
    func garbledFrame() throws {
        let cluster = try LoopbackCluster()
        defer { cluster.tearDown() }
        let peer = try RawTLSPeer(deployment: cluster.deployment, role: "client", port: cluster.ports[0])
        defer { peer.close() }
        let config = try String(contentsOf: Fixtures.embeddedModel.appendingPathComponent("config.json"), encoding: .utf8)
        let request = String(decoding: try JSONSerialization.data(withJSONObject: ["kind": "generate", "config": config]), as: UTF8.self)
        try peer.write(RawTLSPeer.control(#"{"role":"client","session":"raw"}"#) + RawTLSPeer.control(request))
        // P0's verdict: it has taken the session and announced it; P1 and P2 wait for this dealer.
        #expect(peer.waitFor("storedParameters", 30))
        try peer.write(Array("JUNK".utf8) + [2, 0, 0, 0] + [UInt8](repeating: 0, count: 8))
        for (i, party) in cluster.parties.enumerated() {
            #expect(party.waitForExit(20), "P\(i) did not stop")
            #expect(party.process.terminationStatus != 0)
            #expect(party.errorLines.count == 1 && party.errorText.contains("garbled frame"), "P\(i): \(party.errorText)")
        }
    }
}
