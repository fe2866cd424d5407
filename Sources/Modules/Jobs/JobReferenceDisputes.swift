import Chain
import Inference
import Primitives

/// Disputes over models registered by reference (docs/verification.md, "Models by
/// reference"): the chain holds no bytes of the model, only its roots, so whoever proves a
/// node wrong brings what that node needs, each piece proven. The initializer chunks it
/// reads are staged first (`stageChunks`, as many transactions as they need, each chunk
/// proven against the initializer root and kept with the dispute until it settles); then
/// `proveReferenceNode` takes the node (proven against the nodes root), its schedule leaf
/// (proven against the schedule root: which node runs at that trace position and where each
/// input comes from), the producers' outputs (proven against the trace root, as for a stored
/// model) and the staged initializers, runs the node alone and compares. A Gather over an
/// initializer reads only the rows its indices name. `proveReferenceOutput` is
/// `proveOutput` with the graph outputs' sources taken from the schedule's last leaf.
extension Jobs.Slot {
    /// `mapping(bytes32 => bytes32[]) stagedChunks`: the blob keys of the initializer
    /// chunks staged for each dispute (slot 40, apart from the slots after 21 that other
    /// features may take in order).
    static let stagedChunks = Hash32.slot(40)
}

extension Jobs {
    /// Most initializer chunks one dispute may stage (8 MiB of weights): their blobs are
    /// deleted when it settles, in the end-block hook at worst, which this bounds.
    public static let maxStagedChunks: UInt64 = 128

    /// What a dispute knows of the job's model: the compiled model, or its reference.
    enum DisputedModel {
        case stored(InferenceSession)
        case reference(ModelReference)

        /// The model's node count: the leaf count of every trace of it.
        var nodeCount: Int {
            switch self {
            case .stored(let session): return session.model.graph.nodes.count
            case .reference(let reference): return Int(reference.nodeCount)
            }
        }
    }

    /// One initializer chunk with its proof (`stageChunks`' list entries).
    public struct StagedChunk: Equatable, Sendable {
        /// The initializer's index in the graph (leaf of the initializer tree).
        public var tensor: UInt64
        /// The chunk's index in the initializer's tree (0 is the header).
        public var chunk: UInt64
        public var data: [UInt8]
        public var proof: ChunkProof

        /// Describes one chunk.
        public init(tensor: UInt64, chunk: UInt64, data: [UInt8], proof: ChunkProof) {
            self.tensor = tensor
            self.chunk = chunk
            self.data = data
            self.proof = proof
        }

        /// The ABI type `(uint64 tensor, uint64 chunk, bytes data, bytes32[] chunkProof, bytes32[] tensorProof)`.
        public static let abiType = ABIType.tuple([.uint(64), .uint(64), .bytes, .array(.fixedBytes(32)), .array(.fixedBytes(32))])

        /// The ABI value of this chunk.
        public var abiValue: ABIValue {
            .tuple([.uint(UInt256(tensor)), .uint(UInt256(chunk)), .bytes(data), .array(proof.chunk.siblings.map { .fixedBytes($0.bytes) }),
                    .array(proof.tensor.siblings.map { .fixedBytes($0.bytes) })])
        }
    }

    /// The functions of this file.
    static let referenceDisputeFunctions = [
        ModuleFunction("stageChunks(bytes32,(uint64,uint64,bytes,bytes32[],bytes32[])[])", .nonpayable),
        ModuleFunction("proveReferenceNode(bytes32,uint64,bytes32,bytes32[],bytes,(uint64,bytes,bytes32[])[],bytes,bytes32[],bytes,bytes32[])", .nonpayable),
        ModuleFunction("proveReferenceOutput(bytes32,(uint64,bytes,bytes32[])[],bytes,bytes32[])", .nonpayable),
    ]

