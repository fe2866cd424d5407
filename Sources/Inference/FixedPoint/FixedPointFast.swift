/// The fast paths of the fixed-point conversions: the same results as the reference
/// (`referenceFloat`, `referenceNumber`, arbitrary-precision integers) bit for bit, with
/// fixed-width integers only (UInt128 and one 256-bit product), no allocation. Decimals the
/// fixed widths do not cover (39 … 100, all of whose values are below 1, a range no
/// float32 encoder produces) take the reference. FixedPointTests checks fast = reference
/// on seeded samples and every edge; `make fixedpoint-check` runs far larger samples.
@available(macOS 15, *)
extension FixedPoint {
    /// 10^k for k in 0 … 38 (10^38 < 2^127 < 10^39).
    static let powersOfTen: [UInt128] = (0...38).map { power10($0) }
    /// 5^k for k in 0 … 55 (5^55 < 2^128).
    static let powersOfFive: [UInt128] = (0...55).reduce(into: []) { p, k in p.append(k == 0 ? 1 : p[k - 1] * 5) }
    /// For k in −45 … 38, the bit pattern of the smallest float32 ≥ 10^k: positive floats
    /// order as their bit patterns, so floor(log10 |x|) is a table look-up. Built once with
    /// the reference's exact arithmetic.
    static let powerOfTenThresholds: [UInt32] = (-45...38).map { k in
        var f = referenceFloat(Number(value: 1, decimals: Int128(-k)))
        let (m, e) = binaryParts(f)
        let exactN = e >= 0 ? BigUInt(UInt128(m)).shifted(left: e) : BigUInt(UInt128(m))
        let exactD = e < 0 ? BigUInt(1).shifted(left: -e) : BigUInt(1)
        if !isAtLeastPowerOfTen(exactN, exactD, k) { f = f.nextUp }
        return f.bitPattern
    }

    // MARK: decimal → float32

    /// The float32 nearest to value × 10^−decimals (ties to even); beyond the float range
    /// ±infinity, below half the smallest subnormal ±0.
    public static func float(_ n: Number) -> Float {
        if n.value == 0 { return 0 }
        let magnitude = n.value.magnitude
        let bits: UInt32
        if n.decimals >= 0 && n.decimals <= 38 {
            bits = nearestFloatBits(magnitude, powersOfTen[Int(n.decimals)])
        } else if n.decimals < 0 && n.decimals >= -38 {
            let (scaled, overflow) = magnitude.multipliedReportingOverflow(by: powersOfTen[Int(-n.decimals)])
            bits = overflow ? Float.infinity.bitPattern : nearestFloatBits(scaled, 1)  // ≥ 2^128: beyond the range
        } else {
            return referenceFloat(n)
        }
        return Float(bitPattern: n.value < 0 ? bits | 0x8000_0000 : bits)
    }

    /// The bit pattern of the float32 nearest to n / d (n ≥ 1, 1 ≤ d < 2^127), ties to even.
    @inline(__always)
    static func nearestFloatBits(_ n: UInt128, _ d: UInt128) -> UInt32 {
        // floor(log2(n / d)) is widthDifference or one less. Divide at the exponent e of a
        // guard bit below a 24-bit significand (never below 2^−150, the subnormals' guard).
        let widthDifference = d.leadingZeroBitCount - n.leadingZeroBitCount
        var e = max(widthDifference - 25, -150)
        var (q, sticky) = scaledQuotient(n, d, e)
        if q >= 1 << 25 { sticky = sticky || q & 1 != 0; q >>= 1; e += 1 }
        let guardBit = q & 1 != 0
        q >>= 1
        e += 1
        if guardBit && (sticky || q & 1 != 0) { q += 1 }
        if q == 1 << 24 { q = 1 << 23; e += 1 }
        if e > 104 { return Float.infinity.bitPattern }  // q · 2^e ≥ 2^128
        if q < 1 << 23 { return UInt32(q) }  // subnormal (e = −149) or zero
        return UInt32(e + 150) << 23 | UInt32(q & 0x7F_FFFF)
    }

