/// Solidity ABI encoding and strict decoding (Solidity docs, "Contract ABI
/// Specification"). The decoder rejects every non-canonical form — dirty padding,
/// out-of-range integers, bools other than 0/1, offsets or lengths past the data — and
/// allocates nothing the input does not pay for.
public enum ABI {
    /// keccak256(signature)[0..<4].
    public static func selector(_ signature: String) -> [UInt8] { Array(Keccak256.digest(Array(signature.utf8)).prefix(4)) }

    /// keccak256(signature): topic 0 of an event.
    public static func eventTopic(_ signature: String) -> Hash32 { Keccak256.hash(Array(signature.utf8)) }

    /// Encodes `values` as the tuple `types` (a function's parameters or return values).
    public static func encode(_ types: [ABIType], _ values: [ABIValue]) throws -> [UInt8] {
        try encode(.tuple(types), .tuple(values), depth: 0)
    }

    /// Selector plus encoded parameters, types taken from `signature` (`f(uint256,string)`).
    public static func encodeCall(_ signature: String, _ values: [ABIValue]) throws -> [UInt8] {
        let (_, types) = try ABIType.parseSignature(signature)
        return selector(signature) + (try encode(types, values))
    }

    /// Solidity's `Error(string)` revert data.
    public static func encodeRevert(_ reason: String) -> [UInt8] {
        selector("Error(string)") + ((try? encode([.string], [.string(reason)])) ?? [])
    }

    /// The reason in `Error(string)` revert data, if it is that.
    public static func decodeRevert(_ data: [UInt8]) -> String? {
        guard data.count >= 4, Array(data.prefix(4)) == selector("Error(string)"),
              let values = try? decode([.string], Array(data.dropFirst(4))) else { return nil }
        return values.first?.stringValue
    }

    /// Decodes `data` as the tuple `types`. Trailing bytes after the encoded tuple are
    /// allowed only where Solidity would produce them (never in the head).
    public static func decode(_ types: [ABIType], _ data: [UInt8]) throws -> [ABIValue] {
        let tupleType = ABIType.tuple(types)
        guard data.count >= tupleType.headSize else {
            throw PrimitivesError(.abi, "ABI data is \(data.count) bytes, shorter than the \(tupleType.headSize)-byte head of \(tupleType)")
        }
        guard case .tuple(let values) = try Decoder(data: data).decode(tupleType, at: 0, depth: 0) else { return [] }
        return values
    }

    // MARK: - Encoding

    private static func encode(_ type: ABIType, _ value: ABIValue, depth: Int) throws -> [UInt8] {
        guard depth <= ABIType.maxDepth else { throw PrimitivesError(.abi, "ABI value nests deeper than \(ABIType.maxDepth)") }
        switch (type, value) {
        case (.uint(let n), .uint(let v)):
            guard v.bitWidth <= n else { throw PrimitivesError(.abi, "value \(v) does not fit uint\(n)") }
            return v.bigEndianBytes32
        case (.int(let n), .int(let v)):
            guard fitsSigned(v, bits: n) else { throw PrimitivesError(.abi, "value does not fit int\(n)") }
            return v.bigEndianBytes32
        case (.address, .address(let a)):
            return [UInt8](repeating: 0, count: 12) + a.bytes
        case (.bool, .bool(let b)):
            return UInt256(b ? 1 : 0).bigEndianBytes32
        case (.fixedBytes(let n), .fixedBytes(let b)):
            guard b.count == n else { throw PrimitivesError(.abi, "bytes\(n) value has \(b.count) bytes") }
            return padded(b)
        case (.bytes, .bytes(let b)):
            return UInt256(UInt64(b.count)).bigEndianBytes32 + padded(b)
        case (.string, .string(let s)):
            let b = Array(s.utf8)
            return UInt256(UInt64(b.count)).bigEndianBytes32 + padded(b)
        case (.array(let t), .array(let items)):
            return UInt256(UInt64(items.count)).bigEndianBytes32 + (try encodeSequence([ABIType](repeating: t, count: items.count), items, depth: depth))
        case (.fixedArray(let t, let k), .array(let items)):
            guard items.count == k else { throw PrimitivesError(.abi, "\(type) value has \(items.count) elements") }
            return try encodeSequence([ABIType](repeating: t, count: k), items, depth: depth)
        case (.tuple(let ts), .tuple(let items)):
            guard ts.count == items.count else { throw PrimitivesError(.abi, "\(type) value has \(items.count) members") }
            return try encodeSequence(ts, items, depth: depth)
        default:
            throw PrimitivesError(.abi, "value \(value) is not of ABI type \(type)")
        }
    }

    private static func encodeSequence(_ types: [ABIType], _ values: [ABIValue], depth: Int) throws -> [UInt8] {
        let headSize = types.reduce(0) { $0 + $1.headSize }
        var head: [UInt8] = []
        var tail: [UInt8] = []
        head.reserveCapacity(headSize)
        for (t, v) in zip(types, values) {
            let enc = try encode(t, v, depth: depth + 1)
            if t.isDynamic {
                head += UInt256(UInt64(headSize + tail.count)).bigEndianBytes32
                tail += enc
            } else {
                head += enc
            }
        }
        return head + tail
    }

    private static func padded(_ b: [UInt8]) -> [UInt8] {
        let rem = b.count % 32
        return rem == 0 ? b : b + [UInt8](repeating: 0, count: 32 - rem)
    }

