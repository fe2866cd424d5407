import Primitives

/// The execution trace of one run (docs/traces.md): for every node of the model as
/// uploaded, in execution order, the Keccak-256 of its outputs in the canonical tensor
/// encoding, and the Merkle root over those hashes. Exact jobs commit to the root;
/// disputes bisect it down to one node and re-execute that node (`NodeExecution`).
public struct ExecutionTrace: Sendable {
    /// One node's entry.
    public struct Step: Equatable, Sendable {
        /// The node's index in the uploaded graph (`graph.nodes`).
        public let nodeIndex: Int
        /// `Keccak-256(TensorEncoding.canonical(outputs))` of the node's named outputs, in
        /// the node's output order.
        public let outputHash: Hash32
    }

    /// One step per node, in execution order (`ExecutionOrder.of`).
    public let steps: [Step]
    /// The run's graph outputs, the same tensors `InferenceSession.run` returns.
    public let outputs: [Tensor]
    /// The Merkle tree over the steps' output hashes (leaf data: the 32 hash bytes).
    public let tree: MerkleTree

    /// The trace root.
    public var root: Hash32 { tree.root }

    /// The hash a step records for a node's outputs.
    public static func outputHash(_ outputs: [Tensor]) -> Hash32 {
        Keccak256.hash(TensorEncoding.canonical(outputs))
    }

    /// The proof that step `position` (in execution order) is in the trace.
    public func proof(ofStep position: Int) -> MerkleProof? { tree.proof(ofLeaf: position) }

    init(steps: [Step], outputs: [Tensor]) {
        self.steps = steps
        self.outputs = outputs
        tree = MerkleTree(leaves: steps.map(\.outputHash.bytes))
    }
}

extension InferenceSession {
    /// Runs the model as `run` does and records its trace. The arithmetic is the normal
    /// run's (the fast kernels, on `options.threads`); only Relu fusion is off, so the
    /// Conv or Gemm before a Relu is seen on its own (the fused kernel gives the bits of
    /// the two nodes run in turn). The outputs equal `run`'s bit for bit. `observe`, when
    /// given, also sees each node's index and named outputs (to keep or write them).
    public func trace(_ feeds: [String: Tensor], options: RunOptions = RunOptions(),
                      observe: ((Int, [Tensor]) throws -> Void)? = nil) throws -> ExecutionTrace {
        var steps: [ExecutionTrace.Step] = []
        steps.reserveCapacity(model.graph.nodes.count)
        let outputs = try execute(feeds, options: options) { index, tensors in
            steps.append(ExecutionTrace.Step(nodeIndex: index, outputHash: ExecutionTrace.outputHash(tensors)))
            try observe?(index, tensors)
        }
        return ExecutionTrace(steps: steps, outputs: outputs)
    }

    /// Runs the model and hands each node's index and named outputs to `observe`, in
    /// execution order (what `trace` hashes); returns the graph outputs.
    public func run(_ feeds: [String: Tensor], options: RunOptions = RunOptions(),
                    observingNodes observe: (Int, [Tensor]) throws -> Void) throws -> [Tensor] {
        try withoutActuallyEscaping(observe) { try execute(feeds, options: options, observe: $0) }
    }

    /// Hands the folded nodes (computed at load) that come before node `stop` in execution
    /// order to `observe`, moving `cursor` past `stop` (to the end when `stop` is nil).
    func observeFolded(upTo stop: Int?, cursor: inout Int, _ observe: (Int, [Tensor]) throws -> Void) throws {
        while cursor < order.count {
            let index = order[cursor]
            cursor += 1
            if index == stop { return }
            let node = model.graph.nodes[index]
            let outputs = try node.outputs.filter { !$0.isEmpty }.map { name -> Tensor in
                guard let t = constants[name] else { throw ONNXError("\(node.label(index: index)): output '\(name)' is not produced") }
                return t
            }
            try observe(index, outputs)
        }
    }

    /// The opset the model imports for node `index`'s domain (what `NodeExecution.run` needs).
    public func opset(ofNode index: Int) -> Int64 { opsets[index] }

    /// Node indices in execution order.
    public var executionOrder: [Int] { order }
}