    /// Decodes and runs one of `referenceDisputeFunctions`.
    func performReferenceDispute(_ name: String, _ arguments: [UInt8], _ context: NativeCallContext) throws {
        switch name {
        case "stageChunks":
            let values = try decodeArguments([.fixedBytes(32), .array(StagedChunk.abiType)], arguments)
            guard case .array(let items) = values[1] else { throw NativeRevert("invalid calldata: expected a chunk list") }
            try stageChunks(try Self.hashArgument(values[0]), chunks: try items.map { item in
                guard case .tuple(let f) = item, f.count == 5, let tensor = f[0].uintValue?.uint64, let chunk = f[1].uintValue?.uint64,
                      let data = f[2].bytesValue else { throw NativeRevert("invalid calldata: expected (uint64,uint64,bytes,bytes32[],bytes32[])") }
                let proof = ChunkProof(chunk: MerkleProof(leafIndex: 0, leafCount: 1, siblings: try Self.hashList(f[3])),
                                       tensor: MerkleProof(leafIndex: 0, leafCount: 1, siblings: try Self.hashList(f[4])))
                return StagedChunk(tensor: tensor, chunk: chunk, data: data, proof: proof)
            }, context)
        case "proveReferenceNode":
            let values = try decodeArguments([.fixedBytes(32), .uint(64), .fixedBytes(32), .array(.fixedBytes(32)), .bytes,
                                              .array(ProducerOutputs.abiType), .bytes, .array(.fixedBytes(32)), .bytes, .array(.fixedBytes(32))],
                                             arguments)
            try proveReferenceNode(try Self.hashArgument(values[0]), position: values[1].uintValue?.uint64 ?? 0,
                                   leaf: try Self.hashArgument(values[2]), leafProof: try Self.hashList(values[3]), input: values[4].bytesValue ?? [],
                                   producers: try ProducerOutputs.decodeList(values[5]),
                                   nodeLeaf: values[6].bytesValue ?? [], nodeProof: try Self.hashList(values[7]),
                                   scheduleLeaf: values[8].bytesValue ?? [], scheduleProof: try Self.hashList(values[9]), context)
        default:  // proveReferenceOutput
            let values = try decodeArguments([.fixedBytes(32), .array(ProducerOutputs.abiType), .bytes, .array(.fixedBytes(32))], arguments)
            try proveReferenceOutput(try Self.hashArgument(values[0]), producers: try ProducerOutputs.decodeList(values[1]),
                                     outputsLeaf: values[2].bytesValue ?? [], outputsProof: try Self.hashList(values[3]), context)
        }
    }

    // MARK: The job's model

    /// The disputed job's model: compiled when stored, else its reference when it has a
    /// schedule root; reverts `model M is not stored on chain …` otherwise.
    func disputedModel(_ base: Hash32, _ context: NativeCallContext) throws -> DisputedModel {
        do { return .stored(try storedSession(base, context).session) } catch let stored as NativeRevert {
            guard let reference = try disputableReference(base, context) else { throw stored }
            return .reference(reference)
        }
    }

    /// The job's model registered by reference with a schedule root, while reference
    /// version 2 is in force; nil otherwise, having charged nothing under version 1.
    func disputableReference(_ base: Hash32, _ context: NativeCallContext) throws -> ModelReference? {
        if context.gasLeft == 0 { throw NativeCallContext.OutOfGas() }
        guard models.referenceVersion(context: context) >= 2 else { return nil }
        let reference: ModelReference
        do { reference = try models.reference(String(decoding: try context.loadBytes(field(base, .modelId)), as: UTF8.self), context: context) } catch is NativeRevert {
            if context.gasLeft == 0 { throw NativeCallContext.OutOfGas() }
            return nil
        }
        return reference.scheduleRoot == .zero ? nil : reference
    }

