import Primitives
import Storage

/// World state: accounts in a secure Merkle Patricia Trie, each native module's storage
/// in its own secure trie, module blobs by key (`Schema.blob`, outside the tries), plus a flat index (`Schema.account`, `Schema.storage`) that
/// serves reads of the head state without walking tries.
///
/// A `StateDB` is a working copy over one committed root. Writes are kept in memory
/// with a journal (for `snapshot`/`revert`); `commit` turns them into trie nodes and
/// flat-index entries in a `WriteBatch` and returns the new root. Dirty entries are
/// committed in sorted order, so the root is a pure function of the writes.
///
/// Not thread-safe: one owner at a time (the producer, or one RPC request). Other
/// threads may commit blocks meanwhile: a flat-index read is kept only while
/// `flatStillCurrent` says no commit has overlapped it (`ChainDatabase.state(at:)`);
/// after that every read walks the trie at `baseRoot`.
public final class StateDB: ExecutionState, PoolStateReader {
    /// The root this working copy started from (or last committed).
    public private(set) var baseRoot: Hash32
    /// The first storage or decoding failure met while reading; `commit` rethrows it.
    public private(set) var failure: Error?

    private let nodes: TrieNodeStore
    private var flatReads: Bool
    private let flatStillCurrent: (() -> Bool)?
    private var accountTrie: SecureTrie
    /// Accounts read or written, with whether they changed since the last commit. Each
    /// read or write is one hash lookup: execution of a transfer does about fifteen.
    private var accounts: [Address: Entry<Account>] = [:]
    /// Storage slots read or written, likewise.
    private var slots: [SlotKey: Entry<Hash32>] = [:]
    /// Module blobs read or written (nil: absent), likewise.
    private var blobs: [SlotKey: Entry<[UInt8]?>] = [:]
    private var journal: [Change] = []

    private struct Entry<Value> {
        var value: Value
        var dirty: Bool
    }

    private struct SlotKey: Hashable {
        let address: Address
        let slot: Hash32
    }

    private enum Change {
        case account(Address, Account)
        case slot(SlotKey, Hash32)
        case blob(SlotKey, [UInt8]?)
    }

    /// State at `root`. With `flatReads`, reads come from the flat index, which holds the
    /// head state: pass true only when `root` is the head's state root. When blocks may
    /// be committed concurrently, `flatStillCurrent` must say whether the flat index
    /// still holds `root`'s state (checked after each flat read); without it the caller
    /// guarantees no commit happens while this `StateDB` reads.
    public init(root: Hash32, nodes: TrieNodeStore, flatReads: Bool, flatStillCurrent: (() -> Bool)? = nil) {
        self.baseRoot = root
        self.nodes = nodes
        self.flatReads = flatReads
        self.flatStillCurrent = flatStillCurrent
        self.accountTrie = SecureTrie(root: root, nodes: nodes)
    }

    // MARK: - Reads

    /// The account at `address` (empty when absent).
    public func account(_ address: Address) -> Account {
        accounts.values[accountIndex(address)].value
    }

    /// Where `address` is in `accounts`, loading it first when needed.
    private func accountIndex(_ address: Address) -> Dictionary<Address, Entry<Account>>.Index {
        if let i = accounts.index(forKey: address) { return i }
        accounts[address] = Entry(value: load(address), dirty: false)
        return accounts.index(forKey: address)!
    }

    /// Reads `key` from the flat index, or returns nil and stops flat reads for good when
    /// a commit has overlapped (the caller then reads the trie).
    private func flatRead(_ key: [UInt8]) throws -> [UInt8]?? {
        guard flatReads else { return nil }
        let bytes = try nodes.store.get(key)
        if let flatStillCurrent, !flatStillCurrent() {
            flatReads = false
            return nil
        }
        return .some(bytes)
    }

    private func load(_ address: Address) -> Account {
        do {
            let bytes = try flatRead(Schema.account(address)) ?? accountTrie.get(address.bytes)
            guard let bytes else { return .empty }
            return try Account(rlp: bytes)
        } catch {
            record(error)
            return .empty
        }
    }

    public func nonce(of address: Address) -> UInt64 { account(address).nonce }
    public func balance(of address: Address) -> UInt256 { account(address).balance }

    public func storage(of address: Address, slot: Hash32) -> Hash32 {
        slots.values[slotIndex(SlotKey(address: address, slot: slot))].value
    }

    private func slotIndex(_ key: SlotKey) -> Dictionary<SlotKey, Entry<Hash32>>.Index {
        if let i = slots.index(forKey: key) { return i }
        slots[key] = Entry(value: loadSlot(key.address, key.slot), dirty: false)
        return slots.index(forKey: key)!
    }

    private func loadSlot(_ address: Address, _ slot: Hash32) -> Hash32 {
        do {
            let bytes: [UInt8]?
            if let flat = try flatRead(Schema.storage(address, slot)) {
                bytes = flat
            } else {
                let root = account(address).storageRoot
                if root == MerklePatriciaTrie.emptyRoot { return .zero }
                guard let enc = try SecureTrie(root: root, nodes: nodes).get(slot.bytes) else { return .zero }
                bytes = try RLP.decode(enc).bytes("storage value")
            }
            guard let bytes, bytes.count <= 32 else { return .zero }
            return Hash32(word: try UInt256(bigEndian: bytes))
        } catch {
            record(error)
            return .zero
        }
    }

