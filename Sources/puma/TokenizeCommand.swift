import ArgumentParser
import Foundation
import PumaIO

/// `puma tokenize`: the ids and pieces of a text, as llama.cpp's `llama-tokenize` prints them.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids and pieces of a text under the model's tokenizer (BOS first only when the model adds one)."
    )

    @OptionGroup var modelOptions: ModelOptions

    @Option(parsing: .unconditional, help: "The text to tokenize.")
    var text: String

    @Flag(help: "Wrap the text as one user turn in the model's chat format first (see `puma generate --chat`).")
    var chat = false

    @Flag(help: "Print {\"ids\": [...], \"pieces\": [...]} instead of one `id -> 'piece'` line per token.")
    var json = false

    func run() throws {
        let files = try ModelFiles(modelOptions.location)
        let tokenizer = files.tokenizer
        let ids = chat ? try ChatFormat(template: files.chatTemplate, tokenizer: tokenizer).prompt(user: text, tokenizer: tokenizer)
            : try tokenizer.encodePrompt(text)
        let pieces = ids.map { tokenizer.pieceText($0) ?? "" }
        if json {
            struct Output: Encodable { var ids: [Int32]; var pieces: [String] }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            try Console.printLine(String(decoding: try encoder.encode(Output(ids: ids, pieces: pieces)), as: UTF8.self))
        } else {
            try Console.out(zip(ids, pieces).map { String(format: "%6d -> '", $0.0) + $0.1 + "'\n" }.joined())
        }
    }
}
