import Primitives

/// A signed transaction as the executor needs it: the pool's view plus the calldata.
public protocol ExecutableTransaction: PoolTransaction {
    /// The calldata.
    var data: [UInt8] { get }
}
