import Dispatch
import Primitives
import Storage

/// A Merkle Patricia Trie with Ethereum's semantics: the root of the empty trie is
/// keccak(rlp("")) = 0x56e81f17…b421, nodes whose encoding is shorter than 32 bytes are
/// embedded in their parent, and a key with an empty value is absent.
///
/// Changes stay in memory until `commit`, which hashes only the changed paths and
/// returns the new nodes for the caller to write in its block's batch. Keys are used
/// as given; `SecureTrie` hashes them first (accounts, storage).
public final class MerklePatriciaTrie {
    /// keccak256(rlp("")): the root hash of an empty trie.
    public static let emptyRoot = Keccak256.hash([0x80])

    private let nodes: TrieNodeStore?
    private var root: TrieNode

    /// A trie whose committed content is the one at `root`, loading nodes from `nodes`.
    public init(root: Hash32 = MerklePatriciaTrie.emptyRoot, nodes: TrieNodeStore?) {
        self.nodes = nodes
        self.root = root == Self.emptyRoot ? .empty : .hashed(root)
    }

    /// The value stored under `key`, or nil.
    public func get(_ key: [UInt8]) throws -> [UInt8]? {
        var node = root
        var path = HexPrefix.nibbles(of: key)[...]
        while true {
            switch node {
            case .empty:
                return nil
            case .hashed(let h):
                node = try resolve(h)
            case .leaf(let rest, let value):
                return rest.elementsEqual(path) ? value : nil
            case .ext(let prefix, let child):
                guard path.starts(with: prefix) else { return nil }
                path = path.dropFirst(prefix.count)
                node = child
            case .branch(let children, let value):
                guard let first = path.first else { return value }
                node = children[Int(first)]
                path = path.dropFirst()
            }
        }
    }

    /// Sets `key` to `value`; an empty value deletes the key.
    public func put(_ key: [UInt8], _ value: [UInt8]) throws {
        if value.isEmpty { return try delete(key) }
        root = try insert(root, HexPrefix.nibbles(of: key)[...], value)
    }

    /// Removes `key` (nothing happens when it is absent).
    public func delete(_ key: [UInt8]) throws {
        if let changed = try remove(root, HexPrefix.nibbles(of: key)[...]) { root = changed }
    }

    /// The root hash of the current content, without keeping any nodes.
    public var rootHash: Hash32 {
        var discard: [(Hash32, [UInt8])] = []
        return hashRoot(collect: &discard, remember: false)
    }

    /// Hashes the changed paths, appends each new node (hash, encoding) to `newNodes`
    /// and returns the root hash. Afterwards the trie refers to its content by hash.
    @discardableResult
    public func commit(into newNodes: inout [(Hash32, [UInt8])]) -> Hash32 {
        let h = hashRoot(collect: &newNodes, remember: true)
        root = h == Self.emptyRoot ? .empty : .hashed(h)
        return h
    }

    /// Commits and adds the new nodes to `batch` (table `n`).
    @discardableResult
    public func commit(into batch: inout WriteBatch) -> Hash32 {
        var newNodes: [(Hash32, [UInt8])] = []
        let h = commit(into: &newNodes)
        for (hash, encoding) in newNodes { batch.put(Schema.trieNode(hash), encoding) }
        return h
    }

    /// The encodings of the nodes on the path to `key` that are referenced by hash,
    /// root first: an EIP-1186 proof of the key's presence or absence. Reads committed
    /// nodes only (call after `commit`).
    public func proof(_ key: [UInt8]) throws -> [[UInt8]] {
        guard case .hashed(let rootHash) = root, let nodes else { return [] }
        var out: [[UInt8]] = []
        var path = HexPrefix.nibbles(of: key)[...]
        var next: TrieNode = .hashed(rootHash)
        while true {
            switch next {
            case .empty, .leaf:
                return out
            case .hashed(let h):
                let encoding = try nodes.encoding(h)
                out.append(encoding)
                next = try TrieNode.decode(encoding)
            case .ext(let prefix, let child):
                guard path.starts(with: prefix) else { return out }
                path = path.dropFirst(prefix.count)
                next = child
            case .branch(let children, _):
                guard let first = path.first else { return out }
                next = children[Int(first)]
                path = path.dropFirst()
            }
        }
    }

