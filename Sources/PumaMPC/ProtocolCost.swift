import PumaCore

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
    case input, revealToAll, revealToClient, mul, square, sumOfProducts, mulAndSumOfSquares, matmul, truncate, mulTruncate
    case and, a2b, msb, msbCoarse, lessThan, equal, b2a, mulBA, mux, max, maxCoarse, argmax

    /// The boolean summands and carry tree of `Party.msb` and `Party.msbCoarse` on `words` packed
    /// words of `laneWidth`-bit lanes: 1 + 1 rounds and words + 3·words elements, then log2(laneWidth)
    /// levels ANDing 2⌈words/2^k⌉ words (⌈words/2^k⌉ at the last).
    static func carryCost(words: Int, laneWidth: Int) -> DeclaredCost {
        let levels = laneWidth.trailingZeroBitCount
        var elements = words + 3 * words
        var m = words
        for level in 1...levels {
            m = (m + 1) / 2
            elements += 3 * (level < levels ? 2 * m : m)
        }
        return DeclaredCost(rounds: 2 + levels, elements: elements)
    }

    /// `Party.truncate` by d bits on n elements (fused: `Party.mul(_:_:truncatingBy:)`): 2 rounds;
    /// 5n elements, 2n more when fused, and the packed top-bit shares of each party's chunk.
    static func truncationCost(_ n: Int, bits d: Int, fused: Bool) -> DeclaredCost {
        let lanes = Party.topBitLanes(bits: d)
        let packed = Party.truncationChunks(n).reduce(0) { $0 + ($1.count + lanes - 1) / lanes }
        return DeclaredCost(rounds: 2, elements: (fused ? 7 : 5) * n + packed)
    }

    /// `Party.msb` on n elements: one element per 64-bit word, 8 rounds.
    static func msbCost(_ n: Int) -> DeclaredCost { carryCost(words: n, laneWidth: 64) }

    /// `Party.msbCoarse` on n elements: two 32-bit lanes per word, 7 rounds.
    static func msbCoarseCost(_ n: Int) -> DeclaredCost { carryCost(words: (n + 1) / 2, laneWidth: 32) }

    /// Cost for `n` elements (truncations by f bits; for sumOfProducts: n sums of 2 products; for matmul: n output elements; for max and argmax: n rows of `width`
    /// columns; for mulAndSumOfSquares: n products and n rows of `width`).
    public func cost(n: Int, width: Int = 2) -> DeclaredCost {
        switch self {
        case .input: return DeclaredCost(rounds: 1, elements: 2 * n)
        case .revealToAll: return DeclaredCost(rounds: 1, elements: 3 * n)
        case .revealToClient: return DeclaredCost(rounds: 1, elements: 2 * n)
        case .mul, .square, .sumOfProducts, .matmul, .and: return DeclaredCost(rounds: 1, elements: 3 * n)
        case .mulAndSumOfSquares: return DeclaredCost(rounds: 1, elements: 6 * n)
        case .truncate, .mulTruncate: return Self.truncationCost(n, bits: FixedPoint.standard.fractionalBits, fused: self == .mulTruncate)
        case .a2b: return DeclaredCost(rounds: 8, elements: 37 * n)
        case .msb, .lessThan: return Self.msbCost(n)
        case .msbCoarse: return Self.msbCoarseCost(n)
        case .equal: return Self.msbCost(2 * n) + DeclaredCost(rounds: 1, elements: 3 * n)
        case .b2a: return DeclaredCost(rounds: 2, elements: 3 * n)
        case .mulBA, .mux: return DeclaredCost(rounds: 3, elements: 6 * n)
        case .maxCoarse, .argmax:
            // maxCoarse: coarse pairwise levels down to `Party.tournamentWidth`; both: 4-way
            // tournaments (13 rounds: msb of the pairs, two ANDs and a B2A of 3 words per grouped
            // element, one word per group reshared, two with the index); a last pair when 2 columns remain.
            var cost = DeclaredCost(rounds: 0, elements: 0)
            var w = width
            func pairLevel() {
                let p = n * (w / 2)
                cost = cost + Self.msbCoarseCost(p) + DeclaredCost(rounds: 3, elements: 6 * p)
                w = w / 2 + w % 2
            }
            if self == .maxCoarse { while w > Party.tournamentWidth { pairLevel() } }
            while w > 2 {
                let (full, rest) = (w / 4, w % 4)
                let pairs = n * (6 * full + rest * (rest - 1) / 2)
                let grouped = n * (4 * full + (rest >= 2 ? rest : 0))
                let groups = n * (full + (rest >= 2 ? 1 : 0))
                cost = cost + Self.msbCost(pairs) + DeclaredCost(rounds: 5, elements: 9 * grouped + (self == .argmax ? 6 : 3) * groups)
                w = (w + 3) / 4
            }
            if w == 2 {
                // The last pair: coarse for the max, exact and carrying the index for argmax.
                if self == .maxCoarse { pairLevel() } else { cost = cost + Self.msbCost(n) + DeclaredCost(rounds: 3, elements: 9 * n) }
            }
            return cost
        case .max:
            // n rows; per level, p = n·⌊w/2⌋ comparisons, one b2a (3p) and a product (3p).
            var cost = DeclaredCost(rounds: 0, elements: 0)
            var w = width
            while w > 1 {
                let p = n * (w / 2)
                cost = cost + Self.msbCost(p) + DeclaredCost(rounds: 3, elements: 6 * p)
                w = w / 2 + w % 2
            }
            return cost
        }
    }
}

