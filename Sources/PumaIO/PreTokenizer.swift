/// How a byte-level BPE tokenizer splits text into words before merging: hand-written scanners
/// equal to the regular expressions of GPT-2 and LLaMA-3 (as Hugging Face `tokenizers` and
/// llama.cpp apply them), with Unicode's White_Space, Letter (L*) and Number (N*) classes.
public enum PreTokenizer: String, Sendable, CaseIterable {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2 = "gpt-2"
    /// Every digit on its own (`Digits(individual_digits)`), then GPT-2's expression (SmolLM, StarCoder).
    case smollm
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case llama3 = "llama-bpe"

    /// The pieces of `text`, in order; their concatenation is `text`.
    public func split(_ text: String) -> [Substring.UnicodeScalarView] {
        let scalars = text.unicodeScalars
        var pieces: [Substring.UnicodeScalarView] = []
        var i = scalars.startIndex
        while i < scalars.endIndex {
            let end: String.UnicodeScalarView.Index
            switch self {
            case .gpt2: end = Self.gpt2Match(scalars, at: i, digitsAlone: false)
            case .smollm: end = Self.gpt2Match(scalars, at: i, digitsAlone: true)
            case .llama3: end = Self.llama3Match(scalars, at: i)
            }
            pieces.append(scalars[i..<end])
            i = end
        }
        return pieces
    }

    typealias Scalars = String.UnicodeScalarView
    typealias Index = Scalars.Index

    static func isLetter(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    static func isNumber(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    static func isSpace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace }

    /// 's 't 're 've 'm 'll 'd at `i` (a contraction's end), case-sensitively or not.
    static func contraction(_ s: Scalars, at i: Index, ignoringCase: Bool) -> Index? {
        guard s[i] == "'" else { return nil }
        let next = s.index(after: i)
        guard next < s.endIndex else { return nil }
        func lower(_ c: Unicode.Scalar) -> Unicode.Scalar {
            ignoringCase && c.isASCII ? Unicode.Scalar(UInt8(ascii: c) | (c.properties.isUppercase ? 0x20 : 0)) : c
        }
        let a = lower(s[next])
        if a == "s" || a == "t" || a == "m" || a == "d" { return s.index(after: next) }
        let second = s.index(after: next)
        guard second < s.endIndex else { return nil }
        let b = lower(s[second])
        if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") { return s.index(after: second) }
        return nil
    }

    /// The end of the longest run from `i` whose scalars satisfy `p` (at most `limit` of them).
    static func run(_ s: Scalars, from i: Index, limit: Int = .max, _ p: (Unicode.Scalar) -> Bool) -> Index {
        var j = i, n = 0
        while j < s.endIndex, n < limit, p(s[j]) { j = s.index(after: j); n += 1 }
        return j
    }

    /// `\s+(?!\S)|\s+` at `i` (a whitespace scalar): the run, less its last scalar when a non-space
    /// follows. With `digitsAlone` a digit ends the text as far as the lookahead sees (the digits were
    /// split off before the expression ran).
    static func spaces(_ s: Scalars, at i: Index, digitsAlone: Bool = false) -> Index {
        let end = run(s, from: i, isSpace)
        guard end < s.endIndex, !(digitsAlone && isNumber(s[end])) else { return end }
        let last = s.index(before: end)
        return last > i ? last : end
    }

    static func gpt2Match(_ s: Scalars, at i: Index, digitsAlone: Bool) -> Index {
        let c = s[i]
        if digitsAlone && isNumber(c) { return s.index(after: i) }
        if let end = contraction(s, at: i, ignoringCase: false) { return end }
        var j = i
        if c == " " {
            j = s.index(after: i)
            if j == s.endIndex { return j }
        }
        let d = s[j]
        if isLetter(d) { return run(s, from: j, isLetter) }
        if isNumber(d) {
            if digitsAlone { return spaces(s, at: i, digitsAlone: true) }
            return run(s, from: j, isNumber)
        }
        if !isSpace(d) {
            return run(s, from: j) { !isSpace($0) && !isLetter($0) && !isNumber($0) }
        }
        return spaces(s, at: i, digitsAlone: digitsAlone)
    }

    static func llama3Match(_ s: Scalars, at i: Index) -> Index {
        let c = s[i]
        if let end = contraction(s, at: i, ignoringCase: true) { return end }
        if isLetter(c) { return run(s, from: i, isLetter) }
        let next = s.index(after: i)
        if c != "\r" && c != "\n" && !isNumber(c), next < s.endIndex, isLetter(s[next]) { return run(s, from: next, isLetter) }
        if isNumber(c) { return run(s, from: i, limit: 3, isNumber) }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        let j = c == " " ? next : i
        if j < s.endIndex, !isSpace(s[j]), !isLetter(s[j]), !isNumber(s[j]) {
            let end = run(s, from: j) { !isSpace($0) && !isLetter($0) && !isNumber($0) }
            return run(s, from: end) { $0 == "\r" || $0 == "\n" }
        }
        // `\s*[\r\n]+`: through the last line break of the whitespace run.
        let runEnd = run(s, from: i, isSpace)
        var k = runEnd
        while k > i, s[s.index(before: k)] != "\r" && s[s.index(before: k)] != "\n" { k = s.index(before: k) }
        if k > i { return k }
        return spaces(s, at: i)
    }
}
