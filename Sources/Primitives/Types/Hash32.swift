/// A 32-byte hash (Keccak-256 digests, block and transaction hashes, trie roots, storage slots).
public struct Hash32: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The 32 bytes, big-endian as written in hex.
    public let bytes: [UInt8]

    /// The all-zero hash.
    public static let zero = Hash32(unchecked: [UInt8](repeating: 0, count: 32))

    /// Hashes the bytes in one call (the synthesized conformance feeds them to the
    /// hasher one at a time, which showed up in block-import profiles).
    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    /// Equal when the bytes are.
    public static func == (a: Self, b: Self) -> Bool { a.bytes == b.bytes }

    /// Creates a hash from exactly 32 bytes.
    public init(_ bytes: [UInt8]) throws {
        guard bytes.count == 32 else { throw PrimitivesError(.length, "hash must be 32 bytes, got \(bytes.count)") }
        self.bytes = bytes
    }

    /// Creates a hash from `0x`-prefixed hex with exactly 64 digits.
    public init(hex: String) throws {
        try self.init(Hex.decode(hex))
    }

    init(unchecked bytes: [UInt8]) { self.bytes = bytes }

    /// `0x`-prefixed lowercase hex.
    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }

    public static func < (lhs: Hash32, rhs: Hash32) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }
}

extension Hash32 {
    /// `value` as a 32-byte big-endian word (storage slots and values, ABI words).
    public init(word value: UInt256) { self.init(unchecked: value.bigEndianBytes32) }

    /// The storage slot numbered `index`.
    public static func slot(_ index: UInt64) -> Hash32 { Hash32(word: UInt256(index)) }
}

extension UInt256 {
    /// The 32-byte big-endian word `hash` read as an integer.
    public init(word hash: Hash32) {
        self = hash.bytes.withUnsafeBufferPointer { UInt256(bigEndianBuffer: $0) }
    }
}

extension Hash32 {
    /// `address` left-padded to a 32-byte word (ABI words, indexed event topics).
    public init(word address: Address) { self.init(unchecked: [UInt8](repeating: 0, count: 12) + address.bytes) }
}

extension Address {
    /// The low 20 bytes of a 32-byte word.
    public init(word: Hash32) { self.init(unchecked: Array(word.bytes[12...])) }
}

extension UInt256 {
    /// Bitwise or.
    public static func | (a: UInt256, b: UInt256) -> UInt256 {
        UInt256(limbs: (a.limbs.0 | b.limbs.0, a.limbs.1 | b.limbs.1, a.limbs.2 | b.limbs.2, a.limbs.3 | b.limbs.3))
    }

    /// Bitwise and.
    public static func & (a: UInt256, b: UInt256) -> UInt256 {
        UInt256(limbs: (a.limbs.0 & b.limbs.0, a.limbs.1 & b.limbs.1, a.limbs.2 & b.limbs.2, a.limbs.3 & b.limbs.3))
    }
}
