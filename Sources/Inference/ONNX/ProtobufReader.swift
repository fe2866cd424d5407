/// A reader of the protobuf wire format (https://protobuf.dev/programming-guides/encoding/),
/// enough for ONNX's messages: varints, 32- and 64-bit fixed values and
/// length-delimited fields. Every read is bounds-checked and throws `ONNXError` naming
/// the rule broken; nothing is allocated beyond the bytes actually present, so any
/// input ends in a value or an error.
struct ProtobufReader {
    /// Wire types (groups, 3 and 4, are deprecated and rejected).
    enum WireType: UInt8 {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5
    }

    private let bytes: [UInt8]
    private var position: Int
    private let end: Int
    /// What is being read, for error messages ("ModelProto.graph").
    let context: String

    /// A reader over `bytes[range]`.
    init(_ bytes: [UInt8], range: Range<Int>? = nil, context: String) {
        self.bytes = bytes
        position = range?.lowerBound ?? 0
        end = range?.upperBound ?? bytes.count
        self.context = context
    }

    /// True when every byte has been read.
    var isAtEnd: Bool { position >= end }

    /// The next field's number and wire type, or nil at the end of the message.
    mutating func nextField() throws -> (number: Int, type: WireType)? {
        guard !isAtEnd else { return nil }
        let key = try varint()
        let number = key >> 3
        guard number >= 1, number <= 536_870_911 else { throw error("field number \(number) is out of range") }
        guard let type = WireType(rawValue: UInt8(key & 7)) else {
            throw error("field \(number) has wire type \(key & 7), which is not one of 0, 1, 2 or 5 (groups are not supported)")
        }
        return (Int(number), type)
    }

    /// A base-128 varint of at most 10 bytes.
    mutating func varint() throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw error("varint is truncated") }
            let byte = bytes[position]
            position += 1
            if shift == 63, byte > 1 { throw error("varint does not fit 64 bits") }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
            guard shift <= 63 else { throw error("varint is longer than 10 bytes") }
        }
    }

    /// A varint read as a signed 64-bit integer (two's complement, as int64 fields are).
    mutating func int64() throws -> Int64 { Int64(bitPattern: try varint()) }

    /// A varint that must fit a non-negative `Int32` range (enums, int32 fields).
    mutating func int32(_ field: String) throws -> Int32 {
        let v = try int64()
        guard let n = Int32(exactly: v) else { throw error("\(field) \(v) does not fit 32 bits") }
        return n
    }

    /// Four little-endian bytes.
    mutating func fixed32() throws -> UInt32 {
        guard end - position >= 4 else { throw error("fixed32 value is truncated") }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[position + i]) << (8 * UInt32(i)) }
        position += 4
        return v
    }

    /// Eight little-endian bytes.
    mutating func fixed64() throws -> UInt64 {
        guard end - position >= 8 else { throw error("fixed64 value is truncated") }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += 8
        return v
    }

    /// The byte range of a length-delimited field (its length is checked against
    /// what is left, so no read can run past the message).
    mutating func lengthDelimited() throws -> Range<Int> {
        let length = try varint()
        guard length <= UInt64(end - position) else {
            throw error("length-delimited field of \(length) bytes runs past the end (\(end - position) left)")
        }
        let range = position..<(position + Int(length))
        position += Int(length)
        return range
    }

    /// The bytes of a length-delimited field.
    mutating func bytesField() throws -> [UInt8] { Array(bytes[try lengthDelimited()]) }

    /// A length-delimited field as UTF-8 text.
    mutating func string(_ field: String) throws -> String {
        let range = try lengthDelimited()
        guard let s = String(validating: bytes[range], as: UTF8.self) else { throw error("\(field) is not valid UTF-8") }
        return s
    }

    /// A reader for the embedded message in field `name`, which must be length-delimited.
    mutating func message(_ name: String, _ type: WireType) throws -> ProtobufReader {
        try expect(.lengthDelimited, type, name)
        return ProtobufReader(bytes, range: try lengthDelimited(), context: "\(context).\(name)")
    }

    /// Skips a field of `type` (unknown fields are allowed, as protobuf says).
    mutating func skip(_ type: WireType) throws {
        switch type {
        case .varint: _ = try varint()
        case .fixed64: _ = try fixed64()
        case .fixed32: _ = try fixed32()
        case .lengthDelimited: _ = try lengthDelimited()
        }
    }

    /// Repeated varints, packed (one length-delimited field) or not (one per field).
    mutating func appendVarints(_ type: WireType, to out: inout [Int64]) throws {
        switch type {
        case .varint:
            out.append(try int64())
        case .lengthDelimited:
            var packed = ProtobufReader(bytes, range: try lengthDelimited(), context: context)
            while !packed.isAtEnd { out.append(try packed.int64()) }
        default:
            throw error("repeated integer field has wire type \(type.rawValue)")
        }
    }

    /// Repeated 32-bit floats, packed or not.
    mutating func appendFloats(_ type: WireType, to out: inout [Float]) throws {
        try appendFixed(type, width: 4, kind: "float", to: &out) { Float(bitPattern: UInt32(truncatingIfNeeded: $0)) }
    }

    /// Repeated 64-bit doubles, packed or not.
    mutating func appendDoubles(_ type: WireType, to out: inout [Double]) throws {
        try appendFixed(type, width: 8, kind: "double", to: &out) { Double(bitPattern: $0) }
    }

    /// Repeated fixed-width values (`width` 4 or 8 bytes), one per field or packed.
    private mutating func appendFixed<T>(_ type: WireType, width: Int, kind: String, to out: inout [T],
                                         _ convert: (UInt64) -> T) throws {
        let single: WireType = width == 4 ? .fixed32 : .fixed64
        switch type {
        case single:
            out.append(convert(width == 4 ? UInt64(try fixed32()) : try fixed64()))
        case .lengthDelimited:
            let range = try lengthDelimited()
            guard range.count % width == 0 else { throw error("packed \(kind) field of \(range.count) bytes is not a multiple of \(width)") }
            var packed = ProtobufReader(bytes, range: range, context: context)
            out.reserveCapacity(out.count + range.count / width)
            while !packed.isAtEnd { out.append(convert(width == 4 ? UInt64(try packed.fixed32()) : try packed.fixed64())) }
        default:
            throw error("repeated \(kind) field has wire type \(type.rawValue)")
        }
    }

    /// Requires `type` for field `name`.
    func expect(_ type: WireType, _ actual: WireType, _ name: String) throws {
        guard type == actual else { throw error("\(name) has wire type \(actual.rawValue), expected \(type.rawValue)") }
    }

    /// An error located in this message.
    func error(_ message: String) -> ONNXError { ONNXError("\(context): \(message)") }
}
