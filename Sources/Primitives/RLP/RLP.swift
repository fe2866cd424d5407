/// Recursive Length Prefix encoding (Ethereum Yellow Paper, appendix B).
///
/// The decoder accepts only canonical encodings: a single byte below 0x80 is never
/// wrapped, lengths use the short form when they can and have no leading zeros, the
/// input holds exactly one item, and every list payload is exactly filled.
public enum RLP {
    /// Deepest list nesting the decoder accepts; keeps recursion bounded on hostile input.
    public static let maxDepth = 256

    /// Encodes `item`.
    public static func encode(_ item: RLPItem) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(encodedSize(item))
        append(item, to: &out)
        return out
    }

    /// Encodes a list of already-encoded items (avoids re-encoding large payloads).
    public static func encodeList(encodedItems: [[UInt8]]) -> [UInt8] {
        let payload = encodedItems.reduce(0) { $0 + $1.count }
        var out = [UInt8]()
        out.reserveCapacity(payload + 9)
        appendHeader(length: payload, shortBase: 0xC0, to: &out)
        for e in encodedItems { out += e }
        return out
    }

    /// Size in bytes of `item`'s encoding.
    public static func encodedSize(_ item: RLPItem) -> Int {
        switch item {
        case .bytes(let b):
            if b.count == 1 && b[0] < 0x80 { return 1 }
            return headerSize(payloadLength: b.count) + b.count
        case .list(let items):
            let payload = items.reduce(0) { $0 + encodedSize($1) }
            return headerSize(payloadLength: payload) + payload
        }
    }

    /// Size of the header of a list or string whose payload is `length` bytes.
    public static func headerSize(payloadLength length: Int) -> Int {
        length < 56 ? 1 : 1 + (Int.bitWidth - length.leadingZeroBitCount + 7) / 8
    }

    static func append(_ item: RLPItem, to out: inout [UInt8]) {
        switch item {
        case .bytes(let b):
            if b.count == 1 && b[0] < 0x80 {
                out.append(b[0])
            } else {
                appendHeader(length: b.count, shortBase: 0x80, to: &out)
                out += b
            }
        case .list(let items):
            let payload = items.reduce(0) { $0 + encodedSize($1) }
            appendHeader(length: payload, shortBase: 0xC0, to: &out)
            for i in items { append(i, to: &out) }
        }
    }

    static func appendHeader(length: Int, shortBase: UInt8, to out: inout [UInt8]) {
        if length < 56 {
            out.append(shortBase + UInt8(length))
            return
        }
        let count = (Int.bitWidth - length.leadingZeroBitCount + 7) / 8
        out.append(shortBase + 55 + UInt8(count))
        for i in stride(from: count - 1, through: 0, by: -1) { out.append(UInt8(truncatingIfNeeded: length >> (8 * i))) }
    }

    // MARK: - In-place encoding (hot paths: receipts, block bodies, trie nodes)

    /// Appends the header of a list whose items take `payloadLength` bytes.
    public static func appendListHeader(payloadLength: Int, to out: inout [UInt8]) {
        appendHeader(length: payloadLength, shortBase: 0xC0, to: &out)
    }

    /// Appends the byte string in `bytes`.
    public static func appendBytes(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        if bytes.count == 1 && bytes[0] < 0x80 {
            out.append(bytes[0])
        } else {
            appendHeader(length: bytes.count, shortBase: 0x80, to: &out)
            out.append(contentsOf: bytes)
        }
    }

    /// Appends the byte string `bytes`.
    public static func appendBytes(_ bytes: [UInt8], to out: inout [UInt8]) {
        bytes.withUnsafeBufferPointer { appendBytes($0, to: &out) }
    }

    /// Size of the encoding of a byte string of `count` bytes starting with `first`.
    public static func bytesSize(count: Int, first: UInt8?) -> Int {
        count == 1 && first! < 0x80 ? 1 : headerSize(payloadLength: count) + count
    }

    /// Size of the encoding of a byte string.
    public static func bytesSize(_ bytes: [UInt8]) -> Int { bytesSize(count: bytes.count, first: bytes.first) }

    /// Appends the unsigned integer `value` (minimal big-endian bytes; zero is `0x80`).
    public static func appendUInt(_ value: UInt64, to out: inout [UInt8]) {
        if value != 0 && value < 0x80 {
            out.append(UInt8(value))
            return
        }
        let count = (64 - value.leadingZeroBitCount + 7) / 8
        out.append(0x80 + UInt8(count))
        for i in stride(from: count - 1, through: 0, by: -1) { out.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }

    /// Size of the encoding of the unsigned integer `value`.
    public static func uintSize(_ value: UInt64) -> Int {
        value != 0 && value < 0x80 ? 1 : 1 + (64 - value.leadingZeroBitCount + 7) / 8
    }

    /// Decodes exactly one canonical item from `bytes`; trailing bytes are an error.
    public static func decode(_ bytes: [UInt8]) throws -> RLPItem {
        try bytes.withUnsafeBufferPointer { buf in
            var reader = RLPReader(buf)
            let item = try reader.readItem(depth: 0)
            guard reader.offset == buf.count else {
                throw PrimitivesError(.rlp, "rlp: \(buf.count - reader.offset) trailing bytes after the item")
            }
            return item
        }
    }
}

