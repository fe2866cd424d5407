import Crypto
import Primitives

/// A file's IPFS content id, computed exactly as `ipfs add` does with its defaults: the
/// file cut into 262,144-byte chunks, each wrapped in a UnixFS `File` node inside a
/// dag-pb block, the blocks linked in a balanced DAG of at most 174 links per node, every
/// block addressed by its SHA-256 multihash. The root's multihash is the id; it prints as
/// CIDv0 (`Qm…`, base58btc) and as CIDv1 base32 (`bafy…`, what `ipfs cid base32` prints
/// for the same root). docs/content-ids.md describes the encoding byte by byte.
public struct ContentID: Equatable, Hashable, Sendable {
    /// The SHA-256 digest of the root dag-pb block.
    public let rootDigest: Hash32

    /// Wraps a root digest.
    public init(rootDigest: Hash32) { self.rootDigest = rootDigest }

    /// The content id `ipfs add` prints for `file` (defaults: CIDv0, 256 KiB chunks,
    /// dag-pb leaves, balanced layout).
    public static func of(file: [UInt8]) -> ContentID {
        let root = UnixFSImporter.ipfsAddDefaults.root(of: file)
        // The defaults make every block dag-pb with a SHA-256 multihash; a digest is 32 bytes.
        return ContentID(rootDigest: try! Hash32(root.digest))
    }

    /// The binary multihash: sha2-256 code, length, digest.
    public var multihash: [UInt8] { [Multihash.sha256Code, 32] + rootDigest.bytes }

    /// CIDv0: the multihash in base58btc (`Qm…`).
    public var v0: String { Base58.encode(multihash) }

    /// CIDv1 in base32 (multibase prefix `b`): version 1, codec dag-pb, the multihash.
    public var v1: String { "b" + Base32.encode(CIDv1.binary(codec: CIDv1.dagPB, multihash: multihash)) }
}

/// A model id as a user writes it: a content id in either form, or the SHA-256 of the file.
public enum ModelIDForm: Equatable, Sendable {
    /// A `Qm…` or `bafy…` id.
    case content(ContentID)
    /// `0x` + 64 hex digits: the SHA-256 of the file.
    case fileSHA256(Hash32)

    /// Parses a model id. Throws `ContentIDError` naming the rule broken.
    public static func parse(_ text: String) throws -> ModelIDForm {
        if text.hasPrefix("0x") || text.hasPrefix("0X") {
            guard text.utf8.count == 66, let hash = try? Hash32(hex: text) else {
                throw ContentIDError("malformed model id \(quoted(text)): a SHA-256 id is 0x followed by 64 hex digits")
            }
            return .fileSHA256(hash)
        }
        if text.hasPrefix("Qm") {
            guard let bytes = Base58.decode(text) else {
                throw ContentIDError("malformed model id \(quoted(text)): not base58btc")
            }
            return .content(try ContentID(multihash: bytes, id: text))
        }
        if text.hasPrefix("b") {
            guard let bytes = Base32.decode(text.dropFirst()) else {
                throw ContentIDError("malformed model id \(quoted(text)): not lowercase base32")
            }
            var reader = VarintReader(bytes)
            guard let version = reader.next(), let codec = reader.next() else {
                throw ContentIDError("malformed model id \(quoted(text)): truncated CID")
            }
            guard version == 1 else { throw ContentIDError("malformed model id \(quoted(text)): CID version \(version), want 1") }
            guard codec == CIDv1.dagPB else {
                throw ContentIDError("model id \(quoted(text)) has codec 0x\(String(codec, radix: 16)), want 0x70 (dag-pb): models are UnixFS files as `ipfs add` stores them")
            }
            return .content(try ContentID(multihash: Array(bytes[reader.offset...]), id: text))
        }
        throw ContentIDError("malformed model id \(quoted(text)): want a CIDv0 (Qm…), a CIDv1 in base32 (bafy…) or 0x + the file's SHA-256")
    }

    private static func quoted(_ text: String) -> String {
        let shown = text.count > 80 ? text.prefix(80) + "…" : Substring(text)
        return "\"\(shown)\""
    }
}

extension ContentID {
    /// Reads a binary sha2-256 multihash.
    fileprivate init(multihash bytes: [UInt8], id: String) throws {
        guard bytes.count == 34, bytes[0] == Multihash.sha256Code, bytes[1] == 32 else {
            throw ContentIDError("model id \"\(id)\" is not a sha2-256 multihash of 32 bytes")
        }
        self.init(rootDigest: try Hash32(Array(bytes[2...])))
    }
}

