import Foundation

/// A model's chat format, recognised from the chat template stored with it (no Jinja engine: the
/// three formats LLaMA-family models use are told apart by their markers). `prompt(user:)` wraps one
/// user turn as the template renders it with `add_generation_prompt`; generation ends at `endOfTurn`.
public struct ChatFormat: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// `<|im_start|>role\n…<|im_end|>\n` (SmolLM, Qwen, …), with the template's default system line if it has one.
        case chatML = "ChatML"
        /// `<s>[INST] … [/INST]` (LLaMA-2 chat, Mistral).
        case llama2 = "LLaMA-2 [INST]"
        /// `<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n…<|eot_id|>` (LLaMA-3).
        case llama3 = "LLaMA-3 headers"
    }

    public let kind: Kind
    /// The system message the template inserts when the conversation has none (ChatML only).
    public let defaultSystem: String?
    /// The token that ends the assistant's turn.
    public let endOfTurn: Int32
    /// BOS first (the template's `bos_token`): LLaMA-2 and LLaMA-3 formats.
    let startsWithBOS: Bool

    public var name: String { kind.rawValue + (defaultSystem == nil ? "" : " with a default system line") }

    /// Recognises `template`; an absent or unknown template is an error that names it.
    public init(template: String?, tokenizer: Tokenizer) throws {
        guard let template else { throw PumaIOError.tokenizer("the model stores no chat template, so --chat cannot format the prompt") }
        func token(_ text: String) throws -> Int32 {
            guard let id = tokenizer.id(ofPiece: text) else {
                throw PumaIOError.tokenizer("the chat template uses \(text), which the tokenizer does not have")
            }
            return id
        }
        if template.contains("<|im_start|>") {
            kind = .chatML
            endOfTurn = try token("<|im_end|>")
            _ = try token("<|im_start|>")
            defaultSystem = Self.defaultSystemLine(template)
            startsWithBOS = false
        } else if template.contains("<|start_header_id|>") {
            kind = .llama3
            endOfTurn = try token("<|eot_id|>")
            for marker in ["<|start_header_id|>", "<|end_header_id|>"] { _ = try token(marker) }
            defaultSystem = nil
            startsWithBOS = true
        } else if template.contains("[INST]") {
            kind = .llama2
            guard tokenizer.eosId >= 0 else { throw PumaIOError.tokenizer("the [INST] chat format ends at EOS, which the tokenizer does not have") }
            endOfTurn = tokenizer.eosId
            defaultSystem = nil
            startsWithBOS = true
        } else {
            let start = template.prefix(80).replacingOccurrences(of: "\n", with: "\\n")
            throw PumaIOError.tokenizer("the model's chat template is not one puma knows (ChatML, LLaMA-2 [INST], LLaMA-3 headers): \"\(start)…\"")
        }
    }

    /// The default system line of a ChatML template: the literal `<|im_start|>system\n…<|im_end|>` it
    /// emits when the first message is not a system one (Jinja's `\n` escapes read as newlines).
    static func defaultSystemLine(_ template: String) -> String? {
        for newline in ["\n", "\\n"] {
            let opening = "<|im_start|>system" + newline
            guard let start = template.range(of: opening), let end = template.range(of: "<|im_end|>", range: start.upperBound..<template.endIndex)
            else { continue }
            let text = String(template[start.upperBound..<end.lowerBound])
            // A system turn filled from a message (`+ message['content'] +`) is no default.
            if text.contains("{{") || text.contains("'") || text.contains("message") { continue }
            return text.replacingOccurrences(of: "\\n", with: "\n")
        }
        return nil
    }

    /// The text of one user turn followed by the assistant's header, without BOS.
    public func text(user: String) -> String {
        switch kind {
        case .chatML:
            let system = defaultSystem.map { "<|im_start|>system\n\($0)<|im_end|>\n" } ?? ""
            return system + "<|im_start|>user\n\(user)<|im_end|>\n<|im_start|>assistant\n"
        case .llama2:
            return "[INST] \(user.trimmingCharacters(in: .whitespacesAndNewlines)) [/INST]"
        case .llama3:
            return "<|start_header_id|>user<|end_header_id|>\n\n\(user.trimmingCharacters(in: .whitespacesAndNewlines))<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n"
        }
    }

    /// The ids of one user turn ready for generation: BOS where the format starts with it, else as the
    /// tokenizer's `add_bos_token` says.
    public func prompt(user: String, tokenizer: Tokenizer) throws -> [Int32] {
        try tokenizer.encode(text(user: user), addBOS: startsWithBOS || tokenizer.addsBOS)
    }
}
