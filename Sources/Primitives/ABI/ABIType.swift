/// A Solidity ABI type (Solidity ABI specification, "Types").
public indirect enum ABIType: Equatable, Sendable, CustomStringConvertible {
    /// `uintN`, N in 8…256, a multiple of 8.
    case uint(Int)
    /// `intN`, two's complement.
    case int(Int)
    case address
    case bool
    /// `bytesN`, N in 1…32.
    case fixedBytes(Int)
    /// Dynamic `bytes`.
    case bytes
    case string
    /// `T[]`.
    case array(ABIType)
    /// `T[k]`.
    case fixedArray(ABIType, Int)
    /// `(T1,T2,…)`.
    case tuple([ABIType])

    /// Deepest nesting of arrays and tuples accepted, in types and in decoding.
    public static let maxDepth = 32

    /// Parses a canonical or shorthand type (`uint` = `uint256`, `int` = `int256`).
    public init(parsing text: String) throws {
        var parser = Parser(text: Array(text.utf8))
        let t = try parser.parseType(depth: 0)
        guard parser.atEnd else { throw PrimitivesError(.abi, "ABI type '\(text)' has trailing characters") }
        self = t
    }

    /// Parses a parameter list such as `(uint256,string)` or the types of `f(uint256,string)`.
    public static func parseSignature(_ signature: String) throws -> (name: String, types: [ABIType]) {
        guard let open = signature.firstIndex(of: "("), signature.hasSuffix(")") else {
            throw PrimitivesError(.abi, "ABI signature '\(signature)' must look like name(type,...)")
        }
        let name = String(signature[..<open])
        guard case .tuple(let types) = try ABIType(parsing: String(signature[open...])) else {
            throw PrimitivesError(.abi, "ABI signature '\(signature)' has no parameter list")
        }
        return (name, types)
    }

    public var description: String {
        switch self {
        case .uint(let n): return "uint\(n)"
        case .int(let n): return "int\(n)"
        case .address: return "address"
        case .bool: return "bool"
        case .fixedBytes(let n): return "bytes\(n)"
        case .bytes: return "bytes"
        case .string: return "string"
        case .array(let t): return "\(t)[]"
        case .fixedArray(let t, let k): return "\(t)[\(k)]"
        case .tuple(let ts): return "(" + ts.map(\.description).joined(separator: ",") + ")"
        }
    }

    /// True for types encoded in the tail (bytes, string, T[], and anything containing one).
    public var isDynamic: Bool {
        switch self {
        case .bytes, .string, .array: return true
        case .fixedArray(let t, _): return t.isDynamic
        case .tuple(let ts): return ts.contains { $0.isDynamic }
        default: return false
        }
    }

    /// Bytes the type takes in the head of its enclosing tuple.
    var headSize: Int {
        if isDynamic { return 32 }
        switch self {
        case .fixedArray(let t, let k): return t.headSize * k
        case .tuple(let ts): return ts.reduce(0) { $0 + $1.headSize }
        default: return 32
        }
    }

    /// `headSize`, or nil when it overflows.
    var checkedHeadSize: Int? {
        if isDynamic { return 32 }
        switch self {
        case .fixedArray(let t, let k):
            guard let inner = t.checkedHeadSize else { return nil }
            let (p, o) = inner.multipliedReportingOverflow(by: k)
            return o ? nil : p
        case .tuple(let ts):
            var sum = 0
            for t in ts {
                guard let s = t.checkedHeadSize else { return nil }
                let (r, o) = sum.addingReportingOverflow(s)
                if o { return nil }
                sum = r
            }
            return sum
        default: return 32
        }
    }

    private struct Parser {
        let text: [UInt8]
        var i = 0
        var atEnd: Bool { i == text.count }

        mutating func parseType(depth: Int) throws -> ABIType {
            guard depth < ABIType.maxDepth else { throw PrimitivesError(.abi, "ABI type nests deeper than \(ABIType.maxDepth)") }
            var base: ABIType
            if i < text.count, text[i] == UInt8(ascii: "(") {
                i += 1
                var members: [ABIType] = []
                if i < text.count, text[i] == UInt8(ascii: ")") {
                    i += 1
                } else {
                    while true {
                        members.append(try parseType(depth: depth + 1))
                        guard i < text.count else { throw PrimitivesError(.abi, "ABI tuple type is not closed") }
                        if text[i] == UInt8(ascii: ",") { i += 1; continue }
                        if text[i] == UInt8(ascii: ")") { i += 1; break }
                        throw PrimitivesError(.abi, "ABI tuple type has unexpected character '\(Character(UnicodeScalar(text[i])))'")
                    }
                }
                base = .tuple(members)
                guard let size = base.checkedHeadSize, size <= 1 << 32 else {
                    throw PrimitivesError(.abi, "ABI tuple type is too large (head over 4 GiB)")
                }
            } else {
                let start = i
                while i < text.count, text[i] != UInt8(ascii: "["), text[i] != UInt8(ascii: ","), text[i] != UInt8(ascii: ")") { i += 1 }
                base = try Self.elementary(String(decoding: text[start..<i], as: UTF8.self))
            }
            while i < text.count, text[i] == UInt8(ascii: "[") {
                i += 1
                let start = i
                while i < text.count, text[i] != UInt8(ascii: "]") { i += 1 }
                guard i < text.count else { throw PrimitivesError(.abi, "ABI array type is not closed") }
                let digits = String(decoding: text[start..<i], as: UTF8.self)
                i += 1
                if digits.isEmpty {
                    base = .array(base)
                } else {
                    guard let k = Int(digits), k > 0, k <= 1 << 20, digits.first != "0" else {
                        throw PrimitivesError(.abi, "ABI array length '\(digits)' must be a positive integer")
                    }
                    base = .fixedArray(base, k)
                    guard let size = base.checkedHeadSize, size <= 1 << 32 else {
                        throw PrimitivesError(.abi, "ABI type \(base) is too large (head over 4 GiB)")
                    }
                }
            }
            return base
        }

        static func elementary(_ name: String) throws -> ABIType {
            switch name {
            case "address": return .address
            case "bool": return .bool
            case "string": return .string
            case "bytes": return .bytes
            case "uint": return .uint(256)
            case "int": return .int(256)
            default: break
            }
            func width(_ prefix: String, _ range: ClosedRange<Int>, step: Int) -> Int? {
                guard name.hasPrefix(prefix) else { return nil }
                let digits = name.dropFirst(prefix.count)
                guard let n = Int(digits), digits.first != "0", range.contains(n), n % step == 0 else { return nil }
                return n
            }
            if let n = width("uint", 8...256, step: 8) { return .uint(n) }
            if let n = width("int", 8...256, step: 8) { return .int(n) }
            if let n = width("bytes", 1...32, step: 1) { return .fixedBytes(n) }
            throw PrimitivesError(.abi, "'\(name)' is not an ABI type")
        }
    }
}

