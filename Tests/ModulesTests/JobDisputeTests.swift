import Crypto
import Inference
import Primitives
import XCTest
@testable import Chain
@testable import Modules

/// The dispute game of docs/verification.md ("Disputes") through real transactions, the
/// staking module, the end-block hook and the supply ledger (checked after every block by
/// `JobsTests.Harness.endBlock`): a disputed job over the stored fixture model is
/// re-executed whole in the call, and the wrong side pays.
final class JobDisputeTests: XCTestCase {
    typealias Harness = JobsTests.Harness
    static let opg = JobsTests.opg
    static let fee = opg * 4
    static let maxFee = opg * 10, verificationFee = opg * 2, bond = opg * 2

    /// The job's input (one 1 × 64 float tensor, canonical) and what an honest provider
    /// commits for it: the output hash and trace root of the kernel's run.
    static let honest: (input: [UInt8], outputHash: Hash32, traceRoot: Hash32, trace: ExecutionTrace, nodeOutputs: [[UInt8]]) = {
        let x = Tensor(name: "X", elementType: .float, shape: [1, 64], storage: .float((0..<64).map { Float($0 % 17) }))
        let session = try! InferenceSession(bytes: try! FixtureModels.bytes(JobsTests.model))
        var nodeOutputs: [[UInt8]] = []
        let trace = try! session.trace(["X": x]) { _, outputs in nodeOutputs.append(TensorEncoding.canonical(outputs)) }
        return (TensorEncoding.canonical([x]), ExecutionTrace.outputHash(trace.outputs), trace.root, trace, nodeOutputs)
    }()

    func resolve(_ h: Harness, _ id: Hash32, input: [UInt8] = [], from k: Int = JobsTests.outsider) throws -> TransactionResult {
        try h.send(k, "resolveDispute(bytes32,bytes)", [.fixedBytes(id.bytes), .bytes(input)])
    }

    func dispute(_ h: Harness, _ id: Hash32) throws -> [ABIValue] {
        try h.view("getDispute(bytes32)", [.fixedBytes(id.bytes)], Jobs.disputeTypes)
    }

    func state(_ h: Harness, _ id: Hash32) throws -> DisputeState? {
        DisputeState(rawValue: UInt8(try dispute(h, id)[3].uintValue?.uint64 ?? 99))
    }

    /// A committed job over the fixture model whose committee all reveal `verdict`;
    /// `wrong` commits a corrupted output hash.
    func votedJob(_ h: Harness, wrong: Bool, verdict: Verdict) throws -> (id: Hash32, provider: Int, members: [Int]) {
        let (id, p) = try h.committedJob(fee: Self.fee, input: Self.honest.input,
                                         outputHash: wrong ? Keccak256.hash(Array("corrupted".utf8)) : Self.honest.outputHash,
                                         traceRoot: Self.honest.traceRoot)
        let members = try h.drawnCommittee(id)
        let r = try h.reveal(try members.map { try h.commit(id, $0, verdict) })
        XCTAssertTrue(r.success, r.revertReason ?? "")
        return (id, p, members)
    }

    func challenge(_ h: Harness, _ id: Hash32) throws {
        let r = try h.send(JobsTests.outsider, "challenge(bytes32)", [.fixedBytes(id.bytes)], value: Self.bond)
        XCTAssertTrue(r.success, r.revertReason ?? "")
        XCTAssertEqual(try h.status(id), .disputed)
    }

    /// `fraction` basis points of `stake`.
    func bps(_ stake: UInt256, _ fraction: UInt64) -> UInt256 { stake * UInt256(fraction) / UInt256(10_000) }

    // MARK: Outcomes

