import Foundation
import PumaIO
import PumaLLaMA
import Testing

@Suite("puma eval: agreement, logit error and perplexity against known answers")
struct EvaluationTests {
    static let model = try! LlamaModel(at: Fixtures.embeddedModel)

    static func plain() -> PlainPredictor {
        PlainPredictor(transformer: PlainTransformer(config: model.configuration, weights: model.weights), sampler: Sampler(method: .greedy, seed: 0))
    }

    /// The plaintext model with one deliberate error: at step `step` after the prompt, the runner-up
    /// logit is raised just above the best (a backend that goes wrong once).
    struct Perturbed: LogitModel {
        var inner: PlainPredictor
        let step: Int
        var fed = 0
        mutating func logits(feeding tokens: [Int32]) throws -> [Float] {
            var logits = try inner.logits(feeding: tokens)
            if fed == step {
                let order = logits.indices.sorted { logits[$0] > logits[$1] }
                logits[order[1]] = logits[order[0]] + 0.5
            }
            fed += 1
            return logits
        }
    }

    @Test("a backend that errs once: the divergence is reported where it happened, agreement counts it once")
    func perturbed() throws {
        let c = Self.model.configuration
        let prompt = try Self.model.tokenizer.encode("In the beginning", addBOS: true)
        var reference: any LogitModel = Self.plain()
        var candidate: any LogitModel = Perturbed(inner: Self.plain(), step: 5)
        let r = try Evaluation.compare(prompt: prompt, newTokens: 16, maxPositions: c.maxPositionEmbeddings, choosable: c.vocabSize,
                                       reference: &reference, candidate: &candidate)
        #expect(!r.identical && r.firstDivergence == 5)
        // The reference's continuation is greedy plaintext decoding: the golden one.
        let golden = (try Fixtures.json(Fixtures.embeddedModel.appendingPathComponent("golden.json"))["greedy"] as! [[String: Any]])[0]
        #expect((golden["ids"] as! [Int]).map(Int32.init).dropFirst(prompt.count).prefix(16).elementsEqual(r.referenceTokens))
        #expect(r.agreement == 15.0 / 16)
        #expect(r.maxLogitErrors[5] >= 0.5)
    }

    @Test("the context bounds the steps")
    func contextLimit() throws {
        let prompt = try Self.model.tokenizer.encode("In the beginning", addBOS: true)
        var reference: any LogitModel = Self.plain(), candidate: any LogitModel = Self.plain()
        let r = try Evaluation.compare(prompt: prompt, newTokens: 50, maxPositions: prompt.count + 3, choosable: Self.model.configuration.vocabSize,
                                       reference: &reference, candidate: &candidate)
        #expect(r.referenceTokens.count == 4)  // fed prompt, +1, +2, +3 = the context; one prediction each
    }

    @Test("layer trace: every layer's steps, of plaintext's sizes; errors small but present, and growing from the first layer to the last")
    func trace() throws {
        let c = Self.model.configuration
        let prompt = try Self.model.tokenizer.encode("Blessed are the", addBOS: true)
        let secure = SecurePredictor(config: c, weights: Self.model.weights, seed: 3)
        let rows = try Evaluation.trace(prompt: prompt, plain: PlainTransformer(config: c, weights: Self.model.weights), secure: secure)
        #expect(rows.map(\.step) == Array((0..<c.numHiddenLayers).map { _ in TraceStep.allCases }.joined()))
        #expect(rows.map(\.layer) == (0..<c.numHiddenLayers).flatMap { Array(repeating: $0, count: TraceStep.allCases.count) })
        #expect(rows.allSatisfy { $0.maxError > 0 && $0.maxError < 0.05 && $0.meanError <= $0.maxError && $0.meanMagnitude > 0 })
        let hidden = rows.filter { $0.step == .hidden }
        #expect(hidden.last!.meanError > hidden.first!.meanError)
        // The trace costs openings only: the pass's next token is still chosen (and the predictor reusable).
        #expect(secure.passes.count == 1 && !secure.opensLayerTrace)
    }

    @Test("perplexity windows and scores equal an independent full-prefix computation")
    func perplexity() throws {
        let tokens = try Self.model.tokenizer.encode("Blessed are the meek: for they shall inherit the earth. Blessed are they which do hunger.")
        let windows = Evaluation.windows(tokens: tokens, bos: 1, window: 9, maxWindows: nil)
        #expect(windows.allSatisfy { $0.first == 1 && $0.count <= 9 } && windows.flatMap { $0.dropFirst() } == tokens)
        #expect(Evaluation.windows(tokens: tokens, bos: 1, window: 9, maxWindows: 2).count == 2)
        // A model that adds no BOS: consecutive windows of the text itself, a lone last token dropped.
        let bare = Evaluation.windows(tokens: Array(1...19).map(Int32.init), bos: nil, window: 6, maxWindows: nil)
        #expect(bare == [[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12], [13, 14, 15, 16, 17, 18]])
        #expect(Evaluation.windows(tokens: Array(1...20).map(Int32.init), bos: nil, window: 6, maxWindows: nil).last == [19, 20])
        let nll = try Evaluation.negativeLogLikelihood(windows: windows, makeModel: Self.plain)
        #expect(nll.tokens == tokens.count)
        // Reference: each scored token from a fresh forward over its whole prefix (no KV cache),
        // log-softmax in Double.
        let transformer = PlainTransformer(config: Self.model.configuration, weights: Self.model.weights)
        var expected = 0.0
        for window in windows {
            for i in 1..<window.count {
                var cache = transformer.makeCache()
                let logits = transformer.forward(tokens: Array(window[0..<i]), cache: &cache).map(Double.init)
                let top = logits.max()!
                expected -= logits[Int(window[i])] - top - Foundation.log(logits.reduce(0) { $0 + Foundation.exp($1 - top) })
            }
        }
        #expect(abs(nll.sum - expected) < 1e-3 * expected, "\(nll.sum) vs \(expected)")
    }
}

