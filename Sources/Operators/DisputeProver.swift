import CLIKit
import Foundation
import Inference
import JSON
import Modules
import Primitives

/// What a verifier holding the honest trace sends against a provider's revealed trace
/// (docs/verification.md, "Disputes"; docs/daemons.md, "Disputes").
public enum DisputeMove: Equatable, Sendable {
    /// `proveNode` at the first position where the revealed leaves differ from the honest
    /// ones, with the outputs of the nodes (execution positions) feeding it.
    case proveNode(position: Int, producers: [Int])
    /// `proveOutput`: every leaf agrees but the committed output hash is not the honest
    /// one; the producers are the nodes giving the graph outputs.
    case proveOutput(producers: [Int])
    /// No proof of one node fits the chain's rules (too many producers, a graph output no
    /// node gives): `resolveDispute`, the whole run re-executed in the block.
    case resolveWhole(reason: String)
    /// The revealed trace and the committed output are the honest ones: nothing to prove.
    case nothing
}

/// Chooses the move (a pure function of the model and the two traces, so it is tested alone).
public enum DisputePlanner {
    /// The move against `revealed` (the provider's leaves) for a verifier whose own run of
    /// `session` gave `honest` leaves and graph outputs hashing to `honestOutputHash`.
    public static func move(session: InferenceSession, honest: [Hash32], revealed: [Hash32], honestOutputHash: Hash32,
                            committedOutputHash: Hash32) -> DisputeMove {
        let graph = session.model.graph
        if let q = revealed.indices.first(where: { $0 < honest.count && revealed[$0] != honest[$0] }) {
            let node = graph.nodes[session.executionOrder[q]]
            let graphInputs = session.inputs.map(\.name)
            let names = node.inputs.filter { !$0.isEmpty && !graphInputs.contains($0) }
            let producers = positions(producing: names, session)
            guard producers.count <= Jobs.maxProducers else {
                return .resolveWhole(reason: "the node at position \(q) has \(producers.count) producers, over the \(Jobs.maxProducers) one proof carries")
            }
            return .proveNode(position: q, producers: producers)
        }
        guard committedOutputHash != honestOutputHash else { return .nothing }
        guard !graph.outputs.contains(where: { producer(of: $0.name, session) == nil }) else {
            return .resolveWhole(reason: "a graph output is no node's output, so the output cannot be proven from the trace")
        }
        let producers = positions(producing: graph.outputs.map(\.name), session)
        guard producers.count <= Jobs.maxProducers else {
            return .resolveWhole(reason: "the graph outputs come from \(producers.count) nodes, over the \(Jobs.maxProducers) one proof carries")
        }
        return .proveOutput(producers: producers)
    }

    /// The execution position of the node giving `name`, as the chain finds it (the first
    /// node in the file naming it as an output); nil for a graph input or an initializer.
    static func producer(of name: String, _ session: InferenceSession) -> Int? {
        guard let index = session.model.graph.nodes.firstIndex(where: { $0.outputs.contains(name) }) else { return nil }
        return session.executionOrder.firstIndex(of: index)
    }

    /// The positions of the nodes giving `names`, each once, in the order first needed.
    static func positions(producing names: [String], _ session: InferenceSession) -> [Int] {
        var out: [Int] = []
        for name in names {
            if let p = producer(of: name, session), !out.contains(p) { out.append(p) }
        }
        return out
    }

    /// `producers`' entries for a node or output proof: each position's outputs in the
    /// canonical encoding (from `outputs`, keyed by position) with its proof among `revealed`.
    public static func producerOutputs(_ producers: [Int], outputs: [Int: [UInt8]], revealed: [Hash32]) throws -> [Jobs.ProducerOutputs] {
        let tree = MerkleTree(leaves: revealed.map(\.bytes))
        return try producers.map { p in
            guard let bytes = outputs[p], let proof = tree.proof(ofLeaf: p) else { throw JobRunError("no outputs kept for the node at position \(p)") }
            guard Keccak256.hash(bytes) == revealed[p] else {
                throw JobRunError("the outputs re-run at position \(p) do not hash to the provider's leaf there: they cannot be proven")
            }
            return Jobs.ProducerOutputs(position: UInt64(p), outputs: bytes, proof: proof.siblings)
        }
    }
}

