import Foundation

/// The `--report-json` document of `puma generate`.
struct GenerationReport: Encodable {
    struct Timing: Encodable {
        /// Whole command: loading, tokenizing and generating.
        var wallSeconds: Double
        /// The generation loop alone (prompt processing included).
        var generationSeconds: Double
    }

    var mode: String
    var model: String
    var prompt: String
    /// BOS + prompt ids + generated ids.
    var ids: [Int32]
    var promptTokens: Int
    var generatedTokens: Int
    /// decode(ids).
    var text: String
    var stopReason: String
    var total: Timing

    func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do { try encoder.encode(self).write(to: url) } catch {
            throw ValidationErrorMessage("cannot write the report \(url.path): \(error.localizedDescription)")
        }
    }
}

/// A plain one-line error for the CLI.
struct ValidationErrorMessage: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