    /// The disputed job's model reference; reverts naming why a by-reference call does not apply.
    private func disputedReference(_ id: Hash32, _ base: Hash32, _ context: NativeCallContext) throws -> ModelReference {
        let model = String(decoding: try context.loadBytes(field(base, .modelId)), as: UTF8.self)
        if models.referenceVersion(context: context) >= 2, let reference = try? models.reference(model, context: context) {
            guard reference.scheduleRoot != .zero else {
                throw NativeRevert("model \(model) was registered by reference without a schedule root (under reference version 1, or as a model whose jobs are not one pass of its graph): the dispute over job \(id) settles undecided at its deadline")
            }
            return reference
        }
        if context.gasLeft == 0 { throw NativeCallContext.OutOfGas() }
        throw NativeRevert("model \(model) of job \(id) is not registered by reference with a schedule root: use proveNode and proveOutput, which read a stored model")
    }

    // MARK: Staging

    /// The blob key of a staged chunk: keccak256(jobId ‖ "stage" ‖ uint256 tensor ‖ uint256 chunk).
    static func stagedKey(_ id: Hash32, tensor: UInt64, chunk: UInt64) -> Hash32 {
        Keccak256.hash(id.bytes + Array("stage".utf8) + UInt256(tensor).bigEndianBytes32 + UInt256(chunk).bigEndianBytes32)
    }

    /// `stageChunks(jobId, chunks)`: anyone, while the job is disputed, brings initializer
    /// chunks of its by-reference model on chain, each proven against the initializer root
    /// (a header, chunk 0, with the chunk count it implies; any other chunk after its
    /// initializer's header, with the count that header implies). Charged the blob price per byte.
    func stageChunks(_ id: Hash32, chunks: [StagedChunk], _ context: NativeCallContext) throws {
        let base = try disputedExactJob(id, context)
        let reference = try disputedReference(id, base, context)
        guard !chunks.isEmpty else { throw NativeRevert("no chunks to stage") }
        let list = try context.mappingSlot(Slot.stagedChunks, key: id)
        for c in chunks {
            let what = "chunk \(c.chunk) of initializer \(c.tensor)"
            guard c.tensor < reference.initializerCount else {
                throw NativeRevert("initializer \(c.tensor) is out of range: model \(reference.id) has \(reference.initializerCount) initializers")
            }
            let key = Self.stagedKey(id, tensor: c.tensor, chunk: c.chunk)
            guard try context.blob(key) == nil else { throw NativeRevert("\(what) is already staged") }
            let layout: ChunkLayout
            if c.chunk == 0 {
                do { layout = try ChunkLayout(header: c.data) } catch { throw NativeRevert("\(what): \(error)") }
            } else {
                guard let header = try context.blob(Self.stagedKey(id, tensor: c.tensor, chunk: 0)) else {
                    throw NativeRevert("stage the header (chunk 0) of initializer \(c.tensor) before its chunk \(c.chunk)")
                }
                layout = try ChunkLayout(header: header)
            }
            guard let chunkCount = layout.chunkCount else {
                throw NativeRevert("initializer \(c.tensor) ('\(layout.name)') holds strings: its rows are not at fixed offsets, so it cannot be staged")
            }
            guard c.chunk < UInt64(chunkCount) else { throw NativeRevert("\(what) is out of range: '\(layout.name)' has \(chunkCount) chunks") }
            let staged = try context.loadWord(list).uint64 ?? .max
            guard staged < Self.maxStagedChunks else {
                throw NativeRevert("job \(id) has \(staged) chunks staged, the limit of \(Self.maxStagedChunks) per dispute")
            }
            try context.chargeHashing(byteCount: c.data.count + (c.proof.chunk.siblings.count + c.proof.tensor.siblings.count) * 65 + 33)
            let proof = ChunkProof(chunk: MerkleProof(leafIndex: Int(c.chunk), leafCount: chunkCount, siblings: c.proof.chunk.siblings),
                                   tensor: MerkleProof(leafIndex: Int(c.tensor), leafCount: Int(reference.initializerCount),
                                                       siblings: c.proof.tensor.siblings))
            do { try proof.verify(chunk: c.data, initializerRoot: reference.initializerRoot) } catch {
                throw NativeRevert("\(what) is not in model \(reference.id)'s initializer root: \(error)")
            }
            try context.storeBlob(c.data, at: key)
            try context.store(key, at: try context.pushArrayElement(list))
        }
    }