/// What `opg verifier` does after voting `invalid` on a job that is then disputed, or after
/// challenging one (`Challenger`)
/// (docs/daemons.md, "Disputes"): it waits for the provider's trace reveal, compares the
/// revealed leaves with its own re-run and sends the cheapest proof that settles the
/// dispute — `proveNode` at the first differing leaf (one node's gas), `proveOutput` when
/// only the output hash is wrong, `resolveDispute` (the whole run) only when no proof of one
/// node fits the chain's rules. A provider that does not reveal loses at `resolveBy`
/// without anyone's help, so the verifier then sends nothing. The members who voted invalid
/// take turns (`turnBlocks` apart, in committee order) so that usually one proof is sent. Each proof is one recorded
/// transaction (step `prove`, or `resolve`), resent as it is after a restart.
final class DisputeProver {
    static let traceRevealedTopic = ABI.eventTopic("TraceRevealed(bytes32,uint64,bytes32[])")
    /// Blocks between the turns of the members who voted invalid (in committee order), so
    /// that one proof is sent rather than one per member: the next member acts only if the
    /// dispute is still open after its predecessor's turn.
    static let turnBlocks: UInt64 = 2

    /// This verifier's own run of a disputed job.
    struct HonestRun {
        let runner: KernelRunner
        let session: InferenceSession
        let input: [UInt8]
        let leaves: [Hash32]
        let outputHash: Hash32
        /// The proof material when the model is registered by reference (nil when stored).
        let reference: ReferenceDisputeProof?
    }

    let context: OperatorContext
    let runners: [JobRunner]
    private var runs: [Hash32: HonestRun] = [:]
    private(set) var proved = 0

    init(context: OperatorContext, runners: [JobRunner]) {
        self.context = context
        self.runners = runners
    }

    /// Follows every open dispute over an exact job this verifier voted `invalid` on or challenged.
    func step(head: UInt64) throws {
        let disputed = try context.reader.jobs(["status": .string("disputed")])
        runs = runs.filter { id, _ in disputed.contains { $0.id == id } }
        for job in disputed {
            guard job.verificationClass == .exact, let dispute = job.dispute, dispute.state == "open",
                  context.record.attestation(job.id, round: job.round)?.verdict == .invalid || Challenger.challenged(job.id, context.record)
            else { continue }
            let subject = "dispute of job \(job.id)"
            do {
                try follow(job, dispute, head: head)
                context.cleared(subject)
            } catch {
                context.report(subject, error)
            }
        }
    }

