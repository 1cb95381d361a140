import PumaCore

/// Conversions between arithmetic and boolean sharing, comparisons and bit-selected products.
extension Party {
    /// Boolean sharings of two words whose sum is x. The elements are cut in three chunks (at
    /// multiples of `elementsPerWord`); in chunk c, P_c knows s = x_c + x_{c+1} and shares it
    /// (component c from the PRSS key with P_{c+2}, component c+1 = s ⊕ component c sent to P_{c+1},
    /// component c+2 zero), and t = x_{c+2}, already held by P_{c+1} and P_{c+2}, needs no sharing.
    /// So every party sends a third. `pack` (XOR-linear, the same for both summands) may first keep
    /// only part of each word's bits, `elementsPerWord` elements per output word.
    /// Cost: 1 round, as many words as `pack` returns.
    private func booleanSummands(_ x: ArithmeticShares, elementsPerWord: Int = 1,
                                 pack: ([UInt64]) -> [UInt64] = { $0 }) -> (s: BooleanShares, t: BooleanShares) {
        let words = (x.count + elementsPerWord - 1) / elementsPerWord
        let chunks = (0..<3).map { c in
            Swift.min(x.count, c * words / 3 * elementsPerWord)..<Swift.min(x.count, (c + 1) * words / 3 * elementsPerWord)
        }
        var s = BooleanShares(first: [], second: []), t = BooleanShares(first: [], second: [])
        var sent: [UInt64] = []  // s ⊕ component c of this party's own chunk (c = id), for P_{c+1}
        for (c, range) in chunks.enumerated() {
            let first = Array(x.first[range]), second = Array(x.second[range])
            switch (id - c + 3) % 3 {
            case 0:
                let sum = pack(Words.add(first, second))
                let own = streamWithPrevious.words(sum.count)
                sent = Words.xor(sum, own)
                let zero = [UInt64](repeating: 0, count: sum.count)
                s.append(BooleanShares(first: own, second: sent))
                t.append(BooleanShares(first: zero, second: zero))
            case 1:
                // s's component c+1 arrives from P_c after the round (filled in below).
                let summand = pack(second)
                let zero = [UInt64](repeating: 0, count: summand.count)
                s.append(BooleanShares(first: zero, second: zero))
                t.append(BooleanShares(first: zero, second: summand))
            default:
                let summand = pack(first)
                let zero = [UInt64](repeating: 0, count: summand.count)
                s.append(BooleanShares(first: zero, second: streamWithNext.words(summand.count)))
                t.append(BooleanShares(first: summand, second: zero))
            }
        }
        let received = exchange(send: [(.party(next), sent)], receive: [.party(previous)])[0]
        // The chunk this party is P_{c+1} of: its first component of s is what P_c sent.
        let mine = (id + 2) % 3
        let offset = (0..<mine).reduce(0) { $0 + (chunks[$1].count + elementsPerWord - 1) / elementsPerWord }
        s.first.replaceSubrange(offset..<(offset + received.count), with: received)
        return (s, t)
    }

    /// Arithmetic → boolean sharing of all 64 bits (ABY3 §5.3 with a Kogge–Stone adder): the
    /// boolean summands s, t of x, then generate g = s ∧ t, propagate p = s ⊕ t, six doubling levels
    /// (G, P) ← (G ⊕ P∧(G≪d), P∧(P≪d)), and sum = p ⊕ (G ≪ 1).
    /// Cost: 8 rounds, 37n words (n + 3n + 5·6n + 3n). Exact.
    public func a2b(_ x: ArithmeticShares) -> BooleanShares {
        scope("a2b") {
            let n = x.count
            let (s, t) = booleanSummands(x)
            let p = xor(s, t)
            var g = and(s, t)
            var q = p
            for level in 0..<6 {
                let d = 1 << level
                if level < 5 {
                    let both = and(BooleanShares.concatenate([q, q]), BooleanShares.concatenate([shiftLeft(g, d), shiftLeft(q, d)]))
                    g = xor(g, both.slice(0..<n))
                    q = both.slice(n..<(2 * n))
                } else {
                    g = xor(g, and(q, shiftLeft(g, d)))
                }
            }
            return xor(p, shiftLeft(g, 1))
        }
    }