/// A model id that breaks a rule of the CID or hex format.
public struct ContentIDError: Error, Equatable, CustomStringConvertible {
    /// What is wrong, naming the rule.
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

// MARK: - The importer

/// Builds the UnixFS DAG of a file the way `ipfs add`'s balanced importer does, with
/// dag-pb leaves, for the options the tests need to meet published vectors: the defaults
/// (links are bare CIDv0 multihashes) and CIDv1 links (what js-unixfs writes).
struct UnixFSImporter {
    /// Largest chunk.
    var chunkSize: Int
    /// Most links one node holds.
    var maxLinks: Int
    /// Whether links carry CIDv1 (else bare v0 multihashes).
    var linksAreV1: Bool

    /// `ipfs add` with no options.
    static let ipfsAddDefaults = UnixFSImporter(chunkSize: 262_144, maxLinks: 174, linksAreV1: false)

    /// A built node: its block's digest, the file bytes below it, and its cumulative DAG
    /// size (its block plus every block below, the link's `Tsize`).
    struct Node {
        let digest: [UInt8]
        let fileSize: UInt64
        let dagSize: UInt64
    }

    /// The root node of `file`.
    func root(of file: [UInt8]) -> Node {
        var cursor = ChunkCursor(file: file, chunkSize: chunkSize)
        var root = leafNode(cursor.next())
        var depth = 1
        while !cursor.done {
            root = fill(first: root, depth: depth, cursor: &cursor)
            depth += 1
        }
        return root
    }

    /// A node `depth` levels above the leaves whose first child is `first` and whose
    /// other children are full subtrees one level lower, added while chunks remain.
    private func fill(first: Node?, depth: Int, cursor: inout ChunkCursor) -> Node {
        var children: [Node] = first.map { [$0] } ?? []
        while children.count < maxLinks && !cursor.done {
            children.append(depth == 1 ? leafNode(cursor.next()) : fill(first: nil, depth: depth - 1, cursor: &cursor))
        }
        return internalNode(children)
    }

    /// A leaf: UnixFS `File` with the chunk as data (omitted when empty) and its size.
    private func leafNode(_ chunk: ArraySlice<UInt8>) -> Node {
        var data = Protobuf()
        data.varint(field: 1, UnixFSData.file)
        if !chunk.isEmpty { data.bytes(field: 2, chunk) }
        data.varint(field: 3, UInt64(chunk.count))
        return dagPBNode(links: [], data: data.bytes, fileSize: UInt64(chunk.count), below: 0)
    }

    /// An inner node: UnixFS `File` with the total size and each child's size.
    private func internalNode(_ children: [Node]) -> Node {
        var data = Protobuf()
        data.varint(field: 1, UnixFSData.file)
        data.varint(field: 3, children.reduce(0) { $0 + $1.fileSize })
        for child in children { data.varint(field: 4, child.fileSize) }
        return dagPBNode(links: children, data: data.bytes, fileSize: children.reduce(0) { $0 + $1.fileSize },
                         below: children.reduce(0) { $0 + $1.dagSize })
    }

    /// A dag-pb block: the links (field 2) before the data (field 1), as the spec orders them.
    private func dagPBNode(links: [Node], data: [UInt8], fileSize: UInt64, below: UInt64) -> Node {
        var block = Protobuf()
        for child in links {
            var link = Protobuf()
            let multihash = [Multihash.sha256Code, 32] + child.digest
            link.bytes(field: 1, linksAreV1 ? CIDv1.binary(codec: CIDv1.dagPB, multihash: multihash)[...] : multihash[...])
            link.bytes(field: 2, [])
            link.varint(field: 3, child.dagSize)
            block.bytes(field: 2, link.bytes[...])
        }
        block.bytes(field: 1, data[...])
        let bytes = block.bytes
        return Node(digest: SHA256.hash(bytes), fileSize: fileSize, dagSize: UInt64(bytes.count) + below)
    }
}

/// Cuts a file into chunks; an empty file is one empty chunk.
private struct ChunkCursor {
    let file: [UInt8]
    let chunkSize: Int
    var offset = 0
    var started = false

    var done: Bool { started && offset >= file.count }

