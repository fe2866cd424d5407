import Primitives

/// The state the executor reads and writes: accounts and native-module storage, with
/// nested snapshots so that a reverted native call undoes its writes but keeps its gas.
/// `StateDB` conforms; any conforming type must make `revert` restore every write made
/// after the matching `snapshot`.
public protocol ExecutionState: AnyObject, PoolStateReader {
    /// The account's nonce (0 for an absent account).
    func nonce(of address: Address) -> UInt64
    /// Sets the account's nonce.
    func setNonce(_ nonce: UInt64, of address: Address)
    /// The account's balance (0 for an absent account).
    func balance(of address: Address) -> UInt256
    /// Sets the account's balance.
    func setBalance(_ balance: UInt256, of address: Address)
    /// The 32-byte value in `slot` of `address`'s storage (zero when unset).
    func storage(of address: Address, slot: Hash32) -> Hash32
    /// Sets `slot` of `address`'s storage; zero deletes it.
    func setStorage(_ value: Hash32, of address: Address, slot: Hash32)
    /// Blob `key` of `address`: a byte string kept outside the storage trie (the module
    /// commits to it in its storage), nil when absent.
    func blob(of address: Address, key: Hash32) -> [UInt8]?
    /// Sets blob `key` of `address`; nil deletes it.
    func setBlob(_ bytes: [UInt8]?, of address: Address, key: Hash32)
    /// Marks the current state; returns an id for `revert(to:)`.
    func snapshot() -> Int
    /// Undoes every write made since `snapshot` returned `id`.
    func revert(to id: Int)
}