    /// Deletes the chunks a dispute staged (when it settles, however it settles).
    func freeStagedChunks(_ id: Hash32, _ context: NativeCallContext) throws {
        guard models.referenceVersion(context: context) >= 2 else { return }
        let list = try context.mappingSlot(Slot.stagedChunks, key: id)
        let count = try context.loadWord(list).uint64 ?? 0
        guard count > 0 else { return }
        for i in 0..<count {
            let slot = try context.arrayElementSlot(list, index: UInt256(i))
            try context.deleteBlob(try context.load(slot))
            try context.store(.zero, at: slot)
        }
        try context.storeWord(.zero, at: list)
    }

    /// The staged initializer `tensor`, whole or (`rows`) only those rows stacked.
    private func stagedTensor(_ id: Hash32, tensor: Int, rows: [Int]?, _ context: NativeCallContext) throws -> Tensor {
        guard let header = try context.blob(Self.stagedKey(id, tensor: UInt64(tensor), chunk: 0)) else {
            throw NativeRevert("initializer \(tensor) is not staged: stage its header (chunk 0) and the chunks the node reads")
        }
        let layout = try ChunkLayout(header: header)
        func chunk(_ i: Int) throws -> [UInt8] {
            guard let bytes = try context.blob(Self.stagedKey(id, tensor: UInt64(tensor), chunk: UInt64(i))) else {
                throw NativeRevert("chunk \(i) of initializer \(tensor) ('\(layout.name)') is not staged")
            }
            return bytes
        }
        do {
            if let rows { return try layout.tensor(stacking: rows, chunk: chunk) }
            return try layout.tensor(rows: 0..<layout.rows, from: try (1..<(layout.chunkCount ?? 1)).map(chunk))
        } catch let revert as NativeRevert { throw revert } catch {
            throw NativeRevert("\(error)")
        }
    }

    // MARK: Proofs

