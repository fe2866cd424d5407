import CKernels

/// The kernel's elementary functions (docs/determinism.md, "Elementary functions").
///
/// Every function of a float32 argument is evaluated in binary64 using only IEEE-754
/// operations that are correctly rounded on every platform (+ − × ÷ and sqrt, with
/// round-to-nearest-even), in the fixed order written here, and rounded once to
/// binary32 at the end. Nothing calls the platform's libm, so the result is the same
/// bits on every machine. Accuracy is well under one float32 ulp except where noted.
/// Swift never contracts `a * b + c` into an fma, so the order below is the order run.
public enum DeterministicMath {
    static let ln2Hi = 6.93147180369123816490e-01  // upper bits of ln 2 (k × ln2Hi is exact for |k| < 2^11)
    static let ln2Lo = 1.90821492927058770002e-10  // ln 2 − ln2Hi
    static let invLn2 = 1.44269504088896338700e+00
    static let ln2 = 0.69314718055994530942

    /// 2^k for an integer k in the binary64 normal range, built from its bits (exact).
    @inline(__always)
    static func pow2(_ k: Int) -> Double { Double(bitPattern: UInt64(k + 1023) << 52) }

    /// e^x in binary64 for any x. Cody–Waite reduction x = k·ln2 + r, |r| ≤ ln2/2, then
    /// the Taylor polynomial of degree 13 in r by Horner's rule, scaled by 2^k in two steps.
    public static func exp(_ x: Double) -> Double {
        if x.isNaN { return .nan }
        if x > 709.78 { return .infinity }
        if x < -745.2 { return 0 }
        // Round to the nearest integer (ties to even) by adding and removing 1.5·2^52:
        // exact for |x·invLn2| < 2^51, and two IEEE additions on every machine.
        let k = (x * invLn2 + 6755399441055744.0) - 6755399441055744.0
        let r = (x - k * ln2Hi) - k * ln2Lo
        var p = 1.0 / 6227020800.0  // 1/13!
        p = p * r + 1.0 / 479001600.0
        p = p * r + 1.0 / 39916800.0
        p = p * r + 1.0 / 3628800.0
        p = p * r + 1.0 / 362880.0
        p = p * r + 1.0 / 40320.0
        p = p * r + 1.0 / 5040.0
        p = p * r + 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        let ki = Int(k)
        // Split the scale so that neither factor leaves the normal range.
        let k1 = ki / 2, k2 = ki - k1
        return p * pow2(k1) * pow2(k2)
    }

    /// e^x − 1 in binary64, accurate for small |x|: the Taylor series below |x| < 0.5
    /// (22 terms, Horner), exp(x) − 1 above.
    public static func expm1(_ x: Double) -> Double {
        if x.isNaN { return .nan }
        guard abs(x) < 0.5 else { return exp(x) - 1 }
        var p = 0.0
        var n = 22
        while n >= 1 {  // p = x/n · (1 + p), from the innermost term out
            p = (1 + p) * x / Double(n)
            n -= 1
        }
        return p
    }

    /// Natural logarithm in binary64. x = m·2^e with m in [√½, √2); log m = 2·atanh(s),
    /// s = (m−1)/(m+1), by its odd series to s^27 (Horner in s²).
    public static func log(_ x: Double) -> Double {
        if x.isNaN || x < 0 { return .nan }
        if x == 0 { return -.infinity }
        if x == .infinity { return .infinity }
        var e = Int(x.exponent)
        var m = x.significand  // [1, 2), exact (subnormals are normalised by `exponent`)
        if m > 1.4142135623730951 { m = m * 0.5; e += 1 }
        let s = (m - 1) / (m + 1)
        let s2 = s * s
        var p = 1.0 / 27.0
        var n = 25.0
        while n >= 1 {
            p = p * s2 + 1.0 / n
            n -= 2
        }
        let logm = 2 * s * p
        return Double(e) * ln2Hi + (Double(e) * ln2Lo + logm)
    }

    /// log(1 + x) in binary64, accurate for small |x| (u = 1 + x; log(u) · x / (u − 1)).
    public static func log1p(_ x: Double) -> Double {
        if x.isNaN || x < -1 { return .nan }
        let u = 1 + x
        if u == 1 { return x }
        if u == .infinity { return .infinity }
        return log(u) * x / (u - 1)
    }

