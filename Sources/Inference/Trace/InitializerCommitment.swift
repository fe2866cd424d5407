import Primitives

/// The Merkle commitment to a model's initializers (docs/traces.md, "Initializer root"):
/// what a model registered by reference records, so a dispute can bring one node's
/// weights on chain in chunks, each proven against the registered root, without the rest
/// of the model.
///
/// Each initializer, in the graph's order, is cut into chunks of at most `chunkBytes`:
/// chunk 0 is its header (`u64 name length ‖ name ‖ u32 element type ‖ u32 rank ‖ u64 per
/// dimension`, little-endian), the others its values in the canonical encoding (the
/// values part of `TensorEncoding.canonical`) cut at row boundaries, a row being one index
/// of the first dimension: a row that fits is never split, and rows are packed
/// `rowsPerChunk` to a chunk; a longer row takes `chunksPerRow` chunks of its own. So a
/// range of rows (what a Gather reads) maps to a range of chunks by arithmetic alone.
/// The tensor's root is the Merkle root over its chunks; the initializer root is the
/// Merkle root over the tensors' roots.
public struct InitializerCommitment: Sendable {
    /// Most bytes in one chunk: 64 KiB, so a chunk with its two proofs and the ABI
    /// around them stays under the 96 KiB a transaction may carry.
    public static let chunkBytes = 65_536

    /// One initializer's chunking and root.
    public struct TensorCommitment: Sendable {
        /// The initializer's name.
        public let name: String
        /// Its layout (which rows are in which chunk).
        public let layout: ChunkLayout
        /// The chunks, header first.
        public let chunks: [[UInt8]]
        /// The Merkle tree over the chunks.
        public let tree: MerkleTree
        /// The tensor's root (a leaf of the initializer tree).
        public var root: Hash32 { tree.root }
    }

    /// Every initializer's commitment, in the graph's order.
    public let tensors: [TensorCommitment]
    /// The tree over the tensors' roots.
    public let tree: MerkleTree

    /// The initializer root.
    public var root: Hash32 { tree.root }

    /// Chunks and roots of the initializers of `graph`. Throws when a header does not fit
    /// in one chunk (a name of about 64 KiB).
    public init(graph: Graph) throws {
        tensors = try graph.initializers.map { t in
            let layout = try ChunkLayout(t)
            let chunks = Self.chunks(t, layout: layout)
            return TensorCommitment(name: t.name, layout: layout, chunks: chunks, tree: MerkleTree(leaves: chunks))
        }
        tree = MerkleTree(leaves: tensors.map(\.root.bytes))
    }

    /// The proof of chunk `chunk` of initializer `tensor`: the chunk's proof in its tensor's
    /// tree and the tensor's proof in the initializer tree.
    public func proof(tensor: Int, chunk: Int) -> ChunkProof? {
        guard tensor >= 0, tensor < tensors.count, let chunkProof = tensors[tensor].tree.proof(ofLeaf: chunk),
              let tensorProof = tree.proof(ofLeaf: tensor) else { return nil }
        return ChunkProof(chunk: chunkProof, tensor: tensorProof)
    }

    /// The chunks of `t` under `layout`, header first.
    static func chunks(_ t: Tensor, layout: ChunkLayout) -> [[UInt8]] {
        var chunks = [layout.header]
        let rows = layout.rows
        if case .string(let strings) = t.storage {
            let perRow = rows == 0 ? 0 : strings.count / rows
            var current: [UInt8] = []
            for r in 0..<rows {
                var row: [UInt8] = []
                for s in strings[(r * perRow)..<((r + 1) * perRow)] {
                    TensorEncoding.le(UInt64(s.count), 8, &row)
                    row += s
                }
                if current.count + row.count > chunkBytes, !current.isEmpty {
                    chunks.append(current)
                    current = []
                }
                if row.count > chunkBytes {
                    chunks += stride(from: 0, to: row.count, by: chunkBytes).map { Array(row[$0..<min($0 + chunkBytes, row.count)]) }
                } else {
                    current += row
                }
            }
            if !current.isEmpty { chunks.append(current) }
            return chunks
        }
        let values = TensorEncoding.values(t.canonicalized())
        guard layout.rowBytes > 0 else { return chunks }
        if layout.rowsPerChunk > 0 {
            let step = layout.rowsPerChunk * layout.rowBytes
            for start in stride(from: 0, to: values.count, by: step) { chunks.append(Array(values[start..<min(start + step, values.count)])) }
        } else {
            for r in 0..<rows {
                let row = r * layout.rowBytes
                for start in stride(from: 0, to: layout.rowBytes, by: chunkBytes) {
                    chunks.append(Array(values[(row + start)..<(row + min(start + chunkBytes, layout.rowBytes))]))
                }
            }
        }
        return chunks
    }
}

