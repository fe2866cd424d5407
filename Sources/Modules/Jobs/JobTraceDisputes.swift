import Chain
import Inference
import Primitives

/// The node path of a dispute (docs/verification.md, "Disputes"): the provider reveals its
/// trace's leaves in pieces proven against its trace root (`revealTrace`), after which
/// anyone who finds a leaf the kernel does not reproduce proves it with one node's
/// re-execution (`proveNode`), or proves that the committed output hash is not the hash of
/// the graph outputs the trace holds (`proveOutput`). For a stored model the chain reads
/// the graph to know which node a trace position is and where its inputs come from; for a
/// model registered by reference the prover brings them with proofs (JobReferenceDisputes.swift).
extension Jobs {
    /// Leaves per revealed piece: piece p is the level-10 node p of the trace tree.
    public static let pieceLeaves = 1 << 10
    /// Blocks from a dispute's opening in which the provider must reveal its whole trace.
    public static let traceRevealBlocks: UInt64 = 50
    /// Most producers one node or output proof may carry.
    public static let maxProducers = 64

    /// The number of pieces a trace of `nodes` leaves is revealed in.
    static func pieceCount(nodes: Int) -> UInt64 { UInt64((nodes + pieceLeaves - 1) / pieceLeaves) }

    /// One proven entry of the provider's trace: the canonical encoding of the named
    /// outputs of the node at `position` (in execution order), with the proof of its
    /// hash against the trace root.
    public struct ProducerOutputs: Equatable, Sendable {
        public var position: UInt64
        public var outputs: [UInt8]
        public var proof: [Hash32]

        /// Describes one producer's outputs.
        public init(position: UInt64, outputs: [UInt8], proof: [Hash32]) {
            self.position = position
            self.outputs = outputs
            self.proof = proof
        }

        /// The ABI type `(uint64 position, bytes outputs, bytes32[] proof)`.
        public static let abiType = ABIType.tuple([.uint(64), .bytes, .array(.fixedBytes(32))])

        /// The ABI value of this entry.
        public var abiValue: ABIValue {
            .tuple([.uint(UInt256(position)), .bytes(outputs), .array(proof.map { .fixedBytes($0.bytes) })])
        }

        /// Decodes a list of entries (the last argument of `proveNode` and `proveOutput`).
        static func decodeList(_ value: ABIValue) throws -> [ProducerOutputs] {
            guard case .array(let items) = value else { throw NativeRevert("invalid calldata: expected a producer list") }
            guard items.count <= Jobs.maxProducers else {
                throw NativeRevert("\(items.count) producers is over the limit of \(Jobs.maxProducers) per call")
            }
            return try items.map { item in
                guard case .tuple(let f) = item, f.count == 3, let position = f[0].uintValue?.uint64, let outputs = f[1].bytesValue,
                      case .array(let siblings) = f[2] else { throw NativeRevert("invalid calldata: expected (uint64,bytes,bytes32[])") }
                return ProducerOutputs(position: position, outputs: outputs, proof: try siblings.map(Jobs.hashArgument))
            }
        }
    }

    // MARK: revealTrace

    /// `revealTrace(jobId, piece, leaves, proof)`: the provider publishes piece `piece` of
    /// its trace (leaves `piece × 1024 …`, all but the last piece full), proven as the
    /// level-10 node `piece` of its trace tree; pieces in order. Emits `TraceRevealed`.
    func revealTrace(_ id: Hash32, piece: UInt64, leaves: [Hash32], proof: [Hash32], _ context: NativeCallContext) throws {
        let base = try disputedExactJob(id, context)
        let provider = try context.loadAddress(field(base, .provider))
        guard context.caller == provider else { throw NativeRevert("only the job's provider \(provider.checksummed) reveals its trace") }
        let revealBy = try disputeField(id, .openedAt, context) + Self.traceRevealBlocks
        guard context.block.number <= revealBy else { throw NativeRevert("the trace reveal of job \(id) closed at block \(revealBy)") }
        let nodes = try disputedModel(base, context).nodeCount
        let pieces = Self.pieceCount(nodes: nodes)
        let next = try disputeField(id, .revealedPieces, context)
        guard next < pieces else { throw NativeRevert("the whole trace of job \(id) is revealed") }
        guard piece == next else { throw NativeRevert("piece \(piece) is out of order: piece \(next) of \(pieces) is next") }
        let expected = min(Self.pieceLeaves, nodes - Int(piece) * Self.pieceLeaves)
        guard leaves.count == expected else {
            throw NativeRevert("piece \(piece) of a trace of \(nodes) nodes holds \(expected) leaves, got \(leaves.count)")
        }
        try context.chargeHashing(byteCount: leaves.count * 98 + proof.count * 65)
        let pieceRoot = MerkleTree(leaves: leaves.map(\.bytes)).root
        try Self.checkProof(MerkleProof(leafIndex: Int(piece), leafCount: Int(pieces), siblings: proof), leafHash: pieceRoot,
                            root: try context.load(field(base, .traceRoot)), what: "piece \(piece)")
        try context.storeWord(UInt256(next + 1), at: offset(try context.mappingSlot(Slot.disputes, key: id), DisputeField.revealedPieces.rawValue))
        try context.emit(topics: [SignatureCache.topic(Event.traceRevealed), id],
                         data: try ABI.encode([.uint(64), .array(.fixedBytes(32))], [.uint(UInt256(piece)), .array(leaves.map { .fixedBytes($0.bytes) })]))
    }

