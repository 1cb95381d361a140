import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks on a model file before anything opens it: it must exist and be a regular file (a
/// directory, a FIFO or a device would make a reader fail late, hang or read without end), and
/// small files must stay below a sane size.
public enum InputFile {
    /// Largest `config.json` or `model.safetensors.index.json` read: far above any real one.
    public static let jsonLimit = 64 << 20
    /// Largest `tokenizer.model`: SentencePiece models of real LLMs are a few MB.
    public static let tokenizerLimit = 256 << 20

    /// The size of the regular file at `url`, after checking it is one (and at most `limit` bytes).
    @discardableResult
    static func check(_ url: URL, limit: Int = .max) throws -> Int {
        var st = stat()
        guard stat(url.path, &st) == 0 else {
            if errno == ENOENT { throw PumaIOError.missingFile(url.path) }
            throw PumaIOError.unreadableFile(url.path, reason: String(cString: strerror(errno)))
        }
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG else {
            let kind = type == S_IFDIR ? "a directory" : type == S_IFIFO ? "a FIFO" : type == S_IFCHR || type == S_IFBLK ? "a device" : "not a file"
            throw PumaIOError.notARegularFile(url.path, kind: kind)
        }
        let size = Int(st.st_size)
        guard size <= limit else { throw PumaIOError.fileTooLarge(url.path, bytes: size, limit: limit) }
        return size
    }

    /// The bytes of a small regular file (JSON, an evaluation's prompts or text), at most `limit`.
    public static func read(_ url: URL, limit: Int = jsonLimit) throws -> Data {
        try check(url, limit: limit)
        do { return try Data(contentsOf: url) } catch {
            throw PumaIOError.unreadableFile(url.path, reason: error.localizedDescription)
        }
    }
}