/// How an initializer is cut into chunks: its header (chunk 0) and where each row lies.
public struct ChunkLayout: Equatable, Sendable {
    /// Chunk 0.
    public let header: [UInt8]
    /// The initializer's name (from the header).
    public let name: String
    /// Element type and shape (from the header).
    public let elementType: ElementType
    public let shape: [Int]
    /// Rows: the first dimension (1 for a scalar).
    public let rows: Int
    /// Bytes of one row's values (0 for strings, whose rows vary).
    public let rowBytes: Int
    /// Rows per chunk when a row fits in a chunk, else 0.
    public let rowsPerChunk: Int
    /// Chunks per row when a row does not fit in a chunk, else 0.
    public let chunksPerRow: Int

    /// The layout of `t`.
    public init(_ t: Tensor) throws {
        var header: [UInt8] = []
        let name = Array(t.name.utf8)
        TensorEncoding.le(UInt64(name.count), 8, &header)
        header += name
        TensorEncoding.le(UInt64(UInt32(bitPattern: t.elementType.rawValue)), 4, &header)
        TensorEncoding.le(UInt64(t.shape.count), 4, &header)
        for d in t.shape { TensorEncoding.le(UInt64(d), 8, &header) }
        guard header.count <= InitializerCommitment.chunkBytes else {
            throw ONNXError("initializer '\(t.name)': its header of \(header.count) bytes does not fit in one chunk of \(InitializerCommitment.chunkBytes) bytes")
        }
        try self.init(header: header, name: t.name, elementType: t.elementType, shape: t.shape)
    }

    /// The layout a header chunk describes (what a verifier holds after proving chunk 0).
    public init(header: [UInt8]) throws {
        func fail(_ rule: String) -> ONNXError { ONNXError("malformed initializer header: \(rule)") }
        var at = 0
        func read(_ width: Int) throws -> UInt64 {
            guard at + width <= header.count else { throw fail("ends after \(header.count) bytes, inside a field") }
            var v: UInt64 = 0
            for i in 0..<width { v |= UInt64(header[at + i]) << (8 * UInt64(i)) }
            at += width
            return v
        }
        let nameLength = try read(8)
        guard nameLength <= UInt64(header.count - at) else { throw fail("name length \(nameLength) runs past the header") }
        let name = String(decoding: header[at..<(at + Int(nameLength))], as: UTF8.self)
        at += Int(nameLength)
        let code = try read(4)
        let type = ElementType(rawValue: Int32(truncatingIfNeeded: code))
        guard code <= UInt64(Int32.max), type.isSupported else {
            throw fail("element type \(code) is not a tensor element type")
        }
        let rank = try read(4)
        guard rank <= 64 else { throw fail("rank \(rank) exceeds 64") }
        var shape: [Int] = []
        for _ in 0..<rank {
            let d = try read(8)
            guard d <= UInt64(Int32.max) else { throw fail("dimension \(d) exceeds \(Int32.max)") }
            shape.append(Int(d))
        }
        guard at == header.count else { throw fail("\(header.count - at) bytes after the last dimension") }
        try self.init(header: header, name: name, elementType: type, shape: shape)
    }

    private init(header: [UInt8], name: String, elementType: ElementType, shape: [Int]) throws {
        self.header = header
        self.name = name
        self.elementType = elementType
        self.shape = shape
        rows = shape.first ?? 1
        var perRow = 1
        for d in shape.dropFirst() {
            let (p, overflow) = perRow.multipliedReportingOverflow(by: d)
            guard !overflow, p <= Int(Int32.max) else { throw ONNXError("malformed initializer header: a row of shape \(shape) is too large") }
            perRow = p
        }
        let width = elementType == .string ? 0 : (elementType.byteWidth ?? 0)
        rowBytes = perRow * width
        let chunk = InitializerCommitment.chunkBytes
        rowsPerChunk = rowBytes == 0 ? 0 : (rowBytes <= chunk ? chunk / rowBytes : 0)
        chunksPerRow = rowBytes > chunk ? (rowBytes + chunk - 1) / chunk : 0
    }

    /// The chunks (indices in the tensor's tree) holding rows `range`, and the byte offset
    /// of the range's first row in the first of them. Nil for string tensors, whose rows
    /// are not at fixed offsets, and for rows out of range.
    public func chunks(holdingRows range: Range<Int>) -> (chunks: Range<Int>, offset: Int)? {
        guard rowBytes > 0, range.lowerBound >= 0, range.upperBound <= rows, !range.isEmpty else { return nil }
        if rowsPerChunk > 0 {
            let first = range.lowerBound / rowsPerChunk, last = (range.upperBound - 1) / rowsPerChunk
            return (1 + first ..< 2 + last, (range.lowerBound % rowsPerChunk) * rowBytes)
        }
        return (1 + range.lowerBound * chunksPerRow ..< 1 + range.upperBound * chunksPerRow, 0)
    }