    func testAWrongProviderIsSlashedAndJailedAndTheRequesterRefunded() throws {
        let h = try Harness()
        let before = (0..<8).map(h.balance)
        let (id, p, members) = try votedJob(h, wrong: true, verdict: .valid)
        let stakes = try (0..<6).map { try h.operatorStake($0).stake }
        try challenge(h, id)
        let d = try dispute(h, id)
        XCTAssertEqual(d[4], .uint(UInt256(h.number + Jobs.disputeBlocks)), "resolveBy")
        let r = try resolve(h, id)
        XCTAssertTrue(r.success, r.revertReason ?? "")
        XCTAssertEqual(r.logs.last?.topics.first, ABI.eventTopic("DisputeResolved(bytes32,uint8)"))
        h.endBlock()
        XCTAssertEqual(try h.status(id), .overturned)
        XCTAssertEqual(try state(h, id), .providerWrong)
        let resolved = try dispute(h, id)
        XCTAssertEqual(resolved[6], .fixedBytes(Self.honest.outputHash.bytes), "the output hash re-execution found")
        XCTAssertEqual(resolved[7], .fixedBytes(Self.honest.traceRoot.bytes))
        XCTAssertEqual(h.balance(JobsTests.requester), before[JobsTests.requester], "max fee and verification fee refunded")
        let collateral = Self.fee * 2
        let providerSlash = bps(stakes[p], 500)
        let verifierSlashes = members.map { bps(stakes[$0], 1_000) }
        let slashReward = (verifierSlashes.reduce(providerSlash, +)) / UInt256(10)
        XCTAssertEqual(h.balance(JobsTests.outsider), before[JobsTests.outsider] + collateral / UInt256(2) + slashReward,
                       "the challenger: its bond back, half the collateral and the slashes' reward share")
        XCTAssertEqual(h.balance(p), before[p] - collateral, "the provider loses its collateral")
        XCTAssertEqual(try h.operatorStake(p).stake, stakes[p] - providerSlash, "5% of its stake")
        for (m, slash) in zip(members, verifierSlashes) {
            XCTAssertEqual(try h.operatorStake(m).stake, stakes[m] - slash, "verifiers that voted valid lose 10%")
        }
        let op = try h.executor.call(from: .zero, to: Staking.address, value: .zero,
                                     data: try ABI.encodeCall("getOperator(address)", [.address(JobsTests.address(p))]),
                                     gasLimit: 100_000_000, state: h.state, block: h.env)
        guard case .tuple(let f) = try ABI.decode([Staking.operatorInfoType], op.returnData)[0] else { return XCTFail("no operator") }
        XCTAssertEqual(f[5], .bool(true), "the provider is jailed")
        XCTAssertEqual(SupplyLedger(h.state).escrowed, .zero)
        assertReverts(try resolve(h, id), "is overturned, not disputed")
    }

    func testAnHonestProviderIsFinalizedAndTheVerifiersWhoVotedInvalidAreSlashed() throws {
        let h = try Harness()
        let before = (0..<8).map(h.balance)
        let (id, p, members) = try votedJob(h, wrong: false, verdict: .invalid)
        XCTAssertEqual(try h.status(id), .disputed, "an invalid quorum opens the dispute")
        XCTAssertEqual(try dispute(h, id)[0], .address(.zero), "opened by the committee")
        let stakes = try (0..<6).map { try h.operatorStake($0).stake }
        let r = try resolve(h, id)
        XCTAssertTrue(r.success, r.revertReason ?? "")
        h.endBlock()
        XCTAssertEqual(try h.status(id), .finalized)
        XCTAssertEqual(try state(h, id), .providerRight)
        let slashes = members.map { bps(stakes[$0], 1_000) }
        let reward = slashes.reduce(.zero, +) / UInt256(10)
        XCTAssertEqual(h.balance(p), before[p] + bps(Self.fee, 8_500) + reward, "85% of the fee, its collateral back, the slashes' reward share")
        for (m, slash) in zip(members, slashes) { XCTAssertEqual(try h.operatorStake(m).stake, stakes[m] - slash) }
        XCTAssertEqual(h.balance(JobsTests.requester), before[JobsTests.requester] - Self.fee - Self.verificationFee,
                       "the job is settled as finalized: the fee and the verification fee paid")
        XCTAssertEqual(SupplyLedger(h.state).escrowed, .zero)
    }