    // MARK: - Updates

    private func resolve(_ hash: Hash32) throws -> TrieNode {
        guard let nodes else { throw TrieError.missingNode(hash) }
        return try nodes.node(hash)
    }

    private func insert(_ node: TrieNode, _ path: ArraySlice<UInt8>, _ value: [UInt8]) throws -> TrieNode {
        switch node {
        case .empty:
            return .leaf(Array(path), value)
        case .hashed(let h):
            return try insert(resolve(h), path, value)
        case .leaf(let rest, let existing):
            let common = commonPrefix(rest[...], path)
            if common == rest.count && common == path.count { return .leaf(rest, value) }
            var children = TrieNode.emptyChildren
            var branchValue: [UInt8]?
            if common == rest.count { branchValue = existing } else {
                children[Int(rest[common])] = .leaf(Array(rest[(common + 1)...]), existing)
            }
            if common == path.count { branchValue = value } else {
                let i = path.startIndex + common
                children[Int(path[i])] = .leaf(Array(path[(i + 1)...]), value)
            }
            let branch = TrieNode.branch(children, branchValue)
            return common > 0 ? .ext(Array(rest[..<common]), branch) : branch
        case .ext(let prefix, let child):
            let common = commonPrefix(prefix[...], path)
            if common == prefix.count {
                return .ext(prefix, try insert(child, path.dropFirst(common), value))
            }
            var children = TrieNode.emptyChildren
            var branchValue: [UInt8]?
            let remainder = prefix[(common + 1)...]
            children[Int(prefix[common])] = remainder.isEmpty ? child : .ext(Array(remainder), child)
            if common == path.count { branchValue = value } else {
                let i = path.startIndex + common
                children[Int(path[i])] = .leaf(Array(path[(i + 1)...]), value)
            }
            let branch = TrieNode.branch(children, branchValue)
            return common > 0 ? .ext(Array(prefix[..<common]), branch) : branch
        case .branch(var children, let branchValue):
            guard let first = path.first else { return .branch(children, value) }
            children[Int(first)] = try insert(children[Int(first)], path.dropFirst(), value)
            return .branch(children, branchValue)
        }
    }

    /// The node after removing `path` below it, or nil when the key was absent.
    private func remove(_ node: TrieNode, _ path: ArraySlice<UInt8>) throws -> TrieNode? {
        switch node {
        case .empty:
            return nil
        case .hashed(let h):
            return try remove(resolve(h), path)
        case .leaf(let rest, _):
            return rest.elementsEqual(path) ? .empty : nil
        case .ext(let prefix, let child):
            guard path.starts(with: prefix), let newChild = try remove(child, path.dropFirst(prefix.count)) else { return nil }
            return try joinExtension(prefix, newChild)
        case .branch(var children, var branchValue):
            if let first = path.first {
                guard let newChild = try remove(children[Int(first)], path.dropFirst()) else { return nil }
                children[Int(first)] = newChild
            } else {
                guard branchValue != nil else { return nil }
                branchValue = nil
            }
            return try collapse(children, branchValue)
        }
    }

    /// An extension over `child`, merged with it when it is itself a leaf or extension.
    private func joinExtension(_ prefix: [UInt8], _ child: TrieNode) throws -> TrieNode {
        switch child {
        case .empty: return .empty
        case .leaf(let rest, let value): return .leaf(prefix + rest, value)
        case .ext(let more, let grandchild): return .ext(prefix + more, grandchild)
        case .hashed(let h): return try joinExtension(prefix, resolve(h))
        case .branch: return .ext(prefix, child)
        }
    }

