import Foundation
import Primitives
import Storage

/// Blocks, receipts, lookups and the head pointer over a `KeyValueStore` (keys in
/// `Schema`). A block and its state changes reach the store in one atomic batch that
/// also moves the head, so a crash leaves either the old head or the new one — never
/// a head without its block or state.
///
/// Thread-safe: readers (RPC) and the writer (block producer) share it. A reader's
/// `state(at:)` of the head sees that block's state only, even while later blocks are
/// committed under it (see `state(at:)`).
public final class ChainDatabase {
    /// The backing store.
    public let store: KeyValueStore
    /// Trie nodes (state, storage) with their cache.
    public let nodes: TrieNodeStore

    private let lock = NSLock()
    private var headHeader: Header?
    /// Counts head commits, odd while one is being written: a flat-index read is the
    /// head's when the generation was even before it and is unchanged after it.
    private var commitGeneration: UInt64 = 0
    private var recentHeaders: [UInt64: Header] = [:]
    private var recentBodies: [UInt64: [SignedTransaction]] = [:]
    private var recentReceipts: [UInt64: [Receipt]] = [:]
    private let recentLimit = 256

    /// The layout of keys and values this node reads and writes (docs/storage.md, "Layout
    /// versions"). A database written by a newer layout is refused; an older one is
    /// migrated when opened.
    public static let layoutVersion: UInt64 = 3

    /// Opens the chain in `store` (initialised or not: see `head`). A database whose
    /// layout is newer than `layoutVersion` is refused with `LayoutVersionError`; an
    /// older one is migrated in one atomic batch before anything is read.
    public init(store: KeyValueStore) throws {
        self.store = store
        self.nodes = TrieNodeStore(store: store)
        try Self.migrateLayout(store)
        if let pointer = try store.get(Schema.head), let number = Schema.readBE(pointer) {
            headHeader = try header(number: number)
        }
    }

    /// The layout version recorded in `store`: the stored number, 0 for a chain written
    /// before layouts were versioned (a head but no record), nil for an empty store.
    public static func storedLayoutVersion(_ store: KeyValueStore) throws -> UInt64? {
        if let bytes = try store.get(Schema.layoutVersion) {
            guard let version = Schema.readBE(bytes), bytes.count == 8 else {
                throw LayoutVersionError("the database's layout version record is \(bytes.count) bytes, want 8: the database is damaged")
            }
            return version
        }
        return try store.get(Schema.head) == nil ? nil : 0
    }

    /// Each migration turns layout `n` into `n + 1` (index `n`): the entries to write.
    /// The steps from the stored layout to the current one are gathered into one batch
    /// with the new version record, so a migration that cannot be done (it throws
    /// `LayoutVersionError`) leaves the database as it was.
    private static let migrations: [(KeyValueStore) throws -> WriteBatch] = [
        // 0 → 1: the first versioned layout is the unversioned one; only the record is new.
        { _ in WriteBatch() },
        // 1 → 2: headers gained validatorsHash and nextValidatorsHash, which changes every
        // block hash: the old chain cannot be rewritten, only started again.
        { _ in
            throw LayoutVersionError("the database was written with layout version 1 or older, whose headers lack validatorsHash and nextValidatorsHash (layout 2 adds them to every header, which changes every block hash): it cannot be migrated; start from an empty --datadir and run opgd init again")
        },
        // 2 → 3: a block may carry evidence (its header then has a 19th field, evidenceHash,
        // and its items are stored under `Schema.evidence`). A layout-2 chain has none, and
        // its 18-field headers and hashes are unchanged: only the record is new, so that a
        // layout-2 node refuses a database that may hold headers it cannot decode. Layout 3 also
        // indexes every transaction by address (`Schema.addressTransaction`), so the stored
        // blocks are indexed here, in the same batch.
        { store in
            var batch = WriteBatch()
            guard let pointer = try store.get(Schema.head), let head = Schema.readBE(pointer) else { return batch }
            for n in 0...head {
                guard let body = try store.get(Schema.body(n)) else { continue }
                let transactions: [SignedTransaction]
                do { transactions = try decodeBody(body) } catch {
                    throw LayoutVersionError("block \(n)'s stored body does not decode (\(error)): the database is damaged")
                }
                addressIndexEntries(number: n, transactions: transactions, into: &batch)
            }
            return batch
        },
    ]

