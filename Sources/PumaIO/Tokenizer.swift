import CSentencePiece
import Foundation

/// A SentencePiece tokenizer (`tokenizer.model`) loaded through the C shim over
/// Debian's libsentencepiece.
public final class Tokenizer: @unchecked Sendable {
    private let handle: OpaquePointer
    public let pieceCount: Int
    public let bosId: Int32
    public let eosId: Int32
    public let unkId: Int32

    public init(url: URL) throws {
        try InputFile.check(url, limit: InputFile.tokenizerLimit)
        var error = [CChar](repeating: 0, count: 512)
        guard let loaded = spm_load(url.path, &error, error.count) else {
            let reason = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw PumaIOError.tokenizer("cannot load tokenizer \(url.path): \(reason)")
        }
        handle = loaded
        pieceCount = Int(spm_piece_count(loaded))
        bosId = spm_bos_id(loaded)
        eosId = spm_eos_id(loaded)
        unkId = spm_unk_id(loaded)
    }

    deinit { spm_free(handle) }

    /// Token ids of `text` (no BOS unless asked). Invalid UTF-8 cannot reach here: Swift strings are valid.
    public func encode(_ text: String, addBOS: Bool = false) throws -> [Int32] {
        let utf8 = Array(text.utf8CString)  // NUL-terminated, so never empty
        var ids: UnsafeMutablePointer<Int32>? = nil
        var count = 0
        let status = utf8.withUnsafeBufferPointer { spm_encode(handle, $0.baseAddress, $0.count - 1, &ids, &count) }
        guard status == 0, let ids else { throw PumaIOError.tokenizer("the tokenizer could not encode the prompt") }
        defer { spm_free_buffer(ids) }
        let body = Array(UnsafeBufferPointer(start: ids, count: count))
        return addBOS && bosId >= 0 ? [bosId] + body : body
    }

    /// The text of `ids`, exactly as SentencePiece decodes it (leading dummy space removed, byte
    /// pieces merged, control tokens dropped).
    public func decode(_ ids: [Int32]) throws -> String {
        var text: UnsafeMutablePointer<CChar>? = nil
        var length = 0
        let status = ids.withUnsafeBufferPointer { spm_decode(handle, $0.baseAddress, $0.count, &text, &length) }
        guard status == 0, let text else {
            let bad = ids.first { $0 < 0 || Int($0) >= pieceCount }
            throw PumaIOError.tokenizer(bad.map { "token id \($0) is outside the vocabulary of \(pieceCount)" } ?? "the tokenizer could not decode")
        }
        defer { spm_free_buffer(text) }
        return String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self)
    }

    /// The piece string of one id (e.g. "▁the", "<0x0A>").
    public func piece(_ id: Int32) -> String? {
        var text: UnsafeMutablePointer<CChar>? = nil
        var length = 0
        guard spm_id_to_piece(handle, id, &text, &length) == 0, let text else { return nil }
        defer { spm_free_buffer(text) }
        return String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self)
    }

    public func isByte(_ id: Int32) -> Bool { spm_is_byte(handle, id) != 0 }
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
