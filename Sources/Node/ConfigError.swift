import JSON
import Primitives

/// A malformed configuration or genesis file: the message names the file and the
/// field (`rpc.port: must be an integer in 1…65535`). `opgd` exits with code 2.
public struct ConfigError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Reads the members of one JSON object strictly: unknown members, wrong types and
/// out-of-range values are `ConfigError`s naming the dotted path of the field.
public struct FieldReader {
    /// The object read.
    public let object: JSONObject
    /// The dotted path of the object in its document (empty at the top level).
    public let path: String

    /// A reader of `value`, which must be an object; `path` prefixes every field name in errors.
    public init(_ value: JSONValue, path: String) throws {
        guard case .object(let o) = value else { throw ConfigError("\(path.isEmpty ? "top level" : path): must be a JSON object") }
        object = o
        self.path = path
    }

    /// The dotted path of `key` in this object.
    public func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// Refuses members not in `known`, and members given twice.
    public func rejectUnknown(_ known: [String]) throws {
        for key in object.keys where !known.contains(key) { throw ConfigError("\(name(key)): unknown field") }
        var seen: [String] = []
        for key in object.keys {
            if seen.contains(key) { throw ConfigError("\(name(key)): given more than once") }
            seen.append(key)
        }
    }

    /// The member `key`, nil when absent or null (an error when `required`).
    public func value(_ key: String, required: Bool) throws -> JSONValue? {
        guard let v = object[key], v != .null else {
            if required { throw ConfigError("\(name(key)): missing required field") }
            return nil
        }
        return v
    }

    /// The string member `key`.
    public func string(_ key: String, required: Bool = false) throws -> String? {
        guard let v = try value(key, required: required) else { return nil }
        guard case .string(let s) = v else { throw ConfigError("\(name(key)): must be a string") }
        return s
    }

    /// The boolean member `key`.
    public func bool(_ key: String) throws -> Bool? {
        guard let v = try value(key, required: false) else { return nil }
        guard case .bool(let b) = v else { throw ConfigError("\(name(key)): must be true or false") }
        return b
    }

    /// The integer member `key`, which must lie in `range`.
    public func integer(_ key: String, in range: ClosedRange<UInt64>, required: Bool = false) throws -> UInt64? {
        guard let v = try value(key, required: required) else { return nil }
        guard case .number(let n) = v, n.isInteger, let u = n.uint64, range.contains(u) else {
            throw ConfigError("\(name(key)): must be an integer in \(range.lowerBound)…\(range.upperBound)")
        }
        return u
    }

    /// A 256-bit amount in wei: a decimal string, a `0x` hex string, or a JSON integer.
    public func amount(_ key: String, required: Bool = false) throws -> UInt256? {
        guard let v = try value(key, required: required) else { return nil }
        return try Self.amount(v, name(key))
    }

    static func amount(_ v: JSONValue, _ what: String) throws -> UInt256 {
        let text: String
        switch v {
        case .string(let s): text = s
        case .number(let n) where n.isInteger: text = n.text
        default: throw ConfigError("\(what): must be a non-negative integer amount in wei (decimal string)")
        }
        if text.hasPrefix("0x") {
            guard let u = try? UInt256(hexQuantity: text) else { throw ConfigError("\(what): \"\(text)\" is not a valid hex quantity") }
            return u
        }
        guard let u = try? UInt256(decimal: text) else {
            throw ConfigError("\(what): \"\(text)\" must be a non-negative decimal integer (wei) below 2^256")
        }
        return u
    }

    /// The list member `key`.
    public func array(_ key: String, required: Bool = false) throws -> [JSONValue]? {
        guard let v = try value(key, required: required) else { return nil }
        guard case .array(let a) = v else { throw ConfigError("\(name(key)): must be a list") }
        return a
    }

    /// A reader of the object member `key`.
    public func object(_ key: String, required: Bool = false) throws -> FieldReader? {
        guard let v = try value(key, required: required) else { return nil }
        return try FieldReader(v, path: name(key))
    }
}

/// Reads and parses a JSON file, naming the file in every error.
public func readJSONFile(_ path: String, what: String) throws -> (JSONValue, [UInt8]) {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ConfigError("\(what) \(path): cannot read file (missing or unreadable)")
    }
    let bytes = [UInt8](data)
    do { return (try JSONParser.parse(bytes), bytes) } catch { throw ConfigError("\(what) \(path): \(error)") }
}

import Foundation
