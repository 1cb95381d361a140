import Foundation

/// A byte-level BPE tokenizer (GPT-2's scheme, used by LLaMA-3, SmolLM2 and many more): added and
/// special tokens are cut out of the text first, each remaining span is split into words by the
/// `PreTokenizer`, each word's UTF-8 bytes are written with GPT-2's byte-to-character table, and
/// adjacent symbols are merged lowest merge rank first until no ranked pair is left. Built from a
/// Hugging Face `tokenizer.json` or a GGUF file's `gpt2` vocabulary; equal to Hugging Face `tokenizers`.
public final class BPETokenizer: @unchecked Sendable {
    /// Token strings by id (byte-level characters, or the literal text of added tokens).
    public let tokens: [String]
    let ids: [String: Int32]
    /// (left id, right id) → (rank, merged id).
    let merges: [UInt64: (rank: Int32, merged: Int32)]
    let preTokenizer: PreTokenizer
    /// LLaMA-3: a word that is itself a token is taken whole, before any merge.
    let ignoreMerges: Bool
    /// Added tokens matched literally in the text, by their first scalar, longest first.
    let added: [Unicode.Scalar: [(text: [Unicode.Scalar], id: Int32)]]
    /// Ids of control tokens (decoded to nothing, as SentencePiece does with BOS and EOS).
    public let control: Set<Int32>
    /// Ids of added tokens stored as literal text rather than byte characters.
    let literal: Set<Int32>
    /// Id of each of the 256 bytes' characters (nil: not in the vocabulary).
    let byteIds: [Int32?]
    private var cache: [String: [Int32]] = [:]
    private let lock = NSLock()

    /// GPT-2's table: printable bytes stand for themselves, the others for U+0100 onwards.
    static let byteCharacters: [Unicode.Scalar] = {
        var printable = Array(33...126) + Array(161...172) + Array(174...255)
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        for b in printable { table[b] = Unicode.Scalar(UInt32(b))! }
        var next: UInt32 = 256
        for b in 0..<256 where !printable.contains(b) {
            table[b] = Unicode.Scalar(next)!
            next += 1
            printable.append(b)
        }
        return table
    }()
    static let characterBytes: [Unicode.Scalar: UInt8] = {
        var map: [Unicode.Scalar: UInt8] = [:]
        for (b, c) in byteCharacters.enumerated() { map[c] = UInt8(b) }
        return map
    }()

    /// `tokens` by id, `merges` as "left right" pairs in rank order, `added` tokens (id, text) matched
    /// in the text, `control` ids dropped in decoding. Throws naming the first inconsistency.
    public init(tokens: [String], merges: [(String, String)], added: [(id: Int32, text: String)], control: Set<Int32>,
                preTokenizer: PreTokenizer, ignoreMerges: Bool, source: String) throws {
        func invalid(_ reason: String) -> PumaIOError { .tokenizer("\(source): \(reason)") }
        self.tokens = tokens
        var ids: [String: Int32] = [:]
        ids.reserveCapacity(tokens.count)
        for (i, token) in tokens.enumerated() where ids[token] == nil { ids[token] = Int32(i) }
        self.ids = ids
        var table: [UInt64: (Int32, Int32)] = [:]
        table.reserveCapacity(merges.count)
        for (rank, (left, right)) in merges.enumerated() {
            guard let a = ids[left], let b = ids[right] else { throw invalid("merge \(rank) '\(left) \(right)' names a token not in the vocabulary") }
            guard let merged = ids[left + right] else { throw invalid("merge \(rank) '\(left) \(right)' makes a token not in the vocabulary") }
            let key = UInt64(UInt32(a)) << 32 | UInt64(UInt32(b))
            if table[key] == nil { table[key] = (Int32(rank), merged) }
        }
        self.merges = table
        // Bytes that no UTF-8 text of the training data held (0xC0, 0xF5…) may lack a token; like
        // `tokenizers` without an unknown token, they are dropped. A vocabulary without most is no byte-level BPE.
        byteIds = Self.byteCharacters.map { ids[String(Character($0))] }
        if byteIds.filter({ $0 != nil }).count < 128 { throw invalid("the vocabulary lacks most of the 256 byte tokens (not a byte-level BPE)") }
        for (id, _) in added where !(0..<Int32(tokens.count)).contains(id) { throw invalid("added token id \(id) is outside the vocabulary") }
        self.added = Dictionary(grouping: added.filter { !$0.text.isEmpty }.map { (text: Array($0.text.unicodeScalars), id: $0.id) },
                                by: { $0.text[0] }).mapValues { $0.sorted { $0.text.count > $1.text.count } }
        self.control = control
        literal = Set(added.map(\.id))
        self.preTokenizer = preTokenizer
        self.ignoreMerges = ignoreMerges
    }

