import PumaCore
import PumaMPC
import Testing

/// x·y/2^f + max-row(x) selected by [x < y], written once against the backend interface.
func sampleAlgorithm<B: FixedPointBackend>(_ b: B, _ x: B.Value, _ y: B.Value, rows: Int, cols: Int) -> B.Value {
    let product = b.truncate(b.mul(x, y), bits: b.fixedPoint.fractionalBits)
    let less = b.lessThan(x, y)
    let chosen = b.mux(less, product, b.neg(x))
    let maxima = b.max(chosen, rows: rows, cols: cols)
    let (_, index) = b.argmax(x, rows: rows, cols: cols)
    let eq = b.b2a(b.equal(x, y))
    return b.concatenate([chosen, maxima, index, eq, b.sumGroups(x, groupSize: cols)])
}

@Suite("Cleartext backend")
struct BackendTests {
    @Test("the same algorithm on shares and in the clear differs only by truncation's ulp")
    func secureMatchesCleartext() {
        let (rows, cols) = (30, 9)
        var s = RingSamples(seed: 41)
        let fp = FixedPoint.standard
        let x = (0..<(rows * cols)).map { _ in fp.encode(Double(s.random.float(scale: 50))) }
        var y = (0..<(rows * cols)).map { _ in fp.encode(Double(s.random.float(scale: 50))) }
        for i in stride(from: 0, to: y.count, by: 5) { y[i] = x[i] }
        let clear = sampleAlgorithm(CleartextBackend(), x, y, rows: rows, cols: cols)
        let secure = MPC.run([x, y]) { p, v in sampleAlgorithm(p, v[0], v[1], rows: rows, cols: cols) }
        #expect(clear.count == secure.count)
        let n = rows * cols
        for i in 0..<clear.count {
            let diff = Int64(bitPattern: secure[i] &- clear[i])
            if i < n + rows {
                // Products: floor vs floor + 1 (and the max of them).
                #expect(diff == 0 || diff == 1, "element \(i): \(diff) ulp")
            } else {
                #expect(diff == 0, "element \(i) (exact part) differs by \(diff)")
            }
        }
    }
}
