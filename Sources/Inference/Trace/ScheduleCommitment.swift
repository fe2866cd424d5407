import Primitives

/// The Merkle commitment to a model's execution schedule (docs/traces.md, "The schedule
/// root"): which node runs at each trace position and where each of its inputs comes from.
/// A model registered by reference records it, so that a dispute can re-execute the node
/// at one trace position with nothing of the model but that node, its schedule leaf and
/// the initializer chunks it reads, all proven.
///
/// Leaf `q` (for `q` below the node count) is `u64 node index ‖ per input of that node: u8
/// kind ‖ u64 index ‖ u64 output`, the node at execution position `q`; the last leaf (index
/// = node count) lists the graph outputs' sources the same way, without a node index. All
/// integers little-endian. `Source` says what kind, index and output mean.
public struct ScheduleCommitment: Sendable {
    /// Where a value a node reads (or a graph output) comes from.
    public enum Source: Equatable, Sendable, CustomStringConvertible {
        /// An optional input the node leaves unnamed (kind 0).
        case omitted
        /// Graph input `index` among the inputs a caller feeds (kind 1): the index-th tensor
        /// of an exact job's canonical input.
        case graphInput(Int)
        /// Initializer `index` of the graph, in file order (kind 2): the leaf index of its
        /// root in the initializer tree.
        case initializer(Int)
        /// Named output `output` of the node at execution position `position` (kind 3).
        case nodeOutput(position: Int, output: Int)

        /// Bytes one source takes in a leaf.
        public static let encodedBytes = 17

        public var description: String {
            switch self {
            case .omitted: return "omitted"
            case .graphInput(let i): return "graph input \(i)"
            case .initializer(let i): return "initializer \(i)"
            case .nodeOutput(let p, let k): return "output \(k) of the node at position \(p)"
            }
        }
    }

    /// The leaves: one per node in execution order, then the graph outputs' leaf.
    public let leaves: [[UInt8]]
    /// The tree over the leaves.
    public let tree: MerkleTree

    /// The schedule root.
    public var root: Hash32 { tree.root }

    /// The schedule of a compiled model: its execution order and each input's source (a
    /// graph input the caller feeds, else a node's output, else an initializer).
    public init(session: InferenceSession) throws {
        let graph = session.model.graph
        let order = session.order
        let fed = session.inputs.map(\.name)
        var produced: [String: (position: Int, output: Int)] = [:]
        for (position, index) in order.enumerated() {
            for (k, name) in graph.nodes[index].outputs.filter({ !$0.isEmpty }).enumerated() where produced[name] == nil {
                produced[name] = (position, k)
            }
        }
        var initializerIndex: [String: Int] = [:]
        for (i, t) in graph.initializers.enumerated() where initializerIndex[t.name] == nil { initializerIndex[t.name] = i }
        func source(_ name: String) throws -> Source {
            if name.isEmpty { return .omitted }
            if let i = fed.firstIndex(of: name) { return .graphInput(i) }
            if let p = produced[name] { return .nodeOutput(position: p.position, output: p.output) }
            if let i = initializerIndex[name] { return .initializer(i) }
            throw ONNXError("'\(name)' is no graph input, node output or initializer: the schedule cannot name its source")
        }
        var leaves: [[UInt8]] = try order.map { index in
            var leaf: [UInt8] = []
            TensorEncoding.le(UInt64(index), 8, &leaf)
            for name in graph.nodes[index].inputs { Self.append(try source(name), to: &leaf) }
            return leaf
        }
        var outputs: [UInt8] = []
        for info in graph.outputs { Self.append(try source(info.name), to: &outputs) }
        leaves.append(outputs)
        self.leaves = leaves
        tree = MerkleTree(leaves: leaves)
    }

    /// The node index and input sources a proven node leaf holds; throws, naming the rule,
    /// for a leaf that is not a node index followed by whole sources.
    public static func node(fromLeaf leaf: [UInt8]) throws -> (nodeIndex: Int, sources: [Source]) {
        guard leaf.count >= 8 else { throw ONNXError("malformed schedule leaf: \(leaf.count) bytes, a node index takes 8") }
        let index = read(leaf, at: 0, width: 8)
        guard index <= UInt64(Int32.max) else { throw ONNXError("malformed schedule leaf: node index \(index) exceeds \(Int32.max)") }
        return (Int(index), try sources(fromLeaf: Array(leaf[8...])))
    }

    /// The sources a proven outputs leaf (or the part of a node leaf after its index) lists.
    public static func sources(fromLeaf bytes: [UInt8]) throws -> [Source] {
        guard bytes.count % Source.encodedBytes == 0 else {
            throw ONNXError("malformed schedule leaf: \(bytes.count) bytes of sources is not a multiple of \(Source.encodedBytes)")
        }
        return try stride(from: 0, to: bytes.count, by: Source.encodedBytes).map { at in
            let index = read(bytes, at: at + 1, width: 8), output = read(bytes, at: at + 9, width: 8)
            guard index <= UInt64(Int32.max), output <= UInt64(Int32.max) else {
                throw ONNXError("malformed schedule leaf: source \(at / Source.encodedBytes) has an index over \(Int32.max)")
            }
            switch bytes[at] {
            case 0 where index == 0 && output == 0: return .omitted
            case 1 where output == 0: return .graphInput(Int(index))
            case 2 where output == 0: return .initializer(Int(index))
            case 3: return .nodeOutput(position: Int(index), output: Int(output))
            default:
                throw ONNXError("malformed schedule leaf: source \(at / Source.encodedBytes) (kind \(bytes[at]), index \(index), output \(output)) is no source")
            }
        }
    }

    static func append(_ source: Source, to leaf: inout [UInt8]) {
        let (kind, index, output): (UInt8, Int, Int)
        switch source {
        case .omitted: (kind, index, output) = (0, 0, 0)
        case .graphInput(let i): (kind, index, output) = (1, i, 0)
        case .initializer(let i): (kind, index, output) = (2, i, 0)
        case .nodeOutput(let p, let k): (kind, index, output) = (3, p, k)
        }
        leaf.append(kind)
        TensorEncoding.le(UInt64(index), 8, &leaf)
        TensorEncoding.le(UInt64(output), 8, &leaf)
    }

    private static func read(_ bytes: [UInt8], at: Int, width: Int) -> UInt64 {
        (0..<width).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
    }
}
