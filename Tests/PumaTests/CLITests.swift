import Foundation
import Testing
import PumaMPC

/// Runs the built `puma` executable (a sibling of the test bundle) and captures its output.
struct PumaProcess {
    static let executable: URL = {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // On Linux the test binary is `.build/<config>/pumaPackageTests.xctest`.
        if dir.lastPathComponent.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
        return dir.appendingPathComponent("puma")
    }()

    let status: Int32
    let stdout: String
    let stderr: String

    /// Runs `puma arguments`; stdout (stderr) goes to `stdoutPath` (`stderrPath`) instead of a pipe when given.
    init(_ arguments: [String], stdoutPath: String? = nil, stderrPath: String? = nil) throws {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = arguments
        process.currentDirectoryURL = Fixtures.packageRoot
        let out = Pipe(), err = Pipe()
        process.standardOutput = try stdoutPath.map { path in try FileHandle(forWritingTo: URL(fileURLWithPath: path)) } ?? out
        process.standardError = try stderrPath.map { path in try FileHandle(forWritingTo: URL(fileURLWithPath: path)) } ?? err
        try process.run()
        let outData = stdoutPath == nil ? out.fileHandleForReading.readDataToEndOfFile() : Data()
        let errData = stderrPath == nil ? err.fileHandleForReading.readDataToEndOfFile() : Data()
        process.waitUntilExit()
        status = process.terminationStatus
        stdout = String(decoding: outData, as: UTF8.self)
        stderr = String(decoding: errData, as: UTF8.self)
    }
}

