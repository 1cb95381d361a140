import Foundation
import PumaIO
import PumaCore
import PumaLLaMA
import PumaMPC

/// What a party keeps of the model owner's weights in its data directory (see `WeightSharing`):
///
/// - `seeds.json` (0600): the owner's seeds it holds — P0 c0 and c1, P1 c1, P2 c0;
/// - `x2.bin` (P1 and P2, 0600): the explicit component x2 of every shared tensor, in tensor order,
///   8 bytes per parameter, little-endian;
/// - `shares.json`, written last: the party, the model's config.json and the parameter count.
struct StoredShares {
    struct Manifest: Codable {
        var format = "puma-shares-1"
        var party: Int
        var config: String
        var parameters: Int
    }

    static let manifestName = "shares.json", seedsName = "seeds.json", explicitName = "x2.bin"

    let directory: URL
    let manifest: Manifest
    let configuration: LlamaConfiguration
    /// The owner's seeds this party holds, by index (0: c0, 1: c1).
    let seeds: [Int: [UInt64]]

    /// Reads and checks a party's stored shares; throws a one-line reason when absent or inconsistent.
    init(directory: URL, party: Int) throws {
        self.directory = directory
        let manifestURL = directory.appendingPathComponent(Self.manifestName)
        guard FileManager.default.fileExists(atPath: manifestURL.path) else {
            throw DeploymentError("P\(party) holds no weight shares in \(directory.path) (run `puma owner` first)")
        }
        guard let manifest = try? JSONDecoder().decode(Manifest.self, from: Data(contentsOf: manifestURL)), manifest.party == party else {
            throw DeploymentError("\(manifestURL.path) is not P\(party)'s shares manifest")
        }
        self.manifest = manifest
        configuration = try LlamaConfiguration.parse(Data(manifest.config.utf8), file: manifestURL.path)
        let seedsURL = directory.appendingPathComponent(Self.seedsName)
        guard let stored = try? JSONDecoder().decode([String: [UInt64]].self, from: Data(contentsOf: seedsURL)) else {
            throw DeploymentError("\(seedsURL.path) is missing or malformed")
        }
        seeds = Dictionary(uniqueKeysWithValues: stored.compactMap { k, v in Int(k).map { ($0, v) } })
        guard Set(seeds.keys) == Set(Simulation.dealerSeeds(heldBy: party)), seeds.values.allSatisfy({ $0.count == 2 }) else {
            throw DeploymentError("\(seedsURL.path) does not hold P\(party)'s seeds")
        }
        if party != 0 {
            let size = (try? FileManager.default.attributesOfItem(atPath: explicitURL.path)[.size] as? Int) ?? -1
            guard size == 8 * manifest.parameters else {
                throw DeploymentError("\(explicitURL.path) holds \(size) bytes; \(8 * manifest.parameters) expected")
            }
        }
    }

    var explicitURL: URL { directory.appendingPathComponent(Self.explicitName) }

    /// Receives and stores a new sharing from the owner: party `party`'s seeds and, for P1 and P2, x2
    /// (`parameters` elements, streamed from `owner`). Returns the bytes written.
    static func receive(into directory: URL, party: Int, config: String, parameters: Int, transport: NetworkTransport) throws -> Int {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let manifestURL = directory.appendingPathComponent(manifestName)
        try? fm.removeItem(at: manifestURL)  // the old sharing is no longer whole
        let seeds = KeySetup.receiveDealerSeeds(party: party, from: .owner, transport: transport)
        var written = 0
        if party != 0 {
            let partial = directory.appendingPathComponent(explicitName + ".partial")
            guard fm.createFile(atPath: partial.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw DeploymentError("cannot create \(partial.path)")
            }
            let handle = try FileHandle(forWritingTo: partial)
            while written < 8 * parameters {
                let chunk = transport.receive(from: .owner)
                guard !chunk.isEmpty, written + 8 * chunk.count <= 8 * parameters else {
                    throw DeploymentError("the owner sent more weight data than the model has")
                }
                try chunk.withUnsafeBytes { try handle.write(contentsOf: $0) }
                written += 8 * chunk.count
            }
            try handle.synchronize()
            try handle.close()
            _ = try? fm.removeItem(at: directory.appendingPathComponent(explicitName))
            try fm.moveItem(at: partial, to: directory.appendingPathComponent(explicitName))
        }
        let seedsData = try JSONEncoder().encode(Dictionary(uniqueKeysWithValues: seeds.map { (String($0.key), $0.value) }))
        let seedsURL = directory.appendingPathComponent(seedsName)
        try? fm.removeItem(at: seedsURL)
        guard fm.createFile(atPath: seedsURL.path, contents: seedsData, attributes: [.posixPermissions: 0o600]) else {
            throw DeploymentError("cannot write \(seedsURL.path)")
        }
        try JSONEncoder.pretty.encode(Manifest(party: party, config: config, parameters: parameters)).write(to: manifestURL)
        return written + seedsData.count
    }
}

