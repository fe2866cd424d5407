/// OpenGradient's on-chain number format: a tensor is a flat list of fixed-point pairs
/// `(value: int128, decimals: int128)`, each meaning value × 10^−decimals, plus a
/// `uint32[]` shape. These conversions are exact and use integers only
/// (docs/determinism.md, "Fixed-point numbers"):
///
/// - decimal → float32: the float nearest to the exact decimal value, ties to even;
///   beyond the float range ±infinity, below half the smallest subnormal ±0.
/// - float32 → decimal: the shortest decimal that converts back to the same float (the
///   one nearest the float's exact value when several have that length). `decimals` is
///   never negative unless the integer value of x does not fit an int128 (|x| ≥ 2^127);
///   then value carries the shortest digits and decimals is negative. NaN and
///   infinities have no fixed-point form; −0 becomes (0, 0).
@available(macOS 15, *)
public enum FixedPoint {
    /// One fixed-point number.
    public struct Number: Equatable, Sendable, CustomStringConvertible {
        public var value: Int128
        public var decimals: Int128
        public init(value: Int128, decimals: Int128) {
            self.value = value
            self.decimals = decimals
        }
        public var description: String { "(\(value), \(decimals))" }
    }

    public struct ConversionError: Error, Equatable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    // MARK: decimal → float32, reference

    /// The float32 nearest to value × 10^−decimals (ties to even), computed with
    /// arbitrary-precision integers: the definition the fast path (`float`,
    /// FixedPointFast.swift) must match bit for bit, and its fallback for decimals beyond
    /// its fixed-width range.
    static func referenceFloat(_ n: Number) -> Float {
        if n.value == 0 { return 0 }
        let negative = n.value < 0
        let magnitude = n.value.magnitude
        let result: Float
        if n.decimals > 100 {
            result = 0  // |value| < 2^127 < 10^39, so the value is below 10^−61: rounds to 0
        } else if n.decimals < -40 {
            result = .infinity  // at least 10^40 > Float.greatestFiniteMagnitude
        } else {
            let d = Int(n.decimals)
            var numerator = BigUInt(magnitude), denominator = BigUInt(1)
            if d >= 0 { denominator = BigUInt.power(of: 10, d) } else { numerator = numerator.multiplied(by: BigUInt.power(of: 10, -d)) }
            result = nearestFloat(numerator, denominator)
        }
        return negative ? -result : result
    }

    /// The float32 nearest to N / D (N, D > 0), ties to even.
    static func nearestFloat(_ n: BigUInt, _ d: BigUInt) -> Float {
        // Choose the binary exponent e so that q = floor(N / (D·2^e)) has 24 bits.
        var e = n.bitWidth - d.bitWidth - 24
        func quotient(_ e: Int) -> (q: UInt64, remainderTwice: BigUInt, divisor: BigUInt) {
            let num = e < 0 ? n.shifted(left: -e) : n
            let den = e > 0 ? d.shifted(left: e) : d
            let (q, r) = num.divided(bySmallQuotient: den)
            return (q, r.shifted(left: 1), den)
        }
        var (q, r2, den) = quotient(e)
        while q >= 1 << 24 { e += 1; (q, r2, den) = quotient(e) }
        while q < 1 << 23 && e > -149 { e -= 1; (q, r2, den) = quotient(e) }
        if e < -149 { e = -149; (q, r2, den) = quotient(e) }  // subnormal: fewer significant bits
        // Round half to even.
        let c = r2.compare(den)
        if c > 0 || (c == 0 && q & 1 == 1) { q += 1 }
        if q == 1 << 24 { q = 1 << 23; e += 1 }
        if e > 104 { return .infinity }  // q·2^e ≥ 2^128
        return Float(sign: .plus, exponent: e, significand: Float(q))
    }

    // MARK: float32 → decimal, reference

    /// The shortest fixed-point number that converts back to exactly `x`, computed with
    /// arbitrary-precision integers: the definition the fast path (`number`) must match.
    static func referenceNumber(_ x: Float) throws -> Number {
        try checkFinite(x)
        if x == 0 { return Number(value: 0, decimals: 0) }
        let (m, e) = binaryParts(x)
        let exactN = e >= 0 ? BigUInt(UInt128(m)).shifted(left: e) : BigUInt(UInt128(m))
        let exactD = e < 0 ? BigUInt(1).shifted(left: -e) : BigUInt(1)
        // E10 = floor(log10 |x|): estimate from the bit length, then correct exactly.
        var e10 = ((exactN.bitWidth - exactD.bitWidth) * 78913) >> 18  // ≈ bits · log10(2)
        while !isAtLeastPowerOfTen(exactN, exactD, e10) { e10 -= 1 }
        while isAtLeastPowerOfTen(exactN, exactD, e10 + 1) { e10 += 1 }
        return try shortest(x, e10: e10, converter: referenceFloat) { s in
            // |x| · 10^s rounded half-even to an integer.
            var num = exactN, den = exactD
            if s >= 0 { num = num.multiplied(by: BigUInt.power(of: 10, s)) } else { den = den.multiplied(by: BigUInt.power(of: 10, -s)) }
            var (q, r) = num.divided(bySmallQuotient: den)
            let c = r.shifted(left: 1).compare(den)
            if c > 0 || (c == 0 && q & 1 == 1) { q += 1 }
            return q
        }
    }

