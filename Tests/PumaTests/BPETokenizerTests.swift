import Foundation
import PumaIO
import Testing

/// The byte-level BPE tokenizer against Hugging Face `tokenizers` (Tests/PumaTests/Vectors/bpe-tokenizer.json,
/// made by scripts/make-tokenizer-vectors.py with SmolLM2's vocabulary and merges).
@Suite("Byte-level BPE tokenizer")
struct BPETokenizerTests {
    static func vectors() throws -> (strings: [String], ids: [String: [[Int32]]]) {
        let root = try Fixtures.json(Fixtures.vectors.appendingPathComponent("bpe-tokenizer.json"))
        let ids = (root["ids"] as! [String: [[Int]]]).mapValues { $0.map { $0.map(Int32.init) } }
        return (root["strings"] as! [String], ids)
    }

    /// SmolLM2's vocabulary, merges and token types, from its GGUF file.
    static func smolLMVocabulary() throws -> (tokens: [String], merges: [(String, String)], types: [Int]) {
        let file = try GGUFFile(url: Fixtures.smolLMFile)
        let tokens = file.metadata["tokenizer.ggml.tokens"]!.array!.map { $0.string! }
        let merges = file.metadata["tokenizer.ggml.merges"]!.array!.map { m -> (String, String) in
            let parts = m.string!.split(separator: " ", maxSplits: 1)
            return (String(parts[0]), String(parts[1]))
        }
        return (tokens, merges, file.metadata["tokenizer.ggml.token_type"]!.array!.map { $0.integer! })
    }

