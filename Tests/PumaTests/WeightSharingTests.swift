import Foundation
import PumaCore
import PumaIO
import PumaLLaMA
import PumaMPC
import Testing

/// A plaintext weight source over arrays (the owner's side in these tests).
final class ArrayTensorSource: PlainTensorSource, @unchecked Sendable {
    let tensors: [[UInt64]]
    init(_ tensors: [[Double]]) { self.tensors = tensors.map { FixedPoint.standard.encode($0) } }

    func encode(tensor: Int, offset: Int, count: Int, subtracting: (UnsafePointer<UInt64>, UnsafePointer<UInt64>),
                into out: UnsafeMutablePointer<UInt64>) {
        for i in 0..<count { out[i] = tensors[tensor][offset + i] &- subtracting.0[i] &- subtracting.1[i] }
    }
}

@Suite("Weight shares by seeds, streamed tile by tile")
struct WeightSharingTests {
    @Test("each party's two components are its replicated pair, and the three components sum to encode(W) on any block")
    func components() {
        var random = TestRandom(seed: 21)
        let (rows, columns) = (37, 2100)
        let w = (0..<(rows * columns)).map { _ in Double(random.float(scale: 3)) }
        let source = ArrayTensorSource([[1, 2, 3], w])
        let storage = Simulation(seed: 4).weightStorage(source: source)
        for block in [TensorBlock(tensor: 1, rowLength: columns, rows: 0..<16, columns: 0..<2048),
                      TensorBlock(tensor: 1, rowLength: columns, rows: 33..<37, columns: 2048..<2100),
                      TensorBlock(tensor: 1, rowLength: columns, rows: 5..<6, columns: 7..<8),
                      TensorBlock(tensor: 0, rowLength: 3, rows: 0..<1, columns: 0..<3)] {
            // One thread asks for P0's, P1's then P2's components: the relay hands P2 the x2 P1 derived.
            let parts = (0..<3).map { i -> ([UInt64], [UInt64]) in
                var pair: [[UInt64]] = [[], []]
                storage[i].forEachComponent(block) { c, values in pair[c] = Array(UnsafeBufferPointer(start: values, count: block.count)) }
                return (pair[0], pair[1])
            }
            for i in 0..<3 { #expect(parts[i].1 == parts[(i + 1) % 3].0, "P\(i)'s second component is P\(i + 1)'s first") }
            let expected = block.rows.flatMap { r in block.columns.map { source.tensors[block.tensor][r * block.rowLength + $0] } }
            #expect((0..<block.count).map { parts[0].0[$0] &+ parts[1].0[$0] &+ parts[2].0[$0] } == expected)
            #expect(parts[0].0 != expected && parts[1].0 != expected, "components look nothing like the weights")
        }
    }

    @Test("a tile-streamed weight product opens to X·Wᵀ (stacked tensors) and X·W (input rows) exactly, at matmul's declared cost")
    func streamedProduct() {
        var random = TestRandom(seed: 22)
        let (m, k) = (3, 2100)         // k spans two column tiles
        let (rowsA, rowsB) = (17, 20)  // rows off the 16-row tile
        let wa = (0..<(rowsA * k)).map { _ in Double(random.float(scale: 1)) }
        let wb = (0..<(rowsB * k)).map { _ in Double(random.float(scale: 1)) }
        let embedding = (0..<(300 * 5)).map { _ in Double(random.float(scale: 1)) }  // [300 × 5]: 300 > a 256-row tile
        let x = (0..<(m * k)).map { _ in Double(random.float(scale: 2)) }
        let onehot: [UInt64] = (0..<(m * 300)).map { $0 % 300 == [5, 299, 256][$0 / 300] ? 1 : 0 }
        let source = ArrayTensorSource([wa, wb, embedding])
        let fp = FixedPoint.standard
        let sim = Simulation(seed: 5)
        let storage = sim.weightStorage(source: source)
        let matrix = SharedMatrix(parts: [.init(tensor: 0, rows: rowsA), .init(tensor: 1, rows: rowsB)], columns: k)
        let table = SharedMatrix(parts: [.init(tensor: 2, rows: 300)], columns: 5)
        let results = sim.run(dealers: { s in s.client.share(fp.encode(x)); s.client.share(onehot) }) { p in
            let xs = p.input(from: .client, count: m * k), hot = p.input(from: .client, count: m * 300)
            p.ledger.reset()
            let y = p.matmul(xs, weights: matrix, layout: .outputRows, storage: storage[p.id], m: m)
            let e = p.matmul(hot, weights: table, layout: .inputRows, storage: storage[p.id], m: m)
            let cost = CostReport(ledgers: [p.ledger]).total
            return (p.revealToAll(y), p.revealToAll(e), cost)
        }
        // Declared: 1 round and 3·m·n elements per product (each party sends its m·n reshared words).
        let declared = [Primitive.matmul.cost(n: m * (rowsA + rowsB), width: k), Primitive.matmul.cost(n: m * 5, width: 300)]
        #expect(results.allSatisfy { $0.2.rounds == declared.reduce(0) { $0 + $1.rounds } }, "one round per product")
        #expect(results.reduce(0) { $0 + $1.2.bytesSent } == 8 * declared.reduce(0) { $0 + $1.elements }, "3·m·n words per product")
        let y = results[0].0
        let stacked = source.tensors[0] + source.tensors[1]
        let ex = fp.encode(x)
        for i in 0..<m {
            for j in 0..<(rowsA + rowsB) {
                let expected = (0..<k).reduce(UInt64(0)) { $0 &+ ex[i * k + $1] &* stacked[j * k + $1] }
                #expect(y[i * (rowsA + rowsB) + j] == expected, "row \(i), column \(j)")
            }
        }
        let rowsPicked = [5, 299, 256]
        #expect(results[0].1 == rowsPicked.flatMap { r in (0..<5).map { source.tensors[2][r * 5 + $0] } }, "one-hot rows of the table")
    }
}