    /// `proveReferenceNode(jobId, position, leaf, leafProof, input, producers, nodeLeaf,
    /// nodeProof, scheduleLeaf, scheduleProof)`: `proveNode` for a model registered by
    /// reference. The schedule leaf at `position` names the node and its inputs' sources;
    /// the node leaf is that node with its opset; initializers come from the staged chunks
    /// (for a Gather over an initializer, only the rows its indices name).
    func proveReferenceNode(_ id: Hash32, position: UInt64, leaf: Hash32, leafProof: [Hash32], input: [UInt8], producers: [ProducerOutputs],
                            nodeLeaf: [UInt8], nodeProof: [Hash32], scheduleLeaf: [UInt8], scheduleProof: [Hash32],
                            _ context: NativeCallContext) throws {
        let base = try disputedExactJob(id, context)
        let reference = try disputedReference(id, base, context)
        let nodes = Int(reference.nodeCount)
        guard position < UInt64(nodes) else { throw NativeRevert("position \(position) is out of range: the trace has \(nodes) nodes") }
        let traceRoot = try context.load(field(base, .traceRoot))
        try context.chargeHashing(byteCount: leafProof.count * 65 + 33)
        try Self.checkProof(MerkleProof(leafIndex: Int(position), leafCount: nodes, siblings: leafProof), leaf: leaf.bytes,
                            root: traceRoot, what: "the leaf at position \(position)")
        let sources: [ScheduleCommitment.Source], index: Int
        try proveLeaf(scheduleLeaf, scheduleProof, index: Int(position), count: nodes + 1, root: reference.scheduleRoot,
                      what: "the schedule leaf at position \(position)", context)
        do { (index, sources) = try ScheduleCommitment.node(fromLeaf: scheduleLeaf) } catch { throw NativeRevert("the schedule leaf at position \(position): \(error)") }
        guard index < nodes else { throw NativeRevert("the schedule leaf at position \(position) names node \(index), the model has \(nodes)") }
        try proveLeaf(nodeLeaf, nodeProof, index: index, count: nodes, root: reference.nodesRoot, what: "node \(index)", context)
        let node: Node, opset: Int64
        do { (node, opset) = try NodeCommitment.node(fromLeaf: nodeLeaf) } catch { throw NativeRevert("node \(index): \(error)") }
        let label = node.label(index: index)
        guard sources.count == node.inputs.count else {
            throw NativeRevert("the schedule leaf at position \(position) names \(sources.count) sources, \(label) has \(node.inputs.count) inputs")
        }
        let limits = Limits.default
        let proven = try provenOutputs(producers, nodes: nodes, root: traceRoot, maxElements: limits.maxTensorElements, context)
        var fed: [Tensor]?
        var inputs: [Tensor?] = []
        let gatheredTable = Self.gatheredTable(node, sources)
        for (k, (name, source)) in zip(node.inputs, sources).enumerated() {
            if name.isEmpty != (source == .omitted) {
                throw NativeRevert("input \(k) of \(label) is \(name.isEmpty ? "omitted" : "'\(name)'"), but the schedule says it is \(source)")
            }
            var tensor: Tensor
            switch source {
            case .omitted:
                inputs.append(nil)
                continue
            case .initializer where k == 0 && gatheredTable != nil:
                inputs.append(nil)  // only the rows the indices name, read below
                continue
            case .graphInput(let j):
                if fed == nil {
                    let bytes = try disputeInput(id, base, given: input, context)
                    do { fed = try TensorEncoding.tensors(canonical: bytes, maxElements: limits.maxTensorElements) } catch {
                        throw NativeRevert("the job's input: \(error)")
                    }
                }
                let tensors = fed ?? []
                guard j < tensors.count else { throw NativeRevert("'\(name)' is graph input \(j), the job's input holds \(tensors.count) tensors") }
                tensor = tensors[j]
            case .nodeOutput(let p, let out):
                guard let entry = proven.first(where: { $0.position == UInt64(p) }) else {
                    throw NativeRevert("'\(name)' is output \(out) of the node at position \(p): send that producer's outputs")
                }
                guard out < entry.tensors.count else {
                    throw NativeRevert("the outputs proven at position \(p) hold \(entry.tensors.count) tensors, '\(name)' is output \(out)")
                }
                tensor = entry.tensors[out]
            case .initializer(let t):
                guard t < Int(reference.initializerCount) else {
                    throw NativeRevert("'\(name)' is initializer \(t), model \(reference.id) has \(reference.initializerCount)")
                }
                tensor = try stagedTensor(id, tensor: t, rows: nil, context)
            }
            tensor.name = name
            inputs.append(tensor)
        }
        if let table = gatheredTable, let indices = inputs[1] {
            (inputs[0], inputs[1]) = try gatheredRows(id, table: table, name: node.inputs[0], indices: indices, context)
        }
        try context.useGas(InferenceGas.base)
        let outputs: [Tensor]
        do { outputs = try NodeExecution.run(node: node, index: index, opset: opset, inputs: inputs, limits: limits,
                                             options: RunOptions(threads: inference.threads)) } catch {
            throw NativeRevert("the node at position \(position) (\(label)) does not run on these inputs: \(error)")
        }
        try context.useGas(InferenceGas.gas(node: NodeExecution.cost(node: node, index: index, inputs: inputs, outputs: outputs)))
        let hash = ExecutionTrace.outputHash(outputs)
        guard hash != leaf else {
            throw NativeRevert("the node at position \(position) (\(label)) reproduces the provider's trace entry \(leaf): no fault here")
        }
        try recordFault(id, position: position + 1, outputHash: hash, context)
        try settleDispute(id, base, .providerWrong, context)
    }

    /// The initializer a Gather on axis 0 reads as its data (input 0), whose rows are
    /// brought alone; nil for any other node.
    public static func gatheredTable(_ node: Node, _ sources: [ScheduleCommitment.Source]) -> Int? {
        guard node.opType == "Gather", node.domain.isEmpty || node.domain == "ai.onnx", sources.count == 2,
              case .initializer(let t) = sources[0] else { return nil }
        if case .int(let axis)? = node.attribute("axis")?.value, axis != 0 { return nil }
        return t
    }