    /// True when the two's-complement word `v` is in the range of intN.
    static func fitsSigned(_ v: UInt256, bits n: Int) -> Bool {
        if n == 256 { return true }
        let negative = v.bit(255)
        // Every bit from n-1 up must equal the sign bit.
        for i in (n - 1)..<256 where v.bit(i) != negative { return false }
        return true
    }

    // MARK: - Decoding

    private struct Decoder {
        let data: [UInt8]

        func word(at offset: Int, _ what: @autoclosure () -> String) throws -> [UInt8] {
            guard offset >= 0, offset <= data.count - 32 else {
                throw PrimitivesError(.abi, "ABI data ends before the \(what()) at byte \(offset) (\(data.count) bytes)")
            }
            return Array(data[offset..<offset + 32])
        }

        func integer(at offset: Int, _ what: @autoclosure () -> String) throws -> Int {
            let w = try word(at: offset, what())
            let v = try UInt256(bigEndian: w)
            guard let small = v.uint64, small <= UInt64(data.count) else {
                throw PrimitivesError(.abi, "ABI \(what()) at byte \(offset) is \(v), beyond the \(data.count)-byte data")
            }
            return Int(small)
        }

        func decode(_ type: ABIType, at offset: Int, depth: Int) throws -> ABIValue {
            guard depth <= ABIType.maxDepth else { throw PrimitivesError(.abi, "ABI data nests deeper than \(ABIType.maxDepth)") }
            switch type {
            case .uint(let n):
                let v = try UInt256(bigEndian: word(at: offset, "uint\(n)"))
                guard v.bitWidth <= n else { throw PrimitivesError(.abi, "uint\(n) at byte \(offset) has bits set above bit \(n)") }
                return .uint(v)
            case .int(let n):
                let v = try UInt256(bigEndian: word(at: offset, "int\(n)"))
                guard fitsSigned(v, bits: n) else { throw PrimitivesError(.abi, "int\(n) at byte \(offset) is not sign-extended") }
                return .int(v)
            case .address:
                let w = try word(at: offset, "address")
                guard w[0..<12].allSatisfy({ $0 == 0 }) else { throw PrimitivesError(.abi, "address at byte \(offset) has non-zero high bytes") }
                return .address(try Address(Array(w[12...])))
            case .bool:
                let w = try word(at: offset, "bool")
                guard w[0..<31].allSatisfy({ $0 == 0 }), w[31] <= 1 else { throw PrimitivesError(.abi, "bool at byte \(offset) is not 0 or 1") }
                return .bool(w[31] == 1)
            case .fixedBytes(let n):
                let w = try word(at: offset, "bytes\(n)")
                guard w[n...].allSatisfy({ $0 == 0 }) else { throw PrimitivesError(.abi, "bytes\(n) at byte \(offset) has non-zero padding") }
                return .fixedBytes(Array(w[..<n]))
            case .bytes, .string:
                let length = try integer(at: offset, "\(type) length")
                let start = offset + 32
                let paddedLength = (length + 31) / 32 * 32
                guard start + paddedLength <= data.count else {
                    throw PrimitivesError(.abi, "\(type) of \(length) bytes at byte \(offset) runs past the end of the data")
                }
                guard data[(start + length)..<(start + paddedLength)].allSatisfy({ $0 == 0 }) else {
                    throw PrimitivesError(.abi, "\(type) at byte \(offset) has non-zero padding")
                }
                let content = Array(data[start..<(start + length)])
                if case .bytes = type { return .bytes(content) }
                guard let s = String(validating: content, as: UTF8.self) else {
                    throw PrimitivesError(.abi, "string at byte \(offset) is not valid UTF-8")
                }
                return .string(s)
            case .array(let t):
                let count = try integer(at: offset, "\(type) length")
                // Each element takes at least one head slot: the data must hold them all.
                guard count <= (data.count - offset - 32) / Swift.max(t.headSize, 32) else {
                    throw PrimitivesError(.abi, "\(type) claims \(count) elements, more than the data can hold")
                }
                guard case .tuple(let items) = try decodeSequence([ABIType](repeating: t, count: count), base: offset + 32, depth: depth) else { return .array([]) }
                return .array(items)
            case .fixedArray(let t, let k):
                guard case .tuple(let items) = try decodeSequence([ABIType](repeating: t, count: k), base: offset, depth: depth) else { return .array([]) }
                return .array(items)
            case .tuple(let ts):
                return try decodeSequence(ts, base: offset, depth: depth)
            }
        }

        /// Decodes a head/tail sequence whose head starts at `base`; offsets are relative to `base`.
        func decodeSequence(_ types: [ABIType], base: Int, depth: Int) throws -> ABIValue {
            var values: [ABIValue] = []
            values.reserveCapacity(types.count)
            var cursor = base
            for t in types {
                if t.isDynamic {
                    let relative = try integer(at: cursor, "offset of \(t)")
                    let target = base + relative
                    guard target <= data.count - 32 || (target <= data.count && t.headSize == 0) else {
                        throw PrimitivesError(.abi, "offset \(relative) of \(t) at byte \(cursor) points past the end of the data (\(data.count) bytes)")
                    }
                    values.append(try decode(t, at: target, depth: depth + 1))
                    cursor += 32
                } else {
                    guard cursor + t.headSize <= data.count else {
                        throw PrimitivesError(.abi, "ABI data ends inside \(t) at byte \(cursor)")
                    }
                    values.append(try decode(t, at: cursor, depth: depth + 1))
                    cursor += t.headSize
                }
            }
            return .tuple(values)
        }
    }
}
