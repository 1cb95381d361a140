/// Everything that can be wrong with a model directory, a checkpoint file or a tokenizer.
/// Each message is one line that names the file, key or tensor at fault.
public enum PumaIOError: Error, CustomStringConvertible, Equatable {
    case missingFile(String)
    case unreadableFile(String, reason: String)
    case notARegularFile(String, kind: String)
    case fileTooLarge(String, bytes: Int, limit: Int)
    case invalidJSON(file: String, reason: String)
    case missingKey(file: String, key: String)
    case invalidValue(file: String, key: String, reason: String)
    case corruptSafetensors(file: String, reason: String)
    case corruptGGUF(file: String, reason: String)
    case unsupportedDType(file: String, tensor: String, dtype: String)
    case unsupportedGGUFType(file: String, tensor: String, type: String)
    case missingTensor(String)
    case unexpectedTensors([String])
    case shapeMismatch(tensor: String, expected: [Int], found: [Int])
    case valueOutOfRange(tensor: String, index: Int, value: Float)
    case missingShard(index: String, shard: String)
    case tokenizer(String)

    public var description: String {
        switch self {
        case .missingFile(let path):
            return "missing file: \(path)"
        case .unreadableFile(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .notARegularFile(let path, let kind):
            return "\(path) is \(kind), not a regular file"
        case .fileTooLarge(let path, let bytes, let limit):
            return "\(path) is \(bytes) bytes, more than the \(limit) such a file may have"
        case .invalidJSON(let file, let reason):
            return "\(file) is not valid JSON: \(reason)"
        case .missingKey(let file, let key):
            return "\(file) is missing the key '\(key)'"
        case .invalidValue(let file, let key, let reason):
            return "\(file): invalid value for '\(key)': \(reason)"
        case .corruptSafetensors(let file, let reason):
            return "corrupt safetensors file \(file): \(reason)"
        case .corruptGGUF(let file, let reason):
            return "corrupt GGUF file \(file): \(reason)"
        case .unsupportedDType(let file, let tensor, let dtype):
            return "\(file): tensor '\(tensor)' has unsupported dtype '\(dtype)' (supported: F32, F16, BF16)"
        case .unsupportedGGUFType(let file, let tensor, let type):
            return "\(file): tensor '\(tensor)' has GGML type \(type), which puma does not read (supported: "
                + TensorDType.allCases.map(\.rawValue).joined(separator: ", ") + ")"
        case .missingTensor(let name):
            return "checkpoint is missing the tensor '\(name)'"
        case .unexpectedTensors(let names):
            let shown = names.prefix(5).joined(separator: ", ")
            let more = names.count > 5 ? " and \(names.count - 5) more" : ""
            return "checkpoint has unexpected tensors: \(shown)\(more)"
        case .shapeMismatch(let tensor, let expected, let found):
            return "tensor '\(tensor)' has shape \(found), expected \(expected)"
        case .valueOutOfRange(let tensor, let index, let value):
            return "tensor '\(tensor)' holds \(value) at element \(index): weights must be finite and below 65536 in magnitude"
        case .missingShard(let index, let shard):
            return "\(index) names the shard '\(shard)', which does not exist"
        case .tokenizer(let message):
            return message
        }
    }
}