    /// The rows of initializer `table` that `indices` name, stacked in ascending order, and
    /// the indices renumbered into them: the same Gather result from those rows alone.
    private func gatheredRows(_ id: Hash32, table: Int, name: String, indices: Tensor,
                              _ context: NativeCallContext) throws -> (Tensor, Tensor) {
        guard case .int64(let values) = indices.storage else {
            throw NativeRevert("Gather indices '\(indices.name)' are \(indices.elementType), not integers")
        }
        guard let header = try context.blob(Self.stagedKey(id, tensor: UInt64(table), chunk: 0)) else {
            throw NativeRevert("initializer \(table) is not staged: stage its header (chunk 0) and the chunks of the rows the Gather reads")
        }
        let rows = Int64(try ChunkLayout(header: header).rows)
        var normalized: [Int64] = []
        for v in values {
            guard v >= -rows, v < rows else { throw NativeRevert("Gather index \(v) is outside the \(rows) rows of initializer \(table)") }
            normalized.append(v < 0 ? v + rows : v)
        }
        let used = Array(Set(normalized)).sorted()
        var renumbered: [Int64: Int64] = [:]
        for (i, r) in used.enumerated() { renumbered[r] = Int64(i) }
        var data = try stagedTensor(id, tensor: table, rows: used.map { Int($0) }, context)
        data.name = name
        return (data, Tensor(name: indices.name, elementType: indices.elementType, shape: indices.shape,
                             storage: .int64(normalized.map { renumbered[$0] ?? 0 })))
    }

    /// `proveReferenceOutput(jobId, producers, outputsLeaf, outputsProof)`: `proveOutput`
    /// for a model registered by reference; the graph outputs' sources are the schedule's
    /// last leaf (index = node count), proven against the schedule root.
    func proveReferenceOutput(_ id: Hash32, producers: [ProducerOutputs], outputsLeaf: [UInt8], outputsProof: [Hash32],
                              _ context: NativeCallContext) throws {
        let base = try disputedExactJob(id, context)
        let reference = try disputedReference(id, base, context)
        let nodes = Int(reference.nodeCount)
        try proveLeaf(outputsLeaf, outputsProof, index: nodes, count: nodes + 1, root: reference.scheduleRoot,
                      what: "the schedule's outputs leaf", context)
        let sources: [ScheduleCommitment.Source]
        do { sources = try ScheduleCommitment.sources(fromLeaf: outputsLeaf) } catch { throw NativeRevert("the schedule's outputs leaf: \(error)") }
        let proven = try provenOutputs(producers, nodes: nodes, root: try context.load(field(base, .traceRoot)),
                                       maxElements: Limits.default.maxTensorElements, context)
        var outputs: [Tensor] = []
        for (i, source) in sources.enumerated() {
            guard case .nodeOutput(let p, let out) = source else {
                throw NativeRevert("graph output \(i) is \(source), no node's output: it cannot contradict the trace")
            }
            guard let entry = proven.first(where: { $0.position == UInt64(p) }), out < entry.tensors.count else {
                throw NativeRevert("graph output \(i) is output \(out) of the node at position \(p): send that producer's outputs")
            }
            outputs.append(entry.tensors[out])
        }
        try settleOutputProof(id, base, outputs, context)
    }

    /// Checks a leaf's data against `root` (leaf `index` of `count`), charging its hashing;
    /// reverts `what is not in the model's … root`.
    private func proveLeaf(_ data: [UInt8], _ proof: [Hash32], index: Int, count: Int, root: Hash32, what: String,
                           _ context: NativeCallContext) throws {
        try context.chargeHashing(byteCount: data.count + proof.count * 65 + 33)
        do { try MerkleProof(leafIndex: index, leafCount: count, siblings: proof).verify(leaf: data, root: root) } catch {
            throw NativeRevert("\(what) is not in the model's registered root: \(error)")
        }
    }
}