    /// Refuses NaN and the infinities, which have no fixed-point form.
    static func checkFinite(_ x: Float) throws {
        guard x.isFinite else { throw ConversionError(message: "\(x) has no fixed-point form (only finite numbers do)") }
    }

    /// x = ±m · 2^e exactly, m an integer below 2^24.
    static func binaryParts(_ x: Float) -> (m: UInt64, e: Int) {
        let m = UInt64(x.significandBitPattern) | (x.exponentBitPattern == 0 ? 0 : 1 << 23)
        let e = (x.exponentBitPattern == 0 ? -126 : Int(x.exponentBitPattern) - 127) - 23
        return (m, e)
    }

    /// Whether exactN / exactD ≥ 10^k.
    static func isAtLeastPowerOfTen(_ exactN: BigUInt, _ exactD: BigUInt, _ k: Int) -> Bool {
        k >= 0 ? exactN.compare(exactD.multiplied(by: BigUInt.power(of: 10, k))) >= 0
               : exactN.multiplied(by: BigUInt.power(of: 10, -k)).compare(exactD) >= 0
    }

    /// The rule both paths share: for 1, 2, … 9 significant digits, |x| rounded half-even
    /// to that many digits (`rounded(s)` = |x| · 10^s rounded half-even, s = digits − 1 −
    /// e10, e10 = floor(log10 |x|)); the first that `converter` takes back to exactly x,
    /// trailing zeros stripped.
    @inline(__always)
    static func shortest(_ x: Float, e10: Int, converter: (Number) -> Float, rounded: (Int) -> UInt64) throws -> Number {
        for digits in 1...9 {
            let s = digits - 1 - e10
            var decimals = s
            var value = UInt128(rounded(s))
            if value == power10(digits) { value /= 10; decimals -= 1 }
            // Prefer decimals = 0 over negative decimals when the integer fits an int128.
            if decimals < 0 {
                var scaled = value, d = decimals
                while d < 0 && scaled <= UInt128(Int128.max) / 10 { scaled *= 10; d += 1 }
                if d == 0 { value = scaled; decimals = 0 }
            }
            let candidate = Number(value: x < 0 ? -Int128(value) : Int128(value), decimals: Int128(decimals))
            if converter(candidate).bitPattern == x.bitPattern { return strip(candidate) }
        }
        throw ConversionError(message: "no decimal of at most 9 digits converts back to \(x)")  // unreachable: 9 digits always suffice
    }

    /// Removes trailing zeros of value while decimals stays ≥ 0.
    static func strip(_ n: Number) -> Number {
        var v = n.value, d = n.decimals
        while d > 0 && v % 10 == 0 && v != 0 { v /= 10; d -= 1 }
        return Number(value: v, decimals: d)
    }

    static func power10(_ k: Int) -> UInt128 {
        var p: UInt128 = 1
        for _ in 0..<k { p *= 10 }
        return p
    }

    // MARK: tensors

    /// A float32 tensor from OpenGradient's flat fixed-point values and uint32 shape.
    public static func tensor(_ values: [Number], shape: [UInt32], name: String = "") throws -> Tensor {
        let count = shape.reduce(UInt64(1)) { $0.multipliedReportingOverflow(by: UInt64($1)).overflow ? .max : $0 * UInt64($1) }
        guard count <= UInt64(ModelReader.maxTensorElements) else {
            throw ConversionError(message: "shape \(shape) has more than \(ModelReader.maxTensorElements) elements")
        }
        guard count == UInt64(values.count) else {
            throw ConversionError(message: "shape \(shape) needs \(count) values, \(values.count) given")
        }
        return Tensor(name: name, elementType: .float, shape: shape.map { Int($0) }, storage: .float(values.map(float)))
    }

