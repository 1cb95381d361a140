import Foundation

/// The tensors of a LLaMA model under their Hugging Face names, read in place from memory-mapped
/// files, with the configuration that describes them. One reader per format feeds it: a Hugging Face
/// directory (`config.json` plus either sharded safetensors listed in `model.safetensors.index.json`
/// or a single `model.safetensors`) or a GGUF file (`GGUFLlama`: metadata, names and q/k rows mapped).
public final class Checkpoint: @unchecked Sendable {
    /// The directory or GGUF file.
    public let location: URL
    public let configuration: LlamaConfiguration
    /// The files the tensors live in, with what each holds under its own names (for `puma inspect`).
    public let files: [(path: String, format: String, tensors: [TensorInfo])]
    private let table: [String: MappedTensor]

    /// A GGUF file's tensors under `configuration` (`GGUFLlama.configuration` of it, when not given).
    public init(gguf file: GGUFFile, configuration: LlamaConfiguration? = nil) throws {
        location = URL(fileURLWithPath: file.path)
        self.configuration = try configuration ?? GGUFLlama.configuration(file)
        files = [(file.path, "GGUF v\(file.version)", file.tensors.values.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound })]
        table = try GGUFLlama.tensors(file, configuration: self.configuration)
    }

    /// A Hugging Face directory's shards, under `configuration` (its config.json, read when not given).
    public init(directory: URL, configuration: LlamaConfiguration? = nil) throws {
        location = directory
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PumaIOError.missingFile("model directory \(directory.path)")
        }
        self.configuration = try configuration ?? LlamaConfiguration.load(from: directory.appendingPathComponent("config.json"))

        let indexURL = directory.appendingPathComponent("model.safetensors.index.json")
        var shards: [SafeTensorsFile] = []
        var table: [String: MappedTensor] = [:]
        if FileManager.default.fileExists(atPath: indexURL.path) {
            let weightMap = try Self.readWeightMap(indexURL)
            let shardNames = Array(Set(weightMap.values)).sorted()
            for name in shardNames {
                let url = directory.appendingPathComponent(name)
                guard FileManager.default.fileExists(atPath: url.path) else {
                    throw PumaIOError.missingShard(index: indexURL.path, shard: name)
                }
                shards.append(try SafeTensorsFile(url: url))
            }
            var placed: [String: Int] = [:]
            for (tensor, shard) in weightMap {
                let i = shardNames.firstIndex(of: shard)!
                guard shards[i].tensors[tensor] != nil else {
                    throw PumaIOError.corruptSafetensors(file: shards[i].path, reason: "the index places '\(tensor)' here but the file does not contain it")
                }
                placed[tensor] = i
                table[tensor] = try shards[i].tensor(tensor)
            }
            for (i, file) in shards.enumerated() {
                let unlisted = file.tensors.keys.filter { placed[$0] != i }.sorted()
                if !unlisted.isEmpty {
                    throw PumaIOError.corruptSafetensors(file: file.path, reason: "holds tensors the index does not place there: \(unlisted.prefix(3).joined(separator: ", "))")
                }
            }
        } else {
            let single = directory.appendingPathComponent("model.safetensors")
            guard FileManager.default.fileExists(atPath: single.path) else {
                throw PumaIOError.missingFile("\(single.path) (nor model.safetensors.index.json)")
            }
            let file = try SafeTensorsFile(url: single)
            shards = [file]
            for name in file.tensors.keys { table[name] = try file.tensor(name) }
        }
        files = shards.map { ($0.path, "safetensors", $0.tensors.values.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }) }
        self.table = table
    }

    /// Names of all tensors in the checkpoint (Hugging Face names), sorted.
    public var tensorNames: [String] { table.keys.sorted() }

    public func info(_ name: String) -> TensorInfo? { table[name]?.info }

    /// The tensor's values as Float after checking its shape.
    public func floats(_ name: String, shape: [Int]) throws -> [Float] {
        try tensor(name, shape: shape).floats()
    }

    /// The tensor read in place from its mapped file, after checking its shape and that every value
    /// is finite and below 2^16 in magnitude (what fixed point can carry).
    public func tensor(_ name: String, shape: [Int]) throws -> MappedTensor {
        guard let tensor = table[name] else { throw PumaIOError.missingTensor(name) }
        guard tensor.shape == shape else { throw PumaIOError.shapeMismatch(tensor: name, expected: shape, found: tensor.shape) }
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
