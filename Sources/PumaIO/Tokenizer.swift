import CSentencePiece
import Foundation

/// The model's tokenizer, whichever kind it is: SentencePiece (a `tokenizer.model`, or a GGUF `llama`
/// vocabulary rebuilt as a SentencePiece model) through the C shim over Debian's libsentencepiece, or
/// byte-level BPE (`BPETokenizer`, from `tokenizer.json` or a GGUF `gpt2` vocabulary).
public final class Tokenizer: @unchecked Sendable {
    enum Backend {
        case sentencePiece(OpaquePointer)
        case bpe(BPETokenizer)
    }
    private let backend: Backend
    public let pieceCount: Int
    public let bosId: Int32
    public let eosId: Int32
    public let unkId: Int32
    /// Whether a prompt starts with BOS (`add_bos_token`; SentencePiece LLaMA models: yes).
    public let addsBOS: Bool
    /// "SentencePiece" or "byte-level BPE (smollm)", for `puma inspect`.
    public let kind: String

    /// A SentencePiece `tokenizer.model`; prompts start with BOS unless `addsBOS` is false
    /// (tokenizer_config.json's `add_bos_token`).
    public convenience init(url: URL, addsBOS: Bool = true) throws {
        try InputFile.check(url, limit: InputFile.tokenizerLimit)
        var error = [CChar](repeating: 0, count: 512)
        guard let loaded = spm_load(url.path, &error, error.count) else {
            throw PumaIOError.tokenizer("cannot load tokenizer \(url.path): \(Self.text(error))")
        }
        self.init(sentencePiece: loaded, addsBOS: addsBOS)
    }

    /// A serialized SentencePiece model (`source` names it in errors).
    public convenience init(sentencePieceModel data: [UInt8], addsBOS: Bool, source: String) throws {
        var error = [CChar](repeating: 0, count: 512)
        let loaded = data.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { spm_load_serialized($0.baseAddress, $0.count, &error, error.count) }
        }
        guard let loaded else { throw PumaIOError.tokenizer("cannot build a SentencePiece tokenizer from \(source): \(Self.text(error))") }
        self.init(sentencePiece: loaded, addsBOS: addsBOS)
    }

    private init(sentencePiece handle: OpaquePointer, addsBOS: Bool) {
        backend = .sentencePiece(handle)
        pieceCount = Int(spm_piece_count(handle))
        bosId = spm_bos_id(handle)
        eosId = spm_eos_id(handle)
        unkId = spm_unk_id(handle)
        self.addsBOS = addsBOS
        kind = "SentencePiece"
    }

    /// A byte-level BPE tokenizer with its special ids (−1: none).
    public init(bpe: BPETokenizer, bosId: Int32, eosId: Int32, unkId: Int32, addsBOS: Bool) {
        backend = .bpe(bpe)
        pieceCount = bpe.tokens.count
        self.bosId = bosId
        self.eosId = eosId
        self.unkId = unkId
        self.addsBOS = addsBOS && bosId >= 0
        kind = "byte-level BPE (\(bpe.preTokenizer.rawValue))"
    }

    /// A NUL-terminated message from the shim.
    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { if case .sentencePiece(let handle) = backend { spm_free(handle) } }

    /// Token ids of `text` (no BOS unless asked). Byte-level BPE recognises added and special tokens
    /// (`<|im_start|>`) in the text; SentencePiece reads all text as text. Invalid UTF-8 cannot reach
    /// here: Swift strings are valid.
    public func encode(_ text: String, addBOS: Bool = false) throws -> [Int32] {
        let body: [Int32]
        switch backend {
        case .bpe(let bpe): body = bpe.encode(text)
        case .sentencePiece(let handle):
            let utf8 = Array(text.utf8CString)  // NUL-terminated, so never empty
            var ids: UnsafeMutablePointer<Int32>? = nil
            var count = 0
            let status = utf8.withUnsafeBufferPointer { spm_encode(handle, $0.baseAddress, $0.count - 1, &ids, &count) }
            guard status == 0, let ids else { throw PumaIOError.tokenizer("the tokenizer could not encode the prompt") }
            defer { spm_free_buffer(ids) }
            body = Array(UnsafeBufferPointer(start: ids, count: count))
        }
        return addBOS && bosId >= 0 ? [bosId] + body : body
    }

    /// A prompt's ids: BOS first when the model adds one.
    public func encodePrompt(_ text: String) throws -> [Int32] { try encode(text, addBOS: addsBOS) }

    /// The text of `ids`, as SentencePiece decodes it (leading dummy space removed, byte pieces
    /// merged, control tokens dropped) or as byte-level BPE does (control tokens dropped; bytes that
    /// are not yet valid UTF-8 shown as U+FFFD).
    public func decode(_ ids: [Int32]) throws -> String {
        if let bad = ids.first(where: { $0 < 0 || Int($0) >= pieceCount }) {
            throw PumaIOError.tokenizer("token id \(bad) is outside the vocabulary of \(pieceCount)")
        }
        switch backend {
        case .bpe(let bpe): return String(decoding: bpe.bytes(ids), as: UTF8.self)
        case .sentencePiece(let handle):
            var text: UnsafeMutablePointer<CChar>? = nil
            var length = 0
            let status = ids.withUnsafeBufferPointer { spm_decode(handle, $0.baseAddress, $0.count, &text, &length) }
            guard status == 0, let text else { throw PumaIOError.tokenizer("the tokenizer could not decode") }
            defer { spm_free_buffer(text) }
            return String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self)
        }
    }

    /// The piece string of one id as the vocabulary stores it (e.g. "▁the", "<0x0A>", "Ġthe").
    public func piece(_ id: Int32) -> String? {
        guard id >= 0, Int(id) < pieceCount else { return nil }
        switch backend {
        case .bpe(let bpe): return bpe.tokens[Int(id)]
        case .sentencePiece(let handle):
            var text: UnsafeMutablePointer<CChar>? = nil
            var length = 0
            guard spm_id_to_piece(handle, id, &text, &length) == 0, let text else { return nil }
            defer { spm_free_buffer(text) }
            return String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self)
        }
    }

    /// The text one token stands for on its own, as llama.cpp's `llama-tokenize` shows it: its bytes
    /// (a lone part of a multi-byte character as U+FFFD), SentencePiece's "▁" as a space, control
    /// tokens as their own text.
    public func pieceText(_ id: Int32) -> String? {
        guard let piece = piece(id) else { return nil }
        switch backend {
        case .bpe(let bpe): return bpe.control.contains(id) ? piece : String(decoding: bpe.bytes([id]), as: UTF8.self)
        case .sentencePiece:
            if isByte(id), piece.hasPrefix("<0x"), let byte = UInt8(piece.dropFirst(3).dropLast(), radix: 16) {
                return String(decoding: [byte], as: UTF8.self)
            }
            return piece.replacingOccurrences(of: "\u{2581}", with: " ")
        }
    }

    /// The id of a piece (a special token's text, e.g. "<|im_end|>"), if the vocabulary has it.
    public func id(ofPiece piece: String) -> Int32? {
        switch backend {
        case .bpe(let bpe): return bpe.id(of: piece)
        case .sentencePiece:
            return (0..<Int32(pieceCount)).first { self.piece($0) == piece }
        }
    }

    /// The SentencePiece model's score and type of each piece (GGUF's numbering), for writing it into a GGUF file.
    public func sentencePieceEntry(_ id: Int32) -> (score: Float, type: Int32)? {
        guard case .sentencePiece(let handle) = backend else { return nil }
        return (spm_score(handle, id), Int32(spm_piece_type(handle, id)))
    }

    public func isByte(_ id: Int32) -> Bool {
        if case .sentencePiece(let handle) = backend { return spm_is_byte(handle, id) != 0 }
        return false
    }
}