    /// erf in binary64. For |x| < 1, |x| · P(x²) with P of degree 11; for 1 ≤ |x| < 6,
    /// 1 − erfc(|x|) with erfc from `erfcOfMagnitude`; ±1 beyond. The sign of x is kept
    /// (erf(−0) = −0). Coefficients: tools/onnx/erf_coefficients.py.
    public static func erf(_ x: Double) -> Double {
        if x.isNaN { return .nan }
        let a = abs(x)
        let r = a < 1 ? a * horner(erfSmall, a * a) : 1 - erfcOfMagnitude(a)
        return x.sign == .minus ? -r : r
    }

    /// erfc(a) for a ≥ 0: 1 − a · P(a²) below 1; e^(−a²) · Q_i(a − m_i) on [1, 2), [2, 3),
    /// [3, 4), [4, 6) (Q = e^(a²) · erfc, Horner around each interval's centre m_i); 0 from 6
    /// on, where erfc(a) < 2.2·10⁻¹⁷.
    @inline(__always)
    static func erfcOfMagnitude(_ a: Double) -> Double {
        if a < 1 { return 1 - a * horner(erfSmall, a * a) }
        if a >= 6 { return 0 }
        let q: Double
        if a < 2 { q = horner(erfcTail1, a - 1.5) }
        else if a < 3 { q = horner(erfcTail2, a - 2.5) }
        else if a < 4 { q = horner(erfcTail3, a - 3.5) }
        else { q = horner(erfcTail4, a - 5) }
        return exp(-(a * a)) * q
    }

    /// Σ c_j u^j by Horner's rule from the highest coefficient down: p ← p · u + c_j.
    @inline(__always)
    static func horner(_ c: [Double], _ u: Double) -> Double {
        var p = c[c.count - 1]
        var j = c.count - 2
        while j >= 0 { p = p * u + c[j]; j -= 1 }
        return p
    }

    // erf's polynomials, kept in the C kernels (gelu.c) so that the fast GELU and this
    // reference read the same coefficients (tools/onnx/erf_coefficients.py prints them).
    static let erfSmall = erfPolynomial(0)
    static let erfcTail1 = erfPolynomial(1)  // [1, 2), centre 1.5
    static let erfcTail2 = erfPolynomial(2)  // [2, 3), centre 2.5
    static let erfcTail3 = erfPolynomial(3)  // [3, 4), centre 3.5
    static let erfcTail4 = erfPolynomial(4)  // [4, 6), centre 5

    static func erfPolynomial(_ piece: Int32) -> [Double] {
        var count = 0
        let coefficients = opg_erf_polynomial(piece, &count)!
        return Array(UnsafeBufferPointer(start: coefficients, count: count))
    }

    /// x^y in binary64 with C99 Annex F's special cases; otherwise exp(y · log|x|) with
    /// the sign of x for odd integer y. A negative x with non-integer y is NaN.
    public static func pow(_ x: Double, _ y: Double) -> Double {
        if y == 0 || x == 1 { return 1 }
        if x.isNaN || y.isNaN { return .nan }
        let yIsInteger = y.rounded(.towardZero) == y
        let yIsOdd = yIsInteger && abs(y) < 9007199254740992 && (y / 2).rounded(.towardZero) != y / 2
        if x == 0 {
            if y < 0 { return yIsOdd ? (x.sign == .minus ? -.infinity : .infinity) : .infinity }
            return yIsOdd ? x : 0
        }
        if x.isInfinite {
            if x > 0 { return y < 0 ? 0 : .infinity }
            if y < 0 { return yIsOdd ? -0.0 : 0 }
            return yIsOdd ? -.infinity : .infinity
        }
        if y.isInfinite {
            let ax = abs(x)
            if ax == 1 { return 1 }
            return (ax < 1) == (y < 0) ? .infinity : 0
        }
        if x < 0 && !yIsInteger { return .nan }
        let magnitude = exp(y * log(abs(x)))
        return x < 0 && yIsOdd ? -magnitude : magnitude
    }

