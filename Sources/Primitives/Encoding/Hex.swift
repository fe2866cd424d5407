/// Hex text as the Ethereum JSON-RPC spec writes it: `data` is `0x` plus two digits per
/// byte; a `quantity` is `0x` plus the shortest digits (`0x0` for zero, no leading zeros).
public enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Encodes `bytes` as `0x`-prefixed lowercase hex (JSON-RPC `data`).
    public static func encode(_ bytes: [UInt8]) -> String {
        encode(bytes[...], prefix: true)
    }

    /// Encodes `bytes` as lowercase hex, with the `0x` prefix when `prefix` is true.
    public static func encode<C: Collection>(_ bytes: C, prefix: Bool) -> String where C.Element == UInt8 {
        let count = bytes.count * 2 + (prefix ? 2 : 0)
        return String(unsafeUninitializedCapacity: count) { out in
            var i = 0
            if prefix { out[0] = UInt8(ascii: "0"); out[1] = UInt8(ascii: "x"); i = 2 }
            for b in bytes {
                out[i] = digits[Int(b >> 4)]
                out[i + 1] = digits[Int(b & 0x0F)]
                i += 2
            }
            return count
        }
    }

    /// Encodes `value` as a JSON-RPC quantity: `0x0`, `0x1`, `0x400`.
    public static func quantity(_ value: UInt64) -> String {
        "0x" + String(value, radix: 16)
    }

    /// Decodes `0x`-prefixed hex with an even number of digits (JSON-RPC `data`).
    /// `0x` alone is the empty byte string.
    public static func decode(_ text: String) throws -> [UInt8] {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 2, utf8[0] == UInt8(ascii: "0"), utf8[1] == UInt8(ascii: "x") || utf8[1] == UInt8(ascii: "X") else {
            throw PrimitivesError(.hex, "hex string must start with 0x")
        }
        return try decodeDigits(utf8[2...])
    }

    /// Decodes hex digits with an optional `0x` prefix (lenient form for CLI input).
    public static func decodeLenient(_ text: String) throws -> [UInt8] {
        let utf8 = Array(text.utf8)
        if utf8.count >= 2, utf8[0] == UInt8(ascii: "0"), utf8[1] == UInt8(ascii: "x") || utf8[1] == UInt8(ascii: "X") {
            return try decodeDigits(utf8[2...])
        }
        return try decodeDigits(utf8[...])
    }

    /// Decodes a JSON-RPC quantity into a `UInt64`, enforcing `0x` and no leading zeros.
    public static func decodeQuantity(_ text: String) throws -> UInt64 {
        let digits = try quantityDigits(text)
        guard digits.count <= 16 else { throw PrimitivesError(.integer, "quantity \(text) does not fit 64 bits") }
        var value: UInt64 = 0
        for d in digits { value = value << 4 | UInt64(try nibble(d)) }
        return value
    }

    /// Returns the digits of a well-formed quantity (`0x`, at least one digit, no leading zero).
    static func quantityDigits(_ text: String) throws -> ArraySlice<UInt8> {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 2, utf8[0] == UInt8(ascii: "0"), utf8[1] == UInt8(ascii: "x") || utf8[1] == UInt8(ascii: "X") else {
            throw PrimitivesError(.hex, "hex quantity must start with 0x")
        }
        let digits = utf8[2...]
        guard !digits.isEmpty else { throw PrimitivesError(.hex, "hex quantity 0x has no digits") }
        guard digits.count == 1 || digits.first != UInt8(ascii: "0") else {
            throw PrimitivesError(.hex, "hex quantity \(text) has leading zero digits")
        }
        for d in digits { _ = try nibble(d) }
        return digits
    }

    static func decodeDigits(_ digits: ArraySlice<UInt8>) throws -> [UInt8] {
        guard digits.count % 2 == 0 else { throw PrimitivesError(.hex, "hex data has an odd number of digits") }
        var out = [UInt8]()
        out.reserveCapacity(digits.count / 2)
        var i = digits.startIndex
        while i < digits.endIndex {
            out.append(try nibble(digits[i]) << 4 | nibble(digits[i + 1]))
            i += 2
        }
        return out
    }

    @inline(__always)
    static func nibble(_ c: UInt8) throws -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: throw PrimitivesError(.hex, "invalid hex digit '\(Character(Unicode.Scalar(c)))'")
        }
    }
}