    /// A branch reduced to a leaf or extension when fewer than two entries remain.
    private func collapse(_ children: [TrieNode], _ value: [UInt8]?) throws -> TrieNode {
        var only = -1
        var count = 0
        for i in 0..<16 {
            if case .empty = children[i] { continue }
            count += 1
            only = i
            if count > 1 { return .branch(children, value) }
        }
        if count == 0 { return value.map { .leaf([], $0) } ?? .empty }
        if value != nil { return .branch(children, value) }
        return try joinExtension([UInt8(only)], children[only])
    }

    private func commonPrefix(_ a: ArraySlice<UInt8>, _ b: ArraySlice<UInt8>) -> Int {
        var n = 0
        var i = a.startIndex, j = b.startIndex
        while i < a.endIndex, j < b.endIndex, a[i] == b[j] {
            n += 1
            i += 1
            j += 1
        }
        return n
    }

    // MARK: - Hashing

    private func hashRoot(collect: inout [(Hash32, [UInt8])], remember: Bool) -> Hash32 {
        switch root {
        case .empty: return Self.emptyRoot
        case .hashed(let h): return h
        default:
            let (encoding, collapsed) = encode(root, collect: &collect, remember: remember)
            let h = Keccak256.hash(encoding)
            collect.append((h, encoding))
            if remember { nodes?.remember(h, collapsed) }
            return h
        }
    }

    /// The node's encoding, and the node with every hashed child replaced by its hash.
    private func encode(_ node: TrieNode, collect: inout [(Hash32, [UInt8])], remember: Bool) -> ([UInt8], TrieNode) {
        switch node {
        case .empty:
            return ([0x80], .empty)
        case .hashed(let h):
            return (RLP.encode(.bytes(h.bytes)), node)
        case .leaf(let rest, let value):
            let enc = RLP.encodeList(encodedItems: [RLP.encode(.bytes(HexPrefix.encode(rest, isLeaf: true))), RLP.encode(.bytes(value))])
            return (enc, node)
        case .ext(let prefix, let child):
            let (ref, childNode) = reference(child, collect: &collect, remember: remember)
            let enc = RLP.encodeList(encodedItems: [RLP.encode(.bytes(HexPrefix.encode(prefix, isLeaf: false))), ref])
            return (enc, .ext(prefix, childNode))
        case .branch(let children, let value):
            var items = [[UInt8]]()
            items.reserveCapacity(17)
            var collapsed = children
            for i in 0..<16 {
                let (ref, childNode) = reference(children[i], collect: &collect, remember: remember)
                items.append(ref)
                collapsed[i] = childNode
            }
            items.append(RLP.encode(.bytes(value ?? [])))
            return (RLP.encodeList(encodedItems: items), .branch(collapsed, value))
        }
    }

    /// How a parent refers to `node`: embedded when its encoding is under 32 bytes,
    /// else by hash (and the node is collected).
    private func reference(_ node: TrieNode, collect: inout [(Hash32, [UInt8])], remember: Bool) -> ([UInt8], TrieNode) {
        switch node {
        case .empty: return ([0x80], .empty)
        case .hashed(let h): return (RLP.encode(.bytes(h.bytes)), node)
        default:
            let (encoding, collapsed) = encode(node, collect: &collect, remember: remember)
            if encoding.count < 32 { return (encoding, collapsed) }
            let h = Keccak256.hash(encoding)
            collect.append((h, encoding))
            if remember { nodes?.remember(h, collapsed) }
            return (RLP.encode(.bytes(h.bytes)), .hashed(h))
        }
    }
}

/// A trie keyed by keccak-256 of the key (Ethereum's account and storage tries).
public struct SecureTrie {
    /// The underlying trie.
    public let trie: MerklePatriciaTrie

    /// A secure trie at `root`.
    public init(root: Hash32, nodes: TrieNodeStore?) { trie = MerklePatriciaTrie(root: root, nodes: nodes) }

    /// The value under keccak(key).
    public func get(_ key: [UInt8]) throws -> [UInt8]? { try trie.get(Keccak256.digest(key)) }
    /// Sets keccak(key) to value (empty deletes).
    public func put(_ key: [UInt8], _ value: [UInt8]) throws { try trie.put(Keccak256.digest(key), value) }
    /// A proof for keccak(key).
    public func proof(_ key: [UInt8]) throws -> [[UInt8]] { try trie.proof(Keccak256.digest(key)) }
}

