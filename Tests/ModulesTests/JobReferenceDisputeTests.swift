import Crypto
import Inference
import Primitives
import XCTest
@testable import Chain
@testable import Modules

/// Disputes over a model registered by reference (docs/verification.md, "Models by
/// reference") through real transactions, the staking module, the hook and the supply
/// ledger (checked after every block by the harness): the job's model is the fixture
/// `gather_embedding` (Gather over a 1,100-row table in two value chunks, MatMul, Add)
/// served by `FixtureModels` as a reference, so the chain has its roots and none of its
/// bytes. Each node kind is proven wrong with the chunks it needs, an honest provider wins,
/// every malformed argument is refused by name, and reference version 1 keeps the old rules.
final class JobReferenceDisputeTests: XCTestCase {
    typealias Harness = JobsTests.Harness
    static let fee = JobsTests.opg * 4
    static let file = try! FixtureModels.bytes("gather_embedding")
    static let stageSignature = "stageChunks(bytes32,(uint64,uint64,bytes,bytes32[],bytes32[])[])"
    static let proveSignature = "proveReferenceNode(bytes32,uint64,bytes32,bytes32[],bytes,(uint64,bytes,bytes32[])[],bytes,bytes32[],bytes,bytes32[])"
    static let proveOutputSignature = "proveReferenceOutput(bytes32,(uint64,bytes,bytes32[])[],bytes,bytes32[])"

    /// The honest run on ids [5, 7, 5] (rows of the table's first value chunk only): input,
    /// output hash, per-node outputs (canonical) and leaves, and the model's commitments.
    static let honest: (input: [UInt8], outputHash: Hash32, nodeOutputs: [[UInt8]], leaves: [Hash32], schedule: ScheduleCommitment,
                        nodes: NodeCommitment, initializers: InitializerCommitment) = {
        let session = try! InferenceSession(bytes: file)
        let ids = Tensor(name: "ids", elementType: .int64, shape: [3], storage: .int64([5, 7, 5]))
        var nodeOutputs: [[UInt8]] = []
        let trace = try! session.trace(["ids": ids]) { _, outputs in nodeOutputs.append(TensorEncoding.canonical(outputs)) }
        return (TensorEncoding.canonical([ids]), ExecutionTrace.outputHash(trace.outputs), nodeOutputs, trace.steps.map(\.outputHash),
                try! ScheduleCommitment(session: session), try! NodeCommitment(file: file), try! InitializerCommitment(graph: session.model.graph))
    }()

    func harness(referenceVersion: UInt64 = 2, scheduleRoots: Bool = true) throws -> Harness {
        try Harness(models: FixtureModels(references: [JobsTests.model: "gather_embedding"], referenceVersion: referenceVersion,
                                          scheduleRoots: scheduleRoots))
    }

    /// A job over the reference whose input is by reference (the hook cannot re-run it),
    /// committed with `leaves`' root and `outputHash`, disputed by an invalid quorum.
    func disputedJob(_ h: Harness, leaves: [Hash32], outputHash: Hash32 = honest.outputHash, inline: Bool = false) throws -> (id: Hash32, provider: Int) {
        let (id, p) = inline
            ? try h.committedJob(fee: Self.fee, input: Self.honest.input, outputHash: outputHash, traceRoot: MerkleTree(leaves: leaves.map(\.bytes)).root)
            : try h.committedJob(fee: Self.fee, input: [], inputHash: Keccak256.hash(Self.honest.input),
                                 inputURI: "https://requester.example/in", outputHash: outputHash,
                                 traceRoot: MerkleTree(leaves: leaves.map(\.bytes)).root)
        let members = try h.drawnCommittee(id)
        XCTAssertTrue(try h.reveal(try members.map { try h.commit(id, $0, .invalid) }).success)
        XCTAssertEqual(try h.status(id), .disputed)
        return (id, p)
    }

    func reveal(_ h: Harness, _ id: Hash32, from k: Int, leaves: [Hash32]) throws -> TransactionResult {
        try h.send(k, JobDisputeTests.revealSignature, [.fixedBytes(id.bytes), .uint(0), JobDisputeTests.hashes(leaves), .array([])])
    }

