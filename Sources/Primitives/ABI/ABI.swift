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
        var out: [UInt8] = []
        try append(type, value, to: &out, depth: depth)
        return out
    }

    /// Appends the encoding of `value` to `out`: everything is written straight into the
    /// one buffer (a sequence's head is reserved, then each static member written into
    /// it and each dynamic member appended with its offset patched into the head).
    private static func append(_ type: ABIType, _ value: ABIValue, to out: inout [UInt8], depth: Int) throws {
        guard depth <= ABIType.maxDepth else { throw PrimitivesError(.abi, "ABI value nests deeper than \(ABIType.maxDepth)") }
        switch (type, value) {
        case (.bytes, .bytes(let b)):
            appendWord(UInt256(UInt64(b.count)), to: &out)
            appendPadded(b, to: &out)
        case (.string, .string(let s)):
            var s = s
            s.withUTF8 { utf8 in
                appendWord(UInt256(UInt64(utf8.count)), to: &out)
                appendPadded(utf8, to: &out)
            }
        case (.array(let t), .array(let items)):
            appendWord(UInt256(UInt64(items.count)), to: &out)
            let member = Member(t)
            try appendSequence(items.count, member: { _ in member }, items, to: &out, depth: depth)
        case (.fixedArray(let t, let k), .array(let items)):
            guard items.count == k else { throw PrimitivesError(.abi, "\(type) value has \(items.count) elements") }
            let member = Member(t)
            try appendSequence(k, member: { _ in member }, items, to: &out, depth: depth)
        case (.tuple(let ts), .tuple(let items)):
            guard ts.count == items.count else { throw PrimitivesError(.abi, "\(type) value has \(items.count) members") }
            try appendSequence(ts.count, member: { Member(ts[$0]) }, items, to: &out, depth: depth)
        default:
            let at = out.count
            out.append(contentsOf: repeatElement(0, count: 32))
            try writeWord(type, value, to: &out, at: at)
        }
    }

    /// A member type of a sequence with its layout, worked out once per array rather
    /// than once per element (both walk the whole type).
    struct Member {
        let type: ABIType
        let isDynamic: Bool
        let headSize: Int
        init(_ type: ABIType) {
            self.type = type
            isDynamic = type.isDynamic
            headSize = type.headSize
        }
    }

    /// Appends a head/tail sequence of `count` members, member i described by `member(i)`.
    @inline(__always)
    private static func appendSequence(_ count: Int, member: (Int) -> Member, _ values: [ABIValue], to out: inout [UInt8], depth: Int) throws {
        var headSize = 0
        for i in 0..<count { headSize += member(i).headSize }
        let base = out.count
        out.append(contentsOf: repeatElement(0, count: headSize))
        var cursor = base
        for i in 0..<count {
            let m = member(i)
            if m.isDynamic {
                let offset = UInt256(UInt64(out.count - base))
                out.withUnsafeMutableBufferPointer { offset.store(bigEndianInto: $0, at: cursor) }
                try append(m.type, values[i], to: &out, depth: depth + 1)
            } else {
                try writeStatic(m.type, values[i], to: &out, at: cursor, depth: depth + 1)
            }
            cursor += m.headSize
        }
    }

    /// Writes a static value into its head slot at `at` (already zeroed).
    private static func writeStatic(_ type: ABIType, _ value: ABIValue, to out: inout [UInt8], at: Int, depth: Int) throws {
        guard depth <= ABIType.maxDepth else { throw PrimitivesError(.abi, "ABI value nests deeper than \(ABIType.maxDepth)") }
        switch (type, value) {
        case (.fixedArray(let t, let k), .array(let items)):
            guard items.count == k else { throw PrimitivesError(.abi, "\(type) value has \(items.count) elements") }
            let size = t.headSize
            for (i, item) in items.enumerated() { try writeStatic(t, item, to: &out, at: at + i * size, depth: depth + 1) }
        case (.tuple(let ts), .tuple(let items)):
            guard ts.count == items.count else { throw PrimitivesError(.abi, "\(type) value has \(items.count) members") }
            var cursor = at
            for (t, item) in zip(ts, items) {
                try writeStatic(t, item, to: &out, at: cursor, depth: depth + 1)
                cursor += t.headSize
            }
        default:
            try writeWord(type, value, to: &out, at: at)
        }
    }

    /// Writes a one-word value (integer, address, bool, bytesN) at `at`.
    private static func writeWord(_ type: ABIType, _ value: ABIValue, to out: inout [UInt8], at: Int) throws {
        switch (type, value) {
        case (.uint(let n), .uint(let v)):
            guard v.bitWidth <= n else { throw PrimitivesError(.abi, "value \(v) does not fit uint\(n)") }
            out.withUnsafeMutableBufferPointer { v.store(bigEndianInto: $0, at: at) }
        case (.int(let n), .int(let v)):
            guard fitsSigned(v, bits: n) else { throw PrimitivesError(.abi, "value does not fit int\(n)") }
            out.withUnsafeMutableBufferPointer { v.store(bigEndianInto: $0, at: at) }
        case (.address, .address(let a)):
            out.replaceSubrange((at + 12)..<(at + 32), with: a.bytes)
        case (.bool, .bool(let b)):
            out[at + 31] = b ? 1 : 0
        case (.fixedBytes(let n), .fixedBytes(let b)):
            guard b.count == n else { throw PrimitivesError(.abi, "bytes\(n) value has \(b.count) bytes") }
            out.replaceSubrange(at..<(at + n), with: b)
        default:
            throw PrimitivesError(.abi, "value \(value) is not of ABI type \(type)")
        }
    }

    private static func appendWord(_ v: UInt256, to out: inout [UInt8]) {
        let at = out.count
        out.append(contentsOf: repeatElement(0, count: 32))
        out.withUnsafeMutableBufferPointer { v.store(bigEndianInto: $0, at: at) }
    }

    private static func appendPadded<C: Collection<UInt8>>(_ b: C, to out: inout [UInt8]) {
        out.append(contentsOf: b)
        let rem = b.count % 32
        if rem != 0 { out.append(contentsOf: repeatElement(0, count: 32 - rem)) }
    }

    /// True when the two's-complement word `v` is in the range of intN.
    static func fitsSigned(_ v: UInt256, bits n: Int) -> Bool {
        if n == 256 { return true }
        // Every bit from n-1 up must equal the sign bit.
        let fill: UInt64 = v.limbs.3 >> 63 == 1 ? .max : 0
        let first = (n - 1) / 64
        for i in first..<4 {
            let mask = i == first ? UInt64.max << UInt64((n - 1) % 64) : .max
            if v.limb(i) & mask != fill & mask { return false }
        }
        return true
    }

    // MARK: - Decoding

    private struct Decoder {
        let data: [UInt8]

        /// Checks that a whole word starts at `offset`.
        @inline(__always)
        func requireWord(at offset: Int, _ what: @autoclosure () -> String) throws {
            guard offset >= 0, offset <= data.count - 32 else {
                throw PrimitivesError(.abi, "ABI data ends before the \(what()) at byte \(offset) (\(data.count) bytes)")
            }
        }

        /// The word at `offset` as an integer.
        @inline(__always)
        func wordValue(at offset: Int, _ what: @autoclosure () -> String) throws -> UInt256 {
            try requireWord(at: offset, what())
            return data.withUnsafeBufferPointer { UInt256(bigEndianWordAt: offset, in: $0) }
        }

        /// Whether data[range] is all zero bytes.
        @inline(__always)
        func allZero(_ range: Range<Int>) -> Bool {
            data.withUnsafeBufferPointer { b in range.allSatisfy { b[$0] == 0 } }
        }

        func integer(at offset: Int, _ what: @autoclosure () -> String) throws -> Int {
            let v = try wordValue(at: offset, what())
            guard let small = v.uint64, small <= UInt64(data.count) else {
                throw PrimitivesError(.abi, "ABI \(what()) at byte \(offset) is \(v), beyond the \(data.count)-byte data")
            }
            return Int(small)
        }

        func decode(_ type: ABIType, at offset: Int, depth: Int) throws -> ABIValue {
            guard depth <= ABIType.maxDepth else { throw PrimitivesError(.abi, "ABI data nests deeper than \(ABIType.maxDepth)") }
            switch type {
            case .uint(let n):
                let v = try wordValue(at: offset, "uint\(n)")
                guard v.bitWidth <= n else { throw PrimitivesError(.abi, "uint\(n) at byte \(offset) has bits set above bit \(n)") }
                return .uint(v)
            case .int(let n):
                let v = try wordValue(at: offset, "int\(n)")
                guard fitsSigned(v, bits: n) else { throw PrimitivesError(.abi, "int\(n) at byte \(offset) is not sign-extended") }
                return .int(v)
            case .address:
                try requireWord(at: offset, "address")
                guard allZero(offset..<(offset + 12)) else { throw PrimitivesError(.abi, "address at byte \(offset) has non-zero high bytes") }
                return .address(try Address(Array(data[(offset + 12)..<(offset + 32)])))
            case .bool:
                try requireWord(at: offset, "bool")
                guard allZero(offset..<(offset + 31)), data[offset + 31] <= 1 else { throw PrimitivesError(.abi, "bool at byte \(offset) is not 0 or 1") }
                return .bool(data[offset + 31] == 1)
            case .fixedBytes(let n):
                try requireWord(at: offset, "bytes\(n)")
                guard allZero((offset + n)..<(offset + 32)) else { throw PrimitivesError(.abi, "bytes\(n) at byte \(offset) has non-zero padding") }
                return .fixedBytes(Array(data[offset..<(offset + n)]))
            case .bytes, .string:
                let length = try integer(at: offset, "\(type) length")
                let start = offset + 32
                let paddedLength = (length + 31) / 32 * 32
                guard start + paddedLength <= data.count else {
                    throw PrimitivesError(.abi, "\(type) of \(length) bytes at byte \(offset) runs past the end of the data")
                }
                guard allZero((start + length)..<(start + paddedLength)) else {
                    throw PrimitivesError(.abi, "\(type) at byte \(offset) has non-zero padding")
                }
                if case .bytes = type { return .bytes(Array(data[start..<(start + length)])) }
                guard let s = String(validating: data[start..<(start + length)], as: UTF8.self) else {
                    throw PrimitivesError(.abi, "string at byte \(offset) is not valid UTF-8")
                }
                return .string(s)
            case .array(let t):
                let count = try integer(at: offset, "\(type) length")
                // Each element takes at least one head slot: the data must hold them all.
                guard count <= (data.count - offset - 32) / Swift.max(t.headSize, 32) else {
                    throw PrimitivesError(.abi, "\(type) claims \(count) elements, more than the data can hold")
                }
                let member = Member(t)
                return .array(try decodeSequence(count, member: { _ in member }, base: offset + 32, depth: depth))
            case .fixedArray(let t, let k):
                let member = Member(t)
                return .array(try decodeSequence(k, member: { _ in member }, base: offset, depth: depth))
            case .tuple(let ts):
                return .tuple(try decodeSequence(ts.count, member: { Member(ts[$0]) }, base: offset, depth: depth))
            }
        }

        /// Decodes a head/tail sequence of `count` members (member i described by
        /// `member(i)`) whose head starts at `base`; offsets are relative to `base`.
        @inline(__always)
        func decodeSequence(_ count: Int, member: (Int) -> Member, base: Int, depth: Int) throws -> [ABIValue] {
            var values: [ABIValue] = []
            values.reserveCapacity(count)
            var cursor = base
            for i in 0..<count {
                let m = member(i)
                let t = m.type
                if m.isDynamic {
                    let relative = try integer(at: cursor, "offset of \(t)")
                    let target = base + relative
                    guard target <= data.count - 32 || (target <= data.count && m.headSize == 0) else {
                        throw PrimitivesError(.abi, "offset \(relative) of \(t) at byte \(cursor) points past the end of the data (\(data.count) bytes)")
                    }
                    values.append(try decode(t, at: target, depth: depth + 1))
                    cursor += 32
                } else {
                    guard cursor + m.headSize <= data.count else {
                        throw PrimitivesError(.abi, "ABI data ends inside \(t) at byte \(cursor)")
                    }
                    values.append(try decode(t, at: cursor, depth: depth + 1))
                    cursor += m.headSize
                }
            }
            return values
        }
    }
}
