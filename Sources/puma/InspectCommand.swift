import ArgumentParser
import Foundation
import PumaIO
import PumaLLaMA
import PumaMPC

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a model directory: configuration, shards, tensors, dtypes, parameters, tokenizer."
    )

    @OptionGroup var modelOptions: ModelOptions

    func run() throws {
        let directory = modelOptions.directory
        let checkpoint = try Checkpoint(directory: directory)
        let tokenizer = try Tokenizer(url: directory.appendingPathComponent("tokenizer.model"))
        let c = checkpoint.configuration
        var lines = ["model: \(directory.path)",
                     "layers \(c.numHiddenLayers), hidden \(c.hiddenSize), intermediate \(c.intermediateSize), "
                        + "heads \(c.numAttentionHeads), kv heads \(c.numKeyValueHeads), head dim \(c.headDim)",
                     "vocab \(c.vocabSize), context \(c.maxPositionEmbeddings), rms_norm_eps \(c.rmsNormEps), "
                        + "rope_theta \(c.ropeTheta), tied embeddings \(c.tieWordEmbeddings)"]
        for shard in checkpoint.shards {
            let bytes = shard.tensors.values.reduce(0) { $0 + $1.byteRange.count }
            lines.append("shard \(URL(fileURLWithPath: shard.path).lastPathComponent): \(shard.tensors.count) tensors, \(bytes) bytes")
        }
        let infos = checkpoint.tensorNames.compactMap(checkpoint.info)
        var dtypes: [String: Int] = [:]
        for info in infos { dtypes[info.dtype.rawValue, default: 0] += 1 }
        lines.append("tensors \(infos.count) (" + dtypes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")")
        lines.append("parameters \(infos.reduce(0) { $0 + $1.elementCount }) stored, \(c.parameterCount) used by the transformer")
        lines.append("tokenizer \(tokenizer.pieceCount) pieces (bos \(tokenizer.bosId), eos \(tokenizer.eosId), unk \(tokenizer.unkId))")
        if tokenizer.pieceCount < c.vocabSize {
            lines.append("vocab_size \(c.vocabSize) exceeds the tokenizer's \(tokenizer.pieceCount) pieces (padded embeddings): "
                + "ids \(tokenizer.pieceCount)…\(c.vocabSize - 1) are never generated")
        } else if tokenizer.pieceCount > c.vocabSize {
            lines.append("warning: the tokenizer has more pieces than vocab_size \(c.vocabSize): generation refuses this model")
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
