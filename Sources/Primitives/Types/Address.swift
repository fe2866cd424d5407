/// A 20-byte account address: the last 20 bytes of keccak(uncompressed public key).
public struct Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The 20 bytes.
    public let bytes: [UInt8]

    /// The zero address.
    public static let zero = Address(unchecked: [UInt8](repeating: 0, count: 20))

    /// Hashes the bytes in one call (the synthesized conformance feeds them to the
    /// hasher one at a time, which showed up in block-import profiles).
    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    /// Equal when the bytes are.
    public static func == (a: Self, b: Self) -> Bool { a.bytes == b.bytes }

    /// Creates an address from exactly 20 bytes.
    public init(_ bytes: [UInt8]) throws {
        guard bytes.count == 20 else { throw PrimitivesError(.length, "address must be 20 bytes, got \(bytes.count)") }
        self.bytes = bytes
    }

    /// Parses `0x` + 40 hex digits. All-lowercase and all-uppercase digits are accepted
    /// as they are; mixed case must carry a valid EIP-55 checksum.
    public init(hex: String) throws {
        let raw = try Hex.decode(hex)
        guard raw.count == 20 else { throw PrimitivesError(.length, "address must be 20 bytes (40 hex digits), got \(raw.count)") }
        let digits = hex.utf8.dropFirst(2)
        let hasLower = digits.contains { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "f") }
        let hasUpper = digits.contains { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "F") }
        self.bytes = raw
        if hasLower && hasUpper && "0x" + String(decoding: digits, as: UTF8.self) != checksummed {
            throw PrimitivesError(.checksum, "address \(hex) has an invalid EIP-55 checksum")
        }
    }

    /// The address whose low byte is `index`: `0x…00NN`, the native-handler range.
    public init(lowByte index: UInt8) {
        var raw = [UInt8](repeating: 0, count: 20)
        raw[19] = index
        self.bytes = raw
    }

    init(unchecked bytes: [UInt8]) { self.bytes = bytes }

    /// `0x`-prefixed lowercase hex.
    public var hex: String { Hex.encode(bytes) }

    /// The EIP-55 mixed-case checksum form.
    public var checksummed: String {
        let lower = Array(Hex.encode(bytes[...], prefix: false).utf8)
        let hash = Keccak256.digest(lower)
        var out = [UInt8]("0x".utf8)
        for (i, c) in lower.enumerated() {
            let nibble = (i % 2 == 0) ? hash[i / 2] >> 4 : hash[i / 2] & 0x0F
            out.append(c >= UInt8(ascii: "a") && nibble >= 8 ? c - 32 : c)
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { checksummed }

    public static func < (lhs: Address, rhs: Address) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }
}
