import ArgumentParser
import Foundation
import PumaCore
import PumaMPC
import PumaNN

/// `puma bench accuracy`: every fixed-point approximation on the cleartext backend over a dense
/// grid of its domain, against Foundation's math (max and mean absolute or relative error).
struct AccuracyBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accuracy",
        abstract: "Max and mean error of each non-linear approximation over a dense grid of its domain."
    )

    @Option(parsing: .unconditional, help: "Grid points per function.")
    var points = 100_001

    func validate() throws {
        guard (2...10_000_000).contains(points) else { throw ValidationError("--points must lie in 2...10000000") }
    }

    struct Case {
        var name: String
        var domain: ClosedRange<Double>
        var logarithmic = false
        var relative = false
        var approximate: (CleartextBackend, [UInt64]) -> [UInt64]
        var exact: (Double) -> Double
    }

    func run() throws {
        let b = CleartextBackend()
        let fp = b.fixedPoint
        let sigmoid: (Double) -> Double = { 1 / (1 + Foundation.exp(-$0)) }
        let cases = [
            Case(name: "negExp (PUMA, t=5)", domain: -14...0, approximate: { NonLinear.negExp($0, $1, corrected: false) }, exact: { Foundation.exp($0) }),
            Case(name: "negExp (corrected)", domain: -14...0, approximate: { NonLinear.negExp($0, $1) }, exact: { Foundation.exp($0) }),
            Case(name: "SiLU (PUMA)", domain: -20...20, approximate: { NonLinear.silu($0, $1, method: .puma) }, exact: { $0 * sigmoid($0) }),
            Case(name: "SiLU (symmetric)", domain: -20...20, approximate: { NonLinear.silu($0, $1, method: .symmetric) }, exact: { $0 * sigmoid($0) }),
            Case(name: "GeLU (PUMA)", domain: -10...10, approximate: { NonLinear.gelu($0, $1) }, exact: { 0.5 * $0 * (1 + erf($0 / 2.squareRoot())) }),
            Case(name: "reciprocal (rel.)", domain: 1.0 / 1024...1024, logarithmic: true, relative: true,
                 approximate: { NonLinear.reciprocal($0, $1) }, exact: { 1 / $0 }),
            Case(name: "rsqrt (rel.)", domain: 1.0 / 256...4096, logarithmic: true, relative: true,
                 approximate: { NonLinear.rsqrt($0, $1) }, exact: { 1 / $0.squareRoot() }),
        ]
        try Console.printLine("function              domain                  max error    mean error")
        for c in cases {
            let xs = (0..<points).map { i -> Double in
                let t = Double(i) / Double(points - 1)
                if c.logarithmic { return Foundation.exp(Foundation.log(c.domain.lowerBound) * (1 - t) + Foundation.log(c.domain.upperBound) * t) }
                return c.domain.lowerBound + (c.domain.upperBound - c.domain.lowerBound) * t
            }
            let approx = fp.decode(c.approximate(b, fp.encode(xs)))
            var worst = 0.0, sum = 0.0
            for (x, y) in zip(xs, approx) {
                let e = c.exact(fp.decode(fp.encode(x)))
                let err = c.relative ? abs(y - e) / abs(e) : abs(y - e)
                worst = max(worst, err)
                sum += err
            }
            let domain = String(format: "[%g, %g]", c.domain.lowerBound, c.domain.upperBound)
            try Console.printLine(c.name.padding(toLength: 22, withPad: " ", startingAt: 0) + domain.padding(toLength: 22, withPad: " ", startingAt: 0)
                + String(format: "  %11.3e  %11.3e", worst, sum / Double(points)))
        }
    }
}