/// A party's `WeightShareStorage` in a deployment: seeded components regenerated from its own seeds,
/// x2 read from its own `x2.bin` (memory-mapped; each tensor's pages dropped when a pass is done with it).
final class StoredWeightStorage: WeightShareStorage, @unchecked Sendable {
    private let components: [Int]
    private let seeds: [Int: SeekableStreams]
    private let mapping: UnsafeMutableRawPointer?
    private let mappedBytes: Int
    /// Element offset of each tensor in x2.bin.
    private let tensorOffsets: [Int]
    private let tensorSizes: [Int]
    private let buffer: UnsafeMutablePointer<UInt64>

    init(shares: StoredShares, party: Int) throws {
        components = [party, (party + 1) % 3]
        seeds = shares.seeds.mapValues(KeySetup.seekable)
        tensorSizes = OwnerSharing.tensorSizes(shares.configuration)
        var offsets: [Int] = [], total = 0
        for size in tensorSizes {
            offsets.append(total)
            total += size
        }
        tensorOffsets = offsets
        guard total == shares.manifest.parameters else {
            throw DeploymentError("the stored shares hold \(shares.manifest.parameters) parameters; the model has \(total)")
        }
        if party != 0 {
            let fd = open(shares.explicitURL.path, O_RDONLY)
            guard fd >= 0 else { throw DeploymentError("cannot open \(shares.explicitURL.path)") }
            defer { close(fd) }
            mappedBytes = 8 * total
            let p = mmap(nil, mappedBytes, PROT_READ, MAP_SHARED, fd, 0)
            guard let p, p != MAP_FAILED else { throw DeploymentError("cannot map \(shares.explicitURL.path)") }
            mapping = p
        } else {
            mapping = nil
            mappedBytes = 0
        }
        buffer = .allocate(capacity: WeightSharing.maxBlockElements)
    }

    deinit {
        if let mapping { munmap(mapping, mappedBytes) }
        buffer.deallocate()
    }

    func forEachComponent(_ block: TensorBlock, _ body: (Int, UnsafePointer<UInt64>) -> Void) {
        precondition(block.count <= WeightSharing.maxBlockElements, "blocks hold at most \(WeightSharing.maxBlockElements) elements")
        for (slot, j) in components.enumerated() {
            if j == 2, let mapping {
                let x2 = UnsafePointer(mapping.assumingMemoryBound(to: UInt64.self)) + tensorOffsets[block.tensor]
                let width = block.columns.count
                if width == block.rowLength {  // whole rows are contiguous in the file: no copy
                    body(slot, x2 + block.rows.lowerBound * width)
                    continue
                }
                for (r, row) in block.rows.enumerated() {
                    (buffer + r * width).update(from: x2 + row * block.rowLength + block.columns.lowerBound, count: width)
                }
            } else {
                WeightSharing.draw(seeds[j]!, block, into: buffer)
            }
            body(slot, buffer)
        }
    }

    private static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    func finished(tensor: Int) {
        guard let mapping else { return }
        let page = Self.pageSize
        let start = 8 * tensorOffsets[tensor] / page * page
        let end = min(mappedBytes, 8 * (tensorOffsets[tensor] + tensorSizes[tensor]))
        if end > start { madvise(mapping + start, end - start, MADV_DONTNEED) }
    }
}
