import Foundation
import Primitives
import Storage

/// Where tries find their nodes: the key-value store (table `n`, see `Schema`) behind a
/// bounded cache of decoded nodes. Nodes are content-addressed and never deleted, so
/// every committed state root stays readable (historical queries, proofs, replay).
/// Thread-safe: RPC readers and the block producer share one instance.
public final class TrieNodeStore {
    /// The backing store.
    public let store: KeyValueStore
    private let lock = NSLock()
    private var cache: [Hash32: TrieNode] = [:]
    private let cacheLimit: Int

    /// A node store over `store`, caching up to `cacheLimit` decoded nodes.
    public init(store: KeyValueStore, cacheLimit: Int = 400_000) {
        self.store = store
        self.cacheLimit = cacheLimit
    }

    /// The node with `hash`; throws `TrieError.missingNode` when the store lacks it.
    func node(_ hash: Hash32) throws -> TrieNode {
        if let cached = lock.withLock({ cache[hash] }) { return cached }
        guard let bytes = try store.get(Schema.trieNode(hash)) else { throw TrieError.missingNode(hash) }
        let node = try TrieNode.decode(bytes)
        remember(hash, node)
        return node
    }

    /// The encoding of the node with `hash`, straight from the store (for proofs).
    func encoding(_ hash: Hash32) throws -> [UInt8] {
        guard let bytes = try store.get(Schema.trieNode(hash)) else { throw TrieError.missingNode(hash) }
        return bytes
    }

    /// Caches a node the caller has just hashed (it reaches the store in the caller's batch).
    func remember(_ hash: Hash32, _ node: TrieNode) {
        lock.withLock {
            if cache.count >= cacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[hash] = node
        }
    }
}

/// Trie failures: a node the store should hold is missing (a corrupt or pruned
/// database), or a stored node does not decode.
public enum TrieError: Error, Equatable, CustomStringConvertible {
    /// The store has no node with this hash.
    case missingNode(Hash32)

    public var description: String {
        switch self {
        case .missingNode(let h): return "trie node \(h.hex) is missing from the database"
        }
    }
}