    func testAWrongChallengerForfeitsItsBond() throws {
        let h = try Harness()
        let before = (0..<8).map(h.balance)
        let (id, p, members) = try votedJob(h, wrong: false, verdict: .valid)
        try challenge(h, id)
        XCTAssertTrue(try resolve(h, id, from: JobsTests.requester).success)
        h.endBlock()
        XCTAssertEqual(try h.status(id), .finalized)
        XCTAssertEqual(try state(h, id), .providerRight)
        XCTAssertEqual(h.balance(JobsTests.outsider), before[JobsTests.outsider] - Self.bond, "the bond is forfeited")
        XCTAssertEqual(h.balance(p), before[p] + bps(Self.fee, 8_500) + Self.bond / UInt256(2), "half the bond to the provider")
        for m in members { XCTAssertGreaterThan(h.balance(m), before[m], "the valid voters are paid") }
    }

    func testAnInputGivenByReferenceIsSentWithTheResolution() throws {
        let h = try Harness()
        let (id, _) = try h.committedJob(fee: Self.fee, input: [], inputHash: Keccak256.hash(Self.honest.input),
                                         inputURI: "https://requester.example/in", outputHash: Keccak256.hash([9]),
                                         traceRoot: Self.honest.traceRoot)
        let members = try h.drawnCommittee(id)
        XCTAssertTrue(try h.reveal(try members.map { try h.commit(id, $0, .invalid) }).success)
        assertReverts(try resolve(h, id), "the input sent hashes to")
        assertReverts(try resolve(h, id, input: Self.honest.input + [0]), "not the job's input hash")
        XCTAssertTrue(try resolve(h, id, input: Self.honest.input).success)
        h.endBlock()
        XCTAssertEqual(try h.status(id), .overturned)
    }

    func testAJobThatCannotRunSettlesUndecidedAndEveryoneIsRepaid() throws {
        let h = try Harness()
        let before = (0..<8).map(h.balance)
        let (id, p) = try h.committedJob(fee: Self.fee)  // input "pixels": not a canonical tensor list
        let members = try h.drawnCommittee(id)
        XCTAssertTrue(try h.reveal(try members.map { try h.commit(id, $0, .valid) }).success)
        let stakes = try (0..<6).map { try h.operatorStake($0).stake }
        try challenge(h, id)
        XCTAssertTrue(try resolve(h, id).success)
        h.endBlock()
        XCTAssertEqual(try h.status(id), .refunded)
        XCTAssertEqual(try state(h, id), .undecided)
        for k in [p, JobsTests.requester, JobsTests.outsider] + members { XCTAssertEqual(h.balance(k), before[k]) }
        for k in 0..<6 { XCTAssertEqual(try h.operatorStake(k).stake, stakes[k], "nobody is slashed") }
    }

    // MARK: Timeouts

    func testTheHookResolvesADisputeNobodyResolvedAtItsDeadline() throws {
        let h = try Harness()
        let (id, p, _) = try votedJob(h, wrong: true, verdict: .invalid)
        let stake = try h.operatorStake(p).stake
        let resolveBy = try XCTUnwrap(try dispute(h, id)[4].uintValue?.uint64)
        h.advance(to: resolveBy)
        XCTAssertEqual(try h.status(id), .disputed)
        h.endBlock()
        XCTAssertEqual(try h.status(id), .overturned, "the hook re-executed the job at resolveBy")
        XCTAssertEqual(try h.operatorStake(p).stake, stake - bps(stake, 500))
        XCTAssertEqual(try dispute(h, id)[5], .uint(UInt256(resolveBy)), "resolvedAt")
    }

