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

    /// The tensor types `writeGGUF` can fill with random blocks.
    public static let ggufTypes: [TensorDType] = [.f16, .q8_0, .q4_K, .q6_K]

    /// Writes the checkpoint as one llama.cpp GGUF file: `llama.*` keys, GGUF tensor names, the
    /// SentencePiece tokenizer's vocabulary as `tokenizer.ggml.model = llama`, norms F32 ones and every
    /// matrix of `type` (Q8_0 or F16 where its rows are not whole blocks of it) — F16 values ≈ N(0, 0.02²), or random blocks of a quantized type (random
    /// quants under fixed scales: values within a few hundredths of zero) — so the weight path of a
    /// 4.5-bit 7B model can be measured against the F16 one. `progress(bytesWritten, total)`.
    public static func writeGGUF(config c: LlamaConfiguration, tokenizer url: URL, type: TensorDType, to file: URL, seed: UInt64 = 1,
                                 progress: (Int, Int) -> Void = { _, _ in }) throws {
        precondition(ggufTypes.contains(type), "writeGGUF fills \(ggufTypes.map(\.rawValue))")
        let tokenizer = try Tokenizer(url: url)
        let metadata = GGUFLlama.metadata(c) + [("general.name", .string("puma make-model (random weights)"))]
            + GGUFLlama.vocabulary(tokenizer)
        let hf = LlamaWeights.expectedTensors(c).filter { !(c.tieWordEmbeddings && $0.name == "lm_head.weight") }
        // Rows that are not whole blocks of `type` fall back to Q8_0, else F16 (as llama.cpp's quantizer does).
        func typeOf(_ shape: [Int]) -> TensorDType {
            if shape.count == 1 { return .f32 }
            return [type, .q8_0, .f16].first { shape[1] % $0.blockElements == 0 }!
        }
        let tensors = hf.map { GGUFWriter.Tensor(name: GGUFLlama.ggufName($0.name)!, dtype: typeOf($0.shape), shape: $0.shape) }
        let total = tensors.reduce(0) { $0 + $1.byteCount }
        let generator = AESCounterPRG(seed: seed, stream: 7)
        var written = 0
        try GGUFWriter.write(to: file, metadata: metadata, tensors: tensors) { index, byteOffset, buffer in
            let tensor = tensors[index]
            if tensor.dtype == .f32 {
                let out = buffer.baseAddress!.assumingMemoryBound(to: Float.self)
                for i in 0..<(buffer.count / 4) { out[i] = 1 }
            } else if tensor.dtype == .f16 {
                fill(generator, stream: UInt64(index + 1), offset: byteOffset / 2, count: buffer.count / 2,
                     into: buffer.baseAddress!.assumingMemoryBound(to: UInt16.self))
            } else {
                randomBlocks(generator, stream: UInt64(index + 1), type: tensor.dtype, byteOffset: byteOffset, into: buffer)
            }
            written += buffer.count
            progress(written, total)
        }
    }

    /// Random blocks of a quantized type for bytes [byteOffset, byteOffset + buffer.count) of a tensor
    /// (whole blocks: chunks are multiples of the block size): random quants and scales, the block's
    /// f16 multipliers fixed so values stay within about ±0.05.
    static func randomBlocks(_ generator: AESCounterPRG, stream: UInt64, type: TensorDType, byteOffset: Int, into buffer: UnsafeMutableRawBufferPointer) {
        let size = type.blockBytes
        precondition(byteOffset % size == 0 && buffer.count % size == 0, "whole blocks")
        let words = (buffer.count + 7) / 8
        let random = UnsafeMutablePointer<UInt64>.allocate(capacity: words)
        defer { random.deallocate() }
        generator.words(stream: stream, offset: byteOffset / 8, into: random, count: words)
        memcpy(buffer.baseAddress!, random, buffer.count)
        let bytes = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        func half(_ value: Float, at p: UnsafeMutablePointer<UInt8>) {
            let bits = Float16(value).bitPattern
            p[0] = UInt8(bits & 0xFF)
            p[1] = UInt8(bits >> 8)
        }
        for b in 0..<(buffer.count / size) {
            let block = bytes + b * size
            switch type {
            case .q8_0: half(0.02 / 64, at: block)
            case .q4_K:
                // Sub-block scales 32…63 with mins 15/16 of them: quants centred on zero.
                half(2.5e-5, at: block)
                half(2.5e-5 * 16 / 15 * 7.5, at: block + 2)
                let s = block + 4
                var scale = [UInt8](repeating: 0, count: 8), minimum = [UInt8](repeating: 0, count: 8)
                for j in 0..<8 { scale[j] = 32 | (s[j] & 31); minimum[j] = UInt8(Int(scale[j]) * 15 / 16) }
                for j in 0..<4 {
                    s[j] = scale[j] | (scale[j + 4] >> 4) << 6
                    s[j + 4] = minimum[j] | (minimum[j + 4] >> 4) << 6
                    s[j + 8] = (scale[j + 4] & 0xF) | (minimum[j + 4] & 0xF) << 4
                }
            case .q6_K:
                for j in 0..<16 { block[192 + j] = 16 | (block[192 + j] & 15) }
                half(5e-5, at: block + 208)
            default: preconditionFailure("no random blocks for \(type.rawValue)")
            }
        }
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
