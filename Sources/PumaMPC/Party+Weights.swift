import CPumaKernels
import PumaCore

/// Products with the model owner's weights, streamed tile by tile from the party's storage.
extension Party {
    /// How a shared weight matrix enters a product.
    public enum WeightLayout: Sendable {
        /// W is [n×k] (Hugging Face `[out, in]` linear weights): X · Wᵀ.
        case outputRows
        /// W is [k×n] (the embedding table): X · W.
        case inputRows
    }

    /// Rows and columns of W per tile: a tile of each component is 32 K elements (256 KB), so both
    /// components and the matching slice of X stay in L2 while they are multiplied. Output-rows
    /// tiles are wide (long dot products); input-rows tiles are tall (long axpy chains per column block).
    public static func tileShape(_ layout: WeightLayout) -> (rows: Int, columns: Int) {
        layout == .outputRows ? (16, WeightSharing.maxBlockElements / 16) : (256, WeightSharing.maxBlockElements / 256)
    }

    /// X[m×k] · W for a secret-shared weight matrix W that no party holds whole. For each tile the
    /// party's storage hands out its two components W_i, W_{i+1} (cache-sized, one at a time) and the
    /// party accumulates at once Z_i += (X_i + X_{i+1})·W_i + X_i·W_{i+1} — the usual cross terms
    /// X_i·(W_i + W_{i+1}) + X_{i+1}·W_i regrouped so the sum is taken on X (once) instead of on every
    /// weight tile — with two AVX-512 ring GEMMs, then reshares Z as `matmul` does.
    /// Cost: 1 round, 3·m·n elements; exact.
    /// With `truncatingBy`, the outputs are truncated by d bits, the reshare fused into the
    /// truncation (`Primitive.mulTruncate` on m·n).
    /// `then`, a public linear map, is applied to the party's additive share of the product first.
    public func matmul(_ x: ArithmeticShares, weights w: SharedMatrix, layout: WeightLayout, storage: WeightShareStorage, m: Int,
                       truncatingBy d: Int? = nil, then map: (([UInt64]) -> [UInt64])? = nil) -> ArithmeticShares {
        scope(d == nil ? "matmul" : "matmul_truncation") {
            let z = additiveProduct(x, weights: w, layout: layout, storage: storage, m: m)
            return finish(map?(z) ?? z, truncatingBy: d)
        }
    }

    /// The same product truncated by each of `ds` bits from one opening (the residual stream and its
    /// copy scaled for RMSNorm): 3·m·n elements more per extra amount than one truncation, no extra round.
    public func matmul(_ x: ArithmeticShares, weights w: SharedMatrix, layout: WeightLayout, storage: WeightShareStorage, m: Int,
                       truncatingEachBy ds: [Int]) -> [ArithmeticShares] {
        scope("matmul_truncation") {
            truncate(.additive(additiveProduct(x, weights: w, layout: layout, storage: storage, m: m)), eachBy: ds)
        }
    }

    /// This party's additive share of X · W (or X · Wᵀ), before any reshare.
    private func additiveProduct(_ x: ArithmeticShares, weights w: SharedMatrix, layout: WeightLayout, storage: WeightShareStorage,
                                 m: Int) -> [UInt64] {
        let (k, n) = layout == .outputRows ? (w.columns, w.rows) : (w.rows, w.columns)
        precondition(x.count == m * k, "weight matmul: \(x.count) elements for [\(m)×\(k)]")
        precondition(layout == .outputRows || w.parts.count == 1, "an input-rows matrix is one tensor")
        var z = [UInt64](repeating: 0, count: m * n)
        let tile = Self.tileShape(layout)
        let sum = Words.add(x.first, x.second)
        sum.withUnsafeBufferPointer { sp in
            x.first.withUnsafeBufferPointer { fp in
                z.withUnsafeMutableBufferPointer { zp in
                    let (xs, xi, out) = (sp.baseAddress!, fp.baseAddress!, zp.baseAddress!)
                    var rowOffset = 0
                    for part in w.parts {
                        for r0 in stride(from: 0, to: part.rows, by: tile.rows) {
                            let r1 = min(part.rows, r0 + tile.rows)
                            for c0 in stride(from: 0, to: w.columns, by: tile.columns) {
                                let c1 = min(w.columns, c0 + tile.columns)
                                let block = TensorBlock(tensor: part.tensor, rowLength: w.columns, rows: r0..<r1, columns: c0..<c1)
                                let width = c1 - c0
                                // (X_i + X_{i+1})·W_i + X_i·W_{i+1}: each component as soon as it is there.
                                storage.forEachComponent(block) { component, w in
                                    let a = component == 0 ? xs : xi
                                    switch layout {
                                    case .outputRows:  // Z[:, rows] += X[:, cols] · tileᵀ
                                        puma_ring_gemm_nt(a + c0, k, w, width, out + rowOffset + r0, n, m, r1 - r0, width)
                                    case .inputRows:   // Z[:, cols] += X[:, rows] · tile
                                        puma_ring_gemm_nn(a + r0, k, w, width, out + c0, n, m, width, r1 - r0)
                                    }
                                }
                            }
                        }
                        rowOffset += part.rows
                        storage.finished(tensor: part.tensor)
                    }
                }
            }
        }
        return z
    }
}
