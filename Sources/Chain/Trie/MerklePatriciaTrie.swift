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
    public static func orderedRoot(_ items: [[UInt8]]) -> Hash32 {
        orderedRoot(count: items.count) { i, out in out.append(contentsOf: items[i]) }
    }

    /// The root of a trie mapping rlp(i) to item i for i in 0..<count, where `value`
    /// appends item i's bytes to its buffer (it may run on several threads at once).
    ///
    /// Built bottom-up in key order instead of by insertion: every node is encoded once,
    /// leaves are assembled in one reused buffer and hashed in place, and no node
    /// objects are allocated. The unit tests check it against the insertion-built trie.
    public static func orderedRoot(count: Int, value: @escaping (Int, inout [UInt8]) -> Void) -> Hash32 {
        if count == 0 { return emptyRoot }
        let builder = OrderedTrieBuilder(count: count, value: value)
        var scratch = OrderedTrieBuilder.Scratch()
        let root = count == 1 ? builder.leaf(0, depth: 0, scratch: &scratch) : builder.inner(0..<count, depth: 0)
        return Keccak256.hash(root)
    }
}

/// Encodes the trie whose keys are rlp(0), …, rlp(count − 1) directly from the keys'
/// byte order, which is known without sorting: 0x01…0x7f (items 1…127), 0x80 (item 0),
/// then 0x81 xx, 0x82 xx xx, … (items 128, 129, … in numeric order). RLP encodings are
/// prefix-free, so no key ends at a branch and branches never hold values.
private struct OrderedTrieBuilder {
    /// Ranges at least this large hash their subtrees in parallel.
    static let parallelThreshold = 2048

    /// Buffers one leaf at a time is assembled in.
    struct Scratch {
        var node: [UInt8] = []
        var value: [UInt8] = []
    }

    let count: Int
    let value: (Int, inout [UInt8]) -> Void

    /// The item at key-order position `p`.
    func index(_ p: Int) -> Int {
        let small = Swift.min(127, count - 1)  // items 1…small come first
        return p < small ? p + 1 : (p == small ? 0 : p)
    }

    /// The key (rlp of the item's index) of position `p` as nibbles right-aligned in a
    /// word, and how many nibbles it has.
    func key(_ p: Int) -> (nibbles: UInt64, length: Int) {
        let i = UInt64(index(p))
        if i == 0 { return (0x80, 2) }
        if i < 0x80 { return (i, 2) }
        let bytes = (64 - i.leadingZeroBitCount + 7) / 8
        return ((0x80 + UInt64(bytes)) << (8 * UInt64(bytes)) | i, 2 * (bytes + 1))
    }

    func nibble(_ key: (nibbles: UInt64, length: Int), _ depth: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: key.nibbles >> (4 * UInt64(key.length - 1 - depth)) & 0xF)
    }

    /// Appends the hex-prefix encoding of nibbles depth..<end of `key` as an RLP string.
    func appendPath(_ key: (nibbles: UInt64, length: Int), from depth: Int, to end: Int, leaf: Bool, into out: inout [UInt8]) {
        let count = end - depth
        let flag: UInt8 = leaf ? 0x20 : 0
        let length = count / 2 + 1
        if length > 1 { out.append(0x80 + UInt8(length)) }  // a lone flag byte (< 0x80) is its own encoding
        var d = depth
        if count % 2 == 1 {
            out.append(flag | 0x10 | nibble(key, d))
            d += 1
        } else {
            out.append(flag)
        }
        while d < end {
            out.append(nibble(key, d) << 4 | nibble(key, d + 1))
            d += 2
        }
    }

    func pathSize(_ nibbles: Int) -> Int { nibbles / 2 + 1 == 1 ? 1 : nibbles / 2 + 2 }

    /// The encoding of the leaf at position `p` under a branch at `depth`, in `scratch.node`.
    func leaf(_ p: Int, depth: Int, scratch: inout Scratch) -> [UInt8] {
        scratch.value.removeAll(keepingCapacity: true)
        value(index(p), &scratch.value)
        let k = key(p)
        scratch.node.removeAll(keepingCapacity: true)
        RLP.appendListHeader(payloadLength: pathSize(k.length - depth) + RLP.bytesSize(scratch.value), to: &scratch.node)
        appendPath(k, from: depth, to: k.length, leaf: true, into: &scratch.node)
        RLP.appendBytes(scratch.value, to: &scratch.node)
        return scratch.node
    }

    /// Appends how a parent refers to the node of positions `range`: its encoding when
    /// under 32 bytes, else the RLP string of its hash.
    func appendReference(_ range: Range<Int>, depth: Int, to out: inout [UInt8], scratch: inout Scratch) {
        let node = range.count == 1 ? leaf(range.lowerBound, depth: depth, scratch: &scratch) : inner(range, depth: depth)
        node.withUnsafeBufferPointer { encoding in
            if encoding.count < 32 {
                out.append(contentsOf: encoding)
            } else {
                out.append(0xA0)
                Keccak256.appendDigest(of: encoding, to: &out)
            }
        }
    }

    /// The encoding of the extension or branch node holding positions `range` (two or more).
    func inner(_ range: Range<Int>, depth: Int) -> [UInt8] {
        let first = key(range.lowerBound), last = key(range.upperBound - 1)
        var common = 0
        while depth + common < Swift.min(first.length, last.length), nibble(first, depth + common) == nibble(last, depth + common) {
            common += 1
        }
        var body: [UInt8] = []
        if common > 0 {
            body.reserveCapacity(pathSize(common) + 33)
            appendPath(first, from: depth, to: depth + common, leaf: false, into: &body)
            var scratch = Scratch()
            appendReference(range, depth: depth + common, to: &body, scratch: &scratch)
        } else {
            var groups: [(nibble: UInt8, range: Range<Int>)] = []
            var i = range.lowerBound
            while i < range.upperBound {
                let n = nibble(key(i), depth)
                var j = i + 1
                while j < range.upperBound, nibble(key(j), depth) == n { j += 1 }
                groups.append((n, i..<j))
                i = j
            }
            var refs = [[UInt8]](repeating: [], count: groups.count)
            if range.count >= Self.parallelThreshold {
                // Subtrees are independent: hash them on every core (the result is the same).
                refs.withUnsafeMutableBufferPointer { out in
                    let out = out
                    DispatchQueue.concurrentPerform(iterations: groups.count) { g in
                        var scratch = Scratch()
                        appendReference(groups[g].range, depth: depth + 1, to: &out[g], scratch: &scratch)
                    }
                }
            } else {
                var scratch = Scratch()
                for g in groups.indices { appendReference(groups[g].range, depth: depth + 1, to: &refs[g], scratch: &scratch) }
            }
            body.reserveCapacity(17 * 33)
            var g = 0
            for n in 0..<16 as Range<UInt8> {
                if g < groups.count, groups[g].nibble == n {
                    body += refs[g]
                    g += 1
                } else {
                    body.append(0x80)
                }
            }
            body.append(0x80)  // no value: keys are prefix-free
        }
        var node: [UInt8] = []
        node.reserveCapacity(body.count + 3)
        RLP.appendListHeader(payloadLength: body.count, to: &node)
        node += body
        return node
    }
}