    private static func migrateLayout(_ store: KeyValueStore) throws {
        guard var version = try storedLayoutVersion(store) else { return }  // empty: stamped with genesis
        guard version <= layoutVersion else {
            throw LayoutVersionError("database layout version \(version) is newer than this node's (\(layoutVersion)): run a newer opgd, or start from an empty --datadir")
        }
        guard version < layoutVersion else { return }
        var batch = WriteBatch()
        while version < layoutVersion {
            batch.append(try migrations[Int(version)](store))
            version += 1
        }
        batch.put(Schema.layoutVersion, Schema.be(version))
        try store.write(batch, sync: true)
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

    /// The commit certificate stored with block `number` (nil for block 0 and for blocks
    /// not yet committed).
    public func certificate(number: UInt64) throws -> [UInt8]? { try store.get(Schema.commitCertificate(number)) }

    /// The transactions of block `number`, with their senders.
    public func transactions(number: UInt64) throws -> [SignedTransaction]? {
        if let b = lock.withLock({ recentBodies[number] }) { return b }
        guard let bytes = try store.get(Schema.body(number)) else { return nil }
        return try Self.decodeBody(bytes)
    }

    /// The transactions of a stored body (`[[raw, sender], …]`).
    static func decodeBody(_ bytes: [UInt8]) throws -> [SignedTransaction] {
        try RLP.decode(bytes).list("block body").map { entry in
            let pair = try entry.list("body entry")
            guard pair.count == 2 else { throw PrimitivesError(.rlp, "body entry must be [raw, sender]") }
            return try SignedTransaction(stored: pair[0].bytes("raw transaction"), sender: Address(pair[1].bytes("sender")))
        }
    }

    /// The evidence block `number` carries (empty when it has none).
    public func evidence(number: UInt64) throws -> [[UInt8]] {
        guard let bytes = try store.get(Schema.evidence(number)) else { return [] }
        return try RLP.decode(bytes).list("block evidence").map { try $0.bytes("evidence item") }
    }

    /// The block `number` as committed: header, transactions and evidence.
    public func block(number: UInt64) throws -> Block? {
        guard let header = try header(number: number), let transactions = try transactions(number: number) else { return nil }
        return Block(header: header, transactions: transactions, evidence: try evidence(number: number))
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

    /// The entries a block adds besides its header, hash and the head pointer: the body
    /// (raw transactions with their senders), the stored receipts, one lookup per
    /// transaction (hash → block number ‖ index) and the evidence, if any. Encoded in
    /// place: a 10,000-transaction block has 10,000 of each.
    public static func bodyEntries(number n: UInt64, transactions: [SignedTransaction], receipts: [Receipt],
                                   evidence: [[UInt8]] = []) -> WriteBatch {
        var batch = WriteBatch()
        if !evidence.isEmpty { batch.put(Schema.evidence(n), RLP.encode(.list(evidence.map { .bytes($0) }))) }
        batch.reserveCapacity(transactions.count + 2)
        let entrySizes = transactions.map { tx in RLP.bytesSize(tx.raw) + 21 }
        var body: [UInt8] = []
        body.reserveCapacity(entrySizes.reduce(9) { $0 + $1 + 3 })
        RLP.appendListHeader(payloadLength: entrySizes.reduce(0) { $0 + RLP.headerSize(payloadLength: $1) + $1 }, to: &body)
        for (tx, size) in zip(transactions, entrySizes) {
            RLP.appendListHeader(payloadLength: size, to: &body)
            RLP.appendBytes(tx.raw, to: &body)
            RLP.appendBytes(tx.sender.bytes, to: &body)
        }
        batch.put(Schema.body(n), body)
        let stored = receipts.map(\.storedEncoding)
        var encodedReceipts: [UInt8] = []
        let receiptsPayload = stored.reduce(0) { $0 + RLP.bytesSize($1) }
        encodedReceipts.reserveCapacity(receiptsPayload + 9)
        RLP.appendListHeader(payloadLength: receiptsPayload, to: &encodedReceipts)
        for r in stored { RLP.appendBytes(r, to: &encodedReceipts) }
        batch.put(Schema.receipts(n), encodedReceipts)
        let number = Schema.be(n)
        for (i, tx) in transactions.enumerated() {
            batch.put(Schema.transactionLookup(tx.hash), number + Schema.be32(UInt32(i)))
        }
        addressIndexEntries(number: n, transactions: transactions, into: &batch)
        return batch
    }

    /// The address index entries of block `n`: one per transaction under its sender and one
    /// under its recipient when that is another address.
    static func addressIndexEntries(number n: UInt64, transactions: [SignedTransaction], into batch: inout WriteBatch) {
        for (i, tx) in transactions.enumerated() {
            batch.put(Schema.addressTransaction(tx.sender, number: n, index: UInt32(i)), tx.hash.bytes)
            if let to = tx.to, to != tx.sender { batch.put(Schema.addressTransaction(to, number: n, index: UInt32(i)), tx.hash.bytes) }
        }
    }

    /// A transaction of an address, as the address index holds it.
    public struct AddressTransaction: Equatable, Sendable {
        /// The transaction's hash.
        public let hash: Hash32
        /// The block that included it.
        public let blockNumber: UInt64
        /// Its index in that block.
        public let index: UInt32
    }

    /// Up to `limit` transactions that `address` sent or that were addressed to it, newest
    /// first, starting at the position (`blockNumber`, `index`) `from` or before it (nil:
    /// from the newest); and the position of the next one, nil when there is none. Entries
    /// before `from` are skipped one by one: a page costs the entries it skips plus the
    /// ones it returns.
    public func transactions(of address: Address, from: (blockNumber: UInt64, index: UInt32)? = nil,
                             limit: Int) throws -> (items: [AddressTransaction], next: (blockNumber: UInt64, index: UInt32)?) {
        let prefix = Schema.addressTransactionPrefix(address)
        let start = from.map { prefix + Schema.be(~$0.blockNumber) + Schema.be32(~$0.index) }
        var items: [AddressTransaction] = []
        var next: (blockNumber: UInt64, index: UInt32)?
        try store.scan(prefix: prefix) { key, value in
            if let start, key.lexicographicallyPrecedes(start) { return true }
            guard key.count == prefix.count + 12, value.count == 32, let inverted = Schema.readBE(key, at: prefix.count) else {
                throw StorageError("scan", "address index entry \(Hex.encode(key)) is malformed: the database is damaged")
            }
            let index = ~key[(prefix.count + 8)...].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            guard items.count < limit else {
                next = (~inverted, index)
                return false
            }
            items.append(AddressTransaction(hash: try Hash32(value), blockNumber: ~inverted, index: index))
            return true
        }
        return (items, next)
    }

    /// State as of `header`, and of that block only: a reader never mixes it with a
    /// later block's state. When `header` has the head's state root, reads go through
    /// the flat index (which holds the head's state) for as long as no other block has
    /// been committed since; from the first read that a commit overlaps, that `StateDB`
    /// walks the trie at `header.stateRoot` instead (trie nodes are never deleted).
    public func state(at header: Header) -> StateDB {
        let generation: UInt64? = lock.withLock {
            // Comparing roots avoids hashing two headers per request.
            guard let headHeader, headHeader.stateRoot == header.stateRoot, commitGeneration % 2 == 0 else { return nil }
            return commitGeneration
        }
        guard let generation else { return StateDB(root: header.stateRoot, nodes: nodes, flatReads: false) }
        return StateDB(root: header.stateRoot, nodes: nodes, flatReads: true) { [self] in
            lock.withLock { commitGeneration == generation }
        }
    }

    /// Writes `block`, its receipts and `stateBatch` (from `StateDB.commit`) and moves the
    /// head to it, in one atomic batch; `sync` waits for the disk. `bodyEntries` are
    /// `bodyEntries(number:transactions:receipts:)` when the caller has already built them (the block
    /// builder does, on another core, while the state root is computed).
    ///
    /// The block must be the head's child (or block 0 of an empty database): a block
    /// executed on an older head carries flat-index entries of that older state, so it is
    /// refused with `StaleBlockError` before anything is written. `certificate` is the
    /// commit certificate (opaque bytes: the consensus engine's, or the devnet's record),
    /// stored beside the block under `Schema.commitCertificate`; block 0 has none.
    public func commit(block: Block, receipts: [Receipt], stateBatch: WriteBatch, bodyEntries: WriteBatch? = nil, certificate: [UInt8]? = nil,
                       sync: Bool = true, genesis: [UInt8]? = nil) throws {
        var batch = stateBatch
        let n = block.number
        let hash = block.hash
        if let head = lock.withLock({ headHeader }) {
            guard n == head.number + 1, block.header.parentHash == head.hash else {
                throw StaleBlockError(number: n, parentHash: block.header.parentHash, headNumber: head.number, headHash: head.hash)
            }
        } else {
            guard n == 0 else { throw StaleBlockError(number: n, parentHash: block.header.parentHash, headNumber: nil, headHash: nil) }
        }
        if let certificate { batch.put(Schema.commitCertificate(n), certificate) }
        batch.put(Schema.header(n), block.header.rlp)
        batch.put(Schema.canonicalHash(n), hash.bytes)
        batch.put(Schema.blockNumber(hash), Schema.be(n))
        batch.append(bodyEntries ?? Self.bodyEntries(number: n, transactions: block.transactions, receipts: receipts, evidence: block.evidence))
        if let genesis {
            batch.put(Schema.genesis, genesis)
            batch.put(Schema.layoutVersion, Schema.be(Self.layoutVersion))
        }
        batch.put(Schema.head, Schema.be(n) + hash.bytes)
        lock.withLock { commitGeneration += 1 }
        defer { lock.withLock { commitGeneration += 1 } }
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

/// A database whose layout this node cannot read (written by a newer node, or damaged).
public struct LayoutVersionError: Error, Equatable, CustomStringConvertible {
    /// What is wrong and what to do.
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A block refused by `ChainDatabase.commit` because it does not extend the head: it was
/// executed on a parent that is no longer the head (or the database is empty and it is
/// not block 0). Nothing was written.
public struct StaleBlockError: Error, Equatable, CustomStringConvertible {
    /// The refused block's number.
    public let number: UInt64
    /// The refused block's parent hash.
    public let parentHash: Hash32
    /// The head's number; nil when the database has no genesis yet.
    public let headNumber: UInt64?
    /// The head's hash; nil when the database has no genesis yet.
    public let headHash: Hash32?

    public var description: String {
        guard let headNumber, let headHash else { return "block \(number) cannot be committed: the database has no genesis yet" }
        return "block \(number) (parent \(parentHash)) does not extend the head \(headNumber) (\(headHash)): it was executed on a stale parent"
    }
}
