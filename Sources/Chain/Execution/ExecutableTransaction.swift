import Primitives

/// A signed transaction as the executor needs it: the pool's view plus the call.
public protocol ExecutableTransaction: PoolTransaction {
    /// The recipient; nil for contract creation, which this chain rejects.
    var to: Address? { get }
    /// The calldata.
    var data: [UInt8] { get }
    /// Gas charged before execution (transaction, calldata and access-list costs).
    var intrinsicGas: UInt64 { get }
}
