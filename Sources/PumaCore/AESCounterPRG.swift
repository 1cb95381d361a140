import CPumaKernels

/// A cryptographic pseudo-random generator: AES-128 in counter mode (NIST SP 800-38A) over a
/// 128-bit big-endian counter starting at zero. Two holders of the same key draw identical
/// streams as long as they draw the same amounts in the same order — the basis of PRSS.
/// It is also seekable (`words(stream:offset:into:count:)`): the block with counter (stream, w / 2)
/// can be produced alone, so any tile of a long stream can be regenerated in any order.
/// VAES when present (≈ 17 GB/s per core), else AES-NI, else a portable implementation.
public struct AESCounterPRG: Sendable {
    private var schedule = puma_aes128_schedule()
    private var counter = [UInt8](repeating: 0, count: 16)

    /// - Parameter key: 16 bytes.
    public init(key: [UInt8], counter initial: [UInt8] = [UInt8](repeating: 0, count: 16)) {
        precondition(key.count == 16 && initial.count == 16, "AES-128 needs a 16-byte key and counter")
        key.withUnsafeBufferPointer { puma_aes128_expand($0.baseAddress, &schedule) }
        counter = initial
    }

    /// A key from a 64-bit seed (for reproducible runs); distinct `stream`s give unrelated keys.
    public init(seed: UInt64, stream: UInt64) {
        var bytes = [UInt8]()
        for v in [seed, stream] { for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * i))) } }
        // Whiten the structured seed through AES itself under a fixed key.
        var whitener = AESCounterPRG(key: [UInt8](repeating: 0x5A, count: 16), counter: bytes)
        self.init(key: whitener.bytes(16))
    }

    /// A key from the system's cryptographic RNG.
    public static func randomKey() -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        return (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    /// The next `count` keystream bytes.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        let blocks = (count + 15) / 16
        var out = [UInt8](repeating: 0, count: blocks * 16)
        out.withUnsafeMutableBufferPointer { o in
            counter.withUnsafeMutableBufferPointer { puma_aes128_ctr(&schedule, $0.baseAddress, o.baseAddress, blocks) }
        }
        return Array(out.prefix(count))
    }

    /// The next `count` uniformly random ring elements (two per AES block).
    public mutating func words(_ count: Int) -> [UInt64] {
        guard count > 0 else { return [] }
        let blocks = (count + 1) / 2
        var out = [UInt64](repeating: 0, count: blocks * 2)
        out.withUnsafeMutableBytes { o in
            counter.withUnsafeMutableBufferPointer {
                puma_aes128_ctr(&schedule, $0.baseAddress, o.baseAddress!.assumingMemoryBound(to: UInt8.self), blocks)
            }
        }
        if out.count != count { out.removeLast() }
        return out
    }

    /// Words [offset, offset + count) of the seekable stream `stream` (see `SeekableStreams`),
    /// without touching the sequential counter.
    public func words(stream: UInt64, offset: Int, into out: UnsafeMutablePointer<UInt64>, count: Int) {
        seekable.words(stream: stream, offset: offset, into: out, count: count)
    }

    /// The same key's seekable streams, as a plain value (no reference counting in hot loops).
    public var seekable: SeekableStreams { SeekableStreams(schedule: schedule) }

    /// Synthetic weights: binary16 values ≈ N(0, deviation²) from words [offset, offset + count) of
    /// the seekable stream `stream` (see `puma_random_normal_f16`).
    public func randomNormalHalf(stream: UInt64, offset: Int, count: Int, deviation: Float, into out: UnsafeMutablePointer<UInt16>) {
        withUnsafePointer(to: schedule) { puma_random_normal_f16($0, stream, UInt64(offset), count, deviation, out) }
    }
}

/// The seekable streams of one AES-128 key: word w of stream s (s ≥ 1) is half (w mod 2) of the
/// keystream block with counter (s, w / 2), so any range can be produced alone, in any order.
/// Stream 0 is the sequential `AESCounterPRG` draw, which never reaches 2^64 blocks, so the two
/// never meet.
public struct SeekableStreams: Sendable {
    let schedule: puma_aes128_schedule

    /// Words [offset, offset + count) of stream `stream`, written to `out`.
    public func words(stream: UInt64, offset: Int, into out: UnsafeMutablePointer<UInt64>, count: Int) {
        precondition(stream > 0 && offset >= 0 && count >= 0, "seekable streams start at 1; offsets and counts are non-negative")
        withUnsafePointer(to: schedule) { puma_prg_words($0, stream, UInt64(offset), out, count) }
    }
}
