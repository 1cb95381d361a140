import Foundation
import PumaLLaMA
import PumaMPC

/// The cost table printed on stderr after a secure run: per operation bytes, rounds and wall
/// time, the totals, and the modeled network time on the LAN and WAN presets.
struct CostTable {
    let predictor: any SecureCosts

    func render() -> String {
        let ops = predictor.operationCosts
        let parties = predictor.operationCostsPerParty
        let passes = predictor.passes
        let total = predictor.passTotal
        func megabytes(_ b: Int) -> String { String(format: "%10.3f", Double(b) / 1e6) }
        func perParty(_ bytes: [Int]) -> String { "   " + bytes.map { String(format: "%8.3f", Double($0) / 1e6) }.joined(separator: " ") }
        var lines = ["operation            MB sent    rounds   wall s   MB sent by P0, P1, P2"]
        for (name, r) in ops.sorted(by: { $0.value.bytesSent > $1.value.bytesSent }) {
            lines.append(name.padding(toLength: 18, withPad: " ", startingAt: 0) + megabytes(r.bytesSent)
                + String(format: " %9d %8.3f", r.rounds, r.seconds) + perParty(parties.map { $0[name]?.bytesSent ?? 0 }))
        }
        let partyTotals = (0..<3).map { i in passes.reduce(0) { $0 + ($1.perParty.count > i ? $1.perParty[i].bytesSent : 0) } }
        lines.append("total".padding(toLength: 18, withPad: " ", startingAt: 0) + megabytes(total.bytesSent)
            + String(format: " %9d %8.3f", total.rounds, total.wallSeconds) + perParty(partyTotals))
        if let first = passes.first, passes.count > 1 {
            let rest = passes.dropFirst()
            let meanBytes = rest.reduce(0) { $0 + $1.bytesSent } / rest.count
            let meanRounds = rest.reduce(0) { $0 + $1.rounds } / rest.count
            let meanWall = rest.reduce(0) { $0 + $1.wallSeconds } / Double(rest.count)
            lines.append(String(format: "prompt pass (%d tokens): %.3f MB, %d rounds, %.3f s; later passes: %.3f MB, %d rounds, %.3f s each (mean)",
                                first.tokens, Double(first.bytesSent) / 1e6, first.rounds, first.wallSeconds,
                                Double(meanBytes) / 1e6, meanRounds, meanWall))
        }
        lines.append(String(format: "weights shared once: %.3f MB from the owner", Double(predictor.setupCost.bytesSent) / 1e6))
        for model in [NetworkModel.lan, .wan] {
            lines.append(String(format: "modeled network time, slowest party (%@: %.1f ms, %.0f Mbps): %.3f s", model.name,
                                model.latencySeconds * 1e3, model.bitsPerSecond / 1e6, predictor.modeledSeconds(model)))
        }
        return lines.joined(separator: "\n")
    }
}
