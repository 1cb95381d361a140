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
    case input, revealToAll, revealToClient, mul, square, sumOfProducts, mulAndSumOfSquares, matmul, truncate, mulTruncate, mulTruncateTwice
    case and, a2b, msb, msbCoarse, msbNarrow, lessThan, equal, b2a, mulBA, mux, max, maxCoarse, maxAndNear, argmax

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

    /// `Party.andAll` of `columns` columns of n bits: ⌈log2 columns⌉ levels, each ANDing the packed
    /// bits of half the (padded) columns.
    static func andAllCost(n: Int, columns: Int) -> DeclaredCost {
        var cost = DeclaredCost(rounds: 0, elements: 0)
        var count = 1
        while count < columns { count *= 2 }
        while count > 1 {
            count /= 2
            cost = cost + DeclaredCost(rounds: 1, elements: 3 * ((count * n + 63) / 64))
        }
        return cost
    }

    /// `Party.tournament` over groups of the given sizes: `msb` of every pair of a group (and of
    /// every ordered pair with a margin), `andAll` of each element's bits, one B2A of them, and one
    /// reshared word per contested group (two when carrying indices).
    static func tournamentCost(_ sizes: [Int], carrying: Bool, margin: Bool = false) -> DeclaredCost {
        let contested = sizes.filter { $0 >= 2 }
        guard let widest = contested.max() else { return DeclaredCost(rounds: 0, elements: 0) }
        let elements = contested.reduce(0, +) * (margin ? 2 : 1)
        let comparisons = contested.reduce(0) { $0 + $1 * ($1 - 1) / 2 * (margin ? 3 : 1) }
        return msbCost(comparisons) + andAllCost(n: elements, columns: widest - 1)
            + DeclaredCost(rounds: 2, elements: 3 * elements)
            + DeclaredCost(rounds: 1, elements: 3 * contested.count * (carrying ? 2 : 1))
    }

    /// `Party.truncate` by d bits on n elements (fused: `Party.mul(_:_:truncatingBy:)`), or by each of
    /// several amounts from one opening: 2 rounds; 5n elements (7n fused), 3n more per extra amount,
    /// and the packed top-bit shares of each party's chunk (lanes of max d + 1 bits).
    static func truncationCost(_ n: Int, bits: [Int], fused: Bool) -> DeclaredCost {
        let lanes = Party.topBitLanes(bits: bits.max()!)
        let packed = Party.truncationChunks(n).reduce(0) { $0 + ($1.count + lanes - 1) / lanes }
        return DeclaredCost(rounds: 2, elements: (fused ? 4 : 2) * n + 3 * bits.count * n + packed)
    }

    /// `Party.msb` on n elements: one element per 64-bit word, 8 rounds.
    static func msbCost(_ n: Int) -> DeclaredCost { carryCost(words: n, laneWidth: 64) }

    /// `Party.msbCoarse` on n elements: two 32-bit lanes per word, 7 rounds.
    static func msbCoarseCost(_ n: Int) -> DeclaredCost { carryCost(words: (n + 1) / 2, laneWidth: 32) }

    /// `Party.msbCoarse` on n elements with 16-bit lanes: four per word, 6 rounds.
    static func msbNarrowCost(_ n: Int) -> DeclaredCost { carryCost(words: (n + 3) / 4, laneWidth: 16) }

    /// Cost for `n` elements (truncations by f bits, mulTruncateTwice by 18 and 24; for sumOfProducts:
    /// n sums of 2 products; for matmul: n output elements; for max, maxCoarse, maxAndNear and argmax:
    /// n rows of `width` columns; for mulAndSumOfSquares: n products and n rows of `width`).
    public func cost(n: Int, width: Int = 2) -> DeclaredCost {
        switch self {
        case .input: return DeclaredCost(rounds: 1, elements: 2 * n)
        case .revealToAll: return DeclaredCost(rounds: 1, elements: 3 * n)
        case .revealToClient: return DeclaredCost(rounds: 1, elements: 2 * n)
        case .mul, .square, .sumOfProducts, .matmul, .and: return DeclaredCost(rounds: 1, elements: 3 * n)
        case .mulAndSumOfSquares: return DeclaredCost(rounds: 1, elements: 6 * n)
        case .mulTruncateTwice: return Self.truncationCost(n, bits: [18, 24], fused: true)
        case .truncate, .mulTruncate: return Self.truncationCost(n, bits: [FixedPoint.standard.fractionalBits], fused: self == .mulTruncate)
        case .a2b: return DeclaredCost(rounds: 8, elements: 37 * n)
        case .msb, .lessThan: return Self.msbCost(n)
        case .msbCoarse: return Self.msbCoarseCost(n)
        case .msbNarrow: return Self.msbNarrowCost(n)
        case .equal: return Self.msbCost(2 * n) + DeclaredCost(rounds: 1, elements: 3 * n)
        case .b2a: return DeclaredCost(rounds: 2, elements: 3 * n)
        case .mulBA, .mux: return DeclaredCost(rounds: 3, elements: 6 * n)
        case .maxCoarse:
            // Coarse pairwise levels down to `Party.tournamentWidth`, then one tournament of the rest.
            var cost = DeclaredCost(rounds: 0, elements: 0)
            var w = width
            while w > Party.tournamentWidth {
                let p = n * (w / 2)
                cost = cost + Self.msbCoarseCost(p) + DeclaredCost(rounds: 3, elements: 6 * p)
                w = w / 2 + w % 2
            }
            return w > 1 ? cost + Self.tournamentCost([Int](repeating: w, count: n), carrying: false) : cost
        case .maxAndNear:
            return Self.tournamentCost([Int](repeating: width, count: n), carrying: false, margin: true)
        case .argmax:
            var cost = DeclaredCost(rounds: 0, elements: 0)
            var w = width
            while w > 1 {
                let size = Party.argmaxGroupSize(width: w)
                cost = cost + Self.tournamentCost(Party.groups(rows: n, width: w, size: size).map(\.count), carrying: true)
                w = (w + size - 1) / size
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
        case .mulTruncateTwice: _ = p.mul(o.a, o.b, truncatingEachBy: [18, 24])
        case .and: _ = p.and(o.bits, o.bits)
        case .a2b: _ = p.a2b(o.a)
        case .msb: _ = p.msb(o.a)
        case .msbCoarse: _ = p.msbCoarse(o.a, scaleBits: 20)
        case .msbNarrow: _ = p.msbCoarse(o.a, scaleBits: 34, laneBits: 16)
        case .lessThan: _ = p.lessThan(o.a, o.b)
        case .equal: _ = p.equal(o.a, o.b)
        case .b2a: _ = p.b2a(o.bits)
        case .mulBA: _ = p.mulBA(o.bits, o.b)
        case .mux: _ = p.mux(o.bits, o.a, o.b)
        case .max: _ = p.max(o.wide, rows: n, cols: o.width)
        case .maxCoarse: _ = p.maxCoarse(o.wide, rows: n, cols: o.width, scaleBits: 20)
        case .maxAndNear: _ = p.maxAndNear(o.wide, lengths: [Int](repeating: o.width, count: n), margin: p.fixedPoint.encode(14))
        case .argmax: _ = p.argmax(o.wide, rows: n, cols: o.width)
        }
        return n
    }
}
