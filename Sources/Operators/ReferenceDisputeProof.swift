import CLIKit
import Inference
import Modules
import Primitives

/// What a verifier holding the bytes of a model registered by reference sends to prove one
/// of its nodes wrong (docs/verification.md, "Models by reference"; docs/daemons.md,
/// "Disputes"): the initializer chunks the node reads, staged in batches that each fit a
/// transaction, then `proveReferenceNode` with the node and its schedule leaf, or
/// `proveReferenceOutput` with the schedule's outputs leaf. Built from the file alone, so it
/// is tested alone; the roots it computes must be the ones the registry recorded.
public struct ReferenceDisputeProof {
    /// Most chunk bytes one `stageChunks` transaction carries (a 64 KiB chunk with its
    /// proofs and the ABI around them stays under the 96 KiB a transaction may carry).
    public static let maxBatchBytes = 90_000

    public let schedule: ScheduleCommitment
    public let nodes: NodeCommitment
    public let initializers: InitializerCommitment

    /// The commitments of `file`, compiled as `session`.
    public init(file: [UInt8], session: InferenceSession) throws {
        schedule = try ScheduleCommitment(session: session)
        nodes = try NodeCommitment(file: file)
        initializers = try InitializerCommitment(graph: session.model.graph)
    }

    /// Throws unless the roots the registry recorded (`getModelReference`'s fields
    /// initializerRoot, nodesRoot, scheduleRoot) are this file's.
    public func check(initializerRoot: Hash32, nodesRoot: Hash32, scheduleRoot: Hash32) throws {
        for (what, recorded, computed) in [("initializer", initializerRoot, initializers.root), ("nodes", nodesRoot, nodes.root),
                                           ("schedule", scheduleRoot, schedule.root)] where recorded != computed {
            throw JobRunError("the registered \(what) root \(recorded) is not this model file's (\(computed)): its disputes cannot be proven from these bytes")
        }
    }

    /// The node index and input sources of the node at `position`.
    public func node(at position: Int) throws -> (index: Int, sources: [ScheduleCommitment.Source]) {
        let (index, sources) = try ScheduleCommitment.node(fromLeaf: schedule.leaves[position])
        return (index, sources)
    }

    /// The chunks the node at `position` reads: the header and the chunks of the rows
    /// `gatherIndices` name for a Gather's table (`Jobs.gatheredTable`), every chunk of any
    /// other initializer; each with its proof.
    public func chunks(position: Int, gatherIndices: [Int64]?) throws -> [Jobs.StagedChunk] {
        let (index, sources) = try node(at: position)
        let nodeLeaf = try NodeCommitment.node(fromLeaf: nodes.leaves[index])
        let table = Jobs.gatheredTable(nodeLeaf.node, sources)
        var out: [Jobs.StagedChunk] = []
        for source in sources {
            guard case .initializer(let t) = source, !out.contains(where: { $0.tensor == UInt64(t) }) else { continue }
            let tensor = initializers.tensors[t]
            var wanted = Array(0..<tensor.chunks.count)
            if t == table, let gatherIndices {
                let rows = Int64(tensor.layout.rows)
                var chunks: Set<Int> = [0]
                for v in gatherIndices {
                    let r = Int(v < 0 ? v + rows : v)
                    guard let (range, _) = tensor.layout.chunks(holdingRows: r..<(r + 1)) else {
                        throw JobRunError("Gather index \(v) is outside the \(rows) rows of '\(tensor.name)'")
                    }
                    chunks.formUnion(range)
                }
                wanted = chunks.sorted()
            }
            for c in wanted {
                guard let proof = initializers.proof(tensor: t, chunk: c) else { throw JobRunError("no proof of chunk \(c) of initializer \(t)") }
                out.append(Jobs.StagedChunk(tensor: UInt64(t), chunk: UInt64(c), data: tensor.chunks[c], proof: proof))
            }
        }
        return out
    }

    /// `chunks` cut into `stageChunks` batches of at most `maxBatchBytes` chunk bytes (a
    /// larger chunk alone), headers before the values of their initializer as the chain wants.
    public static func batches(_ chunks: [Jobs.StagedChunk]) -> [[Jobs.StagedChunk]] {
        var out: [[Jobs.StagedChunk]] = [], current: [Jobs.StagedChunk] = [], bytes = 0
        for c in chunks {
            if !current.isEmpty, bytes + c.data.count > maxBatchBytes {
                out.append(current)
                current = []
                bytes = 0
            }
            current.append(c)
            bytes += c.data.count
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    /// The calldata of one `stageChunks` batch.
    public static func stageCalldata(job: Hash32, _ batch: [Jobs.StagedChunk]) throws -> [UInt8] {
        try ABI.encodeCall("stageChunks(bytes32,(uint64,uint64,bytes,bytes32[],bytes32[])[])", [.fixedBytes(job.bytes), .array(batch.map(\.abiValue))])
    }

    /// The calldata of `proveReferenceNode` at `position` against the provider's `revealed` leaves.
    public func proveNodeCalldata(job: Hash32, position: Int, revealed: [Hash32], input: [UInt8], producers: [Jobs.ProducerOutputs]) throws -> [UInt8] {
        let (index, _) = try node(at: position)
        let tree = MerkleTree(leaves: revealed.map(\.bytes))
        func hashes(_ list: [Hash32]?) -> ABIValue { .array((list ?? []).map { .fixedBytes($0.bytes) }) }
        return try ABI.encodeCall(
            "proveReferenceNode(bytes32,uint64,bytes32,bytes32[],bytes,(uint64,bytes,bytes32[])[],bytes,bytes32[],bytes,bytes32[])",
            [.fixedBytes(job.bytes), .uint(UInt256(UInt64(position))), .fixedBytes(revealed[position].bytes), hashes(tree.proof(ofLeaf: position)?.siblings),
             .bytes(input), .array(producers.map(\.abiValue)), .bytes(nodes.leaves[index]), hashes(nodes.tree.proof(ofLeaf: index)?.siblings),
             .bytes(schedule.leaves[position]), hashes(schedule.tree.proof(ofLeaf: position)?.siblings)])
    }

    /// The calldata of `proveReferenceOutput` with `producers`.
    public func proveOutputCalldata(job: Hash32, producers: [Jobs.ProducerOutputs]) throws -> [UInt8] {
        let last = schedule.leaves.count - 1
        return try ABI.encodeCall("proveReferenceOutput(bytes32,(uint64,bytes,bytes32[])[],bytes,bytes32[])",
                                  [.fixedBytes(job.bytes), .array(producers.map(\.abiValue)), .bytes(schedule.leaves[last]),
                                   .array((schedule.tree.proof(ofLeaf: last)?.siblings ?? []).map { .fixedBytes($0.bytes) })])
    }
}
