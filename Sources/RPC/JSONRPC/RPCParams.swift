import JSON
import Primitives

/// Positional JSON-RPC parameters with conversions that enforce the execution-apis hex
/// rules; every failure is -32602 naming the parameter and the rule.
public struct RPCParams {
    /// The raw parameters.
    public let values: [JSONValue]

    /// Wraps `values`.
    public init(_ values: [JSONValue]) { self.values = values }

    /// The number of parameters given.
    public var count: Int { values.count }

    /// The parameter at `index`, if present and not null.
    public func optional(_ index: Int) -> JSONValue? {
        index < values.count && values[index] != .null ? values[index] : nil
    }

    /// The parameter at `index`, or -32602 when missing.
    public func required(_ index: Int, _ name: String) throws -> JSONValue {
        guard let v = optional(index) else { throw RPCError.invalidParams("\(index): missing value for required argument \(name)") }
        return v
    }

    /// Fails when more than `max` parameters were given.
    public func expect(atMost max: Int) throws {
        if values.count > max { throw RPCError.invalidParams(": too many arguments, want at most \(max)") }
    }

    /// A string parameter.
    public func string(_ index: Int, _ name: String) throws -> String {
        guard case .string(let s) = try required(index, name) else { throw RPCError.invalidParams("\(index): \(name) must be a string") }
        return s
    }

    /// A 20-byte address.
    public func address(_ index: Int, _ name: String = "address") throws -> Address {
        try Self.address(string(index, name), "\(index): \(name)")
    }

    /// A 32-byte hash.
    public func hash(_ index: Int, _ name: String = "hash") throws -> Hash32 {
        try Self.hash(string(index, name), "\(index): \(name)")
    }

    /// A quantity up to 2^64-1.
    public func uint64(_ index: Int, _ name: String) throws -> UInt64 {
        try Self.uint64(required(index, name), "\(index): \(name)")
    }

    /// Hex data (`0x…`, even length).
    public func data(_ index: Int, _ name: String) throws -> [UInt8] {
        try Self.data(string(index, name), "\(index): \(name)")
    }

    /// A boolean.
    public func bool(_ index: Int, _ name: String) throws -> Bool {
        guard case .bool(let b) = try required(index, name) else { throw RPCError.invalidParams("\(index): \(name) must be a boolean") }
        return b
    }

    static func address(_ text: String, _ what: String) throws -> Address {
        do { return try Address(hex: text) } catch { throw RPCError.invalidParams("\(what): \(error)") }
    }

    static func hash(_ text: String, _ what: String) throws -> Hash32 {
        do { return try Hash32(hex: text) } catch { throw RPCError.invalidParams("\(what): \(error)") }
    }

    static func data(_ text: String, _ what: String) throws -> [UInt8] {
        do { return try Hex.decode(text) } catch { throw RPCError.invalidParams("\(what): \(error)") }
    }

    static func uint64(_ value: JSONValue, _ what: String) throws -> UInt64 {
        guard case .string(let text) = value else { throw RPCError.invalidParams("\(what): must be a hex quantity string") }
        do { return try Hex.decodeQuantity(text) } catch { throw RPCError.invalidParams("\(what): \(error)") }
    }

    static func uint256(_ value: JSONValue, _ what: String) throws -> UInt256 {
        guard case .string(let text) = value else { throw RPCError.invalidParams("\(what): must be a hex quantity string") }
        do { return try UInt256(hexQuantity: text) } catch { throw RPCError.invalidParams("\(what): \(error)") }
    }
}