/// A value of an `ABIType`.
public indirect enum ABIValue: Equatable, Sendable {
    case uint(UInt256)
    /// The 256-bit two's-complement word of a signed value.
    case int(UInt256)
    case address(Address)
    case bool(Bool)
    case fixedBytes([UInt8])
    case bytes([UInt8])
    case string(String)
    /// Elements of `T[]` or `T[k]`.
    case array([ABIValue])
    case tuple([ABIValue])

    /// A signed value from a 64-bit integer.
    public static func int(_ value: Int64) -> ABIValue {
        .int(value >= 0 ? UInt256(UInt64(value)) : UInt256.zero.subtractingReportingOverflow(UInt256(value.magnitude)).partialValue)
    }

    /// A signed value from decimal text with an optional leading `-`; it must fit int256.
    public static func signed(decimal text: String) throws -> ABIValue {
        let negative = text.hasPrefix("-")
        let magnitude = try UInt256(decimal: negative ? String(text.dropFirst()) : text)
        let limit = UInt256.one << 255
        guard negative ? magnitude <= limit : magnitude < limit else {
            throw PrimitivesError(.abi, "int256: \(text) is out of range")
        }
        return .int(negative ? UInt256.zero.subtractingReportingOverflow(magnitude).partialValue : magnitude)
    }

    /// The unsigned integer, if this is one.
    public var uintValue: UInt256? { if case .uint(let v) = self { return v }; return nil }
    /// The string, if this is one.
    public var stringValue: String? { if case .string(let v) = self { return v }; return nil }
    /// The bytes of `bytes` or `bytesN`.
    public var bytesValue: [UInt8]? {
        switch self {
        case .bytes(let b), .fixedBytes(let b): return b
        default: return nil
        }
    }
    /// The address, if this is one.
    public var addressValue: Address? { if case .address(let a) = self { return a }; return nil }
}
