import Foundation

/// A one-line progress display on stderr, only when stderr is a terminal (quiet in scripts and CI).
final class TerminalProgress: @unchecked Sendable {
    let label: String
    let enabled = isatty(2) != 0
    private var lastShown = -1

    init(label: String) { self.label = label }

    func update(_ done: Int, of total: Int) {
        guard enabled, total > 0 else { return }
        let percent = done * 100 / total
        guard percent != lastShown else { return }
        lastShown = percent
        FileHandle.standardError.write(Data("\r\(label) \(percent)%  ".utf8))
    }

    /// Steps (e.g. layers) rather than a percentage; `clearWhenDone` erases the line at the last step
    /// (so streamed text on stdout is not interleaved with it).
    func step(_ done: Int, of total: Int, _ what: String, clearWhenDone: Bool = false) {
        guard enabled else { return }
        if clearWhenDone && done == total { finish(); return }
        FileHandle.standardError.write(Data("\r\(label): \(what) \(done)/\(total)  ".utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
