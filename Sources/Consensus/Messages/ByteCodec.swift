import Crypto
import Primitives

/// Appends fixed-width big-endian fields (the encoding of sign bytes, messages and WAL records).
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(shift))) } }
    mutating func u64(_ v: UInt64) { for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) } }
    mutating func raw(_ v: [UInt8]) { bytes += v }
    /// A round that may be absent: `UInt32.max` stands for the paper's −1.
    mutating func optionalRound(_ r: UInt32?) { u32(r ?? UInt32.max) }
    /// A 32-byte hash that may be nil: a flag byte (0 nil, 1 present) and 32 bytes (zeros for nil).
    mutating func optionalHash(_ h: Hash32?) {
        u8(h == nil ? 0 : 1)
        raw(h?.bytes ?? [UInt8](repeating: 0, count: 32))
    }
    /// A signature as r ‖ s ‖ recovery id (65 bytes).
    mutating func signature(_ s: RecoverableSignature) { raw(s.r); raw(s.s); u8(s.recoveryID) }
    /// A length-prefixed byte string (u32 length).
    mutating func blob(_ v: [UInt8]) { u32(UInt32(v.count)); raw(v) }
}

/// Reads what ``ByteWriter`` writes, throwing ``ConsensusMessageError/truncated(needed:available:)`` at a short read.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var offset: Int

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, remaining >= n else { throw ConsensusMessageError.truncated(needed: n, available: remaining) }
        defer { offset += n }
        return bytes[offset..<offset + n]
    }
    mutating func u8() throws -> UInt8 { try take(1).first! }
    mutating func u32() throws -> UInt32 { try take(4).reduce(0) { $0 << 8 | UInt32($1) } }
    mutating func u64() throws -> UInt64 { try take(8).reduce(0) { $0 << 8 | UInt64($1) } }
    mutating func hash() throws -> Hash32 { try Hash32(Array(take(32))) }
    mutating func address() throws -> Address { try Address(Array(take(20))) }
    mutating func round() throws -> UInt32 {
        let r = try u32()
        guard r != UInt32.max else { throw ConsensusMessageError.roundOutOfRange(r) }
        return r
    }
    mutating func optionalRound() throws -> UInt32? {
        let r = try u32()
        return r == UInt32.max ? nil : r
    }
    mutating func optionalHash() throws -> Hash32? {
        let flag = try u8()
        let h = try hash()
        switch flag {
        case 0: return nil
        case 1: return h
        default: throw ConsensusMessageError.unknownKind(flag)
        }
    }
    mutating func signature() throws -> RecoverableSignature {
        let r = Array(try take(32)), s = Array(try take(32))
        return RecoverableSignature(r: r, s: s, recoveryID: try u8())
    }
    mutating func blob(max: Int) throws -> [UInt8] {
        let n = Int(try u32())
        guard n <= max else { throw ConsensusMessageError.payloadTooLarge(got: n, max: max) }
        return Array(try take(n))
    }
    func finish() throws {
        guard remaining == 0 else { throw ConsensusMessageError.trailingBytes(count: remaining) }
    }
}
