import CPumaKernels
import Foundation
import PumaCore
import PumaIO

/// Checkpoints with random weights of realistic scale in the Hugging Face layout, for benchmarks:
/// F16, sharded and named as LLaMA-2-7B is (`model-00001-of-00002.safetensors`, …, the index,
/// `config.json`), with a real tokenizer copied in. Weights are N(0, 0.02²) (LLaMA's initializer
/// range), norm weights 1. Written in chunks: nothing the size of a tensor is ever held.
public enum SyntheticCheckpoint {
    public enum Preset: String, CaseIterable, Sendable {
        /// LLaMA-2-7B: 32 layers, hidden 4096, FFN 11008, 32 heads, vocabulary 32,000.
        case llama7b = "llama-7b"
        /// TinyLlama-1.1B's shape: 22 layers, hidden 2048, FFN 5632, 32 heads / 4 KV heads.
        case llama1b = "llama-1b"
        /// Two layers of hidden 64 over the 32,000-piece vocabulary (tests).
        case tiny

        public var configuration: LlamaConfiguration {
            switch self {
            case .llama7b:
                return LlamaConfiguration(hiddenSize: 4096, intermediateSize: 11008, numHiddenLayers: 32, numAttentionHeads: 32,
                                          numKeyValueHeads: 32, vocabSize: 32000, maxPositionEmbeddings: 4096, rmsNormEps: 1e-5)
            case .llama1b:
                return LlamaConfiguration(hiddenSize: 2048, intermediateSize: 5632, numHiddenLayers: 22, numAttentionHeads: 32,
                                          numKeyValueHeads: 4, vocabSize: 32000, maxPositionEmbeddings: 2048, rmsNormEps: 1e-5)
            case .tiny:
                return LlamaConfiguration(hiddenSize: 64, intermediateSize: 176, numHiddenLayers: 2, numAttentionHeads: 4,
                                          numKeyValueHeads: 2, vocabSize: 32000, maxPositionEmbeddings: 512, rmsNormEps: 1e-5)
            }
        }
    }

    /// Standard deviation of the random matrices.
    public static let deviation: Float = 0.02

    /// Writes the checkpoint into `directory` (created if needed). Shards hold at most 10 GB, as
    /// Hugging Face's default, and there are always at least two. `progress(bytesWritten, total)`.
    public static func write(config: LlamaConfiguration, tokenizer: URL, to directory: URL, seed: UInt64 = 1,
                             progress: (Int, Int) -> Void = { _, _ in }) throws {
        guard FileManager.default.fileExists(atPath: tokenizer.path) else { throw PumaIOError.missingFile(tokenizer.path) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let tensors = LlamaWeights.expectedTensors(config).map { SafeTensorsWriter.StreamedTensor(name: $0.name, dtype: .f16, shape: $0.shape) }
        let total = tensors.reduce(0) { $0 + $1.byteCount }
        let budget = total > 10_000_000_000 ? 10_000_000_000 : (total + 1) / 2
        var shards: [[SafeTensorsWriter.StreamedTensor]] = [[]]
        var filled = 0
        for tensor in tensors {
            if filled > 0 && filled + tensor.byteCount > budget {
                shards.append([])
                filled = 0
            }
            shards[shards.count - 1].append(tensor)
            filled += tensor.byteCount
        }
        let names = shards.indices.map { String(format: "model-%05d-of-%05d.safetensors", $0 + 1, shards.count) }
        let ids = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) })
        let generator = AESCounterPRG(seed: seed, stream: 7)
        var written = 0
        for (shard, name) in zip(shards, names) {
            try SafeTensorsWriter.write(streaming: shard, to: directory.appendingPathComponent(name)) { tensor, byteOffset, buffer in
                let count = buffer.count / 2
                let out = buffer.baseAddress!.assumingMemoryBound(to: UInt16.self)
                if tensor.shape.count == 1 {
                    for i in 0..<count { out[i] = Float16(1).bitPattern }
                } else {
                    fill(generator, stream: UInt64(ids[tensor.name]! + 1), offset: byteOffset / 2, count: count, into: out)
                }
                written += buffer.count
                progress(written, total)
            }
        }
        var weightMap: [String: String] = [:]
        for (shard, name) in zip(shards, names) { for tensor in shard { weightMap[tensor.name] = name } }
        let index: [String: Any] = ["metadata": ["total_size": total], "weight_map": weightMap]
        try JSONSerialization.data(withJSONObject: index, options: [.prettyPrinted, .sortedKeys])
            .write(to: directory.appendingPathComponent("model.safetensors.index.json"))
        try configJSON(config).write(to: directory.appendingPathComponent("config.json"))
        let target = directory.appendingPathComponent("tokenizer.model")
        if FileManager.default.fileExists(atPath: target.path) { try FileManager.default.removeItem(at: target) }
        try FileManager.default.copyItem(at: tokenizer, to: target)
    }

    /// Random F16 values of one tensor's elements [offset, offset + count), split over the cores.
    static func fill(_ generator: AESCounterPRG, stream: UInt64, offset: Int, count: Int, into out: UnsafeMutablePointer<UInt16>) {
        nonisolated(unsafe) let base = out
        let chunks = max(1, min(64, count / (1 << 16)))
        let per = (count + chunks - 1) / chunks
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let begin = c * per, n = min(count, begin + per) - begin
            guard n > 0 else { return }
            generator.randomNormalHalf(stream: stream, offset: offset + begin, count: n, deviation: deviation, into: base + begin)
        }
    }

    /// A Hugging Face `config.json` for LLaMA with `config`'s hyper-parameters.
    static func configJSON(_ c: LlamaConfiguration) throws -> Data {
        let object: [String: Any] = [
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu", "torch_dtype": "float16",
            "hidden_size": c.hiddenSize, "intermediate_size": c.intermediateSize, "num_hidden_layers": c.numHiddenLayers,
            "num_attention_heads": c.numAttentionHeads, "num_key_value_heads": c.numKeyValueHeads,
            "vocab_size": c.vocabSize, "max_position_embeddings": c.maxPositionEmbeddings, "rms_norm_eps": c.rmsNormEps,
            "rope_theta": c.ropeTheta, "tie_word_embeddings": c.tieWordEmbeddings, "initializer_range": Double(deviation),
            "bos_token_id": c.bosTokenId ?? 1, "eos_token_id": c.eosTokenId ?? 2,
        ]
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    }
}