/// A cursor over RLP bytes that enforces every canonical-form rule.
struct RLPReader {
    let buf: UnsafeBufferPointer<UInt8>
    var offset = 0

    init(_ buf: UnsafeBufferPointer<UInt8>) { self.buf = buf }

    mutating func readItem(depth: Int) throws -> RLPItem {
        guard offset < buf.count else { throw PrimitivesError(.rlp, "rlp: unexpected end of input") }
        let prefix = buf[offset]
        offset += 1
        switch prefix {
        case 0x00...0x7F:
            return .bytes([prefix])
        case 0x80...0xB7:
            let length = Int(prefix - 0x80)
            let payload = try take(length)
            if length == 1 && payload[0] < 0x80 {
                throw PrimitivesError(.rlp, "rlp: single byte below 0x80 must not be wrapped in a string header")
            }
            return .bytes(payload)
        case 0xB8...0xBF:
            let length = try readLongLength(count: Int(prefix - 0xB7))
            return .bytes(try take(length))
        default:
            guard depth < RLP.maxDepth else { throw PrimitivesError(.rlp, "rlp: lists nested deeper than \(RLP.maxDepth)") }
            let length = prefix <= 0xF7 ? Int(prefix - 0xC0) : try readLongLength(count: Int(prefix - 0xF7))
            guard length <= buf.count - offset else {
                throw PrimitivesError(.rlp, "rlp: list length \(length) exceeds the \(buf.count - offset) remaining bytes")
            }
            let end = offset + length
            var items: [RLPItem] = []
            while offset < end {
                var sub = RLPReader(UnsafeBufferPointer(rebasing: buf[..<end]))
                sub.offset = offset
                items.append(try sub.readItem(depth: depth + 1))
                offset = sub.offset
            }
            return .list(items)
        }
    }

    /// Reads a long-form length of `count` bytes: no leading zero, at least 56.
    mutating func readLongLength(count: Int) throws -> Int {
        guard count <= buf.count - offset else { throw PrimitivesError(.rlp, "rlp: length-of-length runs past the end of input") }
        guard buf[offset] != 0 else { throw PrimitivesError(.rlp, "rlp: length has leading zero bytes") }
        guard count <= 8 else { throw PrimitivesError(.rlp, "rlp: length of \(count) bytes is too large") }
        var length: UInt64 = 0
        for i in 0..<count { length = length << 8 | UInt64(buf[offset + i]) }
        offset += count
        guard length >= 56 else { throw PrimitivesError(.rlp, "rlp: length \(length) must use the short form (below 56)") }
        guard length <= UInt64(buf.count - offset) else {
            throw PrimitivesError(.rlp, "rlp: length \(length) exceeds the \(buf.count - offset) remaining bytes")
        }
        return Int(length)
    }

    mutating func take(_ length: Int) throws -> [UInt8] {
        guard length <= buf.count - offset else {
            throw PrimitivesError(.rlp, "rlp: string length \(length) exceeds the \(buf.count - offset) remaining bytes")
        }
        let out = Array(buf[offset..<(offset + length)])
        offset += length
        return out
    }
}
