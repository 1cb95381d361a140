import Foundation
import PumaIO
import Testing

@Suite("Tokenizer")
struct TokenizerTests {
    @Test("stories260K tokenizer reproduces golden.json ids", .enabled(if: Fixtures.hasSharedModels, Comment(rawValue: Fixtures.sharedModelsMissing)))
    func storiesGolden() throws {
        let tokenizer = try Tokenizer(url: Fixtures.stories.appendingPathComponent("tokenizer.model"))
        #expect(tokenizer.pieceCount == 512)
        #expect((tokenizer.bosId, tokenizer.eosId, tokenizer.unkId) == (1, 2, 0))
        let golden = try Fixtures.json(Fixtures.stories.appendingPathComponent("golden.json"))
        let cases = golden["tokenizer"] as! [[String: Any]]
        #expect(cases.count == 7)
        for item in cases {
            let text = item["text"] as! String
            let expected = (item["ids"] as! [Int]).map(Int32.init)
            #expect(try tokenizer.encode(text) == expected, "\(text.debugDescription)")
            #expect(try tokenizer.encode(text, addBOS: true) == [1] + expected)
        }
    }

    @Test("LLaMA tokenizer passes all 46 llama.cpp test vectors", .enabled(if: Fixtures.hasSharedModels, Comment(rawValue: Fixtures.sharedModelsMissing)))
    func llamaVectors() throws {
        let dir = Fixtures.llamaTokenizer
        let tokenizer = try Tokenizer(url: dir.appendingPathComponent("tokenizer.model"))
        #expect(tokenizer.pieceCount == 32000)
        var inputs = try String(contentsOf: dir.appendingPathComponent("ggml-vocab-llama-spm.gguf.inp"), encoding: .utf8)
            .components(separatedBy: "\n__ggml_vocab_test__\n")
        if inputs.last == "" { inputs.removeLast() }
        var outputs = try String(contentsOf: dir.appendingPathComponent("ggml-vocab-llama-spm.gguf.out"), encoding: .utf8)
            .components(separatedBy: "\n")
        if outputs.last == "" { outputs.removeLast() }
        #expect(inputs.count == 46)
        #expect(outputs.count == 46)
        for (input, output) in zip(inputs, outputs) {
            let expected = output.split(separator: " ").map { Int32($0)! }
            #expect(try tokenizer.encode(input) == expected, "\(input.debugDescription)")
        }
    }

    @Test("streaming deltas concatenate to decode(ids), one token at a time",
          .enabled(if: Fixtures.hasSharedModels, Comment(rawValue: Fixtures.sharedModelsMissing)))
    func streaming() throws {
        let tokenizer = try Tokenizer(url: Fixtures.llamaTokenizer.appendingPathComponent("tokenizer.model"))
        let texts = ["Ünïcödé — 🦙 and 你好世界", " leading space", "line one\nline two", "🦙🦙🦙", "a  b   c", ""]
        for text in texts {
            let ids = try tokenizer.encode(text, addBOS: true)
            var stream = StreamingDetokenizer(tokenizer: tokenizer)
            var deltas: [String] = []
            for id in ids { deltas.append(try stream.append([id])) }
            deltas.append(try stream.finish())
            #expect(deltas.joined() == (try tokenizer.decode(ids)), "\(text.debugDescription)")
            // No delta ever carries a replacement character for a byte split across tokens.
            #expect(!deltas.joined().contains("\u{FFFD}"), "\(text.debugDescription)")
            // SentencePiece drops the dummy-prefix space: no stray leading space.
            #expect(deltas.joined().first != " " || text.first == " ")
        }
        // The llama emoji is four byte-fallback tokens: nothing is emitted until the last one.
        let llama = try tokenizer.encode("🦙")
        var stream = StreamingDetokenizer(tokenizer: tokenizer)
        let bytePieces = llama.filter(tokenizer.isByte)
        #expect(bytePieces.count == 4)
        let parts = try llama.map { try stream.append([$0]) }
        #expect(parts.dropLast().allSatisfy { $0.isEmpty })
        #expect(parts.last == "🦙")
    }

    @Test("genuinely invalid byte sequences are flushed as U+FFFD at the end",
          .enabled(if: Fixtures.hasSharedModels, Comment(rawValue: Fixtures.sharedModelsMissing)))
    func invalidBytes() throws {
        let tokenizer = try Tokenizer(url: Fixtures.stories.appendingPathComponent("tokenizer.model"))
        // <0xF0> alone is the start of a 4-byte sequence that never completes.
        let lead = Int32((0..<512).first { tokenizer.piece(Int32($0)) == "<0xF0>" }!)
        var stream = StreamingDetokenizer(tokenizer: tokenizer)
        #expect(try stream.append([1, lead]) == "")
        let tail = try stream.finish()
        #expect(tail == (try tokenizer.decode([1, lead])))
        #expect(tail.unicodeScalars.allSatisfy { $0 == "\u{FFFD}" } && !tail.isEmpty)
    }

    @Test("missing, corrupt and out-of-range input gives a clear error")
    func badInput() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("tokenizer.model")
        #expect(throws: PumaIOError.missingFile(missing.path)) { try Tokenizer(url: missing) }
        try Data("this is not a protobuf".utf8).write(to: missing)
        do {
            _ = try Tokenizer(url: missing)
            Issue.record("a corrupt tokenizer loaded")
        } catch let error as PumaIOError {
            #expect(error.description.hasPrefix("cannot load tokenizer \(missing.path)"))
            #expect(!error.description.contains("\n"))
        }
        if Fixtures.hasSharedModels {
            let tokenizer = try Tokenizer(url: Fixtures.stories.appendingPathComponent("tokenizer.model"))
            #expect(throws: PumaIOError.tokenizer("token id 512 is outside the vocabulary of 512")) { try tokenizer.decode([1, 512]) }
        }
    }
}
