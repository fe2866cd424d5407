/// A decoded RLP value: a byte string or a list of values.
public enum RLPItem: Equatable, Sendable {
    /// A byte string.
    case bytes([UInt8])
    /// A list of items.
    case list([RLPItem])

    /// The empty byte string (`0x80`), RLP's zero.
    public static let empty = RLPItem.bytes([])

    /// An unsigned integer as its minimal big-endian bytes.
    public static func uint(_ value: UInt64) -> RLPItem {
        let length = (64 - value.leadingZeroBitCount + 7) / 8
        return .bytes([UInt8](unsafeUninitializedCapacity: length) { out, count in
            for i in 0..<length { out[i] = UInt8(truncatingIfNeeded: value &>> UInt64(8 * (length - 1 - i))) }
            count = length
        })
    }

    /// An unsigned 256-bit integer as its minimal big-endian bytes.
    public static func uint(_ value: UInt256) -> RLPItem { .bytes(value.minimalBigEndianBytes) }

    /// The byte string, or an error naming `field` when this is a list.
    public func bytes(_ field: String = "value") throws -> [UInt8] {
        guard case .bytes(let b) = self else { throw PrimitivesError(.rlp, "\(field) must be an RLP string, got a list") }
        return b
    }

    /// The list items, or an error naming `field` when this is a byte string.
    public func list(_ field: String = "value") throws -> [RLPItem] {
        guard case .list(let l) = self else { throw PrimitivesError(.rlp, "\(field) must be an RLP list, got a string") }
        return l
    }

    /// The canonical unsigned integer (no leading zero bytes) in 64 bits.
    public func uint64(_ field: String = "value") throws -> UInt64 {
        let b = try canonicalIntegerBytes(field)
        guard b.count <= 8 else { throw PrimitivesError(.integer, "\(field) exceeds 2^64-1") }
        return b.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The canonical unsigned integer (no leading zero bytes) in 256 bits.
    public func uint256(_ field: String = "value") throws -> UInt256 {
        try UInt256(bigEndian: uint256Bytes(field))
    }

    /// The minimal big-endian bytes of a canonical unsigned integer of at most 256 bits
    /// (what `uint256` checks, without converting: signature r and s).
    public func uint256Bytes(_ field: String = "value") throws -> [UInt8] {
        let b = try canonicalIntegerBytes(field)
        guard b.count <= 32 else { throw PrimitivesError(.integer, "\(field) exceeds 2^256-1") }
        return b
    }

    private func canonicalIntegerBytes(_ field: String) throws -> [UInt8] {
        let b = try bytes(field)
        if b.first == 0 { throw PrimitivesError(.integer, "\(field) has leading zero bytes (non-canonical integer)") }
        return b
    }
}