    /// The sign bit of x (bit 0 of the result): x < 0 as two's complement, from the boolean summands
    /// of x and the carry tree of `carry` on 64-bit lanes.
    /// Cost: 8 rounds, n + 3n + 6·Σ_{k=1..5}⌈n/2^k⌉ + 3⌈n/64⌉ words (≈ 10n). Exact.
    public func msb(_ x: ArithmeticShares) -> BooleanShares {
        scope("msb") {
            let (s, t) = booleanSummands(x)
            return carry(s, t, laneWidth: 64, count: x.count)
        }
    }

    /// The sign of x from the top `laneBits` (32 or 16) bits of x·2^k: the boolean summands keep only
    /// those bits, 64 / laneBits elements per word, and the carry out of the dropped low bits is
    /// ignored (as SecureML's local truncation ignores the carry of the bits it drops; Mohassel and
    /// Zhang, 2017, §4.1). With band = 2^(64 − laneBits − k):
    ///
    /// Exact for every x with |x| < 2^(63−k) − band (encoded) except x ∈ [0, band), which may come out
    /// negative (when the dropped carry is 1, which depends on the random split). With f = 18: 32-bit
    /// lanes and k = 20 misread only values within 2^−6 above zero and need |x| < 2^25; 16-bit lanes and
    /// k = 34 (the bits 14…29 of x) within 2^−4, and need |x| < 2^11 — for thresholds where either answer
    /// is fine that close (the SiLU's pieces meet there). Half (a quarter) of the bytes of `msb`, one
    /// round (two) less.
    /// Cost: 2 + log2(laneBits) rounds, m + 3m words for m = ⌈n·laneBits/64⌉, then a halving tree
    /// (32-bit lanes ≈ 4.9n words, 16-bit ≈ 2.4n).
    public func msbCoarse(_ x: ArithmeticShares, scaleBits k: Int, laneBits: Int) -> BooleanShares {
        precondition((1...(laneBits == 16 ? 47 : 31)).contains(k) && (laneBits == 32 || laneBits == 16), "msbCoarse: scale by 2^\(k), \(laneBits)-bit lanes")
        return scope("msb") {
            let (s, t) = booleanSummands(mulPublic(x, UInt64(1) << UInt64(k)), elementsPerWord: 64 / laneBits) {
                BitPacking.topBits($0, laneWidth: laneBits)
            }
            return carry(s, t, laneWidth: laneBits, count: x.count)
        }
    }

    /// The sign bit of s + t for boolean summands packed in lanes of `laneWidth` bits (64: one element
    /// per word; 32: two; 16: four): only the carry into each lane's top bit is needed (sign = p_top ⊕ carry), so
    /// the lanes' group generate below the top bit is reduced by a tree that halves the bits at every
    /// level, (G, P) ← (G_hi ⊕ P_hi∧G_lo, P_hi∧P_lo), packing the surviving bits of all elements
    /// densely: level k ANDs ⌈words/2^k⌉ words. Pairing neighbouring bits is a linear map, applied
    /// to each share component locally. Exact.
    private func carry(_ s: BooleanShares, _ t: BooleanShares, laneWidth: Int, count n: Int) -> BooleanShares {
        let tops = (1...(64 / laneWidth)).reduce(UInt64(0)) { $0 | UInt64(1) << UInt64($1 * laneWidth - 1) }
        let p = xor(s, t)
        // Each lane's top bit of (g, p) becomes (0, 1), so the generate over the lane is the carry into its top bit.
        var g = andPublic(and(s, t), ~tops)
        var q = xorPublic(andPublic(p, ~tops), [UInt64](repeating: tops, count: p.count))
        var width = laneWidth
        while width > 1 {
            let (gLow, gHigh) = (BitPacking.evenBits(g), BitPacking.oddBits(g))
            let (qLow, qHigh) = (BitPacking.evenBits(q), BitPacking.oddBits(q))
            if width > 2 {
                let m = qHigh.count
                let both = and(BooleanShares.concatenate([qHigh, qHigh]), BooleanShares.concatenate([gLow, qLow]))
                g = xor(gHigh, both.slice(0..<m))
                q = both.slice(m..<(2 * m))
            } else {
                g = xor(gHigh, and(qHigh, gLow))
            }
            width /= 2
        }
        // g now holds one carry bit per element, packed: unpack and add p's top bit of each lane.
        return xor(BitPacking.unpack(g, count: n), BitPacking.laneTops(p, laneWidth: laneWidth, count: n))
    }

