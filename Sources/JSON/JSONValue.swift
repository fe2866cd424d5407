/// A JSON value (RFC 8259). Objects keep their keys in insertion order so that output
/// is deterministic and mirrors what was built; numbers keep their literal text so
/// that large integers (balances written as JSON numbers) are never rounded.
public enum JSONValue: Equatable, Sendable {
    /// `null`
    case null
    /// `true` or `false`
    case bool(Bool)
    /// A number, as its literal text (already validated against the JSON grammar).
    case number(JSONNumber)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object with keys in order.
    case object(JSONObject)

    /// An integer number.
    public static func int<I: BinaryInteger>(_ value: I) -> JSONValue { .number(JSONNumber(text: String(value))) }

    /// The string, when this is a string.
    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    /// The bool, when this is a bool.
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    /// The elements, when this is an array.
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    /// The object, when this is an object.
    public var objectValue: JSONObject? { if case .object(let o) = self { return o }; return nil }
    /// The number, when this is a number.
    public var numberValue: JSONNumber? { if case .number(let n) = self { return n }; return nil }
    /// True for `null`.
    public var isNull: Bool { self == .null }

    /// The member `key` when this is an object holding it.
    public subscript(key: String) -> JSONValue? { objectValue?[key] }
}

/// A JSON number's literal text.
public struct JSONNumber: Equatable, Sendable, CustomStringConvertible {
    /// The literal as written, e.g. `-12`, `3.5e10`.
    public let text: String

    /// Wraps a literal that is known to follow the JSON number grammar.
    public init(text: String) { self.text = text }

    /// The value as a signed 64-bit integer when it is an integer literal that fits.
    public var int64: Int64? { Int64(text) }
    /// The value as an unsigned 64-bit integer when it is a non-negative integer literal that fits.
    public var uint64: UInt64? { UInt64(text) }
    /// The value as a Double (may round).
    public var double: Double? { Double(text) }
    /// True when the literal has no fraction or exponent.
    public var isInteger: Bool { !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) }

    public var description: String { text }
}

/// An ordered JSON object.
public struct JSONObject: Equatable, Sendable, ExpressibleByDictionaryLiteral {
    /// The members in order.
    public private(set) var members: [(key: String, value: JSONValue)]

    /// Creates an object from members in order.
    public init(_ members: [(String, JSONValue)] = []) { self.members = members.map { (key: $0.0, value: $0.1) } }

    public init(dictionaryLiteral elements: (String, JSONValue)...) { self.init(elements) }

    /// The value of the first member named `key`; setting replaces it or appends.
    public subscript(key: String) -> JSONValue? {
        get { members.first { $0.key == key }?.value }
        set {
            if let i = members.firstIndex(where: { $0.key == key }) {
                if let newValue { members[i].value = newValue } else { members.remove(at: i) }
            } else if let newValue {
                members.append((key: key, value: newValue))
            }
        }
    }

    /// The member names in order.
    public var keys: [String] { members.map(\.key) }

    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.members.count == b.members.count && zip(a.members, b.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
}