    mutating func next() -> ArraySlice<UInt8> {
        started = true
        let end = min(offset + chunkSize, file.count)
        defer { offset = end }
        return file[offset..<end]
    }
}

private enum UnixFSData {
    /// `Data.DataType.File`.
    static let file: UInt64 = 2
}

private enum Multihash {
    static let sha256Code: UInt8 = 0x12
}

private enum CIDv1 {
    static let dagPB: UInt64 = 0x70

    static func binary(codec: UInt64, multihash: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        Protobuf.appendVarint(1, to: &out)
        Protobuf.appendVarint(codec, to: &out)
        return out + multihash
    }
}

/// The few protobuf writes UnixFS and dag-pb need (varint and length-delimited fields).
private struct Protobuf {
    var bytes: [UInt8] = []

    mutating func varint(field: UInt64, _ value: UInt64) {
        Self.appendVarint(field << 3, to: &bytes)
        Self.appendVarint(value, to: &bytes)
    }

    mutating func bytes(field: UInt64, _ value: ArraySlice<UInt8>) {
        Self.appendVarint(field << 3 | 2, to: &bytes)
        Self.appendVarint(UInt64(value.count), to: &bytes)
        bytes += value
    }

    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }
}

/// Reads unsigned LEB128 varints (multiformats' unsigned-varint, at most 9 bytes).
private struct VarintReader {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func next() -> UInt64? {
        var value: UInt64 = 0
        for shift in stride(from: UInt64(0), to: 63, by: 7) {
            guard offset < bytes.count else { return nil }
            let byte = bytes[offset]
            offset += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
        }
        return nil
    }
}

// MARK: - Multibase text

/// Base58 with Bitcoin's alphabet (multibase `base58btc`), leading zero bytes as `1`s.
enum Base58 {
    private static let alphabet = Array("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz".utf8)
    private static let values: [Int8] = {
        var table = [Int8](repeating: -1, count: 128)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = Int8(i) }
        return table
    }()

    static func encode(_ bytes: [UInt8]) -> String {
        let zeros = bytes.prefix { $0 == 0 }.count
        var digits: [UInt8] = []  // base-58 digits, least significant first
        for byte in bytes[zeros...] {
            var carry = Int(byte)
            for i in digits.indices {
                carry += Int(digits[i]) << 8
                digits[i] = UInt8(carry % 58)
                carry /= 58
            }
            while carry > 0 {
                digits.append(UInt8(carry % 58))
                carry /= 58
            }
        }
        let text = [UInt8](repeating: alphabet[0], count: zeros) + digits.reversed().map { alphabet[Int($0)] }
        return String(decoding: text, as: UTF8.self)
    }

    /// The bytes of `text`, or nil when it has a character outside the alphabet or is
    /// longer than any id (128 characters).
    static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count <= 128 else { return nil }
        let ones = chars.prefix { $0 == alphabet[0] }.count
        var bytes: [UInt8] = []  // least significant first
        for c in chars[ones...] {
            guard c < 128, values[Int(c)] >= 0 else { return nil }
            var carry = Int(values[Int(c)])
            for i in bytes.indices {
                carry += Int(bytes[i]) * 58
                bytes[i] = UInt8(carry & 0xFF)
                carry >>= 8
            }
            while carry > 0 {
                bytes.append(UInt8(carry & 0xFF))
                carry >>= 8
            }
        }
        return [UInt8](repeating: 0, count: ones) + bytes.reversed()
    }
}

/// RFC 4648 base32, lowercase, no padding (multibase `base32`, prefix `b`).
enum Base32 {
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = buffer << 8 | UInt32(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                out.append(alphabet[Int(buffer >> UInt32(bits) & 31)])
            }
        }
        if bits > 0 { out.append(alphabet[Int(buffer << UInt32(5 - bits) & 31)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of lowercase unpadded `text`, or nil for any other character, a length
    /// no encoding produces, non-zero trailing bits, or more than 128 characters.
    static func decode(_ text: Substring) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count <= 128, ![1, 3, 6].contains(chars.count % 8) else { return nil }
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for c in chars {
            let value: UInt32
            switch c {
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(c - UInt8(ascii: "a"))
            case UInt8(ascii: "2")...UInt8(ascii: "7"): value = UInt32(c - UInt8(ascii: "2")) + 26
            default: return nil
            }
            buffer = buffer << 5 | value
            bits += 5
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(buffer >> UInt32(bits) & 0xFF))
            }
        }
        guard buffer & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return out
    }
}
