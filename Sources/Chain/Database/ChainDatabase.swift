import Foundation
import Primitives
import Storage

/// Blocks, receipts, lookups and the head pointer over a `KeyValueStore` (keys in
/// `Schema`). A block and its state changes reach the store in one atomic batch that
/// also moves the head, so a crash leaves either the old head or the new one — never
/// a head without its block or state.
///
/// Thread-safe: readers (RPC) and the writer (block producer) share it.
public final class ChainDatabase {
    /// The backing store.
    public let store: KeyValueStore
    /// Trie nodes (state, storage) with their cache.
    public let nodes: TrieNodeStore

    private let lock = NSLock()
    private var headHeader: Header?
    private var recentHeaders: [UInt64: Header] = [:]
    private var recentBodies: [UInt64: [SignedTransaction]] = [:]
    private var recentReceipts: [UInt64: [Receipt]] = [:]
    private let recentLimit = 256

    /// Opens the chain in `store` (initialised or not: see `head`).
    public init(store: KeyValueStore) throws {
        self.store = store
        self.nodes = TrieNodeStore(store: store)
        if let pointer = try store.get(Schema.head), let number = Schema.readBE(pointer) {
            headHeader = try header(number: number)
        }
    }

    /// The last committed block's header; nil before genesis is written.
    public var head: Header? { lock.withLock { headHeader } }

    /// The genesis JSON the database was initialised with.
    public func genesisBytes() throws -> [UInt8]? { try store.get(Schema.genesis) }

    /// The canonical header at `number`.
    public func header(number: UInt64) throws -> Header? {
        if let h = lock.withLock({ recentHeaders[number] }) { return h }
        guard let bytes = try store.get(Schema.header(number)) else { return nil }
        return try Header(rlp: bytes)
    }

    /// The header with `hash`, if canonical.
    public func header(hash: Hash32) throws -> Header? {
        guard let n = try number(of: hash), let h = try header(number: n), h.hash == hash else { return nil }
        return h
    }

    /// The canonical hash at `number`.
    public func hash(number: UInt64) throws -> Hash32? {
        guard let bytes = try store.get(Schema.canonicalHash(number)) else { return nil }
        return try Hash32(bytes)
    }

    /// The number of the block with `hash`.
    public func number(of hash: Hash32) throws -> UInt64? {
        guard let bytes = try store.get(Schema.blockNumber(hash)) else { return nil }
        return Schema.readBE(bytes)
    }

    /// The transactions of block `number`, with their senders.
    public func transactions(number: UInt64) throws -> [SignedTransaction]? {
        if let b = lock.withLock({ recentBodies[number] }) { return b }
        guard let bytes = try store.get(Schema.body(number)) else { return nil }
        return try RLP.decode(bytes).list("block body").map { entry in
            let pair = try entry.list("body entry")
            guard pair.count == 2 else { throw PrimitivesError(.rlp, "body entry must be [raw, sender]") }
            return try SignedTransaction(stored: pair[0].bytes("raw transaction"), sender: Address(pair[1].bytes("sender")))
        }
    }

    /// The consensus receipts of block `number`.
    public func receipts(number: UInt64) throws -> [Receipt]? {
        if let r = lock.withLock({ recentReceipts[number] }) { return r }
        guard let bytes = try store.get(Schema.receipts(number)) else { return nil }
        return try RLP.decode(bytes).list("receipts").map { try Receipt(stored: $0.bytes("receipt")) }
    }

    /// Where the transaction with `hash` was included.
    public func location(ofTransaction hash: Hash32) throws -> (block: UInt64, index: Int)? {
        guard let bytes = try store.get(Schema.transactionLookup(hash)), bytes.count == 12,
              let n = Schema.readBE(bytes) else { return nil }
        let index = bytes[8..<12].reduce(0) { $0 << 8 | Int($1) }
        return (n, index)
    }

    /// State as of `header` (reads through the flat index when `header` is the head).
    public func state(at header: Header) -> StateDB {
        // The flat index holds the head's state, so it serves any header with the same
        // state root (comparing roots avoids hashing two headers per request).
        let headState = head.map { $0.stateRoot == header.stateRoot } ?? false
        return StateDB(root: header.stateRoot, nodes: nodes, flatReads: headState)
    }

    /// Writes `block`, its receipts and `stateBatch` (from `StateDB.commit`) and moves the
    /// head to it, in one atomic batch; `sync` waits for the disk.
    public func commit(block: Block, receipts: [Receipt], stateBatch: WriteBatch, sync: Bool = true,
                       genesis: [UInt8]? = nil) throws {
        var batch = stateBatch
        let n = block.number
        let hash = block.hash
        batch.put(Schema.header(n), block.header.rlp)
        batch.put(Schema.canonicalHash(n), hash.bytes)
        batch.put(Schema.blockNumber(hash), Schema.be(n))
        batch.put(Schema.body(n), RLP.encode(.list(block.transactions.map { .list([.bytes($0.raw), .bytes($0.sender.bytes)]) })))
        batch.put(Schema.receipts(n), RLP.encodeList(encodedItems: receipts.map { RLP.encode(.bytes($0.storedEncoding)) }))
        for (i, tx) in block.transactions.enumerated() {
            batch.put(Schema.transactionLookup(tx.hash), Schema.be(n) + [UInt8(truncatingIfNeeded: i >> 24), UInt8(truncatingIfNeeded: i >> 16),
                                                                        UInt8(truncatingIfNeeded: i >> 8), UInt8(truncatingIfNeeded: i)])
        }
        if let genesis { batch.put(Schema.genesis, genesis) }
        batch.put(Schema.head, Schema.be(n) + hash.bytes)
        try store.write(batch, sync: sync)
        lock.withLock {
            headHeader = block.header
            if recentHeaders.count >= recentLimit, let oldest = recentHeaders.keys.min() {
                recentHeaders[oldest] = nil
                recentBodies[oldest] = nil
                recentReceipts[oldest] = nil
            }
            recentHeaders[n] = block.header
            recentBodies[n] = block.transactions
            recentReceipts[n] = receipts
        }
    }
}
