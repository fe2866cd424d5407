import Primitives

/// Swift code registered at a reserved address (`0x…0001`–`0x…00FF`) that executes
/// transactions and `eth_call`s sent to it, like an Ethereum precompile. Calldata,
/// return data, reverts and events are Solidity-ABI encoded, so any Ethereum library
/// can call a handler with the ABI JSON it publishes (the `Modules` target holds them).
///
/// Handlers are shared by the block producer and every RPC thread at once: a handler
/// keeps its state in the chain state (through the context), never in its own stored
/// properties, unless those are immutable or guarded by a lock.
public protocol NativeHandler: AnyObject {
    /// The reserved address the handler answers at.
    var address: Address { get }
    /// A short name for logs and docs (`Notary`, `Supply`).
    var name: String { get }
    /// Runs one call. Throws `NativeRevert` to revert with a reason, or
    /// `NativeCallContext.OutOfGas` when the call's gas runs out; the executor undoes
    /// the call's state changes either way and charges the gas.
    func call(_ context: NativeCallContext) throws -> [UInt8]
    /// Runs at the start of every block, before its first transaction, in address order
    /// with the other handlers' hooks. The default does nothing.
    func beginBlock(_ context: NativeCallContext) throws
    /// Runs at the end of every block, after its last transaction and before the block
    /// reward, in address order. The default does nothing.
    func endBlock(_ context: NativeCallContext) throws
}

extension NativeHandler {
    public func beginBlock(_ context: NativeCallContext) throws {}
    public func endBlock(_ context: NativeCallContext) throws {}
}

/// A revert raised by a handler: the transaction fails (status 0) with this reason,
/// encoded as Solidity's `Error(string)`.
public struct NativeRevert: Error, Equatable {
    /// The human-readable reason.
    public let reason: String

    /// Creates a revert with `reason`.
    public init(_ reason: String) { self.reason = reason }
}

/// The native handlers of a chain, by address: fixed when it is created and never
/// changed afterwards (there is no way to register a handler once the chain runs), so
/// it is safe to share between the block producer and RPC threads without a lock.
/// Lookups index a 256-entry table by the address's last byte; `all` is in address
/// order, which is the order block hooks run in.
public final class NativeHandlerRegistry {
    /// The reserved range: addresses whose first 19 bytes are zero and last byte is 1…255.
    public static func isReserved(_ address: Address) -> Bool {
        address.bytes[19] != 0 && address.bytes[0..<19].allSatisfy { $0 == 0 }
    }

    private let table: [NativeHandler?]
    /// Every handler, ordered by address.
    public let all: [NativeHandler]

    /// Creates the registry of `handlers`. A handler outside the reserved range, or two
    /// handlers at one address, is a programming error.
    public init(_ handlers: [NativeHandler] = []) {
        var table = [NativeHandler?](repeating: nil, count: 256)
        for h in handlers {
            precondition(Self.isReserved(h.address), "\(h.name) is not at a reserved address")
            precondition(table[Int(h.address.bytes[19])] == nil, "two handlers at \(h.address)")
            table[Int(h.address.bytes[19])] = h
        }
        self.table = table
        self.all = table.compactMap { $0 }
    }

    /// The handler at `address`, if one is registered.
    public func handler(at address: Address) -> NativeHandler? {
        Self.isReserved(address) ? table[Int(address.bytes[19])] : nil
    }
}
