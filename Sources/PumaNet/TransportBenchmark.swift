import Foundation
import PumaMPC

/// Throughput and round-trip time of one link: the deployment's TLS transport over loopback against
/// the simulation's in-memory one, with the same `Transport` calls (`puma bench transport`).
public enum TransportBenchmark {
    public struct Result: Sendable, Encodable {
        public var transport: String
        /// Payload bytes per second, one direction, messages of `messageBytes`.
        public var bytesPerSecond: Double
        public var messageBytes: Int
        /// One word there and back (a protocol round's latency floor).
        public var roundTripSeconds: Double
        /// Bytes on the wire per payload byte (TLS records and framing; 1 in memory).
        public var wireOverhead: Double
    }

    /// Sends `totalBytes` in messages of `messageBytes` from P1 to P0, then `pingPongs` one-word round trips.
    static func measure(name: String, sender: Transport, receiver: Transport, totalBytes: Int, messageBytes: Int, pingPongs: Int,
                        wire: () -> Int = { 0 }) -> Result {
        let words = max(1, messageBytes / 8), count = max(1, totalBytes / (8 * words))
        let message = [UInt64](repeating: 0x0123_4567_89AB_CDEF, count: words)
        let received = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            for _ in 0..<count { precondition(receiver.receive(from: sender.local).count == words) }
            received.signal()
        }
        let wireBefore = wire()
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<count { sender.send(message, to: receiver.local) }
        received.wait()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let wireBytes = wire() - wireBefore
        let ponged = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            for _ in 0..<pingPongs { receiver.send(receiver.receive(from: sender.local), to: sender.local) }
            ponged.signal()
        }
        let pingStart = DispatchTime.now().uptimeNanoseconds
        for i in 0..<pingPongs {
            sender.send([UInt64(i)], to: receiver.local)
            _ = sender.receive(from: receiver.local)
        }
        ponged.wait()
        let roundTrip = Double(DispatchTime.now().uptimeNanoseconds - pingStart) / 1e9 / Double(max(1, pingPongs))
        let payload = 8 * words * count
        return Result(transport: name, bytesPerSecond: Double(payload) / seconds, messageBytes: 8 * words, roundTripSeconds: roundTrip,
                      wireOverhead: wireBytes > 0 ? Double(wireBytes) / Double(payload) : 1)
    }

    /// The simulation's in-memory network.
    public static func inMemory(totalBytes: Int, messageBytes: Int, pingPongs: Int) -> Result {
        let network = InMemoryNetwork()
        return measure(name: "in-memory", sender: network.transport(for: .party(1)), receiver: network.transport(for: .party(0)),
                       totalBytes: totalBytes, messageBytes: messageBytes, pingPongs: pingPongs)
    }

    /// P0 and P1 of a temporary deployment on loopback (mutual TLS 1.3), in this process.
    public static func loopback(totalBytes: Int, messageBytes: Int, pingPongs: Int) throws -> Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("puma-transport-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let ports = try freeLoopbackPorts(3)
        try Deployment.initialize(at: directory, hosts: ports.map { Deployment.Address(host: "127.0.0.1", port: $0) }, days: 1)
        let deployment = try Deployment(directory: directory)
        let stop: @Sendable (String) -> Never = { fatalError("transport benchmark: \($0)") }
        let p0 = try PeerNetwork(deployment: deployment, local: .party(0), onFailure: stop)
        let p1 = try PeerNetwork(deployment: deployment, local: .party(1), onFailure: stop)
        defer { p1.shutdown(); p0.shutdown() }
        let listener = try p0.listen(accepting: { $0 == .party(1) })
        let dialed = try p1.dial(0, deadline: Date(timeIntervalSinceNow: 10), timeout: 30)
        guard let (_, accepted) = listener.take(timeout: 10, where: { $0.role == "P1" }) else {
            throw DeploymentError("the benchmark's P1 did not connect")
        }
        let sender = NetworkTransport(network: p1, links: [.party(0): dialed], timeout: 60)
        let receiver = NetworkTransport(network: p0, links: [.party(1): accepted], timeout: 60)
        return measure(name: "TLS over loopback", sender: sender, receiver: receiver, totalBytes: totalBytes, messageBytes: messageBytes,
                       pingPongs: pingPongs, wire: { sender.wireBytes.sent })
    }

    /// Ports free on 127.0.0.1 right now (bound to port 0 together, then released).
    static func freeLoopbackPorts(_ n: Int) throws -> [Int] {
        var sockets: [Int32] = [], ports: [Int] = []
        defer { sockets.forEach { close($0) } }
        for _ in 0..<n {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw DeploymentError("no socket for the benchmark") }
            sockets.append(fd)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            guard bound else { throw DeploymentError("no free loopback port for the benchmark") }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
        }
        return ports
    }
}
