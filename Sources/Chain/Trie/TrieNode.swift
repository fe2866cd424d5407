import Primitives

/// A node of a Merkle Patricia Trie (Yellow Paper, appendix D), as held in memory.
/// Paths are nibble arrays (values 0…15). `.hashed` is a node not yet loaded from the
/// node store; untouched subtrees stay `.hashed`, so a commit re-hashes only the paths
/// that changed.
indirect enum TrieNode {
    /// No node (an empty subtrie).
    case empty
    /// The rest of a key's nibbles and its value.
    case leaf([UInt8], [UInt8])
    /// A shared run of nibbles above one child.
    case ext([UInt8], TrieNode)
    /// Sixteen children by next nibble, plus the value of a key ending here.
    case branch([TrieNode], [UInt8]?)
    /// A node referenced by the keccak-256 of its encoding.
    case hashed(Hash32)

    static let emptyChildren = [TrieNode](repeating: .empty, count: 16)

    /// Decodes a node from its RLP encoding; errors name the rule broken.
    static func decode(_ encoding: [UInt8]) throws -> TrieNode {
        try decode(item: RLP.decode(encoding))
    }

    static func decode(item: RLPItem) throws -> TrieNode {
        let fields = try item.list("trie node")
        switch fields.count {
        case 2:
            let (nibbles, isLeaf) = try HexPrefix.decode(fields[0].bytes("trie node path"))
            if isLeaf { return .leaf(nibbles, try fields[1].bytes("leaf value")) }
            guard !nibbles.isEmpty else { throw PrimitivesError(.rlp, "trie extension node has an empty path") }
            return .ext(nibbles, try child(fields[1]))
        case 17:
            var children = emptyChildren
            for i in 0..<16 { children[i] = try child(fields[i]) }
            let value = try fields[16].bytes("branch value")
            return .branch(children, value.isEmpty ? nil : value)
        default:
            throw PrimitivesError(.rlp, "trie node must be a list of 2 or 17 items, got \(fields.count)")
        }
    }

    /// A child reference: empty, a 32-byte hash, or an embedded node (< 32 bytes).
    private static func child(_ item: RLPItem) throws -> TrieNode {
        switch item {
        case .bytes(let b) where b.isEmpty: return .empty
        case .bytes(let b) where b.count == 32: return .hashed(try Hash32(b))
        case .bytes(let b): throw PrimitivesError(.rlp, "trie child reference must be empty or 32 bytes, got \(b.count)")
        case .list: return try decode(item: item)
        }
    }
}

/// Hex-prefix encoding of nibble paths with the leaf flag (Yellow Paper, appendix C).
enum HexPrefix {
    static func encode<C: Collection>(_ nibbles: C, isLeaf: Bool) -> [UInt8] where C.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity(nibbles.count / 2 + 1)
        let flag: UInt8 = isLeaf ? 2 : 0
        var i = nibbles.startIndex
        if nibbles.count % 2 == 1 {
            out.append((flag + 1) << 4 | nibbles[i])
            i = nibbles.index(after: i)
        } else {
            out.append(flag << 4)
        }
        while i != nibbles.endIndex {
            let hi = nibbles[i]
            i = nibbles.index(after: i)
            out.append(hi << 4 | nibbles[i])
            i = nibbles.index(after: i)
        }
        return out
    }

    static func decode(_ bytes: [UInt8]) throws -> (nibbles: [UInt8], isLeaf: Bool) {
        guard let first = bytes.first else { throw PrimitivesError(.rlp, "trie node path is empty (no hex-prefix flag)") }
        let flag = first >> 4
        guard flag <= 3 else { throw PrimitivesError(.rlp, "trie node path has hex-prefix flag \(flag) (must be 0-3)") }
        var nibbles = [UInt8]()
        nibbles.reserveCapacity(bytes.count * 2)
        if flag & 1 == 1 {
            nibbles.append(first & 0x0F)
        } else if first & 0x0F != 0 {
            throw PrimitivesError(.rlp, "trie node path with an even length has a non-zero padding nibble")
        }
        for b in bytes.dropFirst() {
            nibbles.append(b >> 4)
            nibbles.append(b & 0x0F)
        }
        return (nibbles, flag & 2 == 2)
    }

    /// The nibbles of `key`, high nibble first.
    static func nibbles(of key: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(key.count * 2)
        for b in key {
            out.append(b >> 4)
            out.append(b & 0x0F)
        }
        return out
    }
}
