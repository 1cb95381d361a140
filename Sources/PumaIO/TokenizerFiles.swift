import Foundation

/// Where a model's tokenizer comes from: a Hugging Face directory's `tokenizer.model` (SentencePiece) or
/// `tokenizer.json` (byte-level BPE, with `tokenizer_config.json`), or a GGUF file's `tokenizer.ggml.*`
/// keys (`llama`: SentencePiece rebuilt from the pieces, scores and types; `gpt2`: byte-level BPE).
extension Tokenizer {
    /// The tokenizer of a Hugging Face directory: `tokenizer.model` when present, else `tokenizer.json`,
    /// whose BOS and EOS are tokenizer_config.json's or else `defaultBOS`, `defaultEOS` (config.json's ids).
    public static func load(directory: URL, defaultBOS: Int? = nil, defaultEOS: Int? = nil) throws -> Tokenizer {
        try load(directory: directory, settings: TokenizerSettings(directory: directory), defaultBOS: defaultBOS, defaultEOS: defaultEOS)
    }

    static func load(directory: URL, settings: TokenizerSettings, defaultBOS: Int?, defaultEOS: Int?) throws -> Tokenizer {
        let spm = directory.appendingPathComponent("tokenizer.model")
        let json = directory.appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: spm.path) || !FileManager.default.fileExists(atPath: json.path) {
            return try Tokenizer(url: spm, addsBOS: settings.addBOS ?? true)
        }
        return try loadJSON(json, settings: settings, defaultBOS: defaultBOS, defaultEOS: defaultEOS)
    }

    /// `tokenizer_config.json`'s few settings that change ids (`add_bos_token`, the BOS/EOS texts) and
    /// the chat template it stores (`chat_template`: a string, or the entry named "default" of a list).
    struct TokenizerSettings {
        var addBOS: Bool?
        var bosToken: String?
        var eosToken: String?
        var unkToken: String?
        var chatTemplate: String?

        init(directory: URL) throws {
            let url = directory.appendingPathComponent("tokenizer_config.json")
            guard FileManager.default.fileExists(atPath: url.path) else { return }
            let data = try InputFile.read(url)
            guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                throw PumaIOError.invalidJSON(file: url.path, reason: "expected a JSON object")
            }
            addBOS = root["add_bos_token"] as? Bool
            func token(_ key: String) -> String? {
                if let text = root[key] as? String { return text }
                return (root[key] as? [String: Any])?["content"] as? String
            }
            bosToken = token("bos_token")
            eosToken = token("eos_token")
            unkToken = token("unk_token")
            chatTemplate = root["chat_template"] as? String
                ?? (root["chat_template"] as? [[String: Any]])?.first { $0["name"] as? String == "default" }?["template"] as? String
        }
    }

    /// The regular expression LLaMA-3's `tokenizer.json` splits with (a `Split` pre-tokenizer).
    static let llama3Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    static func loadJSON(_ url: URL, settings: TokenizerSettings, defaultBOS: Int?, defaultEOS: Int?) throws -> Tokenizer {
        let path = url.path
        func invalid(_ key: String, _ reason: String) -> PumaIOError { .invalidValue(file: path, key: key, reason: reason) }
        let data = try InputFile.read(url, limit: InputFile.tokenizerLimit)
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw PumaIOError.invalidJSON(file: path, reason: "expected a JSON object")
        }
        guard let model = root["model"] as? [String: Any] else { throw PumaIOError.missingKey(file: path, key: "model") }
        guard model["type"] as? String == "BPE" else {
            throw invalid("model.type", "'\(model["type"] as? String ?? "none")' is not supported (puma reads byte-level BPE)")
        }
        if let normalizer = root["normalizer"], !(normalizer is NSNull) {
            throw invalid("normalizer", "'\((normalizer as? [String: Any])?["type"] as? String ?? "?")' is not supported (byte-level BPE has none)")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let affix = model[key] as? String, !affix.isEmpty { throw invalid("model.\(key)", "'\(affix)' is not supported") }
        }
        guard let vocab = model["vocab"] as? [String: Any] else { throw PumaIOError.missingKey(file: path, key: "model.vocab") }
        var entries: [(String, Int)] = []
        entries.reserveCapacity(vocab.count)
        for (token, value) in vocab {
            guard let id = (value as? NSNumber).flatMap({ Int(exactly: $0.doubleValue) }), id >= 0, id < 1 << 22 else {
                throw invalid("model.vocab", "'\(token)' has no valid id")
            }
            entries.append((token, id))
        }
        // Added tokens may extend the vocabulary beyond model.vocab.
        var added: [(id: Int32, text: String)] = [], control = Set<Int32>()
        for item in root["added_tokens"] as? [[String: Any]] ?? [] {
            guard let id = (item["id"] as? NSNumber).flatMap({ Int(exactly: $0.doubleValue) }), id >= 0, id < 1 << 22,
                  let content = item["content"] as? String else { throw invalid("added_tokens", "an entry has no id or content") }
            entries.append((content, id))
            added.append((Int32(id), content))
            if item["special"] as? Bool == true { control.insert(Int32(id)) }
        }
        let size = (entries.map(\.1).max() ?? -1) + 1
        var tokens = [String?](repeating: nil, count: size)
        for (token, id) in entries { tokens[id] = tokens[id] ?? token }
        if let gap = tokens.firstIndex(where: { $0 == nil }) { throw invalid("model.vocab", "no token has id \(gap)") }
        var merges: [(String, String)] = []
        for (rank, item) in (model["merges"] as? [Any] ?? []).enumerated() {
            if let text = item as? String {
                let parts = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw invalid("model.merges", "merge \(rank) '\(text)' is not two tokens") }
                merges.append((String(parts[0]), String(parts[1])))
            } else if let pair = item as? [String], pair.count == 2 {
                merges.append((pair[0], pair[1]))
            } else {
                throw invalid("model.merges", "merge \(rank) is neither \"a b\" nor [a, b]")
            }
        }
        let pre = try preTokenizer(root["pre_tokenizer"], file: path)
        let bpe = try BPETokenizer(tokens: tokens.map { $0! }, merges: merges, added: added, control: control,
                                   preTokenizer: pre, ignoreMerges: model["ignore_merges"] as? Bool ?? false, source: path)
        func id(_ text: String?, _ fallback: Int? = nil) -> Int32 {
            text.flatMap(bpe.id(of:)) ?? fallback.flatMap { (0..<tokens.count).contains($0) ? Int32($0) : nil } ?? -1
        }
        // LLaMA-3 adds BOS through its post-processor rather than add_bos_token.
        var postBOS = false
        if let post = root["post_processor"] as? [String: Any] {
            let processors = post["type"] as? String == "Sequence" ? (post["processors"] as? [[String: Any]] ?? []) : [post]
            for p in processors where p["type"] as? String == "TemplateProcessing" {
                if let first = (p["single"] as? [[String: Any]])?.first?["SpecialToken"] as? [String: Any],
                   first["id"] as? String == settings.bosToken { postBOS = true }
            }
        }
        return Tokenizer(bpe: bpe, bosId: id(settings.bosToken, defaultBOS), eosId: id(settings.eosToken, defaultEOS), unkId: id(settings.unkToken),
                         addsBOS: settings.addBOS ?? postBOS)
    }

    /// The pre-tokenizers puma implements, recognised from their `tokenizer.json` description.
    static func preTokenizer(_ value: Any?, file: String) throws -> PreTokenizer {
        func byteLevel(_ p: [String: Any], regex: Bool) -> Bool {
            p["type"] as? String == "ByteLevel" && (p["add_prefix_space"] as? Bool ?? false) == false && (p["use_regex"] as? Bool ?? true) == regex
        }
        if let p = value as? [String: Any] {
            if byteLevel(p, regex: true) { return .gpt2 }
            if p["type"] as? String == "Sequence", let list = p["pretokenizers"] as? [[String: Any]], list.count == 2 {
                if list[0]["type"] as? String == "Digits", list[0]["individual_digits"] as? Bool == true, byteLevel(list[1], regex: true) {
                    return .smollm
                }
                if list[0]["type"] as? String == "Split", (list[0]["pattern"] as? [String: Any])?["Regex"] as? String == llama3Pattern,
                   list[0]["behavior"] as? String == "Isolated", byteLevel(list[1], regex: false) {
                    return .llama3
                }
            }
        }
        let data = value.flatMap { try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }
        let text = data.map { String(decoding: $0, as: UTF8.self) } ?? "none"
        throw PumaIOError.invalidValue(file: file, key: "pre_tokenizer",
            reason: "\(text.prefix(120)) is not supported (puma reads GPT-2's ByteLevel, SmolLM's Digits + ByteLevel, LLaMA-3's Split + ByteLevel)")
    }

    /// The tokenizer stored in a GGUF file.
    public static func load(gguf file: GGUFFile) throws -> Tokenizer {
        let path = file.path
        let m = file.metadata
        func invalid(_ key: String, _ reason: String) -> PumaIOError { .invalidValue(file: path, key: key, reason: reason) }
        guard let model = m["tokenizer.ggml.model"] else { throw PumaIOError.missingKey(file: path, key: "tokenizer.ggml.model") }
        guard let tokenValues = m["tokenizer.ggml.tokens"]?.array else { throw PumaIOError.missingKey(file: path, key: "tokenizer.ggml.tokens") }
        let tokens = try tokenValues.map { v -> String in
            guard let s = v.string else { throw invalid("tokenizer.ggml.tokens", "expected strings") }
            return s
        }
        func numbers(_ key: String) throws -> [GGUFValue]? {
            guard let list = m[key] else { return nil }
            guard let array = list.array, array.count == tokens.count else {
                throw invalid(key, "expected an array of \(tokens.count) entries, one per token")
            }
            return array
        }
        let types = try numbers("tokenizer.ggml.token_type")?.map { Int32(clamping: $0.integer ?? 0) } ?? []
        func special(_ key: String) throws -> Int32 {
            guard let value = m[key] else { return -1 }
            guard let id = value.integer, id >= 0, id < tokens.count else { throw invalid(key, "is outside the vocabulary of \(tokens.count)") }
            return Int32(id)
        }
        let (bos, eos) = (try special("tokenizer.ggml.bos_token_id"), try special("tokenizer.ggml.eos_token_id"))
        switch model.string {
        case "gpt2"?:
            let preName = m["tokenizer.ggml.pre"]?.string ?? "gpt-2"
            let pre: PreTokenizer
            switch preName {
            case "smollm": pre = .smollm
            case "llama-bpe", "llama3", "llama-v3": pre = .llama3
            case "gpt-2", "gpt2", "default": pre = .gpt2
            default: throw invalid("tokenizer.ggml.pre", "'\(preName)' is not supported (puma splits as smollm, llama-bpe and gpt-2)")
            }
            let merges = try (m["tokenizer.ggml.merges"]?.array ?? []).enumerated().map { rank, v -> (String, String) in
                let parts = v.string?.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false) ?? []
                guard parts.count == 2 else { throw invalid("tokenizer.ggml.merges", "merge \(rank) is not two tokens") }
                return (String(parts[0]), String(parts[1]))
            }
            // Control (3) and user-defined (4) tokens are recognised in the text; control ones decode to nothing.
            var added: [(id: Int32, text: String)] = [], control = Set<Int32>()
            for (i, type) in types.enumerated() where type == 3 || type == 4 {
                added.append((Int32(i), tokens[i]))
                if type == 3 { control.insert(Int32(i)) }
            }
            let bpe = try BPETokenizer(tokens: tokens, merges: merges, added: added, control: control, preTokenizer: pre,
                                       ignoreMerges: pre == .llama3, source: path)
            return Tokenizer(bpe: bpe, bosId: bos, eosId: eos, unkId: try special("tokenizer.ggml.unknown_token_id"),
                             addsBOS: m["tokenizer.ggml.add_bos_token"]?.bool ?? false)
        case "llama"?:
            guard let scores = try numbers("tokenizer.ggml.scores")?.map({ Float($0.number ?? 0) }) else {
                throw PumaIOError.missingKey(file: path, key: "tokenizer.ggml.scores")
            }
            guard types.count == tokens.count else { throw PumaIOError.missingKey(file: path, key: "tokenizer.ggml.token_type") }
            var unk = try special("tokenizer.ggml.unknown_token_id")
            if unk < 0 { unk = types.firstIndex(of: 2).map(Int32.init) ?? -1 }
            let proto = SentencePieceModelProto(
                pieces: tokens, scores: scores, types: types, unkId: unk, bosId: bos, eosId: eos,
                padId: try special("tokenizer.ggml.padding_token_id"),
                addDummyPrefix: m["tokenizer.ggml.add_space_prefix"]?.bool ?? true,
                removeExtraWhitespaces: m["tokenizer.ggml.remove_extra_whitespaces"]?.bool ?? false)
            return try Tokenizer(sentencePieceModel: proto.serialized(), addsBOS: m["tokenizer.ggml.add_bos_token"]?.bool ?? true, source: path)
        default:
            throw invalid("tokenizer.ggml.model", "'\(model.string ?? "not a string")' is not supported (puma reads llama and gpt2)")
        }
    }
}

