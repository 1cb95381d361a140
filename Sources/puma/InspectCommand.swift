import ArgumentParser
import Foundation
import PumaIO
import PumaLLaMA
import PumaMPC

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a model (directory or GGUF file): configuration, files, tensor types, parameters, tokenizer, chat format."
    )

    @OptionGroup var modelOptions: ModelOptions

    func run() throws {
        let files = try ModelFiles(modelOptions.location)
        let checkpoint = try files.checkpoint()
        let tokenizer = files.tokenizer
        let c = checkpoint.configuration
        var lines = ["model: \(files.location.path) (\(files.format))",
                     "layers \(c.numHiddenLayers), hidden \(c.hiddenSize), intermediate \(c.intermediateSize), "
                        + "heads \(c.numAttentionHeads), kv heads \(c.numKeyValueHeads), head dim \(c.headDim)",
                     "vocab \(c.vocabSize), context \(c.maxPositionEmbeddings), rms_norm_eps \(c.rmsNormEps), "
                        + "rope_theta \(c.ropeTheta), tied embeddings \(c.tieWordEmbeddings)"]
        if let s = c.ropeScaling {
            lines.append("rope scaling \(s.kind.rawValue)" + (s.kind == .frequencyFactors ? " (\(s.frequencyFactors.count) stored factors)" : ", factor \(s.factor)"))
        }
        for file in checkpoint.files {
            let bytes = file.tensors.reduce(0) { $0 + $1.byteRange.count }
            lines.append("\(file.format) \(URL(fileURLWithPath: file.path).lastPathComponent): \(file.tensors.count) tensors, \(Self.bytes(bytes))")
        }
        let infos = checkpoint.files.flatMap(\.tensors)
        var dtypes: [TensorDType: (count: Int, elements: Int, bytes: Int)] = [:]
        for info in infos {
            let entry = dtypes[info.dtype] ?? (0, 0, 0)
            dtypes[info.dtype] = (entry.count + 1, entry.elements + info.elementCount, entry.bytes + info.byteRange.count)
        }
        lines.append("tensors \(infos.count): " + dtypes.sorted { $0.key.rawValue < $1.key.rawValue }.map { type, entry in
            "\(type.rawValue) \(entry.count) (\(Self.bytes(entry.bytes)), \(String(format: "%.2f", type.bitsPerElement)) bits/weight)"
        }.joined(separator: ", "))
        lines.append("parameters \(infos.reduce(0) { $0 + $1.elementCount }) stored, \(c.parameterCount) used by the transformer")
        lines.append("tokenizer: \(tokenizer.kind), \(tokenizer.pieceCount) pieces (bos \(tokenizer.bosId), eos \(tokenizer.eosId), unk \(tokenizer.unkId)), "
            + (tokenizer.addsBOS ? "prompts start with BOS" : "no BOS added"))
        if let template = files.chatTemplate {
            let format = (try? ChatFormat(template: template, tokenizer: tokenizer)).map { "\($0.name)" } ?? "not recognised"
            lines.append("chat template: \(format)")
        }
        if tokenizer.pieceCount < c.vocabSize {
            lines.append("vocab_size \(c.vocabSize) exceeds the tokenizer's \(tokenizer.pieceCount) pieces (padded embeddings): "
                + "ids \(tokenizer.pieceCount)…\(c.vocabSize - 1) are never generated")
        }
        if c.tieWordEmbeddings && checkpoint.info("lm_head.weight") != nil {
            lines.append("lm_head.weight is stored but unused: tie_word_embeddings makes the output head the embedding matrix")
        }
        // What each party keeps of the secret-shared weights in a deployment (see `WeightSharing`).
        let shared = SecurePredictor.sharedParameters(c)
        let keeps = ["the seeds c0, c1 only", "the seed c1 and x2", "the seed c0 and x2"]
        for party in 0..<3 {
            let bytes = WeightSharing.storedBytes(party: party, parameters: shared)
            lines.append("P\(party) stores \(Self.bytes(bytes)) (\(keeps[party]))")
        }
        try Console.printLine(lines.joined(separator: "\n"))
    }

    /// "32 B", "53.9 GB".
    static func bytes(_ n: Int) -> String {
        n < 1000 ? "\(n) B" : n < 1_000_000 ? String(format: "%.1f KB", Double(n) / 1e3)
            : n < 1_000_000_000 ? String(format: "%.1f MB", Double(n) / 1e6) : String(format: "%.1f GB", Double(n) / 1e9)
    }
}
