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

    /// Rows of W per tile, and columns per tile: a tile of each component is 16 × 2048 × 8 B = 256 KB,
    /// so both components and the matching slice of X stay in L2 while they are multiplied.
    static let tileRows = 16, tileColumns = 2048

    /// X[m×k] · W for a secret-shared weight matrix W that no party holds whole. For each tile the
    /// party's storage fills its two components (W_i, W_{i+1}) into cache-sized buffers and the party
    /// accumulates Z_i += X_i·(W_i + W_{i+1}) + X_{i+1}·W_i at once (two AVX-512 ring GEMMs), then
    /// reshares Z as `matmul` does. Cost: 1 round, 3·m·n elements; exact.
    public func matmul(_ x: ArithmeticShares, weights w: SharedMatrix, layout: WeightLayout, storage: WeightShareStorage, m: Int) -> ArithmeticShares {
        scope("matmul") {
            let (k, n) = layout == .outputRows ? (w.columns, w.rows) : (w.rows, w.columns)
            precondition(x.count == m * k, "weight matmul: \(x.count) elements for [\(m)×\(k)]")
            precondition(layout == .outputRows || w.parts.count == 1, "an input-rows matrix is one tensor")
            var z = [UInt64](repeating: 0, count: m * n)
            let capacity = Self.tileRows * Self.tileColumns
            let first = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity)
            let sum = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity)
            defer { first.deallocate(); sum.deallocate() }
            x.first.withUnsafeBufferPointer { x0 in
                x.second.withUnsafeBufferPointer { x1 in
                    z.withUnsafeMutableBufferPointer { zp in
                        let (xi, xn, out) = (x0.baseAddress!, x1.baseAddress!, zp.baseAddress!)
                        var rowOffset = 0
                        for part in w.parts {
                            for r0 in stride(from: 0, to: part.rows, by: Self.tileRows) {
                                let r1 = min(part.rows, r0 + Self.tileRows)
                                for c0 in stride(from: 0, to: w.columns, by: Self.tileColumns) {
                                    let c1 = min(w.columns, c0 + Self.tileColumns)
                                    let block = TensorBlock(tensor: part.tensor, rowLength: w.columns, rows: r0..<r1, columns: c0..<c1)
                                    storage.fill(block, first: first, second: sum)
                                    for i in 0..<block.count { sum[i] &+= first[i] }  // W_i + W_{i+1}
                                    let width = c1 - c0
                                    switch layout {
                                    case .outputRows:  // Z[:, rows] += X[:, cols] · tileᵀ
                                        let c = out + rowOffset + r0
                                        puma_ring_gemm_nt(xi + c0, k, sum, width, c, n, m, r1 - r0, width)
                                        puma_ring_gemm_nt(xn + c0, k, first, width, c, n, m, r1 - r0, width)
                                    case .inputRows:   // Z[:, cols] += X[:, rows] · tile
                                        let c = out + c0
                                        puma_ring_gemm_nn(xi + r0, k, sum, width, c, n, m, width, r1 - r0)
                                        puma_ring_gemm_nn(xn + r0, k, first, width, c, n, m, width, r1 - r0)
                                    }
                                }
                            }
                            rowOffset += part.rows
                        }
                    }
                }
            }
            return reshare(z)
        }
    }
}

extension WeightShareStorage {
    /// Both components of a whole small tensor (norm weights) as replicated shares.
    public func shares(tensor: Int, count: Int) -> ArithmeticShares {
        var first = [UInt64](repeating: 0, count: count), second = first
        first.withUnsafeMutableBufferPointer { a in
            second.withUnsafeMutableBufferPointer { b in
                fill(TensorBlock(tensor: tensor, rowLength: count, rows: 0..<1, columns: 0..<count), first: a.baseAddress!, second: b.baseAddress!)
            }
        }
        return ArithmeticShares(first: first, second: second)
    }
}