@Suite("puma eval from the command line")
struct EvalCommandTests {
    @Test("prompts and text: the JSON report's fields, null first_divergence, Markdown on stdout")
    func report() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let prompts = dir.appendingPathComponent("prompts.jsonl"), text = dir.appendingPathComponent("text.txt")
        try "{\"prompt\": \"In the beginning\"}\n\n{\"prompt\": \"Blessed are the\", \"id\": 7}\n".write(to: prompts, atomically: true, encoding: .utf8)
        try "And God said, Let there be light: and there was light.".write(to: text, atomically: true, encoding: .utf8)
        let json = dir.appendingPathComponent("eval.json")
        let run = try PumaProcess(["eval", "--prompts", prompts.path, "--text", text.path, "--new-tokens", "6", "--window", "8",
                                   "--trace", "--json", json.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("2/2 identical continuations") && run.stdout.contains("Perplexity over"))
        let report = try Fixtures.json(json)
        let items = report["prompts"] as! [[String: Any]]
        #expect(items.map { $0["prompt"] as! String } == ["In the beginning", "Blessed are the"])
        for item in items {
            #expect(item["identical"] as? Bool == true && item["first_divergence"] is NSNull)
            #expect(item["agreement"] as? Double == 1 && (item["max_logit_error"] as! Double) < 0.05)
            #expect((item["bytes_per_token"] as! Double) > 0 && (item["steps"] as! Int) == 6)
        }
        let summary = report["summary"] as! [String: Any]
        #expect(summary["identical"] as? Int == 2 && summary["total"] as? Int == 2 && summary["agreement"] as? Double == 1)
        let perplexity = report["perplexity"] as! [String: Any]
        let (plain, secure) = (perplexity["plain"] as! Double, perplexity["secure"] as! Double)
        #expect(plain > 1 && abs(secure / plain - 1) < 0.005, "plain \(plain), secure \(secure)")
        #expect((perplexity["windows"] as! Int) >= 2 && (perplexity["tokens"] as! Int) > 8)
        let trace = report["trace"] as! [[String: Any]]
        #expect(trace.count == 4 * 6 && trace.allSatisfy { ($0["passes"] as! Int) == 2 && ($0["max_error"] as! Double) < 0.05 })
        #expect(run.stdout.contains("Layer trace"))
    }

    @Test("plain against plain (a separate process each): identical, 100 % agreement, zero logit error, same perplexity")
    func plainAgainstPlain() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let prompts = dir.appendingPathComponent("prompts.jsonl"), text = dir.appendingPathComponent("text.txt"), json = dir.appendingPathComponent("eval.json")
        try "{\"prompt\": \"The LORD is my shepherd;\"}\n".write(to: prompts, atomically: true, encoding: .utf8)
        try "For God so loved the world, that he gave his only begotten Son.".write(to: text, atomically: true, encoding: .utf8)
        let run = try PumaProcess(["eval", "--candidate", "plain", "--prompts", prompts.path, "--text", text.path, "--window", "6", "--json", json.path])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try Fixtures.json(json)
        let summary = report["summary"] as! [String: Any], perplexity = report["perplexity"] as! [String: Any]
        #expect(summary["identical"] as? Int == 1 && summary["agreement"] as? Double == 1)
        #expect(summary["max_logit_error"] as? Double == 0 && summary["mean_logit_error"] as? Double == 0)
        #expect(perplexity["plain"] as? Double == perplexity["secure"] as? Double && report["candidate"] as? String == "plain")
    }

    @Test("bad input: one clear line and a non-zero exit")
    func badInput() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let broken = dir.appendingPathComponent("broken.jsonl"), empty = dir.appendingPathComponent("empty.jsonl")
        try "{\"prompt\": \"ok\"}\n{\"text\": 3}\n".write(to: broken, atomically: true, encoding: .utf8)
        try "\n\n".write(to: empty, atomically: true, encoding: .utf8)
        for (arguments, expected) in [
            (["eval"], "--prompts FILE, --text FILE"),
            (["eval", "--prompts", dir.appendingPathComponent("missing.jsonl").path], "missing.jsonl"),
            (["eval", "--prompts", broken.path], "line 2"),
            (["eval", "--prompts", empty.path], "holds no prompt"),
            (["eval", "--text", broken.path, "--window", "1"], "--window"),
            (["eval", "--text", broken.path, "--window", "5000"], "context"),
            (["eval", "--prompts", broken.path, "--new-tokens", "0"], "--new-tokens"),
            (["eval", "--text", broken.path, "--trace"], "--trace"),
            (["eval", "--token-windows", broken.path], "--token-windows"),
        ] {
            let run = try PumaProcess(arguments)
            #expect(run.status != 0 && run.stderr.contains(expected) && run.stdout.isEmpty, "\(arguments): \(run.stderr)")
            #expect(run.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }.count == 1, "\(arguments): \(run.stderr)")
        }
    }

    @Test("stories260K, the 6 golden prompts: 6/6 identical, agreement ≥ 99.9 %", .enabled(if: Fixtures.hasSharedModels, Comment(rawValue: Fixtures.sharedModelsMissing)))
    func stories() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let golden = try Fixtures.json(Fixtures.stories.appendingPathComponent("golden-prompts.json"))["prompts"] as! [String]
        let prompts = dir.appendingPathComponent("prompts.jsonl"), json = dir.appendingPathComponent("eval.json")
        let lines = try golden.map { String(decoding: try JSONSerialization.data(withJSONObject: ["prompt": $0]), as: UTF8.self) }
        try lines.joined(separator: "\n").write(to: prompts, atomically: true, encoding: .utf8)
        let run = try PumaProcess(["eval", "--model", Fixtures.stories.path, "--prompts", prompts.path, "--json", json.path])
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try Fixtures.json(json)["summary"] as! [String: Any]
        #expect(summary["identical"] as? Int == 6 && summary["total"] as? Int == 6)
        #expect((summary["agreement"] as! Double) >= 0.999 && (summary["max_logit_error"] as! Double) <= 0.05)
    }
}

