/// The declared cost of a protocol: rounds, and ring elements (64-bit words) sent in total by all
/// senders. Tests check the ledger against these numbers (after SPU's `verifyCost`).
public struct DeclaredCost: Sendable, Equatable, CustomStringConvertible {
    public var rounds: Int
    public var elements: Int

    public init(rounds: Int, elements: Int) {
        self.rounds = rounds
        self.elements = elements
    }

    public var description: String { "\(rounds) rounds, \(elements) elements" }

    /// Sequential composition.
    public static func + (a: DeclaredCost, b: DeclaredCost) -> DeclaredCost {
        DeclaredCost(rounds: a.rounds + b.rounds, elements: a.elements + b.elements)
    }
}

/// Every primitive's declared cost as a function of its size.
public enum Primitive: String, CaseIterable, Sendable {
    case input, revealToAll, revealToClient, mul, square, matmul, truncate
    case and, a2b, msb, lessThan, equal, b2a, mulBA, mux, max, argmax

    /// Cost for `n` elements (for matmul: n output elements; for max/argmax: rows of `width` columns).
    public func cost(n: Int, width: Int = 2) -> DeclaredCost {
        switch self {
        case .input: return DeclaredCost(rounds: 1, elements: 2 * n)
        case .revealToAll: return DeclaredCost(rounds: 1, elements: 3 * n)
        case .revealToClient: return DeclaredCost(rounds: 1, elements: 2 * n)
        case .mul, .square, .matmul, .and: return DeclaredCost(rounds: 1, elements: 3 * n)
        case .truncate: return DeclaredCost(rounds: 2, elements: 6 * n)
        case .a2b, .msb, .lessThan: return DeclaredCost(rounds: 8, elements: 37 * n)
        case .equal: return DeclaredCost(rounds: 9, elements: 77 * n)
        case .b2a: return DeclaredCost(rounds: 2, elements: 3 * n)
        case .mulBA, .mux: return DeclaredCost(rounds: 3, elements: 6 * n)
        case .max, .argmax:
            // n rows; per level, p = n·⌊w/2⌋ comparisons (37p), one b2a (3p) and 1 or 2 products (3p each).
            var cost = DeclaredCost(rounds: 0, elements: 0)
            var w = width
            while w > 1 {
                let p = n * (w / 2)
                cost = cost + DeclaredCost(rounds: 11, elements: p * (self == .max ? 43 : 46))
                w = w / 2 + w % 2
            }
            return cost
        }
    }
}
