/// Fixed-point encoding of reals in the ring Z_2^64: x ↦ round(x · 2^f) in two's complement.
/// Encoding saturates to [−2^62, 2^62) so that MSB-based comparisons of differences stay correct;
/// constants below 2^−(f+1) encode to 0 (with f = 18, RMSNorm's eps = 1e−6 vanishes, as in PUMA).
public struct FixedPoint: Sendable, Equatable {
    /// Number of fractional bits f.
    public let fractionalBits: Int

    /// The default, PUMA's f = 18.
    public static let standard = FixedPoint(fractionalBits: 18)
    /// Largest magnitude an encoding may carry: 2^62.
    public static let bound: Int64 = 1 << 62

    public init(fractionalBits: Int) {
        precondition((0...40).contains(fractionalBits), "fractional bits must lie in 0...40")
        self.fractionalBits = fractionalBits
    }

    /// 2^f.
    public var scale: Double { Double(sign: .plus, exponent: fractionalBits, significand: 1) }

    /// round(x · 2^f), saturated to [−2^62, 2^62 − 1]; NaN encodes to 0.
    public func encode(_ x: Double) -> UInt64 {
        let scaled = (x * scale).rounded()
        if scaled.isNaN { return 0 }
        if scaled >= Double(Self.bound) { return UInt64(bitPattern: Self.bound - 1) }
        if scaled <= -Double(Self.bound) { return UInt64(bitPattern: -Self.bound) }
        return UInt64(bitPattern: Int64(scaled))
    }

    public func encode(_ xs: [Double]) -> [UInt64] { xs.map(encode) }
    public func encode(_ xs: [Float]) -> [UInt64] { xs.map { encode(Double($0)) } }

    /// The real value of a ring element read as two's complement over 2^f.
    public func decode(_ v: UInt64) -> Double { Double(Int64(bitPattern: v)) / scale }
    public func decode(_ vs: [UInt64]) -> [Double] { vs.map(decode) }
}

/// Ring helpers on raw UInt64 values (arithmetic mod 2^64).
public enum Ring {
    /// A ring element read as a signed integer.
    @inline(__always) public static func signed(_ v: UInt64) -> Int64 { Int64(bitPattern: v) }
    /// Arithmetic (sign-propagating) right shift: ⌊v / 2^bits⌋ for two's complement v.
    @inline(__always) public static func arithmeticShift(_ v: UInt64, _ bits: Int) -> UInt64 {
        UInt64(bitPattern: Int64(bitPattern: v) >> Int64(bits))
    }
}