    /// The inverse of erf on (−1, 1) in binary64 (±∞ at ±1, NaN outside): Winitzki's
    /// closed form (a = 0.147) as the start, then three Newton steps on `erf`.
    public static func erfinv(_ y: Double) -> Double {
        if y.isNaN || y < -1 || y > 1 { return .nan }
        if y == 1 { return .infinity }
        if y == -1 { return -.infinity }
        if y == 0 { return y }
        let a = 0.147
        let w = log((1 - y) * (1 + y))
        let t = 2 / (3.141592653589793 * a) + w / 2
        var x = (((t * t - w / a).squareRoot() - t).squareRoot())
        if y < 0 { x = -x }
        for _ in 0..<3 {
            x = x - (erf(x) - y) / (1.1283791670955126 * exp(-x * x))
        }
        return x
    }

    // MARK: float32 functions (each one binary64 evaluation, rounded once)

    /// The probit of a probability: √2 · erfinv(2p − 1).
    public static func probit(_ p: Float) -> Float { Float(1.4142135623730951 * erfinv(2 * Double(p) - 1)) }

    public static func exp(_ x: Float) -> Float { Float(exp(Double(x))) }
    public static func log(_ x: Float) -> Float { Float(log(Double(x))) }
    public static func erf(_ x: Float) -> Float { Float(erf(Double(x))) }
    public static func pow(_ x: Float, _ y: Float) -> Float { Float(pow(Double(x), Double(y))) }

    /// tanh in binary64, as the float32 version below (±1 beyond |x| > 20).
    public static func tanh(_ x: Double) -> Double {
        if x.isNaN { return x }
        let a = abs(x)
        if a > 20 { return x < 0 ? -1 : 1 }
        let t = expm1(2 * a)
        let r = t / (t + 2)
        return x < 0 ? -r : r
    }

    /// 1 / (1 + e^−x) in binary64.
    public static func sigmoid(_ x: Double) -> Double { x.isNaN ? x : 1 / (1 + exp(-x)) }

    /// log(1 + e^x) in binary64 (x itself above 40).
    public static func softplus(_ x: Double) -> Double { x.isNaN || x > 40 ? x : log1p(exp(x)) }

    /// tanh x = sign(x) · t / (t + 2) with t = expm1(2|x|); ±1 beyond |x| > 20.
    public static func tanh(_ x: Float) -> Float {
        if x.isNaN { return x }
        let a = abs(Double(x))
        if a > 20 { return x < 0 ? -1 : 1 }
        let t = expm1(2 * a)
        let r = t / (t + 2)
        return Float(x < 0 ? -r : r)
    }

    /// 1 / (1 + e^−x).
    public static func sigmoid(_ x: Float) -> Float {
        if x.isNaN { return x }
        return Float(1 / (1 + exp(-Double(x))))
    }

    /// log(1 + e^x): x itself above 40, else log1p(e^x).
    public static func softplus(_ x: Float) -> Float {
        if x.isNaN { return x }
        let d = Double(x)
        if d > 40 { return x }
        return Float(log1p(exp(d)))
    }

    /// e^x − 1.
    public static func expm1(_ x: Float) -> Float { Float(expm1(Double(x))) }

    /// GELU, exact form: x/2 · (1 + erf(x/√2)); tanh form: x/2 · (1 + tanh(√(2/π)·(x + 0.044715x³))).
    public static func gelu(_ x: Float, tanhApproximation: Bool) -> Float {
        if x.isNaN { return x }
        let d = Double(x)
        if tanhApproximation {
            let inner = 0.7978845608028654 * (d + 0.044715 * d * d * d)
            let a = abs(inner)
            var t = 1.0
            if a <= 20 { let e = expm1(2 * a); t = e / (e + 2) }
            if inner < 0 { t = -t }
            return Float(0.5 * d * (1 + t))
        }
        let z = d * 0.7071067811865476, a = abs(z)
        // 1 + erf(z) = erfc(−z): for z < 0 taken directly, without the cancellation. The
        // sign is a select after the shared polynomial, not a branch (inputs' signs are random).
        let onePlusErf: Double
        if a < 1 {
            let r = a * horner(erfSmall, a * a)
            onePlusErf = z < 0 ? 1 - r : 1 + r
        } else {
            let c = erfcOfMagnitude(a)
            onePlusErf = z < 0 ? c : 1 + (1 - c)
        }
        return Float(0.5 * d * onePlusErf)
    }
}
