/// A binary Keccak-256 Merkle tree with domain-separated hashing (docs/traces.md,
/// "Merkle tree"): the execution traces of exact jobs and the initializer roots of models
/// registered by reference are roots of such trees, and disputes prove single leaves
/// against them.
///
/// - a leaf is `keccak256(0x00 ‖ data)`, an inner node `keccak256(0x01 ‖ left ‖ right)`,
///   so no inner node can pass for a leaf or the reverse;
/// - each level pairs its nodes left to right; an odd last node is promoted to the next
///   level unchanged (never paired with itself, so two different leaf lists never share a
///   root by duplication);
/// - the root of a single leaf is that leaf's hash; the root of no leaves is 32 zero bytes
///   (`Hash32.zero`), which no proof can reach.
public struct MerkleTree: Sendable {
    /// Every level, leaf hashes first, the root's one-element level last (empty for no leaves).
    public let levels: [[Hash32]]

    /// The tree over the leaf hashes given (each already `leafHash` of its data).
    public init(leafHashes: [Hash32]) {
        var levels = [leafHashes]
        while let top = levels.last, top.count > 1 {
            var next: [Hash32] = []
            next.reserveCapacity((top.count + 1) / 2)
            var i = 0
            while i + 1 < top.count {
                next.append(Self.innerHash(top[i], top[i + 1]))
                i += 2
            }
            if i < top.count { next.append(top[i]) }
            levels.append(next)
        }
        self.levels = levels
    }

    /// The tree whose leaves are these byte strings.
    public init(leaves: [[UInt8]]) {
        self.init(leafHashes: leaves.map(Self.leafHash))
    }

    /// The number of leaves.
    public var leafCount: Int { levels[0].count }

    /// The root (`Hash32.zero` for no leaves).
    public var root: Hash32 { levels.last?.first ?? .zero }

    /// The proof of leaf `index`: its siblings from the leaf level up, skipping levels
    /// where the node is promoted. Nil when `index` is out of range.
    public func proof(ofLeaf index: Int) -> MerkleProof? {
        guard index >= 0, index < leafCount else { return nil }
        var siblings: [Hash32] = []
        var position = index
        for level in levels.dropLast() {
            let sibling = position ^ 1
            if sibling < level.count { siblings.append(level[sibling]) }
            position /= 2
        }
        return MerkleProof(leafIndex: index, leafCount: leafCount, siblings: siblings)
    }

    /// `keccak256(0x00 ‖ data)`.
    public static func leafHash(_ data: [UInt8]) -> Hash32 {
        var message: [UInt8] = [0x00]
        message.reserveCapacity(data.count + 1)
        message += data
        return Keccak256.hash(message)
    }

    /// `keccak256(0x01 ‖ left ‖ right)`.
    public static func innerHash(_ left: Hash32, _ right: Hash32) -> Hash32 {
        Keccak256.hash([0x01] + left.bytes + right.bytes)
    }

    /// The root of the tree over `leafHashes` without keeping the levels.
    public static func root(leafHashes: [Hash32]) -> Hash32 {
        MerkleTree(leafHashes: leafHashes).root
    }
}

/// A proof that a leaf sits at `leafIndex` of a tree of `leafCount` leaves: the siblings
/// on its path to the root, leaf level first. The index and count fix which levels have a
/// sibling (an odd last node has none), so a proof binds the leaf's position too.
public struct MerkleProof: Equatable, Sendable {
    /// The leaf's position, from 0.
    public var leafIndex: Int
    /// The number of leaves of the tree.
    public var leafCount: Int
    /// The sibling hashes, from the leaf level up.
    public var siblings: [Hash32]

    /// A proof from its parts (checked only by `root(ofLeafHash:)`).
    public init(leafIndex: Int, leafCount: Int, siblings: [Hash32]) {
        self.leafIndex = leafIndex
        self.leafCount = leafCount
        self.siblings = siblings
    }

    /// Largest tree a proof may describe (2^48 leaves: 48 levels, far above any model).
    public static let maxLeafCount = 1 << 48

    /// How many siblings a proof of leaf `index` of `count` needs (nil when out of range).
    public static func siblingCount(leafIndex index: Int, leafCount count: Int) -> Int? {
        guard count > 0, count <= maxLeafCount, index >= 0, index < count else { return nil }
        var position = index, width = count, siblings = 0
        while width > 1 {
            if position ^ 1 < width { siblings += 1 }
            position /= 2
            width = (width + 1) / 2
        }
        return siblings
    }

    /// The root this proof leads to from a leaf hash; throws `PrimitivesError` of kind
    /// `merkleProof`, naming the rule, when the proof is malformed.
    public func root(ofLeafHash leaf: Hash32) throws -> Hash32 {
        guard leafCount > 0 else { throw PrimitivesError(.merkleProof, "leaf count is zero: an empty tree has no proofs") }
        guard leafCount <= Self.maxLeafCount else {
            throw PrimitivesError(.merkleProof, "leaf count \(leafCount) exceeds the limit of \(Self.maxLeafCount)")
        }
        guard leafIndex >= 0, leafIndex < leafCount else {
            throw PrimitivesError(.merkleProof, "leaf index \(leafIndex) is out of range for \(leafCount) leaves")
        }
        let needed = Self.siblingCount(leafIndex: leafIndex, leafCount: leafCount)!
        guard siblings.count == needed else {
            throw PrimitivesError(.merkleProof, "proof has \(siblings.count) siblings, leaf \(leafIndex) of \(leafCount) needs \(needed)")
        }
        var node = leaf, position = leafIndex, width = leafCount, next = 0
        while width > 1 {
            if position ^ 1 < width {
                node = position & 1 == 0 ? MerkleTree.innerHash(node, siblings[next]) : MerkleTree.innerHash(siblings[next], node)
                next += 1
            }
            position /= 2
            width = (width + 1) / 2
        }
        return node
    }

    /// Throws unless the leaf with this hash is at `leafIndex` under `root`.
    public func verify(leafHash: Hash32, root expected: Hash32) throws {
        let computed = try root(ofLeafHash: leafHash)
        guard computed == expected else {
            throw PrimitivesError(.merkleProof, "proof leads to root \(computed), expected \(expected)")
        }
    }

    /// Throws unless the leaf with these bytes is at `leafIndex` under `root`.
    public func verify(leaf data: [UInt8], root expected: Hash32) throws {
        try verify(leafHash: MerkleTree.leafHash(data), root: expected)
    }
}