    func testAnAttestedOnlyDisputeSettlesUndecidedAtItsDeadline() throws {
        let h = try Harness()
        let before = (0..<8).map(h.balance)
        let (id, p) = try h.committedJob(fee: Self.fee, verificationClass: .attestedOnly)
        let members = try h.drawnCommittee(id)
        XCTAssertTrue(try h.reveal(try members.map { try h.commit(id, $0, .valid) }).success)
        try challenge(h, id)
        assertReverts(try resolve(h, id), "is attested-only: the chain cannot re-execute it")
        assertReverts(try reveal(h, id, from: p, leaves: [.zero]), "is attested-only: it has no trace")
        assertReverts(try proveOutput(h, id, producers: []), "is attested-only: it has no trace")
        h.advance(to: h.number + Jobs.disputeBlocks + 1)
        XCTAssertEqual(try h.status(id), .refunded)
        XCTAssertEqual(try state(h, id), .undecided)
        for k in [p, JobsTests.requester, JobsTests.outsider] { XCTAssertEqual(h.balance(k), before[k]) }
    }

    // MARK: Rejections

    func testResolveDisputeRejectionsAreNamed() throws {
        let h = try Harness()
        let (id, p) = try h.committedJob(fee: Self.fee, input: Self.honest.input, traceRoot: Self.honest.traceRoot)
        assertReverts(try resolve(h, Hash32.slot(77)), "unknown job")
        assertReverts(try resolve(h, id), "is committed, not disputed")
        assertReverts(try h.sendRaw(p, data: Jobs(models: FixtureModels()).functions.first { $0.name == "resolveDispute" }!.selector + [1]),
                      "invalid calldata")
        let members = try h.drawnCommittee(id)
        XCTAssertTrue(try h.reveal(try members.map { try h.commit(id, $0, .invalid) }).success)
        assertReverts(try resolve(h, id, input: [1]), "input is on chain: send empty input")
        assertReverts(try h.send(p, "resolveDispute(bytes32,bytes)", [.fixedBytes(id.bytes), .bytes([])], value: .one),
                      "resolveDispute is not payable")
        XCTAssertTrue(try resolve(h, id).success)
        assertReverts(try resolve(h, id), "not disputed")
    }

    func testAModelOverTheInferenceBudgetIsNotReexecutedWhole() throws {
        let h = try Harness()
        let (id, _) = try h.committedJob(fee: Self.fee, input: Self.honest.input, traceRoot: Self.honest.traceRoot)
        let members = try h.drawnCommittee(id)
        XCTAssertTrue(try h.reveal(try members.map { try h.commit(id, $0, .invalid) }).success)
        let tight = Jobs(models: FixtureModels(), inference: InferenceSettings(blockGasBudget: 10))
        let executor = TransactionExecutor(handlers: NativeHandlerRegistry([Staking(), tight, Supply()]), encodeRevert: ABI.encodeRevert)
        let r = executor.call(from: .zero, to: Jobs.address, value: .zero,
                              data: try ABI.encodeCall("resolveDispute(bytes32,bytes)", [.fixedBytes(id.bytes), .bytes([])]),
                              gasLimit: 8_000_000, state: h.state, block: h.env)
        XCTAssertTrue(r.revertReason?.contains("more than the block's inference budget of 10") ?? false, r.revertReason ?? "no revert")
    }

    // MARK: Encodings

    func testTheCanonicalDecoderReadsBackWhatTheEncoderWrites() throws {
        let tensors = [Tensor(elementType: .float, shape: [2, 2], storage: .float([1, -2, .infinity, 0.5])),
                       Tensor(elementType: .int64, shape: [3], storage: .int64([-1, 0, 1 << 40])),
                       Tensor(elementType: .string, shape: [2], storage: .string([Array("a".utf8), []])),
                       Tensor(elementType: .bool, shape: [], storage: .bool([true]))]
        let bytes = TensorEncoding.canonical(tensors)
        XCTAssertEqual(TensorEncoding.canonical(try TensorEncoding.tensors(canonical: bytes)), bytes)
        let cases: [([UInt8], String)] = [
            ([], "ends after 0 bytes"), (bytes + [0], "1 bytes after the last tensor"), (Array(bytes.dropLast()), "run past the end"),
            ([1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0], "element type 65537 is not a tensor element type"),
            ([1, 0, 0, 0, 1, 0, 0, 0, 65, 0, 0, 0], "rank 65 exceeds 64"),
            ([9, 0, 0, 0], "9 tensors cannot fit in 4 bytes"),
        ]
        for (input, reason) in cases {
            XCTAssertThrowsError(try TensorEncoding.tensors(canonical: input)) { XCTAssertTrue("\($0)".contains(reason), "\($0) should say \(reason)") }
        }
        XCTAssertThrowsError(try TensorEncoding.tensors(canonical: bytes, maxElements: 3)) { XCTAssertTrue("\($0)".contains("over the cap of 3")) }
    }

