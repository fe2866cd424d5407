extension UInt256 {
    /// Returns `self + other` and whether the true sum overflowed 256 bits.
    public func addingReportingOverflow(_ other: UInt256) -> (partialValue: UInt256, overflow: Bool) {
        let (a, b) = (limbs, other.limbs)
        let (s0, c0) = a.0.addingReportingOverflow(b.0)
        let (s1, c1) = Self.add(a.1, b.1, carry: c0)
        let (s2, c2) = Self.add(a.2, b.2, carry: c1)
        let (s3, c3) = Self.add(a.3, b.3, carry: c2)
        return (UInt256(limbs: (s0, s1, s2, s3)), c3)
    }

    /// Returns `self − other` and whether the true difference was negative.
    public func subtractingReportingOverflow(_ other: UInt256) -> (partialValue: UInt256, overflow: Bool) {
        let (a, b) = (limbs, other.limbs)
        let (d0, b0) = a.0.subtractingReportingOverflow(b.0)
        let (d1, b1) = Self.subtract(a.1, b.1, borrow: b0)
        let (d2, b2) = Self.subtract(a.2, b.2, borrow: b1)
        let (d3, b3) = Self.subtract(a.3, b.3, borrow: b2)
        return (UInt256(limbs: (d0, d1, d2, d3)), b3)
    }

    @inline(__always)
    private static func add(_ x: UInt64, _ y: UInt64, carry: Bool) -> (UInt64, Bool) {
        let (s1, o1) = x.addingReportingOverflow(y)
        let (s2, o2) = s1.addingReportingOverflow(carry ? 1 : 0)
        return (s2, o1 || o2)
    }

    @inline(__always)
    private static func subtract(_ x: UInt64, _ y: UInt64, borrow: Bool) -> (UInt64, Bool) {
        let (d1, o1) = x.subtractingReportingOverflow(y)
        let (d2, o2) = d1.subtractingReportingOverflow(borrow ? 1 : 0)
        return (d2, o1 || o2)
    }

    /// Returns the low 256 bits of `self × other` and whether the product overflowed.
    public func multipliedReportingOverflow(by other: UInt256) -> (partialValue: UInt256, overflow: Bool) {
        // Fees and values: both factors usually fit one limb.
        if limbs.1 | limbs.2 | limbs.3 | other.limbs.1 | other.limbs.2 | other.limbs.3 == 0 {
            let (hi, lo) = limbs.0.multipliedFullWidth(by: other.limbs.0)
            return (UInt256(limbs: (lo, hi, 0, 0)), false)
        }
        let a = words, b = other.words
        var out = [UInt64](repeating: 0, count: 8)
        for i in 0..<4 where a[i] != 0 {
            var carry: UInt64 = 0
            for j in 0..<4 {
                let (hi, lo) = a[i].multipliedFullWidth(by: b[j])
                let (s1, o1) = out[i + j].addingReportingOverflow(lo)
                let (s2, o2) = s1.addingReportingOverflow(carry)
                out[i + j] = s2
                carry = hi &+ (o1 ? 1 : 0) &+ (o2 ? 1 : 0)
            }
            out[i + 4] = carry
        }
        let overflow = out[4] | out[5] | out[6] | out[7] != 0
        return (UInt256(words: Array(out[0..<4])), overflow)
    }

    /// Returns quotient and remainder of division by a non-zero 64-bit divisor.
    public func quotientAndRemainder(dividingBy divisor: UInt64) -> (quotient: UInt256, remainder: UInt64) {
        precondition(divisor != 0, "division by zero")
        let a = words
        var q = [UInt64](repeating: 0, count: 4)
        var rem: UInt64 = 0
        for i in stride(from: 3, through: 0, by: -1) {
            let (qq, rr) = divisor.dividingFullWidth((high: rem, low: a[i]))
            q[i] = qq
            rem = rr
        }
        return (UInt256(words: q), rem)
    }

    /// Returns quotient and remainder of division by a non-zero divisor.
    public func quotientAndRemainder(dividingBy divisor: UInt256) -> (quotient: UInt256, remainder: UInt256) {
        precondition(!divisor.isZero, "division by zero")
        if let d = divisor.uint64 {
            let (q, r) = quotientAndRemainder(dividingBy: d)
            return (q, UInt256(r))
        }
        if self < divisor { return (.zero, self) }
        var quotient = UInt256.zero
        var remainder = UInt256.zero
        for bit in stride(from: bitWidth - 1, through: 0, by: -1) {
            remainder = remainder << 1
            if self.bit(bit) { remainder.limbs.0 |= 1 }
            if remainder >= divisor {
                remainder = remainder - divisor
                quotient.setBit(bit)
            }
        }
        return (quotient, remainder)
    }

    /// True when bit `index` (0 = least significant) is set.
    public func bit(_ index: Int) -> Bool { (words[index / 64] >> UInt64(index % 64)) & 1 == 1 }

    mutating func setBit(_ index: Int) {
        var w = words
        w[index / 64] |= 1 << UInt64(index % 64)
        self = UInt256(words: w)
    }

    /// Sum; traps on overflow.
    public static func + (a: UInt256, b: UInt256) -> UInt256 {
        let (v, o) = a.addingReportingOverflow(b)
        precondition(!o, "UInt256 addition overflow")
        return v
    }

    /// Difference; traps when negative.
    public static func - (a: UInt256, b: UInt256) -> UInt256 {
        let (v, o) = a.subtractingReportingOverflow(b)
        precondition(!o, "UInt256 subtraction underflow")
        return v
    }

    /// Product; traps on overflow.
    public static func * (a: UInt256, b: UInt256) -> UInt256 {
        let (v, o) = a.multipliedReportingOverflow(by: b)
        precondition(!o, "UInt256 multiplication overflow")
        return v
    }

    /// Quotient; traps on division by zero.
    public static func / (a: UInt256, b: UInt256) -> UInt256 { a.quotientAndRemainder(dividingBy: b).quotient }

    /// Remainder; traps on division by zero.
    public static func % (a: UInt256, b: UInt256) -> UInt256 { a.quotientAndRemainder(dividingBy: b).remainder }

    public static func += (a: inout UInt256, b: UInt256) { a = a + b }
    public static func -= (a: inout UInt256, b: UInt256) { a = a - b }

    /// Sum, or an error when it exceeds 2^256 − 1.
    public func checkedAdding(_ other: UInt256) throws -> UInt256 {
        let (v, o) = addingReportingOverflow(other)
        if o { throw PrimitivesError(.integer, "256-bit addition overflows") }
        return v
    }

    /// Difference, or an error when it would be negative.
    public func checkedSubtracting(_ other: UInt256) throws -> UInt256 {
        let (v, o) = subtractingReportingOverflow(other)
        if o { throw PrimitivesError(.integer, "256-bit subtraction underflows") }
        return v
    }

    /// Product, or an error when it exceeds 2^256 − 1.
    public func checkedMultiplying(_ other: UInt256) throws -> UInt256 {
        let (v, o) = multipliedReportingOverflow(by: other)
        if o { throw PrimitivesError(.integer, "256-bit multiplication overflows") }
        return v
    }

    /// Left shift by `n` bits (bits shifted past 255 are dropped).
    public static func << (a: UInt256, n: Int) -> UInt256 {
        guard n > 0 else { return a }
        guard n < 256 else { return .zero }
        let w = a.words
        var out = [UInt64](repeating: 0, count: 4)
        let limbShift = n / 64, bitShift = UInt64(n % 64)
        for i in stride(from: 3, through: limbShift, by: -1) {
            out[i] = w[i - limbShift] << bitShift
            if bitShift > 0 && i - limbShift - 1 >= 0 { out[i] |= w[i - limbShift - 1] >> (64 - bitShift) }
        }
        return UInt256(words: out)
    }

    /// Right shift by `n` bits.
    public static func >> (a: UInt256, n: Int) -> UInt256 {
        guard n > 0 else { return a }
        guard n < 256 else { return .zero }
        let w = a.words
        var out = [UInt64](repeating: 0, count: 4)
        let limbShift = n / 64, bitShift = UInt64(n % 64)
        for i in 0..<(4 - limbShift) {
            out[i] = w[i + limbShift] >> bitShift
            if bitShift > 0 && i + limbShift + 1 < 4 { out[i] |= w[i + limbShift + 1] << (64 - bitShift) }
        }
        return UInt256(words: out)
    }
}