    /// The tensor of rows `range` (a scalar's only row is 0..<1) from the value chunks that
    /// hold them, in order — the chunks `chunks(holdingRows:)` names, or for a string
    /// tensor every value chunk and the whole range. The result has `range.count` rows (a
    /// scalar stays a scalar) and the header's name. Throws, naming the rule, when the
    /// chunks do not hold those rows.
    public func tensor(rows range: Range<Int>, from chunks: [[UInt8]]) throws -> Tensor {
        func fail(_ rule: String) -> ONNXError { ONNXError("initializer '\(name)': \(rule)") }
        guard range.lowerBound >= 0, range.upperBound <= rows else { throw fail("rows \(range) are outside its \(rows) rows") }
        let shape = self.shape.isEmpty ? [] : [range.count] + self.shape.dropFirst()
        let bytes = chunks.flatMap { $0 }
        if elementType == .string {
            guard range == 0..<rows else { throw fail("the rows of a string tensor are brought whole (rows 0..<\(rows))") }
            var values: [[UInt8]] = [], at = 0
            while at < bytes.count {
                guard at + 8 <= bytes.count else { throw fail("a string's length is cut off at byte \(at)") }
                let length = bytes[at..<(at + 8)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                guard length <= UInt64(bytes.count - at - 8) else { throw fail("a string of \(length) bytes runs past the chunks") }
                values.append(Array(bytes[(at + 8)..<(at + 8 + Int(length))]))
                at += 8 + Int(length)
            }
            let count = shape.reduce(1, *)
            guard values.count == count else { throw fail("the chunks hold \(values.count) strings, the shape \(shape) needs \(count)") }
            return Tensor(name: name, elementType: .string, shape: shape, storage: .string(values))
        }
        let offset = range.isEmpty ? 0 : (self.chunks(holdingRows: range)?.offset ?? 0)
        let needed = range.count * rowBytes
        guard bytes.count >= offset + needed else {
            throw fail("the chunks hold \(bytes.count) bytes, rows \(range) need \(needed) from byte \(offset)")
        }
        let count = shape.reduce(1, *)
        return Tensor(name: name, elementType: elementType, shape: shape,
                      storage: ModelReader.fromRaw(Array(bytes[offset..<(offset + needed)]), elementType, count: count))
    }

    /// The rows `rows` of a fixed-width tensor of rank 1 or more, stacked in the order
    /// given into a tensor of `rows.count` rows: what a Gather over the tensor reads,
    /// re-indexed. `chunk(i)` gives value chunk `i` of the tensor's tree (each row's
    /// chunks are the ones `chunks(holdingRows:)` names). Throws, naming the rule, for a
    /// string tensor or a scalar, a row out of range, or chunks that do not hold a row.
    public func tensor(stacking rows: [Int], chunk: (Int) throws -> [UInt8]) throws -> Tensor {
        func fail(_ rule: String) -> ONNXError { ONNXError("initializer '\(name)': \(rule)") }
        guard elementType != .string, !shape.isEmpty else { throw fail("only the rows of a fixed-width tensor of rank 1 or more are read alone") }
        var bytes: [UInt8] = []
        for r in rows {
            guard rowBytes > 0, let (range, offset) = chunks(holdingRows: r..<(r + 1)) else { throw fail("row \(r) is outside its \(self.rows) rows") }
            let held = try range.flatMap { try chunk($0) }
            guard held.count >= offset + rowBytes else { throw fail("the chunks of row \(r) hold \(held.count) bytes, it needs \(rowBytes) from byte \(offset)") }
            bytes += held[offset..<(offset + rowBytes)]
        }
        let shape = [rows.count] + self.shape.dropFirst()
        return Tensor(name: name, elementType: elementType, shape: shape, storage: ModelReader.fromRaw(bytes, elementType, count: shape.reduce(1, *)))
    }

    /// The number of chunks of a fixed-width tensor, header included.
    public var chunkCount: Int? {
        guard elementType != .string else { return nil }
        guard rowBytes > 0 else { return 1 }
        return 1 + (rowsPerChunk > 0 ? (rows + rowsPerChunk - 1) / rowsPerChunk : rows * chunksPerRow)
    }
}

/// A chunk's path to an initializer root: its proof in its tensor's tree, then the
/// tensor root's proof in the initializer tree.
public struct ChunkProof: Equatable, Sendable {
    /// The chunk's proof (leaf index: the chunk's index; 0 is the header).
    public var chunk: MerkleProof
    /// The tensor root's proof (leaf index: the initializer's index in the graph).
    public var tensor: MerkleProof

    /// A proof from its parts.
    public init(chunk: MerkleProof, tensor: MerkleProof) {
        self.chunk = chunk
        self.tensor = tensor
    }

    /// Throws (`PrimitivesError` of kind `merkleProof`, naming the rule) unless `data` is chunk
    /// `chunk.leafIndex` of initializer `tensor.leafIndex` under `root`.
    public func verify(chunk data: [UInt8], initializerRoot root: Hash32) throws {
        guard data.count <= InitializerCommitment.chunkBytes else {
            throw PrimitivesError(.merkleProof, "chunk of \(data.count) bytes exceeds \(InitializerCommitment.chunkBytes) bytes")
        }
        let tensorRoot = try chunk.root(ofLeafHash: MerkleTree.leafHash(data))
        try tensor.verify(leaf: tensorRoot.bytes, root: root)
    }
}