extension MerklePatriciaTrie {
    /// The root of a trie mapping rlp(index) to each item (transactions, receipts).
    ///
    /// Built bottom-up from the sorted keys instead of by insertion: every node is
    /// encoded once and no node objects are allocated, which makes the transaction and
    /// receipt roots of a 10,000-transaction block several times cheaper. The unit
    /// tests check it against the insertion-built trie.
    public static func orderedRoot(_ items: [[UInt8]]) -> Hash32 {
        if items.isEmpty { return emptyRoot }
        // rlp(i) keys as nibbles, in byte order (0x01…0x7f, 0x80 = rlp(0), 0x81.., 0x82..).
        let keys: [[UInt8]] = items.indices.map { HexPrefix.nibbles(of: RLP.encode(.uint(UInt64($0)))) }
        let order = items.indices.sorted { keys[$0].lexicographicallyPrecedes(keys[$1]) }
        let builder = SortedTrieBuilder(keys: order.map { keys[$0] }, values: order.map { items[$0] })
        let rootEncoding = builder.encode(0..<order.count, depth: 0)
        return Keccak256.hash(rootEncoding)
    }
}

/// Encodes the trie of sorted, distinct keys directly: a range of keys sharing a
/// prefix becomes an extension, a range that splits becomes a branch, one key a leaf.
private struct SortedTrieBuilder {
    /// Ranges at least this large hash their subtrees in parallel.
    static let parallelThreshold = 2048
    let keys: [[UInt8]]
    let values: [[UInt8]]

    /// The RLP encoding of the node holding keys[range], whose paths start at `depth`.
    func encode(_ range: Range<Int>, depth: Int) -> [UInt8] {
        let first = keys[range.lowerBound]
        if range.count == 1 {
            return RLP.encode(.list([.bytes(HexPrefix.encode(first[depth...], isLeaf: true)), .bytes(values[range.lowerBound])]))
        }
        // Sorted keys: the prefix common to all is the one the first and last share.
        let last = keys[range.upperBound - 1]
        var common = 0
        while depth + common < first.count, depth + common < last.count, first[depth + common] == last[depth + common] { common += 1 }
        if common > 0 {
            let child = encode(range, depth: depth + common)
            return RLP.encodeList(encodedItems: [RLP.encode(.bytes(HexPrefix.encode(first[depth..<depth + common], isLeaf: false))),
                                                 reference(child)])
        }
        var slots = [[UInt8]](repeating: [0x80], count: 17)
        var i = range.lowerBound
        if first.count == depth {  // a key that ends here holds the branch's value
            slots[16] = RLP.encode(.bytes(values[i]))
            i += 1
        }
        var groups: [(nibble: Int, range: Range<Int>)] = []
        while i < range.upperBound {
            let nibble = keys[i][depth]
            var j = i + 1
            while j < range.upperBound, keys[j][depth] == nibble { j += 1 }
            groups.append((Int(nibble), i..<j))
            i = j
        }
        if range.count >= Self.parallelThreshold {
            // Subtrees are independent: hash them on every core (the result is the same).
            var refs = [[UInt8]](repeating: [], count: groups.count)
            refs.withUnsafeMutableBufferPointer { out in
                let out = out
                DispatchQueue.concurrentPerform(iterations: groups.count) { g in
                    out[g] = reference(encode(groups[g].range, depth: depth + 1))
                }
            }
            for (g, group) in groups.enumerated() { slots[group.nibble] = refs[g] }
        } else {
            for group in groups { slots[group.nibble] = reference(encode(group.range, depth: depth + 1)) }
        }
        return RLP.encodeList(encodedItems: slots)
    }

    /// How a parent refers to a child: embedded when its encoding is under 32 bytes.
    func reference(_ encoding: [UInt8]) -> [UInt8] {
        encoding.count < 32 ? encoding : RLP.encode(.bytes(Keccak256.digest(encoding)))
    }
}