    @Test("SmolLM2's GGUF tokenizer (smollm) equals Hugging Face tokenizers on 320 strings; decoding gives the text back",
          .enabled(if: Fixtures.hasSmolLM, Comment(rawValue: Fixtures.smolLMMissing)))
    func smolLMGGUF() throws {
        let (strings, ids) = try Self.vectors()
        #expect(strings.count >= 300)
        let tokenizer = try Tokenizer.load(gguf: GGUFFile(url: Fixtures.smolLMFile))
        #expect(tokenizer.kind == "byte-level BPE (smollm)" && !tokenizer.addsBOS)
        for (text, expected) in zip(strings, ids["smollm"]!) {
            #expect(try tokenizer.encodePrompt(text) == expected, "\(text.debugDescription)")
            // Control tokens decode to nothing; everything else round-trips (bytes the vocabulary lacks aside).
            if !text.contains("<|") && !text.contains("<repo_name>") && !text.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" && $0 != "\t" && $0 != "\r" }) {
                #expect(try tokenizer.decode(expected) == text, "\(text.debugDescription)")
            }
        }
    }

    @Test("the gpt-2 and llama-bpe pre-tokenizers (LLaMA-3's expression, whole-word lookup first) equal Hugging Face tokenizers",
          .enabled(if: Fixtures.hasSmolLM, Comment(rawValue: Fixtures.smolLMMissing)))
    func otherPreTokenizers() throws {
        let (strings, ids) = try Self.vectors()
        let vocabulary = try Self.smolLMVocabulary()
        let control = vocabulary.types.enumerated().filter { $0.element == 3 }.map { (id: Int32($0.offset), text: vocabulary.tokens[$0.offset]) }
        for pre in [PreTokenizer.gpt2, .llama3] {
            let bpe = try BPETokenizer(tokens: vocabulary.tokens, merges: vocabulary.merges, added: control, control: Set(control.map(\.id)),
                                       preTokenizer: pre, ignoreMerges: pre == .llama3, source: "test")
            for (text, expected) in zip(strings, ids[pre.rawValue]!) {
                #expect(bpe.encode(text) == expected, "\(pre.rawValue): \(text.debugDescription)")
            }
        }
    }

    @Test("tokenizer.json with tokenizer_config.json (add_bos_token, bos_token) is read like the GGUF vocabulary; unsupported parts are named",
          .enabled(if: Fixtures.hasSmolLM, Comment(rawValue: Fixtures.smolLMMissing)))
    func tokenizerJSON() throws {
        let (strings, ids) = try Self.vectors()
        let vocabulary = try Self.smolLMVocabulary()
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(preTokenizer: Any, merges: Any? = nil, normalizer: Any = NSNull(), addBOS: Bool? = nil) throws {
            var vocab: [String: Int] = [:]
            for (i, t) in vocabulary.tokens.enumerated() where vocabulary.types[i] != 3 { vocab[t] = i }
            let added = vocabulary.types.enumerated().filter { $0.element == 3 }.map {
                ["id": $0.offset, "content": vocabulary.tokens[$0.offset], "special": true] as [String: Any]
            }
            let root: [String: Any] = [
                "version": "1.0", "added_tokens": added, "normalizer": normalizer, "pre_tokenizer": preTokenizer,
                "model": ["type": "BPE", "vocab": vocab, "merges": merges ?? vocabulary.merges.map { "\($0.0) \($0.1)" }],
            ]
            try JSONSerialization.data(withJSONObject: root).write(to: dir.appendingPathComponent("tokenizer.json"))
            var config: [String: Any] = ["bos_token": "<|im_start|>", "eos_token": "<|im_end|>"]
            if let addBOS { config["add_bos_token"] = addBOS }
            try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("tokenizer_config.json"))
        }
        let byteLevel: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true]
        let smollm: [String: Any] = ["type": "Sequence", "pretokenizers": [["type": "Digits", "individual_digits": true], byteLevel]]
        // Merges in the newer list-of-pairs form.
        try write(preTokenizer: smollm, merges: vocabulary.merges.map { [$0.0, $0.1] })
        let tokenizer = try Tokenizer.load(directory: dir)
        #expect(tokenizer.bosId == 1 && tokenizer.eosId == 2 && !tokenizer.addsBOS)
        for (text, expected) in zip(strings, ids["smollm"]!) { #expect(try tokenizer.encode(text) == expected, "\(text.debugDescription)") }
        // Without tokenizer_config.json the special ids come from config.json's (the caller's defaults).
        try FileManager.default.removeItem(at: dir.appendingPathComponent("tokenizer_config.json"))
        let bare = try Tokenizer.load(directory: dir, defaultBOS: 1, defaultEOS: 2)
        #expect(bare.bosId == 1 && bare.eosId == 2 && !bare.addsBOS)
        #expect(try Tokenizer.load(directory: dir).bosId == -1)
        try write(preTokenizer: byteLevel, addBOS: true)
        let gpt2 = try Tokenizer.load(directory: dir)
        #expect(gpt2.addsBOS && gpt2.kind == "byte-level BPE (gpt-2)")
        #expect(try gpt2.encodePrompt(strings[8]) == [1] + ids["gpt-2"]![8])
        let llama3: [String: Any] = ["type": "Sequence", "pretokenizers": [
            ["type": "Split", "pattern": ["Regex": #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#],
             "behavior": "Isolated", "invert": false],
            ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false]]]
        try write(preTokenizer: llama3)
        #expect(try Tokenizer.load(directory: dir).kind == "byte-level BPE (llama-bpe)")
        // What puma cannot reproduce is refused by name.
        try write(preTokenizer: ["type": "Whitespace"])
        #expect(throws: PumaIOError.self) { try Tokenizer.load(directory: dir) }
        do { _ = try Tokenizer.load(directory: dir) } catch { #expect("\(error)".contains("pre_tokenizer")) }
        try write(preTokenizer: byteLevel, normalizer: ["type": "NFC"])
        do { _ = try Tokenizer.load(directory: dir); Issue.record("a normalizer was accepted") } catch { #expect("\(error)".contains("'NFC' is not supported")) }
        try write(preTokenizer: byteLevel, merges: ["Ġ t", "nosuchtoken x"])
        do { _ = try Tokenizer.load(directory: dir); Issue.record("a bad merge was accepted") } catch {
            #expect("\(error)".contains("merge 1 'nosuchtoken x' names a token not in the vocabulary"))
        }
    }

    @Test("the pre-tokenizers split as their expressions do (no vocabulary needed)")
    func preTokenizerSplits() {
        func split(_ p: PreTokenizer, _ text: String) -> [String] { p.split(text).map { String(String.UnicodeScalarView($0)) } }
        #expect(split(.gpt2, "Hello  world's 123\n\n x") == ["Hello", " ", " world", "'s", " 123", "\n\n", " x"])
        #expect(split(.smollm, "ab  12 c") == ["ab", "  ", "1", "2", " c"])
        #expect(split(.llama3, "I'M 12345 ok!!\n\n  next") == ["I", "'M", " ", "123", "45", " ok", "!!\n\n", " ", " next"])
        #expect(split(.llama3, "a\tb") == ["a", "\tb"])
        for p in PreTokenizer.allCases {
            for text in ["", " ", "x", "  \n\t ", "é😀1 a"] { #expect(split(p, text).joined() == text) }
        }
    }

    @Test("streaming a byte-level text: deltas concatenate to decode(ids); a character split across tokens waits for its last byte",
          .enabled(if: Fixtures.hasSmolLM, Comment(rawValue: Fixtures.smolLMMissing)))
    func streaming() throws {
        let tokenizer = try Tokenizer.load(gguf: GGUFFile(url: Fixtures.smolLMFile))
        for text in ["Ünïcödé — 🦙 and 你好世界", "👨‍👩‍👧‍👦 family", "plain words", "a😀b"] {
            let ids = try tokenizer.encode(text)
            var stream = StreamingDetokenizer(tokenizer: tokenizer)
            var deltas: [String] = []
            for id in ids { deltas.append(try stream.append([id])) }
            deltas.append(try stream.finish())
            #expect(deltas.joined() == text)
            #expect(!deltas.contains { $0.contains("\u{FFFD}") })
        }
    }
}
