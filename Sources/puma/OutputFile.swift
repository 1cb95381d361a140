import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Machine-readable outputs (`--report-json`, `--json`): the path is checked before any work starts,
/// and the file is written whole or not at all (a temporary file renamed into place).
enum OutputFile {
    /// Refuses a path that is a directory or whose directory does not exist or is not writable.
    static func checkWritable(_ path: String, option: String) throws {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        if path.isEmpty || (FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue) {
            throw ValidationError("\(option) must name a file, got '\(path)'")
        }
        let directory = url.deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("\(option): the directory \(directory) does not exist")
        }
        guard access(directory, W_OK) == 0 else { throw ValidationError("\(option): the directory \(directory) is not writable") }
    }

    /// Pretty, sorted, snake_case JSON, written atomically.
    static func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do { try encoder.encode(value).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw ValidationErrorMessage("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