    /// Chunk `chunk` of initializer `tensor` with its proof.
    static func chunk(_ tensor: Int, _ chunk: Int) -> Jobs.StagedChunk {
        Jobs.StagedChunk(tensor: UInt64(tensor), chunk: UInt64(chunk), data: honest.initializers.tensors[tensor].chunks[chunk],
                         proof: honest.initializers.proof(tensor: tensor, chunk: chunk)!)
    }

    func stage(_ h: Harness, _ id: Hash32, _ chunks: [Jobs.StagedChunk]) throws -> TransactionResult {
        try h.send(JobsTests.outsider, Self.stageSignature, [.fixedBytes(id.bytes), .array(chunks.map(\.abiValue))])
    }

    /// The arguments of a node proof at `position` against the trace `leaves`, with the
    /// honest producers `producers`; `change` edits them before they are sent.
    func prove(_ h: Harness, _ id: Hash32, position: Int, leaves: [Hash32], producers: [Int],
               _ change: (inout [ABIValue]) -> Void = { _ in }) throws -> TransactionResult {
        let tree = MerkleTree(leaves: leaves.map(\.bytes))
        let nodeIndex = Int(Self.honest.schedule.leaves[position].prefix(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        var values: [ABIValue] = [
            .fixedBytes(id.bytes), .uint(UInt256(UInt64(position))), .fixedBytes(leaves[position].bytes),
            JobDisputeTests.hashes(tree.proof(ofLeaf: position)!.siblings), .bytes(Self.honest.input),
            .array(producers.map { Jobs.ProducerOutputs(position: UInt64($0), outputs: Self.honest.nodeOutputs[$0], proof: tree.proof(ofLeaf: $0)!.siblings).abiValue }),
            .bytes(Self.honest.nodes.leaves[nodeIndex]), JobDisputeTests.hashes(Self.honest.nodes.tree.proof(ofLeaf: nodeIndex)!.siblings),
            .bytes(Self.honest.schedule.leaves[position]), JobDisputeTests.hashes(Self.honest.schedule.tree.proof(ofLeaf: position)!.siblings),
        ]
        change(&values)
        return try h.send(JobsTests.outsider, Self.proveSignature, values)
    }

    func proveOutput(_ h: Harness, _ id: Hash32, leaves: [Hash32], producers: [Int]) throws -> TransactionResult {
        let tree = MerkleTree(leaves: leaves.map(\.bytes))
        let last = Self.honest.schedule.leaves.count - 1
        return try h.send(JobsTests.outsider, Self.proveOutputSignature, [
            .fixedBytes(id.bytes),
            .array(producers.map { Jobs.ProducerOutputs(position: UInt64($0), outputs: Self.honest.nodeOutputs[$0], proof: tree.proof(ofLeaf: $0)!.siblings).abiValue }),
            .bytes(Self.honest.schedule.leaves[last]), JobDisputeTests.hashes(Self.honest.schedule.tree.proof(ofLeaf: last)!.siblings),
        ])
    }

    func dispute(_ h: Harness, _ id: Hash32) throws -> [ABIValue] {
        try h.view("getDispute(bytes32)", [.fixedBytes(id.bytes)], Jobs.disputeTypes)
    }

    func refused(_ result: TransactionResult, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(result.success, "expected a revert naming \(fragment)", file: file, line: line)
        XCTAssertTrue(result.revertReason?.contains(fragment) ?? false, "\(result.revertReason ?? "no reason") should contain \(fragment)",
                      file: file, line: line)
    }

    func wrong(_ position: Int) -> [Hash32] {
        var leaves = Self.honest.leaves
        leaves[position] = Keccak256.hash(Array("a corrupted output".utf8))
        return leaves
    }

    // MARK: Outcomes

    func testTheCommitmentsAreOverTheGraph() throws {
        XCTAssertEqual(Self.honest.leaves.count, 3)
        XCTAssertEqual(Self.honest.schedule.leaves.count, 4, "one leaf per node and the outputs leaf")
        XCTAssertEqual(try ScheduleCommitment.node(fromLeaf: Self.honest.schedule.leaves[0]).sources, [.initializer(0), .graphInput(0)])
        XCTAssertEqual(try ScheduleCommitment.node(fromLeaf: Self.honest.schedule.leaves[1]).sources,
                       [.nodeOutput(position: 0, output: 0), .initializer(1)])
        XCTAssertEqual(try ScheduleCommitment.sources(fromLeaf: Self.honest.schedule.leaves[3]), [.nodeOutput(position: 2, output: 0)])
        XCTAssertEqual(Self.honest.initializers.tensors[0].chunks.count, 3, "the table: header and two value chunks")
        for (leaf, reason) in [([UInt8](repeating: 0, count: 7), "a node index takes 8"), ([UInt8](repeating: 0, count: 9), "not a multiple of 17"),
                               ([UInt8](repeating: 0, count: 8) + [4] + [UInt8](repeating: 0, count: 16), "is no source")] {
            XCTAssertThrowsError(try ScheduleCommitment.node(fromLeaf: leaf)) { XCTAssertTrue("\($0)".contains(reason), "\($0)") }
        }
    }

    func testAWrongGatherIsOverturnedFromTheRowsItReadsAlone() throws {
        let h = try harness()
        let leaves = wrong(0)
        let (id, p) = try disputedJob(h, leaves: leaves)
        XCTAssertTrue(try reveal(h, id, from: p, leaves: leaves).success, "the provider reveals a by-reference trace")
        refused(try prove(h, id, position: 0, leaves: leaves, producers: []), "initializer 0 is not staged")
        let staged = try stage(h, id, [Self.chunk(0, 0), Self.chunk(0, 1)])
        XCTAssertTrue(staged.success, staged.revertReason ?? "")
        let key = Jobs.stagedKey(id, tensor: 0, chunk: 1)
        XCTAssertEqual(h.state.blob(of: Jobs.address, key: key), Self.chunk(0, 1).data)
        let stake = try h.operatorStake(p).stake
        let r = try prove(h, id, position: 0, leaves: leaves, producers: [])
        XCTAssertTrue(r.success, r.revertReason ?? "")
        h.endBlock()
        XCTAssertEqual(try h.status(id), .overturned, "rows 5 and 7 only: the table's second chunk never came")
        let d = try dispute(h, id)
        XCTAssertEqual(d[10], .uint(1), "faultPosition")
        XCTAssertEqual(d[6], .fixedBytes(Self.honest.leaves[0].bytes), "the Gather's honest output hash")
        XCTAssertLessThan(try h.operatorStake(p).stake, stake, "the provider is slashed")
        XCTAssertNil(h.state.blob(of: Jobs.address, key: key), "the staged chunks are freed when the dispute settles")
        XCTAssertNil(h.state.blob(of: Jobs.address, key: Jobs.stagedKey(id, tensor: 0, chunk: 0)))
        XCTAssertEqual(SupplyLedger(h.state).escrowed, .zero)
    }

    func testAWrongMatMulIsOverturnedWithItsWholeWeightsAndItsProducer() throws {
        let h = try harness()
        let leaves = wrong(1)
        let (id, p) = try disputedJob(h, leaves: leaves)
        XCTAssertTrue(try reveal(h, id, from: p, leaves: leaves).success)
        XCTAssertTrue(try stage(h, id, [Self.chunk(1, 0)]).success)
        refused(try prove(h, id, position: 1, leaves: leaves, producers: [0]), "chunk 1 of initializer 1 ('w') is not staged")
        XCTAssertTrue(try stage(h, id, [Self.chunk(1, 1)]).success)
        refused(try prove(h, id, position: 1, leaves: leaves, producers: []), "'emb' is output 0 of the node at position 0: send that producer's outputs")
        let r = try prove(h, id, position: 1, leaves: leaves, producers: [0])
        XCTAssertTrue(r.success, r.revertReason ?? "")
        h.endBlock()
        XCTAssertEqual(try h.status(id), .overturned)
        XCTAssertEqual(try dispute(h, id)[10], .uint(2))
    }

    func testAnHonestProviderWinsAndAnOutputItsTraceContradictsLoses() throws {
        let h = try harness()
        let (id, p) = try disputedJob(h, leaves: Self.honest.leaves)
        XCTAssertTrue(try reveal(h, id, from: p, leaves: Self.honest.leaves).success)
        XCTAssertTrue(try stage(h, id, [Self.chunk(2, 0), Self.chunk(2, 1)]).success)
        refused(try prove(h, id, position: 2, leaves: Self.honest.leaves, producers: [1]), "reproduces the provider's trace entry")
        refused(try proveOutput(h, id, leaves: Self.honest.leaves, producers: [2]), "hash to the committed output hash")
        h.advance(to: try XCTUnwrap(try dispute(h, id)[4].uintValue?.uint64) + 1)
        XCTAssertEqual(try h.status(id), .finalized, "revealed, and nobody proved a node wrong by resolveBy")
        XCTAssertNil(h.state.blob(of: Jobs.address, key: Jobs.stagedKey(id, tensor: 2, chunk: 1)), "freed by the hook's settlement")

        let (other, _) = try disputedJob(h, leaves: Self.honest.leaves, outputHash: Keccak256.hash([7]))
        refused(try proveOutput(h, id, leaves: Self.honest.leaves, producers: []), "is finalized, not disputed")
        refused(try proveOutput(h, other, leaves: Self.honest.leaves, producers: []), "graph output 0 is output 0 of the node at position 2")
        let r = try proveOutput(h, other, leaves: Self.honest.leaves, producers: [2])
        XCTAssertTrue(r.success, r.revertReason ?? "")
        h.endBlock()
        XCTAssertEqual(try h.status(other), .overturned)
    }

    /// With the input inline the hook first tries the whole run, which a model by
    /// reference cannot have, and then settles by the reveal.
    func testAnInlineInputJobIsSettledByTheRevealAtTheDeadline() throws {
        let h = try harness()
        let (id, p) = try disputedJob(h, leaves: Self.honest.leaves, inline: true)
        XCTAssertTrue(try reveal(h, id, from: p, leaves: Self.honest.leaves).success)
        let r = try prove(h, id, position: 0, leaves: Self.honest.leaves, producers: []) { $0[4] = .bytes([]) }
        XCTAssertTrue(r.revertReason?.contains("initializer 0 is not staged") ?? false, r.revertReason ?? "")
        h.advance(to: try XCTUnwrap(try dispute(h, id)[4].uintValue?.uint64) + 1)
        XCTAssertEqual(try h.status(id), .finalized, h.notices.lines.joined(separator: "\n"))
    }

    func testAProviderThatDoesNotRevealLosesAtTheDeadline() throws {
        let h = try harness()
        let (id, _) = try disputedJob(h, leaves: Self.honest.leaves)
        h.advance(to: try XCTUnwrap(try dispute(h, id)[4].uintValue?.uint64) + 1)
        XCTAssertEqual(try h.status(id), .overturned, "a by-reference model's provider must reveal too")
        XCTAssertEqual(SupplyLedger(h.state).escrowed, .zero)
    }

    // MARK: Rejections

    func testStagingRejectionsAreNamed() throws {
        let h = try harness()
        let (id, _) = try disputedJob(h, leaves: Self.honest.leaves)
        var forged = Self.chunk(0, 1)
        forged.data[0] ^= 1
        var badHeader = Self.chunk(0, 0)
        badHeader.data.append(0)
        var outOfRange = Self.chunk(0, 1)
        outOfRange.chunk = 3
        var noTensor = Self.chunk(0, 0)
        noTensor.tensor = 3
        refused(try stage(h, id, []), "no chunks to stage")
        refused(try stage(h, id, [noTensor]), "initializer 3 is out of range: model \(JobsTests.model) has 3 initializers")
        refused(try stage(h, id, [Self.chunk(0, 1)]), "stage the header (chunk 0) of initializer 0 before its chunk 1")
        refused(try stage(h, id, [badHeader]), "malformed initializer header: 1 bytes after the last dimension")
        XCTAssertTrue(try stage(h, id, [Self.chunk(0, 0)]).success)
        refused(try stage(h, id, [Self.chunk(0, 0)]), "chunk 0 of initializer 0 is already staged")
        refused(try stage(h, id, [forged]), "chunk 1 of initializer 0 is not in model \(JobsTests.model)'s initializer root")
        refused(try stage(h, id, [outOfRange]), "chunk 3 of initializer 0 is out of range: 'table' has 3 chunks")
        refused(try h.sendRaw(JobsTests.outsider, data: Array(ABI.selector(Self.stageSignature)) + [1, 2]), "invalid calldata")
    }

    func testNodeProofRejectionsAreNamed() throws {
        let h = try harness()
        let leaves = wrong(1)
        let (id, p) = try disputedJob(h, leaves: leaves)
        XCTAssertTrue(try reveal(h, id, from: p, leaves: leaves).success)
        XCTAssertTrue(try stage(h, id, [Self.chunk(1, 0), Self.chunk(1, 1)]).success)
        let otherNode = ABIValue.bytes(Self.honest.nodes.leaves[2])
        let cases: [((inout [ABIValue]) -> Void, String)] = [
            ({ $0[1] = .uint(3) }, "position 3 is out of range: the trace has 3 nodes"),
            ({ $0[2] = .fixedBytes(Self.honest.leaves[0].bytes) }, "the leaf at position 1 is not in the provider's trace"),
            ({ $0[8] = .bytes(Self.honest.schedule.leaves[2]) }, "the schedule leaf at position 1 is not in the model's registered root"),
            ({ $0[9] = .array([]) }, "the schedule leaf at position 1 is not in the model's registered root"),
            ({ $0[6] = otherNode }, "node 1 is not in the model's registered root"),
        ]
        for (change, reason) in cases { refused(try prove(h, id, position: 1, leaves: leaves, producers: [0], change), reason) }
        refused(try prove(h, id, position: 0, leaves: leaves, producers: []) { $0[4] = .bytes([1]) }, "the input sent hashes to")
        refused(try h.sendRaw(JobsTests.outsider, data: Array(ABI.selector(Self.proveSignature)) + [1, 2]), "invalid calldata")
        refused(try h.sendRaw(JobsTests.outsider, data: Array(ABI.selector(Self.proveOutputSignature)) + [1, 2]), "invalid calldata")
    }

    func testAStoredModelsJobIsNotProvenByReference() throws {
        let h = try Harness()
        let (id, _) = try h.committedJob(fee: Self.fee, input: [], inputHash: Keccak256.hash(Self.honest.input),
                                         inputURI: "https://requester.example/in", outputHash: Self.honest.outputHash,
                                         traceRoot: MerkleTree(leaves: Self.honest.leaves.map(\.bytes)).root)
        XCTAssertTrue(try h.reveal(try h.drawnCommittee(id).map { try h.commit(id, $0, .invalid) }).success)
        refused(try stage(h, id, [Self.chunk(0, 0)]), "is not registered by reference with a schedule root: use proveNode and proveOutput")
    }

    // MARK: Reference versions

    /// Version 1 (a chain made before schedule roots) keeps the old rules: the trace calls
    /// revert as for any model not stored, and the dispute settles undecided at resolveBy;
    /// under version 2 a reference registered without a schedule root does the same.
    func testWithoutAScheduleRootTheDisputeSettlesUndecidedAsBefore() throws {
        for (version, roots) in [(UInt64(1), true), (2, false)] {
            let h = try harness(referenceVersion: version, scheduleRoots: roots)
            let (id, p) = try disputedJob(h, leaves: Self.honest.leaves)
            refused(try reveal(h, id, from: p, leaves: Self.honest.leaves), "is registered by reference: its bytes are not on chain")
            refused(try stage(h, id, [Self.chunk(0, 0)]), version == 1 ? "is not registered by reference with a schedule root"
                                                                       : "was registered by reference without a schedule root")
            h.advance(to: try XCTUnwrap(try dispute(h, id)[4].uintValue?.uint64) + 1)
            XCTAssertEqual(try h.status(id), .refunded, "undecided under version \(version)")
            XCTAssertEqual(DisputeState(rawValue: UInt8(try dispute(h, id)[3].uintValue?.uint64 ?? 0)), .undecided)
        }
    }
}