    // MARK: proveNode, proveOutput

    /// `proveNode(jobId, position, leaf, leafProof, input, producers)`: re-executes the node
    /// at `position` of the execution order on its inputs — each a proven producer's
    /// output, a graph input (from the job's input: empty when inline, else its bytes) or an
    /// initializer (from the stored model) — and settles the dispute against the provider
    /// when the outputs do not hash to `leaf`, the provider's proven trace entry there.
    func proveNode(_ id: Hash32, position: UInt64, leaf: Hash32, leafProof: [Hash32], input: [UInt8], producers: [ProducerOutputs],
                   _ context: NativeCallContext) throws {
        let base = try disputedExactJob(id, context)
        let session = try storedSession(base, context).session
        let graph = session.model.graph
        let order = session.executionOrder
        guard position < UInt64(order.count) else { throw NativeRevert("position \(position) is out of range: the trace has \(order.count) nodes") }
        let traceRoot = try context.load(field(base, .traceRoot))
        try context.chargeHashing(byteCount: leafProof.count * 65 + 33)
        try Self.checkProof(MerkleProof(leafIndex: Int(position), leafCount: order.count, siblings: leafProof), leaf: leaf.bytes,
                            root: traceRoot, what: "the leaf at position \(position)")
        let feeds = try Self.feeds(try disputeInput(id, base, given: input, context), session)
        let proven = try provenOutputs(producers, nodes: order.count, root: traceRoot, maxElements: session.limits.maxTensorElements, context)
        let index = order[Int(position)]
        let node = graph.nodes[index]
        var inputs: [String: Tensor] = [:]
        for name in node.inputs where !name.isEmpty && inputs[name] == nil {
            if let fed = feeds[name] {
                inputs[name] = fed
            } else if let tensor = try producedTensor(name, order: order, graph: graph, proven: proven) {
                inputs[name] = tensor
            }
        }
        let cost = session.cost(ofNode: index, inputShapes: feeds.mapValues(\.shape))
        try context.useGas(cost.map(InferenceGas.gas(node:)) ?? InferenceGas.base)
        let outputs: [Tensor]
        do { outputs = try session.runNode(index, inputs: inputs, options: RunOptions(threads: inference.threads)) } catch {
            throw NativeRevert("the node at position \(position) (\(node.label(index: index))) does not run on these inputs: \(error)")
        }
        let hash = ExecutionTrace.outputHash(outputs)
        guard hash != leaf else {
            throw NativeRevert("the node at position \(position) (\(node.label(index: index))) reproduces the provider's trace entry \(leaf): no fault here")
        }
        try recordFault(id, position: position + 1, outputHash: hash, context)
        try settleDispute(id, base, .providerWrong, context)
    }

    /// `proveOutput(jobId, producers)`: the graph outputs, taken from the proven outputs of
    /// the nodes that produce them, hash to something other than the committed output
    /// hash: the provider's output contradicts its own trace.
    func proveOutput(_ id: Hash32, producers: [ProducerOutputs], _ context: NativeCallContext) throws {
        let base = try disputedExactJob(id, context)
        let session = try storedSession(base, context).session
        let graph = session.model.graph
        let order = session.executionOrder
        let proven = try provenOutputs(producers, nodes: order.count, root: try context.load(field(base, .traceRoot)),
                                       maxElements: session.limits.maxTensorElements, context)
        var outputs: [Tensor] = []
        for info in graph.outputs {
            guard let tensor = try producedTensor(info.name, order: order, graph: graph, proven: proven) else {
                throw NativeRevert("graph output '\(info.name)' is no node's output: it cannot contradict the trace")
            }
            outputs.append(tensor)
        }
        try settleOutputProof(id, base, outputs, context)
    }

