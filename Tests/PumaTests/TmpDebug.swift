import Foundation
import PumaCore
import PumaMPC
import PumaNN
import Testing

@Test func tmpMeasure() {
    let fp = FixedPoint.standard
    let n = 1200
    let neg = (0..<n).map { fp.encode(-Double($0 % 140) / 10) }
    let xs = (0..<n).map { fp.encode(Double($0 % 200) / 10 - 10) }
    let pos = (0..<n).map { fp.encode(Double($0 % 200) / 10 + 0.5) }
    func show(_ name: String, _ c: DeclaredCost, _ per: Int = n) { print("MEASURE \(name): \(c.rounds) rounds, \(Double(c.elements) / Double(per)) words/elem") }
    show("negExp", MPC.measure(inputs: [neg]) { p, v in _ = NonLinear.negExp(p, v[0]) })
    show("negExp puma", MPC.measure(inputs: [neg]) { p, v in _ = NonLinear.negExp(p, v[0], corrected: false) })
    show("softmax w8", MPC.measure(inputs: [xs]) { p, v in _ = NonLinear.softmax(p, v[0], lengths: [Int](repeating: 8, count: n / 8)) })
    show("rsqrt", MPC.measure(inputs: [pos]) { p, v in _ = NonLinear.rsqrt(p, v[0]) })
    let dim = 4096
    let rows = (0..<(2 * dim)).map { fp.encode(Double($0 % 37) / 10 - 1.8) }
    show("rmsnorm 4096", MPC.measure(inputs: [rows]) { p, v in _ = NonLinear.rmsNorm(p, v[0], dim: dim, eps: 1e-5) }, 2 * dim)
}
