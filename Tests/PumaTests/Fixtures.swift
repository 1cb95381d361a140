import Foundation
import PumaIO
import Testing

/// Paths and helpers shared by the tests.
enum Fixtures {
    /// The package root, from this file's location.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// `../shared/models` beside the project: real models, absent on a fresh clone elsewhere.
    static let sharedModels = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/models")
    static let stories = sharedModels.appendingPathComponent("stories260K")
    static let llamaTokenizer = sharedModels.appendingPathComponent("llama2-tokenizer")
    static let embeddedModel = packageRoot.appendingPathComponent("models/kjv-1m")
    static let smolLM = sharedModels.appendingPathComponent("smollm2-135m-instruct")
    static let smolLMFile = smolLM.appendingPathComponent("SmolLM2-135M-Instruct.Q4_1.gguf")
    /// Vectors made once by the scripts in scripts/ and committed beside the tests.
    static let vectors = packageRoot.appendingPathComponent("Tests/PumaTests/Vectors")

    static let hasSharedModels = FileManager.default.fileExists(atPath: stories.appendingPathComponent("golden.json").path)
    static let sharedModelsMissing = "../shared/models is absent (fresh clone outside the workplace): real-model tests skipped"
    static let hasSmolLM = FileManager.default.fileExists(atPath: smolLMFile.path)
    static let smolLMMissing = "../shared/models/smollm2-135m-instruct is absent (fresh clone outside the workplace): SmolLM2 tests skipped"

    /// A fresh temporary directory, removed by the caller with `cleanUp`.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("puma-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func json(_ url: URL) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }
}

/// Expects |a − b| ≤ tolerance elementwise, reporting the worst element on failure.
func expectClose(_ a: [Float], _ b: [Float], tolerance: Float, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, "\(what): \(a.count) vs \(b.count) elements", sourceLocation: sourceLocation)
    var worst = (index: 0, error: Float(0))
    for i in 0..<min(a.count, b.count) {
        let e = abs(a[i] - b[i])
        if !(e <= worst.error) { worst = (i, e) }
    }
    #expect(worst.error <= tolerance,
            "\(what): worst element \(worst.index) differs by \(worst.error) (\(a.isEmpty ? 0 : a[worst.index]) vs \(b.isEmpty ? 0 : b[worst.index])), tolerance \(tolerance)",
            sourceLocation: sourceLocation)
}

/// A small deterministic PRNG for test data (SplitMix64).
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [−scale, scale).
    mutating func float(scale: Float) -> Float {
        (Float(next() >> 40) / Float(1 << 24) * 2 - 1) * scale
    }
    mutating func floats(_ n: Int, scale: Float) -> [Float] { (0..<n).map { _ in float(scale: scale) } }
}
