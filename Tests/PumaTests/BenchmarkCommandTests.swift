import Foundation
import PumaIO
import PumaLLaMA
import Testing

/// `puma make-model`, `puma bench gemm`, `puma bench generate`: the commands and files that the
/// LLaMA-7B benchmarks are made of, exercised at sizes a test can afford.
@Suite("make-model and benchmark commands")
struct BenchmarkCommandTests {
    @Test("make-model writes a sharded F16 checkpoint of the preset's shape that loads and generates identically in plain and secure mode")
    func makeModel() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("tiny")
        // The 32,000-piece LLaMA tokenizer fits the preset's vocabulary; without ../shared, the
        // embedded model's tokenizer still lets the checkpoint load (generation is then skipped).
        let llama = Fixtures.llamaTokenizer.appendingPathComponent("tokenizer.model")
        let hasLlamaTokenizer = FileManager.default.fileExists(atPath: llama.path)
        let tokenizer = hasLlamaTokenizer ? llama : Fixtures.embeddedModel.appendingPathComponent("tokenizer.model")
        let run = try PumaProcess(["make-model", "--preset", "tiny", "--layers", "3", "--out", out.path, "--tokenizer", tokenizer.path])
        #expect(run.status == 0, "\(run.stderr)")
        let checkpoint = try Checkpoint(directory: out)
        var expected = SyntheticCheckpoint.Preset.tiny.configuration
        expected.numHiddenLayers = 3
        #expect(checkpoint.configuration == expected)
        let names = checkpoint.files.map { URL(fileURLWithPath: $0.path).lastPathComponent }
        #expect(names.count >= 2 && names == (1...names.count).map { String(format: "model-%05d-of-%05d.safetensors", $0, names.count) })
        #expect(checkpoint.tensorNames.allSatisfy { checkpoint.info($0)!.dtype == .f16 })
        let weights = try LlamaWeights(checkpoint: checkpoint)
        let q = weights.layers[2].wq.floats().map(Double.init)
        let deviation = (q.map { $0 * $0 }.reduce(0, +) / Double(q.count)).squareRoot()
        #expect(abs(deviation - 0.02) < 0.002, "weights of realistic scale: σ = \(deviation)")
        #expect(weights.layers[0].inputNorm.allSatisfy { $0 == 1 })
        // Same seed, same bytes.
        let again = dir.appendingPathComponent("again")
        _ = try PumaProcess(["make-model", "--preset", "tiny", "--layers", "3", "--out", again.path, "--tokenizer", tokenizer.path])
        for name in names { #expect(FileManager.default.contentsEqual(atPath: out.appendingPathComponent(name).path, andPath: again.appendingPathComponent(name).path)) }

        if hasLlamaTokenizer {
            let compare = try PumaProcess(["generate", "--model", out.path, "--prompt", "Once upon a time", "--max-tokens", "4",
                                           "--ignore-eos", "--mode", "compare", "--seed", "1"])
            #expect(compare.status == 0, "\(compare.stderr)")
            #expect(compare.stderr.contains("no divergence"), "\(compare.stderr)")
        } else {
            print("make-model: ../shared/models/llama2-tokenizer is absent, so the 32,000-token generation check is skipped")
        }

        let bad = try PumaProcess(["make-model", "--preset", "tiny", "--out", dir.appendingPathComponent("x").path, "--tokenizer", dir.appendingPathComponent("none").path])
        #expect(bad.status != 0 && bad.stderr.contains("--tokenizer"))
        let badLayers = try PumaProcess(["make-model", "--preset", "tiny", "--layers", "0", "--out", dir.path, "--tokenizer", tokenizer.path])
        #expect(badLayers.status != 0 && badLayers.stderr.contains("--layers must be at least 1"))
        let blocker = dir.appendingPathComponent("file")
        try Data("x".utf8).write(to: blocker)
        let unwritable = try PumaProcess(["make-model", "--preset", "tiny", "--out", blocker.appendingPathComponent("model").path, "--tokenizer", tokenizer.path])
        #expect(unwritable.status != 0 && unwritable.stderr.hasPrefix("Error: cannot write the checkpoint to ") && unwritable.stderr.split(separator: "\n").count == 1,
                "\(unwritable.stderr)")
    }

    @Test("bench gemm reports ring and float throughput and their ratio per shape, as JSON too")
    func benchGemm() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let json = dir.appendingPathComponent("gemm.json")
        let run = try PumaProcess(["bench", "gemm", "--shapes", "3x37x5,1x64x9", "--repeats", "1", "--json", json.path])
        #expect(run.status == 0, "\(run.stderr)")
        let shapes = try Fixtures.json(json)["shapes"] as! [[String: Any]]
        #expect(shapes.map { [$0["m"] as! Int, $0["k"] as! Int, $0["n"] as! Int] } == [[3, 37, 5], [1, 64, 9]])
        for s in shapes {
            let (ring, float, ratio) = (s["ring_gmacs"] as! Double, s["float_gmacs"] as! Double, s["ratio"] as! Double)
            #expect(ring > 0 && float > 0 && abs(ratio - ring / float) < 1e-9 * max(1, ratio))
        }
        let bad = try PumaProcess(["bench", "gemm", "--shapes", "3x0x5"])
        #expect(bad.status != 0 && bad.stderr.contains("--shapes"))
    }

    @Test("bench generate: per pass wall time, bytes in total and per party, rounds; set-up, peak RSS, plain time and ratio")
    func benchGenerate() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let json = dir.appendingPathComponent("generate.json")
        let run = try PumaProcess(["bench", "generate", "--prompt-tokens", "6", "--new-tokens", "3", "--json", json.path])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try Fixtures.json(json)
        let passes = report["per_token"] as! [[String: Any]]
        #expect(passes.map { $0["tokens"] as! Int } == [6, 1, 1])
        for pass in passes {
            let parties = pass["per_party"] as! [[String: Any]]
            #expect(parties.count == 3)
            // The client's and owner's traffic is outside the parties' share of the total.
            #expect(parties.reduce(0) { $0 + ($1["bytes_sent"] as! Int) } <= pass["bytes_sent"] as! Int)
            #expect(parties.allSatisfy { ($0["rounds"] as! Int) > 100 && ($0["rounds"] as! Int) <= pass["rounds"] as! Int })
            #expect((pass["wall_seconds"] as! Double) > 0)
        }
        #expect((report["setup_seconds"] as! Double) >= 0 && (report["plain_wall_seconds"] as! Double) > 0)
        #expect(abs((report["ratio"] as! Double) - (report["secure_wall_seconds"] as! Double) / (report["plain_wall_seconds"] as! Double)) < 1e-6)
        #expect((report["peak_rss_bytes"] as! Int) > 10_000_000)
        // Deployment storage: P0 keeps two seeds only, P1 and P2 one seed and eight bytes per shared parameter — the
        // embedded model's embedding, lm_head and four layers' q/k/v, o, gate/up and down (the norms'
        // weights are folded into the matrices after them).
        let stored = report["stored_bytes_per_party"] as! [Int]
        let shared = 2 * 1024 * 128 + 4 * ((128 + 2 * 64) * 128 + 128 * 128 + 3 * 352 * 128)
        #expect(stored[0] == 32 && stored[1] == stored[2] && stored[1] == 16 + 8 * shared)
        let bad = try PumaProcess(["bench", "generate", "--new-tokens", "0"])
        #expect(bad.status != 0 && bad.stderr.contains("--new-tokens"))
        let long = try PumaProcess(["bench", "generate", "--prompt-tokens", "5000"])
        #expect(long.status != 0 && long.stderr == "Error: --prompt-tokens + --new-tokens − 1 exceeds the model's context of 256 positions\n", "\(long.stderr)")
    }

    @Test("inspect reports what each party stores of the weights")
    func inspectStorage() throws {
        let run = try PumaProcess(["inspect"])
        #expect(run.status == 0)
        let shared = SecurePredictor.sharedParameters(try Checkpoint(directory: Fixtures.embeddedModel).configuration)
        #expect(run.stdout.contains("P0 stores 32 B (the seeds c0, c1 only)"))
        #expect(run.stdout.contains("P1 stores \(String(format: "%.1f MB", Double(16 + 8 * shared) / 1e6))"))
    }
}