    func testTheDisputeABIIsTheDocumentedOne() {
        XCTAssertEqual(ABI.eventTopic("DisputeResolved(bytes32,uint8)").bytes,
                       Keccak256.hash(Array("DisputeResolved(bytes32,uint8)".utf8)).bytes)
        XCTAssertEqual(Jobs.disputeTypes, [.address, .uint(256), .uint(64), .uint(8), .uint(64), .uint(64), .fixedBytes(32), .fixedBytes(32),
                                           .uint(64), .uint(64), .uint(64)])
        XCTAssertEqual(ABI.eventTopic("TraceRevealed(bytes32,uint64,bytes32[])").bytes,
                       Keccak256.hash(Array("TraceRevealed(bytes32,uint64,bytes32[])".utf8)).bytes)
        XCTAssertEqual(Jobs.pieceLeaves, 1024)
        XCTAssertEqual(Jobs.traceRevealBlocks, 50)
        XCTAssertEqual(DisputeState.allCases.map(\.name), ["none", "open", "providerWrong", "providerRight", "undecided"])
        XCTAssertEqual(JobStatus.overturned.rawValue, 11)
        XCTAssertEqual(Jobs.disputeBlocks, 100)
        XCTAssertEqual(Jobs.disputeRewardBps, 5_000)
    }

    // MARK: The node path

    static let revealSignature = "revealTrace(bytes32,uint64,bytes32[],bytes32[])"
    static let proveNodeSignature = "proveNode(bytes32,uint64,bytes32,bytes32[],bytes,(uint64,bytes,bytes32[])[])"
    static let proveOutputSignature = "proveOutput(bytes32,(uint64,bytes,bytes32[])[])"

    static func hashes(_ list: [Hash32]) -> ABIValue { .array(list.map { .fixedBytes($0.bytes) }) }

    /// Node `position`'s honest outputs with their proof in `tree`.
    static func producer(_ position: Int, in tree: MerkleTree) -> Jobs.ProducerOutputs {
        Jobs.ProducerOutputs(position: UInt64(position), outputs: honest.nodeOutputs[position], proof: tree.proof(ofLeaf: position)!.siblings)
    }

    func reveal(_ h: Harness, _ id: Hash32, from k: Int, piece: UInt64 = 0, leaves: [Hash32], proof: [Hash32] = []) throws -> TransactionResult {
        try h.send(k, Self.revealSignature, [.fixedBytes(id.bytes), .uint(UInt256(piece)), Self.hashes(leaves), Self.hashes(proof)])
    }

    func proveNode(_ h: Harness, _ id: Hash32, position: Int, leaf: Hash32, tree: MerkleTree, input: [UInt8] = [],
                   producers: [Jobs.ProducerOutputs]) throws -> TransactionResult {
        try h.send(JobsTests.outsider, Self.proveNodeSignature,
                   [.fixedBytes(id.bytes), .uint(UInt256(UInt64(position))), .fixedBytes(leaf.bytes),
                    Self.hashes(tree.proof(ofLeaf: position)?.siblings ?? []), .bytes(input), .array(producers.map(\.abiValue))])
    }

    func proveOutput(_ h: Harness, _ id: Hash32, producers: [Jobs.ProducerOutputs]) throws -> TransactionResult {
        try h.send(JobsTests.outsider, Self.proveOutputSignature, [.fixedBytes(id.bytes), .array(producers.map(\.abiValue))])
    }