    /// floor(n / (d · 2^e)) (below 2^26 for the exponents `nearestFloatBits` uses) and
    /// whether the division left a remainder.
    @inline(__always)
    static func scaledQuotient(_ n: UInt128, _ d: UInt128, _ e: Int) -> (UInt64, Bool) {
        if e >= 0 {
            let shifted = n >> e
            let (q, r) = divide(shifted, d)
            return (UInt64(q), r != 0 || shifted << e != n)
        }
        // Long division by d, taking as many of the −e appended zero bits per step as the
        // remainder's free high bits allow.
        var (q, r) = divide(n, d)
        var bits = -e
        while bits > 0 {
            if r == 0 { return (UInt64(q << bits), false) }
            let k = min(bits, r.leadingZeroBitCount)
            let (stepQ, stepR) = divide(r << k, d)
            q = q << k | stepQ
            r = stepR
            bits -= k
        }
        return (UInt64(q), r != 0)
    }

    /// (n / d, n mod d), with one hardware division when both fit 64 bits.
    @inline(__always)
    static func divide(_ n: UInt128, _ d: UInt128) -> (UInt128, UInt128) {
        if n >> 64 == 0 && d >> 64 == 0 {
            let a = UInt64(n), b = UInt64(d)
            return (UInt128(a / b), UInt128(a % b))
        }
        if d >> 64 == 0 && n >> 64 < d {
            let (q, r) = UInt64(d).dividingFullWidth((high: UInt64(n >> 64), low: UInt64(truncatingIfNeeded: n)))
            return (UInt128(q), UInt128(r))
        }
        return n.quotientAndRemainder(dividingBy: d)
    }

    // MARK: float32 → decimal

    /// The shortest fixed-point number that converts back to exactly `x` (the nearest to
    /// x's exact value when several have that length). NaN and infinities are refused;
    /// −0 becomes (0, 0).
    public static func number(_ x: Float) throws -> Number {
        try checkFinite(x)
        if x == 0 { return Number(value: 0, decimals: 0) }
        let (m, e) = binaryParts(x)
        return try shortest(x, e10: decimalExponent(x.bitPattern & 0x7FFF_FFFF), converter: float) { s in
            roundedScaled(m, e, s)
        }
    }

    /// floor(log10 x) for the positive finite float32 with bit pattern `bits`.
    @inline(__always)
    static func decimalExponent(_ bits: UInt32) -> Int {
        let binary = Int(bits >> 23) - 127  // floor(log2 x) for normal x; subnormals start below
        var k = min(max((binary * 78913) >> 18, -45), 38)  // ≈ floor(binary · log10 2)
        while k < 38 && bits >= powerOfTenThresholds[k + 46] { k += 1 }
        while bits < powerOfTenThresholds[k + 45] { k -= 1 }
        return k
    }

    /// m · 2^e · 10^s rounded half-even to an integer, for the s `shortest` asks (the
    /// result has at most 10 digits).
    @inline(__always)
    static func roundedScaled(_ m: UInt64, _ e: Int, _ s: Int) -> UInt64 {
        let t = e + s  // m · 2^e · 10^s = m · 5^s · 2^t
        if s >= 0 {
            let product = powersOfFive[s].multipliedFullWidth(by: UInt128(m))  // below 2^152
            if t >= 0 { return UInt64(product.low << t) }
            return roundedShift(high: product.high, low: product.low, by: -t)
        }
        // m · 2^t / 5^−s: the quotient is at least 1, so a shifted denominator stays below m.
        let num = t >= 0 ? UInt128(m) << t : UInt128(m)
        let den = t >= 0 ? powersOfFive[-s] : powersOfFive[-s] << -t
        let (q, r) = divide(num, den)
        let twice = r << 1
        return UInt64(q) + (twice > den || (twice == den && q & 1 == 1) ? 1 : 0)
    }

    /// (high · 2^128 + low) / 2^shift rounded half-even (shift ≥ 1; the result fits 64 bits).
    @inline(__always)
    static func roundedShift(high: UInt128, low: UInt128, by shift: Int) -> UInt64 {
        let g = shift - 1  // the guard bit's position
        let withGuard: UInt128, sticky: Bool
        if g >= 128 {
            withGuard = high >> (g - 128)
            sticky = low != 0 || high & ((1 << (g - 128)) - 1) != 0
        } else if g == 0 {
            withGuard = low
            sticky = false
        } else {
            withGuard = low >> g | high << (128 - g)
            sticky = low & ((1 << g) - 1) != 0
        }
        let q = UInt64(truncatingIfNeeded: withGuard >> 1)
        return q + (withGuard & 1 == 1 && (sticky || q & 1 == 1) ? 1 : 0)
    }
}