    /// OpenGradient's form of a float32 tensor: fixed-point values and uint32 shape.
    public static func numbers(_ t: Tensor) throws -> (values: [Number], shape: [UInt32]) {
        guard case .float(let v) = t.storage else { throw ConversionError(message: "only FLOAT tensors convert to fixed point, got \(t.elementType)") }
        guard t.shape.allSatisfy({ $0 >= 0 && $0 <= Int(UInt32.max) }) else { throw ConversionError(message: "shape \(t.shape) does not fit uint32") }
        return (try v.map(number), t.shape.map { UInt32($0) })
    }
}

/// A small arbitrary-precision unsigned integer (little-endian 32-bit limbs), just what the
/// exact conversions need: multiply, shift, compare, subtract, and division whose
/// quotient fits 64 bits.
@available(macOS 15, *)
struct BigUInt {
    var limbs: [UInt32]  // no trailing zero limbs; [] is 0

    init(_ v: UInt128) {
        var x = v
        limbs = []
        while x != 0 { limbs.append(UInt32(truncatingIfNeeded: x)); x >>= 32 }
    }

    init(limbs: [UInt32]) {
        self.limbs = limbs
        while self.limbs.last == 0 { self.limbs.removeLast() }
    }

    var bitWidth: Int { limbs.isEmpty ? 0 : limbs.count * 32 - limbs.last!.leadingZeroBitCount }

    static func power(of base: UInt32, _ k: Int) -> BigUInt {
        var r = BigUInt(1)
        for _ in 0..<k { r = r.multiplied(bySmall: base) }
        return r
    }

    func multiplied(bySmall m: UInt32) -> BigUInt {
        var out: [UInt32] = []
        out.reserveCapacity(limbs.count + 1)
        var carry: UInt64 = 0
        for l in limbs {
            let p = UInt64(l) * UInt64(m) + carry
            out.append(UInt32(truncatingIfNeeded: p))
            carry = p >> 32
        }
        if carry != 0 { out.append(UInt32(carry)) }
        return BigUInt(limbs: out)
    }

    func multiplied(by other: BigUInt) -> BigUInt {
        guard !limbs.isEmpty, !other.limbs.isEmpty else { return BigUInt(0) }
        var out = [UInt32](repeating: 0, count: limbs.count + other.limbs.count)
        for (i, a) in limbs.enumerated() {
            var carry: UInt64 = 0
            for (j, b) in other.limbs.enumerated() {
                let t = UInt64(a) * UInt64(b) + UInt64(out[i + j]) + carry
                out[i + j] = UInt32(truncatingIfNeeded: t)
                carry = t >> 32
            }
            var k = i + other.limbs.count
            while carry != 0 {
                let t = UInt64(out[k]) + carry
                out[k] = UInt32(truncatingIfNeeded: t)
                carry = t >> 32
                k += 1
            }
        }
        return BigUInt(limbs: out)
    }

    func shifted(left bits: Int) -> BigUInt {
        guard !limbs.isEmpty, bits > 0 else { return self }
        let words = bits / 32, shift = UInt32(bits % 32)
        var out = [UInt32](repeating: 0, count: words)
        var carry: UInt32 = 0
        for l in limbs {
            out.append(shift == 0 ? l : (l << shift) | carry)
            carry = shift == 0 ? 0 : l >> (32 - shift)
        }
        if carry != 0 { out.append(carry) }
        return BigUInt(limbs: out)
    }

    /// −1, 0 or 1.
    func compare(_ o: BigUInt) -> Int {
        if limbs.count != o.limbs.count { return limbs.count < o.limbs.count ? -1 : 1 }
        for i in stride(from: limbs.count - 1, through: 0, by: -1) where limbs[i] != o.limbs[i] {
            return limbs[i] < o.limbs[i] ? -1 : 1
        }
        return 0
    }

    /// self − o, for self ≥ o.
    func subtracting(_ o: BigUInt) -> BigUInt {
        var out = limbs
        var borrow: Int64 = 0
        for i in 0..<out.count {
            var t = Int64(out[i]) - borrow - (i < o.limbs.count ? Int64(o.limbs[i]) : 0)
            borrow = 0
            if t < 0 { t += 1 << 32; borrow = 1 }
            out[i] = UInt32(t)
        }
        return BigUInt(limbs: out)
    }

    /// (floor(self / d), self mod d) by binary long division; the quotient must fit 64 bits.
    func divided(bySmallQuotient d: BigUInt) -> (UInt64, BigUInt) {
        var q: UInt64 = 0
        var r = self
        let top = max(0, min(63, bitWidth - d.bitWidth + 1))
        for bit in stride(from: top, through: 0, by: -1) {
            let shifted = d.shifted(left: bit)
            if r.compare(shifted) >= 0 {
                r = r.subtracting(shifted)
                q |= 1 << UInt64(bit)
            }
        }
        return (q, r)
    }
}