    /// A job whose input is given by reference (so the hook cannot re-execute it whole),
    /// committed with `leaves`' root and `outputHash`, and voted `verdict` by its committee.
    func referencedJob(_ h: Harness, leaves: [Hash32], outputHash: Hash32, verdict: Verdict) throws -> (Hash32, Int, [Int]) {
        let (id, p) = try h.committedJob(fee: Self.fee, input: [], inputHash: Keccak256.hash(Self.honest.input),
                                         inputURI: "https://requester.example/in", outputHash: outputHash,
                                         traceRoot: MerkleTree(leaves: leaves.map(\.bytes)).root)
        let members = try h.drawnCommittee(id)
        XCTAssertTrue(try h.reveal(try members.map { try h.commit(id, $0, verdict) }).success)
        if verdict == .valid { try challenge(h, id) }
        XCTAssertEqual(try h.status(id), .disputed)
        return (id, p, members)
    }

    var honestLeaves: [Hash32] { Self.honest.trace.steps.map(\.outputHash) }

    func testTheProviderRevealsItsTraceAndWinsWhenNoNodeIsProvenWrong() throws {
        let h = try Harness()
        let leaves = honestLeaves
        XCTAssertEqual(leaves.count, 2)
        let (id, p, members) = try referencedJob(h, leaves: leaves, outputHash: Self.honest.outputHash, verdict: .invalid)
        assertReverts(try reveal(h, id, from: JobsTests.outsider, leaves: leaves), "only the job's provider")
        assertReverts(try reveal(h, id, from: p, piece: 1, leaves: leaves), "piece 1 is out of order: piece 0 of 1 is next")
        assertReverts(try reveal(h, id, from: p, leaves: [leaves[0]]), "holds 2 leaves, got 1")
        assertReverts(try reveal(h, id, from: p, leaves: [leaves[1], leaves[0]]), "piece 0 is not in the provider's trace")
        let r = try reveal(h, id, from: p, leaves: leaves)
        XCTAssertTrue(r.success, r.revertReason ?? "")
        XCTAssertEqual(r.logs.last?.topics.first, ABI.eventTopic("TraceRevealed(bytes32,uint64,bytes32[])"))
        assertReverts(try reveal(h, id, from: p, leaves: leaves), "the whole trace of job")
        XCTAssertEqual(try dispute(h, id)[9], .uint(1), "revealedPieces")
        let tree = Self.honest.trace.tree
        assertReverts(try proveNode(h, id, position: 1, leaf: leaves[1], tree: tree, input: Self.honest.input,
                                    producers: [Self.producer(0, in: tree)]), "reproduces the provider's trace entry")
        assertReverts(try proveOutput(h, id, producers: [Self.producer(0, in: tree), Self.producer(1, in: tree)]),
                      "hash to the committed output hash")
        let stakes = try (0..<6).map { try h.operatorStake($0).stake }
        h.advance(to: try XCTUnwrap(try dispute(h, id)[4].uintValue?.uint64) + 1)
        XCTAssertEqual(try h.status(id), .finalized, "revealed, and nobody proved a node wrong by resolveBy")
        XCTAssertEqual(try state(h, id), .providerRight)
        for m in members { XCTAssertEqual(try h.operatorStake(m).stake, stakes[m] - bps(stakes[m], 1_000)) }
    }

    func testANodeProofOverturnsAWrongTraceEntry() throws {
        let h = try Harness()
        let leaves = [honestLeaves[0], Keccak256.hash(Array("a wrong Normalizer output".utf8))]
        let tree = MerkleTree(leaves: leaves.map(\.bytes))
        let (id, p, _) = try referencedJob(h, leaves: leaves, outputHash: Self.honest.outputHash, verdict: .valid)
        XCTAssertTrue(try reveal(h, id, from: p, leaves: leaves).success)
        let stake = try h.operatorStake(p).stake
        let r = try proveNode(h, id, position: 1, leaf: leaves[1], tree: tree, input: Self.honest.input, producers: [Self.producer(0, in: tree)])
        XCTAssertTrue(r.success, r.revertReason ?? "")
        h.endBlock()
        XCTAssertEqual(try h.status(id), .overturned)
        let d = try dispute(h, id)
        XCTAssertEqual(d[10], .uint(2), "faultPosition = position + 1")
        XCTAssertEqual(d[6], .fixedBytes(honestLeaves[1].bytes), "the node's output hash the chain computed")
        XCTAssertEqual(try h.operatorStake(p).stake, stake - bps(stake, 500))
    }

