/// Appends the fixed-width big-endian fields of the mempool and blocks channels' messages
/// (docs/p2p.md, "Block sync" and "Mempool gossip").
struct SyncWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    mutating func u16(_ v: UInt16) { bytes += [UInt8(v >> 8), UInt8(truncatingIfNeeded: v)] }
    mutating func u32(_ v: UInt32) { for shift in [24, 16, 8, 0] as [UInt32] { bytes.append(UInt8(truncatingIfNeeded: v >> shift)) } }
    mutating func u64(_ v: UInt64) { for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) } }
    mutating func raw(_ v: [UInt8]) { bytes += v }
    /// A byte string with a 4-byte length in front.
    mutating func lengthPrefixed(_ v: [UInt8]) {
        u32(UInt32(v.count))
        raw(v)
    }
}

/// Reads what `SyncWriter` writes; every short read or cap throws a `SyncMessageError` that
/// names the channel and the field.
struct SyncReader {
    private let bytes: [UInt8]
    private let channel: String
    private var offset = 0

    init(_ bytes: [UInt8], channel: String) {
        self.bytes = bytes
        self.channel = channel
    }

    var remaining: Int { bytes.count - offset }

    mutating func take(_ n: Int, _ field: String) throws -> [UInt8] {
        guard remaining >= n else { throw SyncMessageError.truncated(channel, field: field, needed: n, available: remaining) }
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }
    mutating func u16(_ field: String) throws -> UInt16 { try take(2, field).reduce(0) { $0 << 8 | UInt16($1) } }
    mutating func u32(_ field: String) throws -> UInt32 { try take(4, field).reduce(0) { $0 << 8 | UInt32($1) } }
    mutating func u64(_ field: String) throws -> UInt64 { try take(8, field).reduce(0) { $0 << 8 | UInt64($1) } }
    /// A length-prefixed byte string of at most `max` bytes.
    mutating func lengthPrefixed(_ field: String, max: Int) throws -> [UInt8] {
        let n = Int(try u32("\(field) length"))
        guard n <= max else { throw SyncMessageError.tooLarge(channel, field: "\(field) length", got: n, max: max) }
        return try take(n, field)
    }
    func finish() throws {
        guard remaining == 0 else { throw SyncMessageError.trailingBytes(channel, count: remaining) }
    }
}