    private func follow(_ job: JobView, _ dispute: DisputeView, head: UInt64) throws {
        let run = try honestRun(job)
        let pieces = UInt64((run.leaves.count + Jobs.pieceLeaves - 1) / Jobs.pieceLeaves)
        guard dispute.revealedPieces == pieces else {
            guard head > dispute.revealBy else { return }
            throw JobRunError("the provider revealed \(dispute.revealedPieces) of \(pieces) trace pieces by block \(dispute.revealBy): "
                              + "it loses at block \(dispute.resolveBy), nothing to send")
        }
        let (revealed, revealedAt) = try revealedLeaves(job, dispute, head: head)
        let turn = job.committee.filter { $0.verdict == Verdict.invalid.name }.firstIndex { $0.address == context.address } ?? 0
        guard head >= revealedAt + Self.turnBlocks * UInt64(turn) else { return }
        guard revealed.count == run.leaves.count else {
            throw JobRunError("the revealed trace has \(revealed.count) leaves, this re-run \(run.leaves.count)")
        }
        let input = job.inputURI == nil ? [] : run.input
        let move = DisputePlanner.move(session: run.session, honest: run.leaves, revealed: revealed, honestOutputHash: run.outputHash,
                                       committedOutputHash: job.outputHash)
        let data: [UInt8], step: String, what: String
        switch move {
        case .nothing:
            throw JobRunError("the revealed trace and the committed output match this verifier's re-run: nothing to prove, its invalid vote loses")
        case .proveNode(let q, let producers):
            let entries = try DisputePlanner.producerOutputs(producers, outputs: try outputs(run, job, producers), revealed: revealed)
            let proof = MerkleTree(leaves: revealed.map(\.bytes)).proof(ofLeaf: q)?.siblings ?? []
            data = try run.reference.map { reference in
                try stage(reference, position: q, run, job)
                return try reference.proveNodeCalldata(job: job.id, position: q, revealed: revealed, input: input, producers: entries)
            } ?? ABI.encodeCall("proveNode(bytes32,uint64,bytes32,bytes32[],bytes,(uint64,bytes,bytes32[])[])",
                                      [.fixedBytes(job.id.bytes), .uint(UInt256(UInt64(q))), .fixedBytes(revealed[q].bytes),
                                       .array(proof.map { .fixedBytes($0.bytes) }), .bytes(input), .array(entries.map(\.abiValue))])
            step = "prove"
            what = "proved the node at position \(q) wrong (provider's leaf \(revealed[q]), re-run \(run.leaves[q]))"
        case .proveOutput(let producers):
            let entries = try DisputePlanner.producerOutputs(producers, outputs: try outputs(run, job, producers), revealed: revealed)
            data = try run.reference?.proveOutputCalldata(job: job.id, producers: entries)
                ?? ABI.encodeCall("proveOutput(bytes32,(uint64,bytes,bytes32[])[])", [.fixedBytes(job.id.bytes), .array(entries.map(\.abiValue))])
            step = "prove"
            what = "proved the output wrong: the revealed trace gives \(run.outputHash), the commitment says \(job.outputHash)"
        case .resolveWhole(let reason):
            guard run.reference == nil else {
                throw JobRunError("\(reason), and model \(job.modelId) is registered by reference, so it cannot be re-executed whole: nothing to send")
            }
            data = try ABI.encodeCall("resolveDispute(bytes32,bytes)", [.fixedBytes(job.id.bytes), .bytes(input)])
            step = "resolve"
            what = "asked for the whole run to be re-executed (\(reason))"
        }
        let receipt = try context.sendRecorded(job.id, step: step, data: data)
        proved += 1
        context.logger.info("job \(job.id): disputed, \(what) (tx \(receipt["transactionHash"]?.stringValue ?? "?"))")
    }

    /// This verifier's run of `job`, traced once per dispute (kept until the job leaves `disputed`).
    private func honestRun(_ job: JobView) throws -> HonestRun {
        if let run = runs[job.id] { return run }
        guard let runner = runners.first(where: { $0.serves(modelId: job.modelId, verificationClass: .exact) }) as? KernelRunner else {
            throw JobRunError("model \(job.modelId) is not run by the kernel here: no node of it can be proven")
        }
        let input = try context.artifacts.load(job: job.id, part: "input") ?? context.reader.input(of: job)
        let (trace, session) = try runner.trace(modelId: job.modelId, input: input)
        let run = HonestRun(runner: runner, session: session, input: input, leaves: trace.steps.map(\.outputHash),
                            outputHash: ExecutionTrace.outputHash(trace.outputs), reference: try referenceProof(job, runner, session))
        runs[job.id] = run
        return run
    }

    /// The proof material of `job`'s model when it is registered by reference with a
    /// schedule root (checked against the roots the registry recorded); nil for a stored model.
    private func referenceProof(_ job: JobView, _ runner: KernelRunner, _ session: InferenceSession) throws -> ReferenceDisputeProof? {
        let data: [UInt8]
        do { data = try context.rpc.view(TransactionSender.registry, "getModelReference(string)", [.string(job.modelId)]) } catch { return nil }
        guard case .tuple(let f) = try ABI.decode([ModelRegistry.referenceInfoType], data)[0] else { return nil }
        func root(_ i: Int) throws -> Hash32 { try Hash32(f[i].bytesValue ?? []) }
        guard try root(15) != .zero else {
            throw JobRunError("model \(job.modelId) was registered by reference without a schedule root: its dispute settles undecided")
        }
        let proof = try ReferenceDisputeProof(file: try runner.modelFile(job.modelId), session: session)
        try proof.check(initializerRoot: try root(9), nodesRoot: try root(11), scheduleRoot: try root(15))
        return proof
    }

