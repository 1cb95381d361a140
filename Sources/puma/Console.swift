import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The command's stdout and stderr. Every write is checked: a full disk, a closed descriptor or a
/// reader that went away is an error (exit non-zero), never a trap or a silent success.
enum Console {
    /// Writes `text` to stdout.
    static func out(_ text: String) throws { try writeAll(text, to: STDOUT_FILENO, name: "stdout") }

    /// Writes one line to stdout.
    static func printLine(_ text: String) throws { try out(text + "\n") }

    /// Writes one line to stderr.
    static func line(_ text: String) throws { try writeAll(text + "\n", to: STDERR_FILENO, name: "stderr") }

    /// Writes `text` to stderr as it is (progress drawing).
    static func err(_ text: String) throws { try writeAll(text, to: STDERR_FILENO, name: "stderr") }

    private static func writeAll(_ text: String, to descriptor: Int32, name: String) throws {
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ValidationErrorMessage("cannot write to \(name): \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }
}
