import Primitives

/// Swift code registered at a reserved address (`0x…0001`–`0x…00FF`) that executes
/// transactions and `eth_call`s sent to it, like an Ethereum precompile. Calldata,
/// return data, reverts and events are Solidity-ABI encoded, so any Ethereum library
/// can call a handler with the ABI JSON it publishes.
public protocol NativeHandler: AnyObject {
    /// The reserved address the handler answers at.
    var address: Address { get }
    /// A short name for logs and docs (`Notary`, `Supply`).
    var name: String { get }
    /// The handler's ABI as the standard JSON array.
    var abiJSON: String { get }
    /// Runs one call. Throws `NativeRevert` to revert with a reason, or
    /// `NativeCallContext.OutOfGas` when the call's gas runs out; the executor undoes
    /// the call's state changes either way and charges the gas.
    func call(_ context: NativeCallContext) throws -> [UInt8]
}

/// A revert raised by a handler: the transaction fails (status 0) with this reason,
/// encoded as Solidity's `Error(string)`.
public struct NativeRevert: Error, Equatable {
    /// The human-readable reason.
    public let reason: String

    /// Creates a revert with `reason`.
    public init(_ reason: String) { self.reason = reason }
}

/// The native handlers of a chain, by address.
public final class NativeHandlerRegistry {
    /// The reserved range: addresses whose first 19 bytes are zero and last byte is 1…255.
    public static func isReserved(_ address: Address) -> Bool {
        address.bytes[19] != 0 && address.bytes[0..<19].allSatisfy { $0 == 0 }
    }

    private var handlers: [UInt8: NativeHandler] = [:]

    /// Creates a registry holding `handlers`; two handlers at one address is a programming error.
    public init(_ handlers: [NativeHandler] = []) {
        for h in handlers { register(h) }
    }

    /// Adds `handler` at its address.
    public func register(_ handler: NativeHandler) {
        precondition(Self.isReserved(handler.address), "\(handler.name) is not at a reserved address")
        precondition(handlers[handler.address.bytes[19]] == nil, "two handlers at \(handler.address)")
        handlers[handler.address.bytes[19]] = handler
    }

    /// The handler at `address`, if one is registered.
    public func handler(at address: Address) -> NativeHandler? {
        Self.isReserved(address) ? handlers[address.bytes[19]] : nil
    }

    /// Every handler, ordered by address.
    public var all: [NativeHandler] { handlers.keys.sorted().map { handlers[$0]! } }
}