    /// The ids of `text` (added tokens recognised, no BOS).
    public func encode(_ text: String) -> [Int32] {
        var out: [Int32] = []
        let scalars = Array(text.unicodeScalars)
        var start = 0, i = 0
        func flush(_ end: Int) {
            if end > start {
                var span = String.UnicodeScalarView()
                span.append(contentsOf: scalars[start..<end])
                for word in preTokenizer.split(String(span)) { out += encodeWord(String(word)) }
            }
        }
        while i < scalars.count {
            if let match = added[scalars[i]]?.first(where: { i + $0.text.count <= scalars.count && scalars[i..<(i + $0.text.count)].elementsEqual($0.text) }) {
                flush(i)
                out.append(match.id)
                i += match.text.count
                start = i
            } else {
                i += 1
            }
        }
        flush(scalars.count)
        return out
    }

    /// One pre-tokenized word: its bytes' characters merged by rank (cached).
    func encodeWord(_ word: String) -> [Int32] {
        lock.lock()
        if let hit = cache[word] { lock.unlock(); return hit }
        lock.unlock()
        var symbols: [Int32]
        if ignoreMerges, let whole = ids[String(String.UnicodeScalarView(word.utf8.map { Self.byteCharacters[Int($0)] }))] {
            symbols = [whole]
        } else {
            symbols = word.utf8.compactMap { byteIds[Int($0)] }
        }
        while symbols.count > 1 {
            var best: (rank: Int32, at: Int, merged: Int32)? = nil
            for k in 0..<(symbols.count - 1) {
                let key = UInt64(UInt32(symbols[k])) << 32 | UInt64(UInt32(symbols[k + 1]))
                if let m = merges[key], best == nil || m.rank < best!.rank { best = (m.rank, k, m.merged) }
            }
            guard let best else { break }
            // Merge every occurrence of that pair, left to right (as `tokenizers` does for one rank).
            var merged: [Int32] = []
            merged.reserveCapacity(symbols.count)
            let (left, right) = (symbols[best.at], symbols[best.at + 1])
            var k = 0
            while k < symbols.count {
                if k + 1 < symbols.count, symbols[k] == left, symbols[k + 1] == right {
                    merged.append(best.merged)
                    k += 2
                } else {
                    merged.append(symbols[k])
                    k += 1
                }
            }
            symbols = merged
        }
        lock.lock()
        if cache.count < 1 << 16 { cache[word] = symbols }
        lock.unlock()
        return symbols
    }

    /// The UTF-8 bytes `ids` stand for (control tokens none, other added tokens their literal text).
    public func bytes(_ ids: [Int32]) -> [UInt8] {
        var out: [UInt8] = []
        for id in ids where !control.contains(id) {
            let token = tokens[Int(id)]
            if literal.contains(id) { out += Array(token.utf8); continue }
            for c in token.unicodeScalars {
                if let b = Self.characterBytes[c] { out.append(b) } else { out += Array(String(c).utf8) }
            }
        }
        return out
    }

    public func id(of token: String) -> Int32? { ids[token] }
}