    func testAnOutputProofOverturnsAnOutputItsOwnTraceContradicts() throws {
        let h = try Harness()
        let tree = Self.honest.trace.tree
        let (id, _, _) = try referencedJob(h, leaves: honestLeaves, outputHash: Keccak256.hash([7]), verdict: .invalid)
        assertReverts(try proveOutput(h, id, producers: [Self.producer(0, in: tree)]), "'probabilities' is output 0 of the node at position 1")
        let r = try proveOutput(h, id, producers: [Self.producer(0, in: tree), Self.producer(1, in: tree)])
        XCTAssertTrue(r.success, r.revertReason ?? "")
        h.endBlock()
        XCTAssertEqual(try h.status(id), .overturned)
        XCTAssertEqual(try dispute(h, id)[6], .fixedBytes(Self.honest.outputHash.bytes))
    }

    func testAProviderThatDoesNotRevealItsTraceLosesAtTheDeadline() throws {
        let h = try Harness()
        let (id, p, _) = try referencedJob(h, leaves: honestLeaves, outputHash: Self.honest.outputHash, verdict: .invalid)
        let revealBy = try XCTUnwrap(try dispute(h, id)[8].uintValue?.uint64)
        h.advance(to: revealBy + 1)
        assertReverts(try reveal(h, id, from: p, leaves: honestLeaves), "the trace reveal of job")
        h.advance(to: try XCTUnwrap(try dispute(h, id)[4].uintValue?.uint64) + 1)
        XCTAssertEqual(try h.status(id), .overturned, "a provider that withholds its trace loses, right or not")
        XCTAssertEqual(try state(h, id), .providerWrong)
    }

    func testNodeProofRejectionsAreNamed() throws {
        let h = try Harness()
        let tree = Self.honest.trace.tree
        let leaves = honestLeaves
        let (id, _, _) = try referencedJob(h, leaves: leaves, outputHash: Self.honest.outputHash, verdict: .invalid)
        let good = Self.producer(0, in: tree)
        var forged = good
        forged.outputs[forged.outputs.count - 1] ^= 1
        let cases: [(Int, Hash32, [UInt8], [Jobs.ProducerOutputs], String)] = [
            (2, leaves[1], Self.honest.input, [good], "position 2 is out of range: the trace has 2 nodes"),
            (1, leaves[0], Self.honest.input, [good], "the leaf at position 1 is not in the provider's trace"),
            (1, leaves[1], [], [good], "the input sent hashes to"),
            (1, leaves[1], Self.honest.input, [], "'probability_tensor' is output 1 of the node at position 0: send that producer's outputs"),
            (1, leaves[1], Self.honest.input, [good, good], "producer 1 (position 0) is given twice"),
            (1, leaves[1], Self.honest.input, [forged], "producer 0 (position 0) is not in the provider's trace"),
            (1, leaves[1], Self.honest.input, [Jobs.ProducerOutputs](repeating: good, count: 65), "65 producers is over the limit of 64"),
        ]
        for (position, leaf, input, producers, reason) in cases {
            assertReverts(try proveNode(h, id, position: position, leaf: leaf, tree: tree, input: input, producers: producers), reason)
        }
        for signature in [Self.revealSignature, Self.proveNodeSignature, Self.proveOutputSignature] {
            assertReverts(try h.sendRaw(JobsTests.outsider, data: Array(ABI.selector(signature)) + [1, 2]), "invalid calldata")
        }
    }

    func assertReverts(_ result: TransactionResult, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(result.success, "expected a revert naming \(fragment)", file: file, line: line)
        XCTAssertTrue(result.revertReason?.contains(fragment) ?? false, "\(result.revertReason ?? "no reason") should contain \(fragment)",
                      file: file, line: line)
    }
}
