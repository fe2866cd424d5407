import Primitives
import Storage

/// World state: accounts in a secure Merkle Patricia Trie, each native module's storage
/// in its own secure trie, plus a flat index (`Schema.account`, `Schema.storage`) that
/// serves reads of the head state without walking tries.
///
/// A `StateDB` is a working copy over one committed root. Writes are kept in memory
/// with a journal (for `snapshot`/`revert`); `commit` turns them into trie nodes and
/// flat-index entries in a `WriteBatch` and returns the new root. Dirty entries are
/// committed in sorted order, so the root is a pure function of the writes.
///
/// Not thread-safe: one owner at a time (the producer, or one RPC request).
public final class StateDB: ExecutionState, PoolStateReader {
    /// The root this working copy started from (or last committed).
    public private(set) var baseRoot: Hash32
    /// The first storage or decoding failure met while reading; `commit` rethrows it.
    public private(set) var failure: Error?

    private let nodes: TrieNodeStore
    private let flatReads: Bool
    private var accountTrie: SecureTrie
    private var accounts: [Address: Account] = [:]
    private var storage: [Address: [Hash32: Hash32]] = [:]
    private var dirtyAccounts = Set<Address>()
    private var dirtySlots: [Address: Set<Hash32>] = [:]
    private var journal: [Change] = []

    private enum Change {
        case account(Address, Account)
        case slot(Address, Hash32, Hash32)
    }

    /// State at `root`. With `flatReads`, reads come from the flat index, which holds the
    /// head state: pass true only when `root` is the head's state root.
    public init(root: Hash32, nodes: TrieNodeStore, flatReads: Bool) {
        self.baseRoot = root
        self.nodes = nodes
        self.flatReads = flatReads
        self.accountTrie = SecureTrie(root: root, nodes: nodes)
    }

    // MARK: - Reads

    /// The account at `address` (empty when absent).
    public func account(_ address: Address) -> Account {
        if let a = accounts[address] { return a }
        let loaded = load(address)
        accounts[address] = loaded
        return loaded
    }

    private func load(_ address: Address) -> Account {
        do {
            let bytes = flatReads ? try nodes.store.get(Schema.account(address)) : try accountTrie.get(address.bytes)
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
        if let v = storage[address]?[slot] { return v }
        let v = loadSlot(address, slot)
        storage[address, default: [:]][slot] = v
        return v
    }

    private func loadSlot(_ address: Address, _ slot: Hash32) -> Hash32 {
        do {
            let bytes: [UInt8]?
            if flatReads {
                bytes = try nodes.store.get(Schema.storage(address, slot))
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

    // MARK: - Writes

    public func setNonce(_ nonce: UInt64, of address: Address) {
        var a = account(address)
        journal.append(.account(address, a))
        a.nonce = nonce
        accounts[address] = a
        dirtyAccounts.insert(address)
    }

    public func setBalance(_ balance: UInt256, of address: Address) {
        var a = account(address)
        journal.append(.account(address, a))
        a.balance = balance
        accounts[address] = a
        dirtyAccounts.insert(address)
    }

    public func setStorage(_ value: Hash32, of address: Address, slot: Hash32) {
        let previous = storage(of: address, slot: slot)
        journal.append(.slot(address, slot, previous))
        storage[address, default: [:]][slot] = value
        dirtySlots[address, default: []].insert(slot)
        dirtyAccounts.insert(address)
    }

    public func snapshot() -> Int { journal.count }

    public func revert(to id: Int) {
        while journal.count > id {
            switch journal.removeLast() {
            case .account(let address, let previous): accounts[address] = previous
            case .slot(let address, let slot, let previous): storage[address]?[slot] = previous
            }
        }
    }

    // MARK: - Commit

    /// Writes every change into `batch` (trie nodes and flat-index entries) and returns
    /// the new state root. Afterwards this working copy continues from that root.
    public func commit(into batch: inout WriteBatch) throws -> Hash32 {
        if let failure { throw failure }
        var newNodes: [(Hash32, [UInt8])] = []
        for address in dirtyAccounts.sorted() {
            var a = account(address)
            if let slots = dirtySlots[address] {
                let trie = SecureTrie(root: a.storageRoot, nodes: nodes)
                for slot in slots.sorted() {
                    let value = storage[address]?[slot] ?? .zero
                    let word = UInt256(word: value)
                    if word.isZero {
                        try trie.put(slot.bytes, [])
                        batch.delete(Schema.storage(address, slot))
                    } else {
                        try trie.put(slot.bytes, RLP.encode(.bytes(word.minimalBigEndianBytes)))
                        batch.put(Schema.storage(address, slot), word.minimalBigEndianBytes)
                    }
                }
                a.storageRoot = trie.trie.commit(into: &newNodes)
                accounts[address] = a
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
        dirtyAccounts.removeAll()
        dirtySlots.removeAll()
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
