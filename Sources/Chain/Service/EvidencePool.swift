import Foundation
import Primitives

/// Evidence waiting to be included in a block: the proposer-side seam the consensus
/// wiring feeds (docs/chain.md, "Evidence"). The engine reports an equivocation, the node
/// encodes it (`DuplicateVoteEvidence.encoded`) and calls `add`; every block this node
/// proposes takes what is pending (`take`, inside `ChainService.propose`), the chain's
/// evidence handler applies it, and what it refuses is dropped with the reason. Items a
/// committed block carries — from any proposer — leave the pool (`removeIncluded`).
///
/// Items are kept in arrival order (never iterated out of a hash table), at most
/// `capacity`, each at most `Block.maxEvidenceBytes`. Thread-safe.
public final class EvidencePool {
    /// Most items kept; further ones are refused until some are included.
    public let capacity: Int
    private let lock = NSLock()
    private var items: [[UInt8]] = []

    /// An empty pool holding at most `capacity` items.
    public init(capacity: Int = 256) { self.capacity = capacity }

    /// Queues `evidence` for the next block this node proposes. Returns false, keeping
    /// nothing, when the pool already holds the same bytes, is full, or the item is empty
    /// or larger than `Block.maxEvidenceBytes`.
    @discardableResult
    public func add(_ evidence: [UInt8]) -> Bool {
        guard !evidence.isEmpty, evidence.count <= Block.maxEvidenceBytes else { return false }
        return lock.withLock {
            guard items.count < capacity, !items.contains(evidence) else { return false }
            items.append(evidence)
            return true
        }
    }

    /// Up to `limit` pending items, oldest first, left in the pool until a committed block
    /// carries them or a proposal's handler refuses them.
    public func take(limit: Int = Block.maxEvidence) -> [[UInt8]] { lock.withLock { Array(items.prefix(limit)) } }

    /// Drops items a committed block carried, or that a proposal refused.
    public func remove(_ evidence: [[UInt8]]) {
        guard !evidence.isEmpty else { return }
        lock.withLock { items.removeAll { evidence.contains($0) } }
    }

    /// The number of pending items.
    public var count: Int { lock.withLock { items.count } }
}
