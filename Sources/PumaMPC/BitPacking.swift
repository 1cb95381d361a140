/// Linear rearrangements of boolean shares seen as one bit stream (bit j of word w is stream bit
/// 64w + j). Being XOR-linear, each applies to every share component locally (no communication).
enum BitPacking {
    /// The even bits of a word, packed into its low 32 bits.
    @inline(__always)
    static func compressEven(_ word: UInt64) -> UInt64 {
        var x = word & 0x5555_5555_5555_5555
        x = (x | (x >> 1)) & 0x3333_3333_3333_3333
        x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F
        x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF
        x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF
        x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF
        return x
    }

    /// Stream bits 0, 2, 4, … packed densely (⌈words/2⌉ words, zero-padded).
    static func evenBits(_ x: BooleanShares) -> BooleanShares { map(x) { compressEven($0) } }

    /// Stream bits 1, 3, 5, … packed densely.
    static func oddBits(_ x: BooleanShares) -> BooleanShares { map(x) { compressEven($0 >> 1) } }

    private static func map(_ x: BooleanShares, _ compress: (UInt64) -> UInt64) -> BooleanShares {
        func pack(_ v: [UInt64]) -> [UInt64] {
            (0..<((v.count + 1) / 2)).map { k in
                compress(v[2 * k]) | (2 * k + 1 < v.count ? compress(v[2 * k + 1]) << 32 : 0)
            }
        }
        return BooleanShares(first: pack(x.first), second: pack(x.second))
    }

    /// The top `laneWidth` bits (32 or 16) of each value, 64 / laneWidth values per word (value j
    /// in lane j mod (64 / laneWidth) of word j / (64 / laneWidth), lowest lane first).
    static func topBits(_ v: [UInt64], laneWidth: Int) -> [UInt64] {
        let lanes = 64 / laneWidth
        return (0..<((v.count + lanes - 1) / lanes)).map { w in
            var word: UInt64 = 0
            for l in 0..<lanes where w * lanes + l < v.count {
                word |= (v[w * lanes + l] >> UInt64(64 - laneWidth)) << UInt64(l * laneWidth)
            }
            return word
        }
    }

    /// The top bit of each of the first `count` lanes of `laneWidth` bits (64, 32 or 16), as bit 0 of a word per lane.
    static func laneTops(_ x: BooleanShares, laneWidth: Int, count: Int) -> BooleanShares {
        let lanes = 64 / laneWidth
        func tops(_ v: [UInt64]) -> [UInt64] {
            (0..<count).map { e in (v[e / lanes] >> UInt64(laneWidth * (e % lanes) + laneWidth - 1)) & 1 }
        }
        return BooleanShares(first: tops(x.first), second: tops(x.second))
    }

    /// Bit 0 of word i → stream bit i (⌈count/64⌉ words): single bits packed densely.
    static func pack(_ x: BooleanShares) -> BooleanShares {
        func gather(_ v: [UInt64]) -> [UInt64] {
            var packed = [UInt64](repeating: 0, count: (v.count + 63) / 64)
            for (i, word) in v.enumerated() { packed[i / 64] |= (word & 1) << UInt64(i % 64) }
            return packed
        }
        return BooleanShares(first: gather(x.first), second: gather(x.second))
    }

    /// Stream bit i → bit 0 of word i, for the first `count` bits.
    static func unpack(_ x: BooleanShares, count: Int) -> BooleanShares {
        func spread(_ v: [UInt64]) -> [UInt64] { (0..<count).map { (v[$0 / 64] >> UInt64($0 % 64)) & 1 } }
        return BooleanShares(first: spread(x.first), second: spread(x.second))
    }
}