/// Operands for exercising any primitive once: two vectors, a vector of shared bits, and an
/// n × width matrix (for matmul and max/argmax).
public struct PrimitiveOperands: Sendable {
    public var a: ArithmeticShares
    public var b: ArithmeticShares
    public var bits: BooleanShares
    public var wide: ArithmeticShares
    public var width: Int

    /// Prepares operands on party `p`; the bits are [a < 0] (computing them costs one `msb`).
    public init(party p: Party, a: ArithmeticShares, b: ArithmeticShares, wide: ArithmeticShares, width: Int) {
        precondition(a.count == b.count && wide.count == a.count * width, "operand sizes")
        self.a = a
        self.b = b
        self.wide = wide
        self.width = width
        bits = p.msb(a)
    }
}

extension Primitive {
    /// Runs this primitive once on party `p` and returns the size its declared cost applies to
    /// (n, or the n·width outputs of matmul). Input and client opening involve a dealer: see `Simulation`.
    @discardableResult
    public func exercise(on p: Party, _ o: PrimitiveOperands) -> Int {
        let n = o.a.count
        switch self {
        case .input, .revealToClient: preconditionFailure("\(self) needs a dealer")
        case .revealToAll: _ = p.revealToAll(o.a)
        case .mul: _ = p.mul(o.a, o.b)
        case .square: _ = p.square(o.a)
        case .sumOfProducts: _ = p.sumOfProducts(p.concatenate([o.a, o.b]), p.concatenate([o.b, o.a]), parts: 2)
        case .mulAndSumOfSquares: _ = p.mulAndSumOfSquares(o.a, o.b, squares: o.wide, groupSize: o.width)
        case .matmul:
            // [n × width] · [width × width]: the shape of a projection.
            _ = p.matmul(o.wide, o.wide.slice(0..<(o.width * o.width)), m: n, k: o.width, n: o.width)
            return n * o.width
        case .truncate: _ = p.truncate(o.a, bits: p.fixedPoint.fractionalBits)
        case .mulTruncate: _ = p.mul(o.a, o.b, truncatingBy: p.fixedPoint.fractionalBits)
        case .and: _ = p.and(o.bits, o.bits)
        case .a2b: _ = p.a2b(o.a)
        case .msb: _ = p.msb(o.a)
        case .msbCoarse: _ = p.msbCoarse(o.a, scaleBits: 20)
        case .lessThan: _ = p.lessThan(o.a, o.b)
        case .equal: _ = p.equal(o.a, o.b)
        case .b2a: _ = p.b2a(o.bits)
        case .mulBA: _ = p.mulBA(o.bits, o.b)
        case .mux: _ = p.mux(o.bits, o.a, o.b)
        case .max: _ = p.max(o.wide, rows: n, cols: o.width)
        case .maxCoarse: _ = p.maxCoarse(o.wide, rows: n, cols: o.width, scaleBits: 20)
        case .argmax: _ = p.argmax(o.wide, rows: n, cols: o.width)
        }
        return n
    }
}