/// A SentencePiece `ModelProto` (sentencepiece_model.proto) written by hand: the pieces with their
/// scores and types, a BPE trainer spec with the special ids (and byte fallback when byte pieces
/// exist), and an identity normalizer — what llama.cpp's `llama` vocabulary in a GGUF file stands for.
struct SentencePieceModelProto {
    var pieces: [String]
    var scores: [Float]
    var types: [Int32]
    var unkId: Int32, bosId: Int32, eosId: Int32, padId: Int32
    var addDummyPrefix: Bool
    var removeExtraWhitespaces: Bool

    func serialized() -> [UInt8] {
        var out: [UInt8] = []
        for (i, piece) in pieces.enumerated() {
            var entry: [UInt8] = []
            Self.bytes(1, Array(piece.utf8), into: &entry)
            Self.key(2, wire: 5, into: &entry)
            withUnsafeBytes(of: scores[i].bitPattern.littleEndian) { entry += $0 }
            Self.varint(3, UInt64(max(types[i], 1)), into: &entry)
            Self.bytes(1, entry, into: &out)
        }
        var trainer: [UInt8] = []
        Self.varint(3, 2, into: &trainer)  // model_type BPE
        Self.varint(4, UInt64(pieces.count), into: &trainer)
        if types.contains(6) { Self.varint(35, 1, into: &trainer) }  // byte_fallback
        for (field, id) in [(40, unkId), (41, bosId), (42, eosId), (43, padId)] {
            Self.varint(field, UInt64(bitPattern: Int64(id)), into: &trainer)
        }
        Self.bytes(2, trainer, into: &out)
        var normalizer: [UInt8] = []
        Self.bytes(1, Array("identity".utf8), into: &normalizer)
        Self.varint(3, addDummyPrefix ? 1 : 0, into: &normalizer)
        Self.varint(4, removeExtraWhitespaces ? 1 : 0, into: &normalizer)
        Self.varint(5, 1, into: &normalizer)  // escape_whitespaces
        Self.bytes(3, normalizer, into: &out)
        return out
    }

    static func raw(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        out.append(UInt8(v))
    }
    static func key(_ field: Int, wire: Int, into out: inout [UInt8]) { raw(UInt64(field << 3 | wire), into: &out) }
    static func varint(_ field: Int, _ value: UInt64, into out: inout [UInt8]) {
        key(field, wire: 0, into: &out)
        raw(value, into: &out)
    }
    static func bytes(_ field: Int, _ value: [UInt8], into out: inout [UInt8]) {
        key(field, wire: 2, into: &out)
        raw(UInt64(value.count), into: &out)
        out += value
    }
}
