import Primitives

/// Every key the node writes to its key-value store, in one place (docs/storage.md
/// lists them too). Each key starts with a one-byte prefix naming its table; numbers
/// are 8-byte big-endian so that keys sort by block number.
///
/// | prefix | key                         | value                                              |
/// | ------ | --------------------------- | -------------------------------------------------- |
/// | `n`    | node hash (32)              | RLP of a trie node (account, storage, tx, receipt) |
/// | `a`    | address (20)                | flat index: RLP account at the head                |
/// | `s`    | address (20) + slot (32)    | flat index: storage word at the head (no zeros)    |
/// | `h`    | number (8)                  | canonical block hash                               |
/// | `H`    | block hash (32)             | block number (8)                                   |
/// | `b`    | number (8)                  | RLP header                                         |
/// | `B`    | number (8)                  | RLP list of [raw transaction, sender (20)] pairs   |
/// | `r`    | number (8)                  | RLP list of stored receipts (no bloom; see Receipt) |
/// | `t`    | transaction hash (32)       | block number (8) + index in block (4)              |
/// | `c`    | number (8)                  | commit certificate (opaque bytes; none for block 0) |
/// | `e`    | number (8)                  | RLP list of the block's evidence items (only when it has some) |
/// | `m`    | name (ASCII)                | metadata: `head` (number 8 + hash 32), `genesis`, `layout` (version 8) |
/// | `x`    | address (20) + key (32)     | module blob: bytes outside the trie, at the head   |
/// | `A`    | address (20) + ~number (8) + ~index (4) | transaction hash (32): the address sent it or is its `to`; newest first |
public enum Schema {
    /// A trie node by hash.
    public static func trieNode(_ hash: Hash32) -> [UInt8] { [0x6E] + hash.bytes }
    /// Flat-index account entry.
    public static func account(_ address: Address) -> [UInt8] { [0x61] + address.bytes }
    /// Flat-index storage entry.
    public static func storage(_ address: Address, _ slot: Hash32) -> [UInt8] { [0x73] + address.bytes + slot.bytes }
    /// Prefix of all flat storage entries of `address`.
    public static func storagePrefix(_ address: Address) -> [UInt8] { [0x73] + address.bytes }
    /// A module's blob (`ExecutionState.blob`): bytes the module commits to in its storage.
    public static func blob(_ address: Address, _ key: Hash32) -> [UInt8] { blobTable + address.bytes + key.bytes }
    /// Prefix of every module blob.
    public static let blobTable: [UInt8] = [0x78]
    /// Canonical hash of block `number`.
    public static func canonicalHash(_ number: UInt64) -> [UInt8] { [0x68] + be(number) }
    /// Number of the block with `hash`.
    public static func blockNumber(_ hash: Hash32) -> [UInt8] { [0x48] + hash.bytes }
    /// Header of block `number`.
    public static func header(_ number: UInt64) -> [UInt8] { [0x62] + be(number) }
    /// Body (raw transactions) of block `number`.
    public static func body(_ number: UInt64) -> [UInt8] { [0x42] + be(number) }
    /// Receipts of block `number`.
    public static func receipts(_ number: UInt64) -> [UInt8] { [0x72] + be(number) }
    /// The commit certificate of block `number` (opaque to the chain: the consensus
    /// engine's encoding, or the single-validator devnet's record).
    public static func commitCertificate(_ number: UInt64) -> [UInt8] { [0x63] + be(number) }
    /// The evidence block `number` carries (absent when it carries none).
    public static func evidence(_ number: UInt64) -> [UInt8] { [0x65] + be(number) }
    /// Where a transaction was included.
    public static func transactionLookup(_ hash: Hash32) -> [UInt8] { [0x74] + hash.bytes }
    /// An address's transaction at block `number`, index `index`: the bitwise complements
    /// of both, so that a scan of `addressTransactionPrefix` visits the newest first.
    public static func addressTransaction(_ address: Address, number: UInt64, index: UInt32) -> [UInt8] {
        addressTransactionPrefix(address) + be(~number) + be32(~index)
    }
    /// Prefix of every `addressTransaction` entry of `address`.
    public static func addressTransactionPrefix(_ address: Address) -> [UInt8] { [0x41] + address.bytes }
    /// The head pointer: number (8) + hash (32) of the last committed block.
    public static let head: [UInt8] = [0x6D] + Array("head".utf8)
    /// The genesis file the database was initialised with (JSON bytes).
    public static let genesis: [UInt8] = [0x6D] + Array("genesis".utf8)
    /// The layout version of the whole database (8 bytes; `ChainDatabase.layoutVersion`).
    public static let layoutVersion: [UInt8] = [0x6D] + Array("layout".utf8)

    /// 8-byte big-endian encoding of `n`.
    public static func be(_ n: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: n >> (56 - 8 * UInt64($0))) } }

    /// 4-byte big-endian encoding of `n`.
    public static func be32(_ n: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: n >> (24 - 8 * UInt32($0))) } }

    /// Decodes 8 big-endian bytes at `offset`.
    public static func readBE(_ bytes: [UInt8], at offset: Int = 0) -> UInt64? {
        guard bytes.count >= offset + 8 else { return nil }
        return bytes[offset..<offset + 8].reduce(0) { $0 << 8 | UInt64($1) }
    }
}
