import Foundation

/// A progress note on stderr, shown only when stderr is a terminal (quiet in scripts and CI).
///
/// On its own line it redraws that line (`\r`). `afterText` is for runs that stream text to the same
/// terminal on stdout (`puma generate`): the note is drawn after the text with the cursor saved and
/// restored (DECSC/DECRC), so the next piece of text overwrites it and nothing streamed is erased.
final class TerminalProgress: @unchecked Sendable {
    let label: String
    let afterText: Bool
    let enabled = isatty(2) != 0
    private var lastShown = -1

    init(label: String, afterText: Bool = false) {
        self.label = label
        self.afterText = afterText
    }

    /// A percentage, redrawn when it changes.
    func update(_ done: Int, of total: Int) {
        guard enabled, total > 0 else { return }
        let percent = done * 100 / total
        guard percent != lastShown else { return }
        lastShown = percent
        show("\(label) \(percent)%")
    }

    /// Steps (e.g. layers of a pass); the note is erased after the last one.
    func step(_ done: Int, of total: Int, _ what: String) {
        guard enabled else { return }
        if done == total { return finish() }
        show("\(label): \(what) \(done)/\(total)")
    }

    func finish() {
        guard enabled else { return }
        write(afterText ? "\u{1B}[K" : "\r\u{1B}[K")
    }

    private func show(_ note: String) {
        write(afterText ? "\u{1B}[K\u{1B}7 [\(note)]\u{1B}8" : "\r\(note)\u{1B}[K")
    }

    /// Progress is a courtesy: a terminal that cannot take it does not stop the run.
    private func write(_ text: String) {
        try? Console.err(text)
    }
}
