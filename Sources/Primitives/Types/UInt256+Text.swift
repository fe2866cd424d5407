extension UInt256: CustomStringConvertible {
    /// Parses a base-10 string of digits only (no sign, no separators).
    public init(decimal text: String) throws {
        guard !text.isEmpty else { throw PrimitivesError(.integer, "empty decimal integer") }
        var value = UInt256.zero
        for c in text.utf8 {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else {
                throw PrimitivesError(.integer, "invalid decimal digit in \(text)")
            }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt256(UInt64(c - UInt8(ascii: "0"))))
            guard !o1, !o2 else { throw PrimitivesError(.integer, "decimal integer \(text) does not fit 256 bits") }
            value = s
        }
        self = value
    }

    /// Parses a JSON-RPC quantity (`0x…`, no leading zeros, at most 64 digits).
    public init(hexQuantity text: String) throws {
        let digits = try Hex.quantityDigits(text)
        guard digits.count <= 64 else { throw PrimitivesError(.integer, "quantity \(text) does not fit 256 bits") }
        var value = UInt256.zero
        for d in digits { value = (value << 4) + UInt256(UInt64(try Hex.nibble(d))) }
        self = value
    }

    /// The JSON-RPC quantity form: `0x0`, `0x1bc16d674ec80000`.
    public var hexQuantity: String {
        if isZero { return "0x0" }
        let text = Hex.encode(minimalBigEndianBytes[...], prefix: false)
        return "0x" + (text.hasPrefix("0") ? String(text.dropFirst()) : text)
    }

    /// Base-10 digits.
    public var description: String {
        if isZero { return "0" }
        var chunks: [UInt64] = []
        var rest = self
        let base: UInt64 = 10_000_000_000_000_000_000
        while !rest.isZero {
            let (q, r) = rest.quotientAndRemainder(dividingBy: base)
            chunks.append(r)
            rest = q
        }
        var text = String(chunks.removeLast())
        for chunk in chunks.reversed() {
            let digits = String(chunk)
            text += String(repeating: "0", count: 19 - digits.count) + digits
        }
        return text
    }
}