    /// Blobs live only at the head (`Schema.blob`), outside the trie: a module commits to
    /// their hashes in its storage. A key is written once with content-addressed bytes or
    /// deleted, so a reader of an older state sees the head's bytes, or none once deleted.
    public func blob(of address: Address, key: Hash32) -> [UInt8]? {
        let k = SlotKey(address: address, slot: key)
        if let entry = blobs[k] { return entry.value }
        do {
            let bytes = try nodes.store.get(Schema.blob(address, key))
            blobs[k] = Entry(value: bytes, dirty: false)
            return bytes
        } catch {
            record(error)
            return nil
        }
    }

    // MARK: - Writes

    public func setBlob(_ bytes: [UInt8]?, of address: Address, key: Hash32) {
        let k = SlotKey(address: address, slot: key)
        journal.append(.blob(k, blob(of: address, key: key)))
        blobs[k] = Entry(value: bytes, dirty: true)
    }

    public func setNonce(_ nonce: UInt64, of address: Address) {
        modify(address) { $0.nonce = nonce }
    }

    public func setBalance(_ balance: UInt256, of address: Address) {
        modify(address) { $0.balance = balance }
    }

    private func modify(_ address: Address, _ change: (inout Account) -> Void) {
        let i = accountIndex(address)
        journal.append(.account(address, accounts.values[i].value))
        change(&accounts.values[i].value)
        accounts.values[i].dirty = true
    }

    public func setStorage(_ value: Hash32, of address: Address, slot: Hash32) {
        let key = SlotKey(address: address, slot: slot)
        let i = slotIndex(key)
        journal.append(.slot(key, slots.values[i].value))
        slots.values[i].value = value
        slots.values[i].dirty = true
        accounts.values[accountIndex(address)].dirty = true  // its storage root changes
    }

    public func snapshot() -> Int { journal.count }

    public func revert(to id: Int) {
        // Entries stay marked dirty: committing an unchanged value writes what is there.
        while journal.count > id {
            switch journal.removeLast() {
            case .account(let address, let previous): accounts[address]?.value = previous
            case .slot(let key, let previous): slots[key]?.value = previous
            case .blob(let key, let previous): blobs[key]?.value = previous
            }
        }
    }

    // MARK: - Commit

    /// Writes every change into `batch` (trie nodes and flat-index entries) and returns
    /// the new state root. Afterwards this working copy continues from that root.
    /// Accounts and each account's slots are committed in sorted order, so the root is a
    /// pure function of the writes (the dictionaries only serve lookups).
    public func commit(into batch: inout WriteBatch) throws -> Hash32 {
        if let failure { throw failure }
        var dirtySlots: [Address: [Hash32]] = [:]
        for (key, entry) in slots where entry.dirty { dirtySlots[key.address, default: []].append(key.slot) }
        var newNodes: [(Hash32, [UInt8])] = []
        for address in accounts.compactMap({ $0.value.dirty ? $0.key : nil }).sorted() {
            var a = account(address)
            if let changed = dirtySlots[address] {
                let trie = SecureTrie(root: a.storageRoot, nodes: nodes)
                for slot in changed.sorted() {
                    let word = UInt256(word: storage(of: address, slot: slot))
                    if word.isZero {
                        try trie.put(slot.bytes, [])
                        batch.delete(Schema.storage(address, slot))
                    } else {
                        try trie.put(slot.bytes, RLP.encode(.bytes(word.minimalBigEndianBytes)))
                        batch.put(Schema.storage(address, slot), word.minimalBigEndianBytes)
                    }
                }
                a.storageRoot = trie.trie.commit(into: &newNodes)
                accounts[address] = Entry(value: a, dirty: false)
            }
            if a.isEmpty {
                try accountTrie.put(address.bytes, [])
                batch.delete(Schema.account(address))
            } else {
                let encoded = a.rlp
                try accountTrie.put(address.bytes, encoded)
                batch.put(Schema.account(address), encoded)
            }
        }
        let root = accountTrie.trie.commit(into: &newNodes)
        for (hash, encoding) in newNodes { batch.put(Schema.trieNode(hash), encoding) }
        for key in blobs.compactMap({ $0.value.dirty ? $0.key : nil }).sorted(by: { ($0.address, $0.slot) < ($1.address, $1.slot) }) {
            if let bytes = blobs[key]!.value { batch.put(Schema.blob(key.address, key.slot), bytes) } else { batch.delete(Schema.blob(key.address, key.slot)) }
        }
        for i in blobs.indices { blobs.values[i].dirty = false }
        for i in accounts.indices { accounts.values[i].dirty = false }
        for i in slots.indices { slots.values[i].dirty = false }
        journal.removeAll()
        baseRoot = root
        return root
    }

    // MARK: - Proofs

    /// EIP-1186 account proof and storage proofs against `baseRoot` (committed state).
    public func proof(of address: Address, slots: [Hash32]) throws -> (account: Account, accountProof: [[UInt8]], storageProofs: [(slot: Hash32, value: UInt256, proof: [[UInt8]])]) {
        let trie = SecureTrie(root: baseRoot, nodes: nodes)
        let accountProof = try trie.proof(address.bytes)
        let acct = try trie.get(address.bytes).map(Account.init(rlp:)) ?? .empty
        let storageTrie = SecureTrie(root: acct.storageRoot, nodes: nodes)
        var storageProofs: [(slot: Hash32, value: UInt256, proof: [[UInt8]])] = []
        for slot in slots {
            var value = UInt256.zero
            if let enc = try storageTrie.get(slot.bytes) {
                value = try UInt256(bigEndian: RLP.decode(enc).bytes("storage value"))
            }
            storageProofs.append((slot, value, try storageTrie.proof(slot.bytes)))
        }
        return (acct, accountProof, storageProofs)
    }

    private func record(_ error: Error) {
        if failure == nil { failure = error }
    }
}