@Suite("kjv-1m's held-out loss, reproduced")
struct HeldOutLossTests {
    /// MT19937 (Matsumoto–Nishimura), seeded by init_genrand: PyTorch's CPU generator.
    struct MersenneTwister {
        var state: [UInt32]
        var index = 624

        init(seed: UInt32) {
            state = [seed]
            for i in 1..<624 { state.append(1_812_433_253 &* (state[i - 1] ^ (state[i - 1] >> 30)) &+ UInt32(i)) }
        }

        mutating func next() -> UInt32 {
            if index == 624 {
                for i in 0..<624 {
                    let y = (state[i] & 0x8000_0000) | (state[(i + 1) % 624] & 0x7FFF_FFFF)
                    state[i] = state[(i + 397) % 624] ^ (y >> 1) ^ (y & 1 == 1 ? 0x9908_B0DF : 0)
                }
                index = 0
            }
            var y = state[index]
            index += 1
            y ^= y >> 11
            y ^= (y << 7) & 0x9D2C_5680
            y ^= (y << 15) & 0xEFC6_0000
            return y ^ (y >> 18)
        }
    }

    static let bible = "/usr/bin/bible"

    /// models/README.md records 3.1215 nats/token: the training script's mean cross-entropy over 20
    /// batches of 32 windows of 128 tokens drawn by torch.randint (generator seeded 7) from the last
    /// 5 % of its token stream (the KJV from Debian's bible-kjv, each verse BOS-prefixed). The same
    /// stream and windows here (as scripts/kjv_heldout.py builds them), scored by puma's plaintext.
    @Test("the training script's held-out windows: plaintext loss 3.1215 nats/token within 0.1 %",
          .enabled(if: FileManager.default.isExecutableFile(atPath: bible), "Debian's bible-kjv is not installed: held-out check skipped"))
    func heldOut() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.bible)
        process.arguments = ["-f", "Gen1:1-Rev22:21"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let model = try LlamaModel(at: Fixtures.embeddedModel)
        var stream: [Int32] = []
        // As models/train/train.sh: drop each verse's reference ("Gen1:1 "), keep non-blank lines.
        let reference = try Regex("^[0-9A-Za-z]+[0-9]+:[0-9]+ ")
        for line in String(decoding: output, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            let verse = String(line).replacing(reference, with: "", maxReplacements: 1)
            guard !verse.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            stream += [1] + (try model.tokenizer.encode(verse))
        }
        #expect(stream.count == 1_378_435, "the training run's stream had 1,378,435 tokens")
        let held = Array(stream[(stream.count * 95 / 100)...])
        var generator = MersenneTwister(seed: 7)
        let span = UInt32(held.count - 129)
        let windows = (0..<640).map { _ -> [Int32] in
            let start = Int(generator.next() % span)
            return Array(held[start..<(start + 129)])
        }
        let plain = { PlainPredictor(transformer: PlainTransformer(config: model.configuration, weights: model.weights),
                                     sampler: Sampler(method: .greedy, seed: 0)) as any LogitModel }
        let nll = try Evaluation.negativeLogLikelihood(windows: windows, makeModel: plain)
        let loss = nll.sum / Double(nll.tokens)
        #expect(nll.tokens == 640 * 128)
        #expect(abs(loss / 3.1215 - 1) < 0.001, "held-out loss \(loss)")
    }
}