    /// Settles the dispute against the provider when `outputs` (the graph outputs taken
    /// from its proven trace) do not hash to its committed output hash; reverts otherwise.
    func settleOutputProof(_ id: Hash32, _ base: Hash32, _ outputs: [Tensor], _ context: NativeCallContext) throws {
        let encoded = TensorEncoding.canonical(outputs)
        try context.chargeHashing(byteCount: encoded.count)
        let hash = Keccak256.hash(encoded)
        let committed = try context.load(field(base, .outputHash))
        guard hash != committed else { throw NativeRevert("the trace's graph outputs hash to the committed output hash \(committed): no fault here") }
        try recordFault(id, position: 0, outputHash: hash, context)
        try settleDispute(id, base, .providerWrong, context)
    }

    // MARK: Helpers

    /// The job's base slot when it is disputed and exact; reverts naming the rule otherwise.
    func disputedExactJob(_ id: Hash32, _ context: NativeCallContext) throws -> Hash32 {
        let base = try existingJob(id, context)
        try requireStatus(id, base, .disputed, context)
        guard try number(base, .verificationClass, context) == UInt64(VerificationClass.exact.rawValue) else {
            throw NativeRevert("job \(id) is attested-only: it has no trace")
        }
        return base
    }

    /// Records what a node or output proof found (`faultPosition` = position + 1 of the
    /// node, or 0 for the outputs; `outputHash` = the hash the chain computed).
    func recordFault(_ id: Hash32, position: UInt64, outputHash: Hash32, _ context: NativeCallContext) throws {
        let dispute = try context.mappingSlot(Slot.disputes, key: id)
        try context.storeWord(UInt256(position), at: offset(dispute, DisputeField.faultPosition.rawValue))
        try context.store(outputHash, at: offset(dispute, DisputeField.outputHash.rawValue))
    }

    /// Checks each producer's outputs against the trace root (leaf data: keccak256 of the
    /// bytes) and decodes them; returns (position, tensors) in the order given.
    func provenOutputs(_ producers: [ProducerOutputs], nodes: Int, root: Hash32, maxElements: Int,
                       _ context: NativeCallContext) throws -> [(position: UInt64, tensors: [Tensor])] {
        var out: [(position: UInt64, tensors: [Tensor])] = []
        for (i, p) in producers.enumerated() {
            let what = "producer \(i) (position \(p.position))"
            guard p.position < UInt64(nodes) else { throw NativeRevert("\(what) is out of range: the trace has \(nodes) nodes") }
            guard !out.contains(where: { $0.position == p.position }) else { throw NativeRevert("\(what) is given twice") }
            try context.chargeHashing(byteCount: p.outputs.count + p.proof.count * 65 + 33)
            try Self.checkProof(MerkleProof(leafIndex: Int(p.position), leafCount: nodes, siblings: p.proof),
                                leaf: Keccak256.hash(p.outputs).bytes, root: root, what: what)
            do {
                out.append((p.position, try TensorEncoding.tensors(canonical: p.outputs, maxElements: maxElements)))
            } catch {
                throw NativeRevert("\(what): \(error)")
            }
        }
        return out
    }

    /// The tensor named `name` when a node produces it: output k (among the named outputs)
    /// of the node at some position, taken from that position's proven outputs. Nil when
    /// no node produces it (a graph input or an initializer).
    private func producedTensor(_ name: String, order: [Int], graph: Graph,
                                proven: [(position: UInt64, tensors: [Tensor])]) throws -> Tensor? {
        guard let producer = graph.nodes.firstIndex(where: { $0.outputs.contains(name) }),
              let position = order.firstIndex(of: producer) else { return nil }
        let k = graph.nodes[producer].outputs.filter { !$0.isEmpty }.firstIndex(of: name) ?? 0
        guard let entry = proven.first(where: { $0.position == UInt64(position) }) else {
            throw NativeRevert("'\(name)' is output \(k) of the node at position \(position): send that producer's outputs")
        }
        guard k < entry.tensors.count else {
            throw NativeRevert("the outputs proven at position \(position) hold \(entry.tensors.count) tensors, '\(name)' is output \(k)")
        }
        var tensor = entry.tensors[k]
        tensor.name = name
        return tensor
    }

    /// Verifies `proof` for a leaf's data or hash, turning a refusal into a revert naming `what`.
    static func checkProof(_ proof: MerkleProof, leaf: [UInt8]? = nil, leafHash: Hash32? = nil, root: Hash32, what: String) throws {
        do {
            if let leaf { try proof.verify(leaf: leaf, root: root) } else { try proof.verify(leafHash: leafHash ?? .zero, root: root) }
        } catch {
            throw NativeRevert("\(what) is not in the provider's trace: \(error)")
        }
    }
}