    /// [x < y], correct when |x − y| < 2^63. Cost: that of `msb`.
    public func lessThan(_ x: ArithmeticShares, _ y: ArithmeticShares) -> BooleanShares { msb(sub(x, y)) }

    /// [x < c] for a public c. Cost: that of `msb`.
    public func lessThan(_ x: ArithmeticShares, public c: UInt64) -> BooleanShares {
        msb(addPublic(x, 0 &- c))
    }

    /// [x > c] for a public c. Cost: that of `msb`.
    public func greaterThan(_ x: ArithmeticShares, public c: UInt64) -> BooleanShares {
        msb(addPublic(neg(x), c))
    }

    /// [x == y] as ¬[x < y] ∧ ¬[y < x] (both comparisons batched). Cost: `msb` of 2n, then 1 round, 3n words.
    public func equal(_ x: ArithmeticShares, _ y: ArithmeticShares) -> BooleanShares {
        scope("equal") {
            let d = sub(x, y)
            let signs = msb(ArithmeticShares.concatenate([d, neg(d)]))
            let n = x.count
            return and(notBit(signs.slice(0..<n)), notBit(signs.slice(n..<(2 * n))))
        }
    }

    /// Boolean → arithmetic for single bits (bit 0). With b = b0 ⊕ b1 ⊕ b2: P0 knows e = b0 ⊕ b1 and
    /// shares it arithmetically (component 0 common with P2, component 1 sent to P1); b2 is already an
    /// arithmetic sharing (0, 0, b2). Then b = e + b2 − 2·e·b2, where e·b2 = e0·b2 (known to P2) +
    /// e1·b2 (known to P1) is reshared behind masks common with P0.
    /// Cost: 2 rounds, 3n elements. Exact.
    public func b2a(_ b: BooleanShares) -> ArithmeticShares {
        scope("b2a") {
            let n = b.count
            switch id {
            case 0:
                let e = Words.xor(b.first, b.second).map { $0 & 1 }
                let e0 = common(with: 2, n)
                let e1 = Words.sub(e, e0)
                _ = exchange(send: [(.party(1), e1)], receive: [])
                let z0 = common(with: 2, n), z1 = common(with: 1, n)
                _ = exchange(send: [], receive: [])
                // b = e + b2 − 2p, components: (e0 − 2z0, e1 − 2z1, b2 − 2z2).
                return ArithmeticShares(first: Words.sub(e0, Words.scale(z0, by: 2)), second: Words.sub(e1, Words.scale(z1, by: 2)))
            default:
                // P1 holds e1 (sent by P0), P2 holds e0 (common with P0); both hold b2. Each masks
                // its part of e·b2 with its key shared with P0 and swaps it with the other.
                let mine: [UInt64]
                if id == 1 {
                    mine = exchange(send: [], receive: [.party(0)])[0]
                } else {
                    mine = common(with: 0, n)
                    _ = exchange(send: [], receive: [])
                }
                let b2 = (id == 1 ? b.second : b.first).map { $0 & 1 }
                let z = common(with: 0, n)
                let u = Words.sub(Words.mul(mine, b2), z)
                let z2 = Words.add(u, exchange(send: [(.party(3 - id), u)], receive: [.party(3 - id)])[0])
                let (own, shared) = (Words.sub(mine, Words.scale(z, by: 2)), Words.sub(b2, Words.scale(z2, by: 2)))
                return id == 1 ? ArithmeticShares(first: own, second: shared) : ArithmeticShares(first: shared, second: own)
            }
        }
    }

    /// b · x for a shared bit b and arithmetic x, with no truncation (PUMA's Mul_BA):
    /// b2a then one product. Cost: 3 rounds, 6n elements. Exact.
    public func mulBA(_ b: BooleanShares, _ x: ArithmeticShares) -> ArithmeticShares {
        scope("mulBA") { mul(b2a(b), x) }
    }

    /// b ? x : y = y + b·(x − y). Cost: 3 rounds, 6n elements. Exact.
    public func mux(_ b: BooleanShares, _ x: ArithmeticShares, _ y: ArithmeticShares) -> ArithmeticShares {
        scope("mux") { add(y, mulBA(b, sub(x, y))) }
    }
}
