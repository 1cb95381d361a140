import Foundation
import CFuzzDriver
import PumaIO

/// One fuzz input: the first byte picks the parser, the rest is the file. Even bytes: `config.json`
/// (`LlamaConfiguration.parse`); odd: a safetensors file (header validation, then every small
/// tensor read and range-checked as binding does). Errors are expected; crashes, hangs and
/// sanitizer reports are findings.
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
        if let file = try? SafeTensorsFile(url: url) {
            for name in file.tensors.keys.sorted() {
                guard let tensor = try? file.tensor(name), tensor.count <= 1 << 16 else { continue }
                _ = tensor.floats()
                _ = tensor.firstOutOfRange()
            }
        }
    }
    return 0
}

/// Where safetensors inputs are written (the reader maps a file), one per process.
nonisolated(unsafe) let scratch = URL(fileURLWithPath: "/dev/shm/puma-fuzz-\(getpid()).safetensors")