/// Turns a growing id sequence into text deltas for streaming: `append` returns exactly the text
/// that the new token adds to `decode(ids)`, holding back an incomplete UTF-8 sequence split across
/// byte-fallback tokens until it completes. The concatenation of all deltas plus `finish()` equals
/// `tokenizer.decode(ids)`.
public struct StreamingDetokenizer {
    private let tokenizer: Tokenizer
    public private(set) var ids: [Int32] = []
    /// The Unicode scalars already handed out.
    private var emitted: [Unicode.Scalar] = []

    public init(tokenizer: Tokenizer) { self.tokenizer = tokenizer }

    /// Appends `newIds` and returns the text they complete.
    public mutating func append(_ newIds: [Int32]) throws -> String {
        ids += newIds
        let scalars = Array(try tokenizer.decode(ids).unicodeScalars)
        // SentencePiece renders an incomplete byte sequence as U+FFFD; it may become a real
        // character once the next byte token arrives, so hold trailing replacement characters back.
        var end = scalars.count
        while end > emitted.count, scalars[end - 1] == "\u{FFFD}" { end -= 1 }
        return take(scalars, upTo: end)
    }

    /// Flushes whatever was held back (genuinely invalid bytes stay as U+FFFD).
    public mutating func finish() throws -> String {
        let scalars = Array(try tokenizer.decode(ids).unicodeScalars)
        return take(scalars, upTo: scalars.count)
    }

    private mutating func take(_ scalars: [Unicode.Scalar], upTo end: Int) -> String {
        // Decoding is prefix-stable for SentencePiece except for held-back bytes, so the emitted
        // scalars are a prefix of the new decode; anything else is a bug worth failing loudly on.
        precondition(scalars.count >= emitted.count && Array(scalars[..<emitted.count]) == emitted,
                     "streaming detokenizer: decode is not prefix-stable")
        guard end > emitted.count else { return "" }
        let delta = scalars[emitted.count..<end]
        emitted += delta
        var out = String.UnicodeScalarView()
        out.append(contentsOf: delta)
        return String(out)
    }
}
