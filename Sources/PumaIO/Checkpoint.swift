import Foundation

/// A Hugging Face checkpoint directory: `config.json` plus either sharded safetensors listed in
/// `model.safetensors.index.json` (its `weight_map`) or a single `model.safetensors`.
public final class Checkpoint: @unchecked Sendable {
    public let directory: URL
    public let configuration: LlamaConfiguration
    /// The opened shards, in name order.
    public let shards: [SafeTensorsFile]
    private let shardOfTensor: [String: Int]

    public init(directory: URL) throws {
        self.directory = directory
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PumaIOError.missingFile("model directory \(directory.path)")
        }
        configuration = try LlamaConfiguration.load(from: directory.appendingPathComponent("config.json"))

        let indexURL = directory.appendingPathComponent("model.safetensors.index.json")
        if FileManager.default.fileExists(atPath: indexURL.path) {
            let weightMap = try Self.readWeightMap(indexURL)
            let shardNames = Array(Set(weightMap.values)).sorted()
            var files: [SafeTensorsFile] = []
            for name in shardNames {
                let url = directory.appendingPathComponent(name)
                guard FileManager.default.fileExists(atPath: url.path) else {
                    throw PumaIOError.missingShard(index: indexURL.path, shard: name)
                }
                files.append(try SafeTensorsFile(url: url))
            }
            var map: [String: Int] = [:]
            for (tensor, shard) in weightMap {
                let i = shardNames.firstIndex(of: shard)!
                guard files[i].tensors[tensor] != nil else {
                    throw PumaIOError.corruptSafetensors(file: files[i].path, reason: "the index places '\(tensor)' here but the file does not contain it")
                }
                map[tensor] = i
            }
            for (i, file) in files.enumerated() {
                let unlisted = file.tensors.keys.filter { map[$0] != i }.sorted()
                if !unlisted.isEmpty {
                    throw PumaIOError.corruptSafetensors(file: file.path, reason: "holds tensors the index does not place there: \(unlisted.prefix(3).joined(separator: ", "))")
                }
            }
            shards = files
            shardOfTensor = map
        } else {
            let single = directory.appendingPathComponent("model.safetensors")
            guard FileManager.default.fileExists(atPath: single.path) else {
                throw PumaIOError.missingFile("\(single.path) (nor model.safetensors.index.json)")
            }
            let file = try SafeTensorsFile(url: single)
            shards = [file]
            shardOfTensor = file.tensors.mapValues { _ in 0 }
        }
    }

    /// Names of all tensors in the checkpoint, sorted.
    public var tensorNames: [String] { shardOfTensor.keys.sorted() }

    public func info(_ name: String) -> TensorInfo? {
        shardOfTensor[name].flatMap { shards[$0].tensors[name] }
    }

    /// The tensor's values as Float after checking its shape.
    public func floats(_ name: String, shape: [Int]) throws -> [Float] {
        try tensor(name, shape: shape).floats()
    }

    /// The tensor read in place from its mapped shard, after checking its shape and that every value
    /// is finite and below 2^16 in magnitude (what fixed point can carry).
    public func tensor(_ name: String, shape: [Int]) throws -> MappedTensor {
        guard let i = shardOfTensor[name], let info = shards[i].tensors[name] else { throw PumaIOError.missingTensor(name) }
        guard info.shape == shape else { throw PumaIOError.shapeMismatch(tensor: name, expected: shape, found: info.shape) }
        let tensor = try shards[i].tensor(name)
        if let bad = tensor.firstOutOfRange() { throw PumaIOError.valueOutOfRange(tensor: name, index: bad.index, value: bad.value) }
        return tensor
    }

    private static func readWeightMap(_ url: URL) throws -> [String: String] {
        let data = try InputFile.read(url)
        guard let object = try? JSONSerialization.jsonObject(with: data), let root = object as? [String: Any] else {
            throw PumaIOError.invalidJSON(file: url.path, reason: "expected a JSON object")
        }
        guard let map = root["weight_map"] else { throw PumaIOError.missingKey(file: url.path, key: "weight_map") }
        guard let weightMap = map as? [String: String] else {
            throw PumaIOError.invalidValue(file: url.path, key: "weight_map", reason: "expected an object of tensor name → shard file")
        }
        for shard in Set(weightMap.values) where shard.contains("/") || shard.hasPrefix(".") {
            throw PumaIOError.invalidValue(file: url.path, key: "weight_map", reason: "shard name '\(shard)' must be a plain file name")
        }
        return weightMap
    }
}