    /// Stages the initializer chunks the node at `position` reads, one recorded
    /// transaction per batch (steps `stage#i`); a batch another member staged first is skipped.
    private func stage(_ reference: ReferenceDisputeProof, position: Int, _ run: HonestRun, _ job: JobView) throws {
        let chunks = try reference.chunks(position: position, gatherIndices: try gatherIndices(reference, position, run, job))
        for (i, batch) in ReferenceDisputeProof.batches(chunks).enumerated() {
            do {
                let receipt = try context.sendRecorded(job.id, step: "stage#\(i)", data: try ReferenceDisputeProof.stageCalldata(job: job.id, batch))
                context.logger.info("job \(job.id): disputed, staged \(batch.count) initializer chunks for the node at position \(position) "
                                    + "(tx \(receipt["transactionHash"]?.stringValue ?? "?"))")
            } catch where "\(error)".contains("is already staged") {
                context.logger.debug("job \(job.id): stage batch \(i) was staged by another member")
            }
        }
    }

    /// The indices a Gather at `position` reads (from the job's input or its producer's
    /// outputs), when its table is an initializer; nil for any other node.
    private func gatherIndices(_ reference: ReferenceDisputeProof, _ position: Int, _ run: HonestRun, _ job: JobView) throws -> [Int64]? {
        let (index, sources) = try reference.node(at: position)
        guard Jobs.gatheredTable(run.session.model.graph.nodes[index], sources) != nil else { return nil }
        let tensor: Tensor?
        switch sources[1] {
        case .graphInput(let j):
            tensor = try JobInputEncoding.feeds(run.input, for: run.session)[run.session.inputs[j].name]
        case .nodeOutput(let p, let k):
            let bytes = try outputs(run, job, [p])[p] ?? []
            tensor = try TensorEncoding.tensors(canonical: bytes)[k]
        default:
            return nil
        }
        guard case .int64(let values)? = tensor?.storage else { return nil }
        return values
    }

    /// The canonical outputs of the nodes at `positions`, from one more traced run.
    private func outputs(_ run: HonestRun, _ job: JobView, _ positions: [Int]) throws -> [Int: [UInt8]] {
        let wanted = positions.map { run.session.executionOrder[$0] }
        var out: [Int: [UInt8]] = [:]
        _ = try run.runner.trace(modelId: job.modelId, input: run.input) { index, tensors in
            if let k = wanted.firstIndex(of: index) { out[positions[k]] = TensorEncoding.canonical(tensors) }
        }
        return out
    }

    /// The provider's leaves, from the `TraceRevealed` events of the dispute, in piece
    /// order, and the block of the last piece.
    private func revealedLeaves(_ job: JobView, _ dispute: DisputeView, head: UInt64) throws -> (leaves: [Hash32], block: UInt64) {
        let filter = JSONValue.object(["address": .string(Jobs.address.hex), "fromBlock": .string(Hex.quantity(dispute.openedAt)),
                                       "toBlock": .string(Hex.quantity(head)),
                                       "topics": .array([.string(Self.traceRevealedTopic.hex), .string(job.id.hex)])])
        var pieces: [(UInt64, [Hash32])] = []
        var last: UInt64 = 0
        for log in try context.rpc.call("eth_getLogs", [filter]).arrayValue ?? [] {
            let values = try ABI.decode([.uint(64), .array(.fixedBytes(32))], try Hex.decode(log["data"]?.stringValue ?? "0x"))
            guard let piece = values[0].uintValue?.uint64, case .array(let items) = values[1] else { throw JobRunError("a TraceRevealed event is malformed") }
            pieces.append((piece, try items.map { try Hash32($0.bytesValue ?? []) }))
            last = max(last, try Hex.decodeQuantity(log["blockNumber"]?.stringValue ?? "0x0"))
        }
        pieces.sort { $0.0 < $1.0 }
        guard pieces.map(\.0) == Array(0..<UInt64(pieces.count)) else {
            throw JobRunError("the TraceRevealed events of blocks \(dispute.openedAt)…\(head) hold pieces \(pieces.map(\.0)), not each piece once")
        }
        return (pieces.flatMap(\.1), last)
    }
}
