import Foundation
import CFuzzDriver
import PumaIO

/// One fuzz input: the first byte picks the parser, the rest is the file. Even bytes: `config.json`
/// (`LlamaConfiguration.parse`); odd: a model file — a GGUF file when the rest starts with the magic
/// "GGUF" (the reader, the llama configuration, the tensor table with q/k rows reordered, the
/// tokenizer, every small tensor dequantized and range-checked), else a safetensors file (header
/// validation, then every small tensor read and range-checked as binding does). Errors are
/// expected; crashes, hangs and sanitizer reports are findings.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard count > 0 else { return 0 }
    let selector = start.load(as: UInt8.self)
    let body = Data(bytes: start + 1, count: count - 1)
    if selector & 1 == 0 {
        if let config = try? LlamaConfiguration.parse(body, file: "config.json") { _ = config.parameterCount }
    } else {
        let url = scratch
        guard (try? body.write(to: url)) != nil else { return 0 }
        if body.starts(with: Array("GGUF".utf8)) {
            fuzzGGUF(url)
        } else if let file = try? SafeTensorsFile(url: url) {
            for name in file.tensors.keys.sorted() {
                guard let tensor = try? file.tensor(name), tensor.count <= 1 << 16 else { continue }
                _ = tensor.floats()
                _ = tensor.firstOutOfRange()
            }
        }
    }
    return 0
}

/// A GGUF input read as `puma` reads a model: configuration, tensors, tokenizer, small tensors' values.
func fuzzGGUF(_ url: URL) {
    guard let file = try? GGUFFile(url: url) else { return }
    if let tokenizer = try? Tokenizer.load(gguf: file) {
        _ = try? tokenizer.decode(try tokenizer.encode("Hello wörld 123 <|im_end|>"))
    }
    for tensor in file.tensors.values where tensor.elementCount <= 1 << 16 {
        if let mapped = try? file.tensor(tensor.name) {
            _ = mapped.floats()
            _ = mapped.firstOutOfRange()
        }
    }
    guard let checkpoint = try? Checkpoint(gguf: file) else { return }
    for name in checkpoint.tensorNames {
        if let info = checkpoint.info(name), info.elementCount <= 1 << 16 { _ = try? checkpoint.floats(name, shape: info.shape) }
    }
}

/// Where model-file inputs are written (the reader maps a file), one per process.
nonisolated(unsafe) let scratch = URL(fileURLWithPath: "/dev/shm/puma-fuzz-\(getpid()).safetensors")
