import Crypto
import Foundation
import NIOSSL
import PumaMPC
import X509

extension Endpoint {
    /// The endpoint a deployment role names: P0, P1, P2, owner or client.
    public init?(role: String) {
        switch role {
        case "P0": self = .party(0)
        case "P1": self = .party(1)
        case "P2": self = .party(2)
        case "owner": self = .owner
        case "client": self = .client
        default: return nil
        }
    }

    /// Every role of a deployment.
    public static let allRoles: [Endpoint] = [.party(0), .party(1), .party(2), .owner, .client]
}

/// Something wrong with a deployment, its network or a peer: one line for the user.
public struct DeploymentError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A deployment directory (`puma deploy init`): `parties.json` (the three parties' addresses), the
/// deployment's own certificate authority `ca.pem`, and per role R a certificate `R.pem` (its subject's
/// common name is R) and key `R-key.pem`. Each machine needs `parties.json`, `ca.pem` and its own
/// role's two files; `ca-key.pem` only issues certificates and belongs offline.
public struct Deployment: Sendable {
    public struct Address: Codable, Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// "HOST:PORT" (IPv6 hosts in brackets).
        public init?(parsing text: String) {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
            var host = String(text[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else { return nil }
            self.init(host: host, port: port)
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    struct PartiesFile: Codable {
        var format: String
        var parties: [Address]
    }

    static let format = "puma-deployment-1"
    public static let defaultPorts = [7700, 7701, 7702]

    public let directory: URL
    /// P0, P1, P2's listening addresses.
    public let parties: [Address]

    public init(directory: URL) throws {
        self.directory = directory
        let url = directory.appendingPathComponent("parties.json")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw DeploymentError("\(url.path) does not exist (create a deployment with `puma deploy init --out \(directory.path)`)")
        }
        let file: PartiesFile
        do { file = try JSONDecoder().decode(PartiesFile.self, from: Data(contentsOf: url)) } catch {
            throw DeploymentError("\(url.path) is not a deployment's parties.json")
        }
        guard file.format == Self.format else { throw DeploymentError("\(url.path): unknown format \"\(file.format)\" (expected \(Self.format))") }
        guard file.parties.count == 3, file.parties.allSatisfy({ (1...65535).contains($0.port) && !$0.host.isEmpty }) else {
            throw DeploymentError("\(url.path) must list three parties, each with a host and a port in 1…65535")
        }
        parties = file.parties
    }

    func file(_ name: String) -> URL { directory.appendingPathComponent(name) }

    /// TLS 1.3 with this role's certificate, trusting only the deployment's CA and requiring the
    /// peer's certificate in both directions (mutual authentication). Host names are not checked:
    /// peers are identified by the role their certificate names, which `PeerNetwork` checks.
    func tlsContext(for role: Endpoint, server: Bool) throws -> NIOSSLContext {
        func load<T>(_ name: String, _ what: String, _ body: (String) throws -> T) throws -> T {
            let url = file(name)
            guard FileManager.default.isReadableFile(atPath: url.path) else {
                throw DeploymentError("\(url.path) is missing or unreadable (the \(what))")
            }
            do { return try body(url.path) } catch { throw DeploymentError("\(url.path) is not a valid PEM \(what)") }
        }
        let ca = try load("ca.pem", "deployment's CA certificate") { try NIOSSLCertificate.fromPEMFile($0) }
        let chain = try load("\(role).pem", "certificate of \(role)") { try NIOSSLCertificate.fromPEMFile($0) }
        let key = try load("\(role)-key.pem", "private key of \(role)") { try NIOSSLPrivateKey(file: $0, format: .pem) }
        var config = server
            ? TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            : TLSConfiguration.makeClientConfiguration()
        if !server {
            config.certificateChain = chain.map { .certificate($0) }
            config.privateKey = .privateKey(key)
        }
        config.minimumTLSVersion = .tlsv13
        config.certificateVerification = .noHostnameVerification
        config.trustRoots = .certificates(ca)
        do { return try NIOSSLContext(configuration: config) } catch {
            throw DeploymentError("the TLS set-up of \(role) failed: \(error)")
        }
    }

    /// Writes a new deployment to `directory`: `parties.json` with `hosts`, a fresh CA (ECDSA P-256)
    /// and a certificate and key per role, valid for `days`. Keys are written owner-only (0600).
    public static func initialize(at directory: URL, hosts: [Address], days: Int = 365) throws {
        guard hosts.count == 3 else { throw DeploymentError("--hosts needs three HOST:PORT entries, one per party") }
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for name in ["parties.json", "ca.pem"] where fm.fileExists(atPath: directory.appendingPathComponent(name).path) {
            throw DeploymentError("\(directory.appendingPathComponent(name).path) exists: refusing to overwrite a deployment")
        }
        let now = Date()
        let notBefore = now.addingTimeInterval(-3600), notAfter = now.addingTimeInterval(Double(days) * 86400)
        let caKey = P256.Signing.PrivateKey()
        let caName = try DistinguishedName { CommonName("puma deployment CA") }
        let ca = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(caKey.publicKey),
            notValidBefore: notBefore, notValidAfter: notAfter, issuer: caName, subject: caName,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: Certificate.PrivateKey(caKey))
        func write(_ text: String, _ name: String, secret: Bool) throws {
            let url = directory.appendingPathComponent(name)
            try Data(text.utf8).write(to: url)
            try fm.setAttributes([.posixPermissions: secret ? 0o600 : 0o644], ofItemAtPath: url.path)
        }
        try write(try ca.serializeAsPEM().pemString, "ca.pem", secret: false)
        try write(caKey.pemRepresentation, "ca-key.pem", secret: true)
        for role in Endpoint.allRoles {
            let key = P256.Signing.PrivateKey()
            let name = try DistinguishedName { CommonName(role.description) }
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(key.publicKey),
                notValidBefore: notBefore, notValidAfter: notAfter, issuer: caName, subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([.serverAuth, .clientAuth])
                },
                issuerPrivateKey: Certificate.PrivateKey(caKey))
            try write(try certificate.serializeAsPEM().pemString, "\(role).pem", secret: false)
            try write(key.pemRepresentation, "\(role)-key.pem", secret: true)
        }
        let parties = try JSONEncoder.pretty.encode(PartiesFile(format: format, parties: hosts))
        try write(String(decoding: parties, as: UTF8.self) + "\n", "parties.json", secret: false)
    }
}

extension JSONEncoder {
    static var pretty: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return encoder
    }
}
