import Foundation
import PumaIO
import PumaLLaMA

/// A random LLaMA written to disk in the Hugging Face layout, for tests that need a checkpoint.
struct TinyModel {
    let config: LlamaConfiguration
    /// Tensor values after rounding to the stored dtype, by name.
    let tensors: [String: [Float]]

    static let config = LlamaConfiguration(
        hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2,
        headDim: 4, vocabSize: 40, maxPositionEmbeddings: 12, rmsNormEps: 1e-5, ropeTheta: 10000,
        tieWordEmbeddings: false)

    /// Writes config.json, two shards (layer 0 + embeddings; the rest) and the index into `dir`.
    @discardableResult
    static func write(to dir: URL, config: LlamaConfiguration = TinyModel.config, dtype: TensorDType, seed: UInt64,
                      omit: Set<String> = [], extra: [SafeTensorsWriter.Tensor] = [],
                      reshape: [String: [Int]] = [:]) throws -> TinyModel {
        var random = TestRandom(seed: seed)
        var first: [SafeTensorsWriter.Tensor] = [], second: [SafeTensorsWriter.Tensor] = []
        var stored: [String: [Float]] = [:]
        for (name, expectedShape) in LlamaWeights.expectedTensors(config) where !omit.contains(name) {
            let shape = reshape[name] ?? expectedShape
            let count = shape.reduce(1, *)
            let values = name.hasSuffix("norm.weight")
                ? random.floats(count, scale: 0.3).map { 1 + $0 } : random.floats(count, scale: 0.5)
            let tensor = SafeTensorsWriter.Tensor(name: name, dtype: dtype, shape: shape, values: values)
            if name.hasPrefix("model.layers.0.") || name == "model.embed_tokens.weight" { first.append(tensor) } else { second.append(tensor) }
        }
        second += extra
        let names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
        var weightMap: [String: String] = [:]
        for (shard, tensors) in zip(names, [first, second]) {
            try SafeTensorsWriter.write(tensors, to: dir.appendingPathComponent(shard))
            let file = try SafeTensorsFile(url: dir.appendingPathComponent(shard))
            for t in tensors {
                weightMap[t.name] = shard
                stored[t.name] = try file.floats(t.name)
            }
        }
        let index = try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": weightMap])
        try index.write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try encoder.encode(config).write(to: dir.appendingPathComponent("config.json"))
        return TinyModel(config: config, tensors: stored)
    }

    /// An independent full-sequence forward in Double: no KV cache, explicit causal mask, RoPE
    /// angles computed directly. Returns the logits of every position.
    func naiveForward(_ ids: [Int32]) -> [[Float]] {
        let c = config
        let (d, nh, nkv, hd, f, v) = (c.hiddenSize, c.numAttentionHeads, c.numKeyValueHeads, c.headDim, c.intermediateSize, c.vocabSize)
        let t = ids.count
        func w(_ name: String) -> [Double] { tensors[name]!.map(Double.init) }
        func linear(_ x: [Double], _ m: [Double], out: Int, in n: Int) -> [Double] {
            (0..<out).map { r in (0..<n).reduce(0.0) { $0 + m[r * n + $1] * x[$1] } }
        }
        func norm(_ x: [Double], _ g: [Double]) -> [Double] {
            let ms = x.reduce(0) { $0 + $1 * $1 } / Double(x.count)
            return x.indices.map { x[$0] / (ms + c.rmsNormEps).squareRoot() * g[$0] }
        }
        func rope(_ x: [Double], heads: Int, pos: Int) -> [Double] {
            var y = x
            for h in 0..<heads {
                for i in 0..<(hd / 2) {
                    let angle = Double(pos) * Foundation.pow(c.ropeTheta, -Double(2 * i) / Double(hd))
                    let (a, b) = (x[h * hd + i], x[h * hd + i + hd / 2])
                    y[h * hd + i] = a * Foundation.cos(angle) - b * Foundation.sin(angle)
                    y[h * hd + i + hd / 2] = b * Foundation.cos(angle) + a * Foundation.sin(angle)
                }
            }
            return y
        }
        let embed = w("model.embed_tokens.weight")
        var xs: [[Double]] = ids.map { Array(embed[(Int($0) * d)..<(Int($0) * d + d)]) }
        for l in 0..<c.numHiddenLayers {
            let p = "model.layers.\(l)."
            let hs = xs.map { norm($0, w(p + "input_layernorm.weight")) }
            let qs = hs.enumerated().map { rope(linear($1, w(p + "self_attn.q_proj.weight"), out: nh * hd, in: d), heads: nh, pos: $0) }
            let ks = hs.enumerated().map { rope(linear($1, w(p + "self_attn.k_proj.weight"), out: nkv * hd, in: d), heads: nkv, pos: $0) }
            let vs = hs.map { linear($0, w(p + "self_attn.v_proj.weight"), out: nkv * hd, in: d) }
            for i in 0..<t {
                var att = [Double](repeating: 0, count: nh * hd)
                for h in 0..<nh {
                    let kh = h * nkv / nh
                    var scores = (0..<t).map { j -> Double in
                        j > i ? -Double.infinity
                              : (0..<hd).reduce(0.0) { $0 + qs[i][h * hd + $1] * ks[j][kh * hd + $1] } / Double(hd).squareRoot()
                    }
                    let m = scores.max()!
                    scores = scores.map { Foundation.exp($0 - m) }
                    let s = scores.reduce(0, +)
                    for j in 0..<t { for e in 0..<hd { att[h * hd + e] += scores[j] / s * vs[j][kh * hd + e] } }
                }
                let o = linear(att, w(p + "self_attn.o_proj.weight"), out: d, in: nh * hd)
                xs[i] = zip(xs[i], o).map(+)
                let h2 = norm(xs[i], w(p + "post_attention_layernorm.weight"))
                let g = linear(h2, w(p + "mlp.gate_proj.weight"), out: f, in: d)
                let u = linear(h2, w(p + "mlp.up_proj.weight"), out: f, in: d)
                let a = zip(g, u).map { $0 / (1 + Foundation.exp(-$0)) * $1 }
                xs[i] = zip(xs[i], linear(a, w(p + "mlp.down_proj.weight"), out: d, in: f)).map(+)
            }
        }
        return xs.map { linear(norm($0, w("model.norm.weight")), w("lm_head.weight"), out: v, in: d).map(Float.init) }
    }
}