@Suite("puma command line")
struct CLITests {
    /// A failing run: non-zero exit, nothing on stdout, and a one-line error containing `message`.
    func expectFailure(_ arguments: [String], _ message: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let run = try PumaProcess(arguments)
        #expect(run.status != 0, "exit status for \(arguments)", sourceLocation: sourceLocation)
        #expect(run.stdout.isEmpty, sourceLocation: sourceLocation)
        let errorLines = run.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }
        #expect(errorLines.count == 1, "stderr: \(run.stderr)", sourceLocation: sourceLocation)
        #expect(run.stderr.contains(message), "stderr: \(run.stderr)", sourceLocation: sourceLocation)
    }

    @Test("bad options and files give one clear line and a non-zero exit")
    func badInput() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try expectFailure(["generate", "--model", dir.appendingPathComponent("none").path, "--prompt", "x"], "missing file: model \(dir.path)/none (a Hugging Face directory or a GGUF file)")
        try expectFailure(["generate", "--model", dir.path, "--prompt", "x"], "missing file: \(dir.path)/config.json")
        try expectFailure(["generate", "--prompt", "x", "--top-p", "1.5"], "--top-p must lie in (0, 1]")
        try expectFailure(["generate", "--prompt", "x", "--temperature=-1"], "--temperature must be a finite number ≥ 0")
        try expectFailure(["generate", "--prompt", "x", "--max-tokens=-3"], "--max-tokens must be ≥ 0")
        try expectFailure(["generate", "--prompt", "x", "--mode", "fast"], "--mode")
        try expectFailure(["generate", "--prompt", "x", "--top-p", "0.5"], "--top-p is only available with --mode plain")
        try expectFailure(["generate", "--prompt", "x", "--mode", "compare", "--temperature", "0.7"], "--mode compare is greedy only")
        try expectFailure(["generate", "--prompt", "x", "--silu", "exact"], "--silu")

        // A model whose tokenizer is missing, then one whose context is shorter than the prompt.
        try TinyModel.write(to: dir, dtype: .bf16, seed: 5)
        try expectFailure(["generate", "--model", dir.path, "--prompt", "x"], "missing file: \(dir.path)/tokenizer.model")
        if Fixtures.hasSharedModels {
            try FileManager.default.copyItem(at: Fixtures.stories.appendingPathComponent("tokenizer.model"),
                                             to: dir.appendingPathComponent("tokenizer.model"))
            try expectFailure(["generate", "--model", dir.path, "--prompt", "a"], "vocab_size")
            var config = try Fixtures.json(Fixtures.stories.appendingPathComponent("config.json"))
            config["max_position_embeddings"] = 8
            try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
            try FileManager.default.removeItem(at: dir.appendingPathComponent("model.safetensors.index.json"))
            for shard in ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"] {
                try? FileManager.default.removeItem(at: dir.appendingPathComponent(shard))
                try FileManager.default.copyItem(at: Fixtures.stories.appendingPathComponent(shard), to: dir.appendingPathComponent(shard))
            }
            try expectFailure(["generate", "--model", dir.path, "--prompt", "Once upon a time there was a girl"],
                              "the prompt is 11 tokens (with BOS) but the model's context holds 8 positions")
        }
    }

    @Test("hostile input: non-regular files, unwritable outputs, negative and empty options — one line each, non-zero exit")
    func hostileInput() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("M")
        try FileManager.default.copyItem(at: Fixtures.embeddedModel, to: model)
        let tokenizer = model.appendingPathComponent("tokenizer.model")
        try FileManager.default.removeItem(at: tokenizer)
        try FileManager.default.createDirectory(at: tokenizer, withIntermediateDirectories: false)
        try expectFailure(["generate", "--model", model.path, "--prompt", "x"], "\(tokenizer.path) is a directory, not a regular file")
        try FileManager.default.removeItem(at: tokenizer)
        try FileManager.default.createSymbolicLink(atPath: tokenizer.path, withDestinationPath: "/dev/zero")
        try expectFailure(["inspect", "--model", model.path], "\(tokenizer.path) is a device, not a regular file")
        try FileManager.default.removeItem(at: tokenizer)
        #expect(mkfifo(tokenizer.path, 0o600) == 0)
        try expectFailure(["generate", "--model", model.path, "--prompt", "x"], "\(tokenizer.path) is a FIFO, not a regular file")
        try FileManager.default.removeItem(at: tokenizer)
        try Data("garbage".utf8).write(to: tokenizer)
        try expectFailure(["generate", "--model", model.path, "--prompt", "x"], "not a valid SentencePiece model")

        let full = try PumaProcess(["inspect"], stdoutPath: "/dev/full")
        #expect(full.status != 0)
        #expect(full.stderr == "Error: cannot write to stdout: No space left on device\n", "\(full.stderr)")
        // The cost table goes to stderr: a full stderr fails the run too (and nothing traps).
        let fullStderr = try PumaProcess(["generate", "--prompt", "In", "--max-tokens", "1"], stderrPath: "/dev/full")
        #expect(fullStderr.status == 1, "exit status \(fullStderr.status)")
        try expectFailure(["bench", "protocols", "--elements", "4"], "--elements (4) must be at least --width (16)")
        try expectFailure(["generate", "--prompt", "x", "--temperature", "-1"], "--temperature must be a finite number ≥ 0")
        try expectFailure(["generate", "--prompt", "x", "--max-tokens", "-3"], "--max-tokens must be ≥ 0")
        try expectFailure(["generate", "--model", "", "--prompt", "x"], "--model must name a model directory or GGUF file, got an empty path")
        try expectFailure(["generate", "--prompt", "x", "--report-json", "/nonexistent/r.json"], "--report-json: the directory /nonexistent does not exist")
        try expectFailure(["generate", "--prompt", "x", "--report-json", dir.path], "--report-json must name a file")
        try expectFailure(["generate", "--prompt", "x", "--mode", "plain", "--early-stop"], "--early-stop applies to the secure modes")
    }

    @Test("generate streams decode(ids) to stdout and writes the JSON report",
          .enabled(if: Fixtures.hasSharedModels, Comment(rawValue: Fixtures.sharedModelsMissing)))
    func generateReport() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let reportURL = dir.appendingPathComponent("report.json")
        let run = try PumaProcess(["generate", "--model", Fixtures.stories.path, "--prompt", "Lily wanted to",
                                   "--max-tokens", "48", "--ignore-eos", "--mode", "plain", "--report-json", reportURL.path])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try Fixtures.json(reportURL)
        let golden = (try Fixtures.json(Fixtures.stories.appendingPathComponent("golden.json"))["greedy"] as! [[String: Any]])
            .first { $0["prompt"] as? String == "Lily wanted to" }!
        #expect(report["ids"] as? [Int] == golden["ids"] as? [Int])
        #expect(report["text"] as? String == golden["text"] as? String)
        #expect(run.stdout == (golden["text"] as! String) + "\n")
        #expect(report["mode"] as? String == "plain")
        #expect(report["prompt"] as? String == "Lily wanted to")
        #expect(report["prompt_tokens"] as? Int == 5)
        #expect(report["generated_tokens"] as? Int == 48)
        #expect(((report["total"] as? [String: Any])?["wall_seconds"] as? Double ?? -1) > 0)
        // Only the text goes to stdout: the timing line is on stderr.
        #expect(run.stderr.contains("tokens/s"))
    }

    @Test("inspect describes the checkpoint", .enabled(if: Fixtures.hasSharedModels, Comment(rawValue: Fixtures.sharedModelsMissing)))
    func inspect() throws {
        let run = try PumaProcess(["inspect", "--model", Fixtures.stories.path])
        #expect(run.status == 0)
        #expect(run.stdout.contains("layers 5, hidden 64, intermediate 172, heads 8, kv heads 4, head dim 8"))
        #expect(run.stdout.contains("model: \(Fixtures.stories.path) (Hugging Face directory)"))
        #expect(run.stdout.contains("safetensors model-00001-of-00002.safetensors"))
        #expect(run.stdout.contains("tensors 48: F32 48 (1.2 MB, 32.00 bits/weight)"))
        #expect(run.stdout.contains("260032 used by the transformer"))
        #expect(run.stdout.contains("tokenizer: SentencePiece, 512 pieces (bos 1, eos 2, unk 0), prompts start with BOS"))
    }

    @Test("bench protocols reports every primitive with its declared rounds and bytes")
    func benchProtocols() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let json = dir.appendingPathComponent("bench.json")
        let run = try PumaProcess(["bench", "protocols", "--elements", "300", "--width", "5", "--repeats", "1", "--json", json.path])
        #expect(run.status == 0, "\(run.stderr)")
        let rows = try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as! [[String: Any]]
        #expect(rows.count == Primitive.allCases.count)
        for row in rows {
            #expect(row["rounds"] as? Int == row["declared_rounds"] as? Int, "\(row["primitive"]!)")
            #expect(row["bytes_per_element"] as? Double == row["declared_bytes_per_element"] as? Double, "\(row["primitive"]!)")
            #expect((row["elements_per_second"] as? Double ?? 0) > 0)
        }
        #expect(run.stdout.contains("truncate") && run.stdout.contains("argmax"))
    }

    @Test("secure generation by default: the golden text, the cost table, and the secure report keys")
    func secureReport() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let reportURL = dir.appendingPathComponent("report.json")
        let run = try PumaProcess(["generate", "--prompt", "In the beginning", "--max-tokens", "6", "--seed", "3",
                                   "--report-json", reportURL.path])
        #expect(run.status == 0, "\(run.stderr)")
        let golden = (try Fixtures.json(Fixtures.embeddedModel.appendingPathComponent("golden.json"))["greedy"] as! [[String: Any]])[0]
        let expectedIds = Array((golden["ids"] as! [Int]).prefix((golden["prompt_ids"] as! [Int]).count + 6))
        let report = try Fixtures.json(reportURL)
        #expect(report["mode"] as? String == "secure")
        #expect(report["ids"] as? [Int] == expectedIds)
        #expect(run.stdout == (report["text"] as! String) + "\n")
        let total = report["total"] as! [String: Any]
        #expect((total["bytes_sent"] as? Int ?? 0) > 0 && (total["rounds"] as? Int ?? 0) > 0 && (total["wall_seconds"] as? Double ?? 0) > 0)
        let perToken = report["per_token"] as! [[String: Any]]
        #expect(perToken.count == 6)
        #expect(perToken.allSatisfy { ($0["bytes_sent"] as? Int ?? 0) > 0 && ($0["rounds"] as? Int ?? 0) > 0 && $0["wall_seconds"] is Double })
        let ops = report["ops"] as! [String: [String: Any]]
        for name in ["softmax", "rmsnorm", "silu_mul", "argmax", "qkv_proj"] {
            #expect(ops[name]?["bytes_sent"] as? Int ?? 0 > 0, "\(name)")
            // Per party: three entries whose bytes add up to the sum, the slowest one's rounds.
            let parties = ops[name]?["per_party"] as? [[String: Int]] ?? []
            #expect(parties.count == 3 && parties.reduce(0) { $0 + ($1["bytes_sent"] ?? 0) } == ops[name]?["bytes_sent"] as? Int, "\(name)")
            #expect(parties.map { $0["rounds"] ?? 0 }.max() == ops[name]?["rounds"] as? Int, "\(name)")
        }
        #expect(run.stderr.contains("MB sent by P0, P1, P2"))
        #expect(((report["peak_rss_bytes"] as? Int) ?? 0) > 0)
        #expect(run.stderr.contains("modeled network time, slowest party (LAN"))
        #expect(run.stderr.contains("WAN"))
    }

    @Test("compare mode reports the first divergence and the max logit error")
    func compareMode() throws {
        let run = try PumaProcess(["generate", "--prompt", "The LORD is my shepherd;", "--max-tokens", "4", "--mode", "compare", "--seed", "1"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("no divergence: secure and plain tokens are identical"))
        #expect(run.stderr.contains("max |secure logit − plain logit| = 0.0"))
        #expect(run.stderr.contains("max |secure − cleartext| = 0.00"))
        #expect(run.stderr.contains("values outside the protocols' domains (cleartext twin): none"))
        #expect(run.stdout.hasPrefix("The LORD is my shepherd; and the LORD"))
    }
}
