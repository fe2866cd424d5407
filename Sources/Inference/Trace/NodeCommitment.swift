import Primitives

/// The Merkle commitment to a model's nodes (docs/traces.md, "The nodes root"): what lets a
/// dispute over a model registered by reference bring the one disputed node on chain, with
/// the opset it runs under, proven against the registered root.
///
/// Leaf `i` is `u64 opset ‖ the bytes of the graph's i-th NodeProto as they are in the file`,
/// where `opset` is the version the model imports for the node's domain (little-endian); the
/// root is the Merkle root over the leaves in file order (the trace's node indices).
public struct NodeCommitment: Sendable {
    /// One leaf per node, in file order.
    public let leaves: [[UInt8]]
    /// The tree over the leaves.
    public let tree: MerkleTree

    /// The nodes root.
    public var root: Hash32 { tree.root }

    /// The leaves and root of an ONNX file's main graph. Throws what `ModelReader.read`
    /// throws for a malformed file, and for a node whose domain the model imports no opset for.
    public init(file: [UInt8]) throws {
        let model = try ModelReader.read(file)
        let messages = try ModelReader.nodeMessages(file)
        leaves = try zip(model.graph.nodes, messages).enumerated().map { i, pair in
            let domain = pair.0.domain == "ai.onnx" ? "" : pair.0.domain
            guard let opset = model.opsetVersion(domain: domain) else {
                throw ONNXError("\(pair.0.label(index: i)): the model imports no operator set for domain '\(domain.isEmpty ? "ai.onnx" : domain)'")
            }
            var leaf: [UInt8] = []
            TensorEncoding.le(UInt64(bitPattern: opset), 8, &leaf)
            return leaf + pair.1
        }
        tree = MerkleTree(leaves: leaves)
    }

    /// The node and opset a proven leaf holds (what `NodeExecution.run` takes); throws,
    /// naming the rule, for a leaf that is not an opset and a NodeProto.
    public static func node(fromLeaf leaf: [UInt8]) throws -> (node: Node, opset: Int64) {
        guard leaf.count >= 8 else { throw ONNXError("malformed node leaf: \(leaf.count) bytes, an opset takes 8") }
        let opset = Int64(bitPattern: leaf[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        var r = ProtobufReader(Array(leaf[8...]), context: "NodeProto")
        return (try ModelReader.node(&r, depth: 0), opset)
    }
}

extension ModelReader {
    /// The bytes of each NodeProto of the main graph, in file order (of the last `graph`
    /// field, as `read` keeps).
    static func nodeMessages(_ file: [UInt8]) throws -> [[UInt8]] {
        var r = ProtobufReader(file, context: "ModelProto")
        var graphRange: Range<Int>?
        while let (field, type) = try r.nextField() {
            if field == 7, type == .lengthDelimited { graphRange = try r.lengthDelimited() } else { try r.skip(type) }
        }
        guard let graphRange else { throw ONNXError("ModelProto: the model has no graph") }
        var g = ProtobufReader(file, range: graphRange, context: "ModelProto.graph")
        var messages: [[UInt8]] = []
        while let (field, type) = try g.nextField() {
            if field == 1, type == .lengthDelimited { messages.append(Array(file[try g.lengthDelimited()])) } else { try g.skip(type) }
        }
        return messages
    }
}
