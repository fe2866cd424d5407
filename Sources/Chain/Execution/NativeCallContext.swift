import Primitives

/// What a native handler sees and may do during one call: the caller, value and
/// input, gas metering, its own storage, and events. Storage and logs cost gas as
/// `GasSchedule` says; in a static call (`eth_call` of a view, or `isStatic`) writes
/// and events revert.
public final class NativeCallContext {
    /// Raised when a call needs more gas than it has left.
    public struct OutOfGas: Error, Equatable {}

    /// The transaction sender (or `eth_call`'s `from`).
    public let caller: Address
    /// Value sent with the call, already credited to the handler's account.
    public let value: UInt256
    /// The calldata.
    public let input: [UInt8]
    /// The block the call executes in.
    public let block: BlockEnvironment
    /// True when the call must not change state.
    public let isStatic: Bool
    /// Gas still available.
    public private(set) var gasLeft: UInt64
    /// Events emitted so far, in order.
    public private(set) var logs: [Log] = []

    private let state: ExecutionState
    private let address: Address

    init(address: Address, caller: Address, value: UInt256, input: [UInt8], block: BlockEnvironment,
         isStatic: Bool, gas: UInt64, state: ExecutionState) {
        self.address = address
        self.caller = caller
        self.value = value
        self.input = input
        self.block = block
        self.isStatic = isStatic
        self.gasLeft = gas
        self.state = state
    }

    /// Charges `amount` gas.
    public func useGas(_ amount: UInt64) throws {
        guard amount <= gasLeft else {
            gasLeft = 0
            throw OutOfGas()
        }
        gasLeft -= amount
    }

    /// Reads `slot` of the handler's storage.
    public func load(_ slot: Hash32) throws -> Hash32 {
        try useGas(GasSchedule.storageRead)
        return state.storage(of: address, slot: slot)
    }

    /// Writes `slot` of the handler's storage.
    public func store(_ value: Hash32, at slot: Hash32) throws {
        if isStatic { throw NativeRevert("state change in a static call") }
        let current = state.storage(of: address, slot: slot)
        try useGas(current == .zero && value != .zero ? GasSchedule.storageSet : GasSchedule.storageUpdate)
        state.setStorage(value, of: address, slot: slot)
    }

    /// Emits an event with `topics` (at most four) and ABI-encoded `data`.
    public func emit(topics: [Hash32], data: [UInt8]) throws {
        if isStatic { throw NativeRevert("event in a static call") }
        precondition(topics.count <= 4, "a log has at most four topics")
        try useGas(GasSchedule.log + GasSchedule.logTopic * UInt64(topics.count) + GasSchedule.logDataByte * UInt64(data.count))
        logs.append(Log(address: address, topics: topics, data: data))
    }

    /// Charges for hashing `byteCount` bytes (per 32-byte word, rounded up).
    public func chargeHashing(byteCount: Int) throws {
        try useGas(GasSchedule.hashWord * UInt64((byteCount + 31) / 32))
    }
}
