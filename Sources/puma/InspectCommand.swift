import ArgumentParser
import Foundation
import PumaIO

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
        print(lines.joined(separator: "\n"))
    }
}
