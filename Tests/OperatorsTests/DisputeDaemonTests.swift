import Crypto
import Foundation
import Inference
import Modules
import Primitives
import XCTest
@testable import Operators

/// The daemons' parts of the dispute game (docs/daemons.md, "Disputes"): the provider's
/// trace pieces and the leaves it keeps across a restart, the verifier's choice of what to
/// prove and the producers it sends.
final class DisputeDaemonTests: XCTestCase {
    private func hashes(_ n: Int) -> [Hash32] { (0..<n).map { Keccak256.hash(Array("leaf \($0)".utf8)) } }

    private var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "dispute-daemon-\(UUID().uuidString)"
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func testEveryPieceIsProvenAgainstTheTraceRoot() throws {
        for n in [1, 2, 1_023, 1_024, 1_025, 2_500, 4_096] {
            let leaves = hashes(n)
            let root = MerkleTree(leaves: leaves.map(\.bytes)).root
            let pieces = TracePieces.pieces(leaves)
            XCTAssertEqual(pieces.count, (n + 1_023) / 1_024, "n = \(n)")
            XCTAssertEqual(pieces.flatMap(\.leaves), leaves, "pieces in order, all but the last full")
            for piece in pieces {
                XCTAssertEqual(piece.leaves.count, min(1_024, n - Int(piece.index) * 1_024))
                let proof = MerkleProof(leafIndex: Int(piece.index), leafCount: pieces.count, siblings: piece.proof)
                XCTAssertNoThrow(try proof.verify(leafHash: MerkleTree(leaves: piece.leaves.map(\.bytes)).root, root: root), "n = \(n), piece \(piece.index)")
            }
            if n <= 1_024 { XCTAssertEqual(pieces[0].proof, [], "one piece is the root itself") }
        }
        XCTAssertEqual(TracePieces.pieces([]), [])
    }

    func testTheKeptLeavesSurviveARestartAndGoOnceSettled() throws {
        let job = Keccak256.hash(Array("job".utf8))
        let leaves = hashes(1_500)
        let outcome = JobOutcome(output: [1, 2], traceRoot: MerkleTree(leaves: leaves.map(\.bytes)).root, leaves: leaves)
        try TraceDefense.keep(outcome, job: job, in: try ArtifactStore(directory: directory))
        let restarted = try ArtifactStore(directory: directory)
        XCTAssertEqual(TraceDefense.leaves(job, in: restarted), leaves)
        XCTAssertEqual(TracePieces.pieces(TraceDefense.leaves(job, in: restarted) ?? []), TracePieces.pieces(leaves), "the same pieces after a restart")
        TraceDefense.forget(job, in: restarted)
        XCTAssertNil(TraceDefense.leaves(job, in: restarted))
        try TraceDefense.keep(JobOutcome(output: [1], traceRoot: .zero), job: job, in: restarted)
        XCTAssertNil(TraceDefense.leaves(job, in: restarted), "a runner without leaves keeps nothing")
        XCTAssertNil(TracePieces.decode(Array(repeating: 0, count: 33)), "not whole hashes")
    }

    func testARevealPieceIsSignedOnceAcrossARestart() throws {
        let job = Keccak256.hash(Array("job".utf8))
        let path = directory + ".record"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SigningRecord(path: path).record(job, step: "trace#0", raw: [7, 7])
        let reopened = try SigningRecord(path: path)
        XCTAssertEqual(reopened.transaction(job, step: "trace#0"), [7, 7], "the recorded piece is resent as it is")
        XCTAssertNil(reopened.transaction(job, step: "trace#1"), "the next piece is still to sign")
        XCTAssertThrowsError(try reopened.record(job, step: "trace#0", raw: [8])) { error in
            XCTAssertEqual("\(error)", "refusing to sign another trace#0 transaction for job \(job): one is recorded")
        }
    }

    func testACorruptTraceChangesOneLeafAndItsRoot() throws {
        let leaves = hashes(5)
        var config = OperatorConfig(role: .provider, rpc: "http://127.0.0.1:1", stateDir: directory)
        config.corruptTrace = true
        let outcome = ProviderFaults.apply(config, to: JobOutcome(output: [1], traceRoot: MerkleTree(leaves: leaves.map(\.bytes)).root, leaves: leaves))
        XCTAssertEqual(outcome.output, [1])
        XCTAssertEqual((0..<5).filter { outcome.leaves[$0] != leaves[$0] }, [2])
        XCTAssertEqual(outcome.traceRoot, MerkleTree(leaves: outcome.leaves.map(\.bytes)).root)
    }

    // MARK: What the verifier proves

    private func mlp() throws -> (session: InferenceSession, input: Tensor) {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("InferenceTests/Fixtures/models")
        let model = try Data(contentsOf: fixtures.appendingPathComponent("digits_mlp.onnx"))
        let input = try ModelReader.readTensor(Array(try Data(contentsOf: fixtures.appendingPathComponent("digits_mlp.input.pb"))))
        return (try InferenceSession(bytes: Array(model)), input)
    }

    /// Every node's canonical outputs of the honest run, by execution position.
    private func outputs(_ session: InferenceSession, _ feeds: [String: Tensor]) throws -> (ExecutionTrace, [Int: [UInt8]]) {
        var byIndex: [Int: [UInt8]] = [:]
        let trace = try session.trace(feeds) { index, tensors in byIndex[index] = TensorEncoding.canonical(tensors) }
        var byPosition: [Int: [UInt8]] = [:]
        for (position, index) in session.executionOrder.enumerated() { byPosition[position] = byIndex[index] }
        return (trace, byPosition)
    }

    func testTheFirstWrongLeafIsProvenWithProducersThatReproduceIt() throws {
        let (session, input) = try mlp()
        let feeds = [session.inputs[0].name: input]
        let (trace, outputs) = try outputs(session, feeds)
        let honest = trace.steps.map(\.outputHash), outputHash = ExecutionTrace.outputHash(trace.outputs)
        for q in honest.indices {
            var revealed = honest
            for later in q..<honest.count { revealed[later] = Keccak256.hash(revealed[later].bytes) }  // wrong from q on
            guard case .proveNode(let position, let producers) = DisputePlanner.move(session: session, honest: honest, revealed: revealed,
                                                                                   honestOutputHash: outputHash, committedOutputHash: outputHash) else {
                return XCTFail("position \(q): no node proof")
            }
            XCTAssertEqual(position, q)
            XCTAssertTrue(producers.allSatisfy { $0 < q }, "producers come before the node")
            // What the chain does with the proof: each input from a producer's proven outputs, a graph input, or an initializer.
            let entries = try DisputePlanner.producerOutputs(producers, outputs: outputs, revealed: revealed)
            let node = session.model.graph.nodes[session.executionOrder[q]]
            var inputs = feeds
            for entry in entries {
                let producer = session.model.graph.nodes[session.executionOrder[Int(entry.position)]]
                let tensors = try TensorEncoding.tensors(canonical: entry.outputs, maxElements: 1 << 24)
                for (k, name) in producer.outputs.filter({ !$0.isEmpty }).enumerated() where node.inputs.contains(name) { inputs[name] = tensors[k] }
                let proof = MerkleProof(leafIndex: Int(entry.position), leafCount: revealed.count, siblings: entry.proof)
                XCTAssertNoThrow(try proof.verify(leaf: Keccak256.hash(entry.outputs).bytes, root: MerkleTree(leaves: revealed.map(\.bytes)).root))
            }
            let rerun = try session.runNode(session.executionOrder[q], inputs: inputs)
            XCTAssertEqual(ExecutionTrace.outputHash(rerun), honest[q], "position \(q): the node re-run on the proven inputs gives the honest leaf")
        }
    }

    func testAWrongOutputOverAnHonestTraceIsProvenFromTheOutputsProducers() throws {
        let (session, input) = try mlp()
        let (trace, outputs) = try outputs(session, [session.inputs[0].name: input])
        let honest = trace.steps.map(\.outputHash), outputHash = ExecutionTrace.outputHash(trace.outputs)
        let move = DisputePlanner.move(session: session, honest: honest, revealed: honest, honestOutputHash: outputHash,
                                       committedOutputHash: Keccak256.hash(Array("corrupted".utf8)))
        let graph = session.model.graph
        let expected = graph.outputs.map { o in session.executionOrder.firstIndex(of: graph.nodes.firstIndex { $0.outputs.contains(o.name) }!)! }
        XCTAssertEqual(move, .proveOutput(producers: expected))
        XCTAssertEqual(DisputePlanner.move(session: session, honest: honest, revealed: honest, honestOutputHash: outputHash, committedOutputHash: outputHash),
                       .nothing, "an honest provider: nothing to prove")
        XCTAssertThrowsError(try DisputePlanner.producerOutputs([0], outputs: [0: [1, 2, 3]], revealed: honest)) { error in
            XCTAssertTrue("\(error)".contains("do not hash to the provider's leaf"), "\(error)")
        }
        XCTAssertNotNil(outputs[0])
    }

    func testAVerifierChallengesOnlyAContradictedResultWithinTheWindowAndItsMeans() {
        let committed = Keccak256.hash(Array("committed".utf8)), trace = Keccak256.hash(Array("trace".utf8))
        let rerun = Rerun(outputHash: Keccak256.hash(Array("re-run".utf8)), traceRoot: trace)
        let bond = UInt256(1_000), cap = UInt256(5_000), balance = UInt256(10_000)
        var reads = 0
        func decide(enabled: Bool = true, rerun: Rerun? = rerun, head: UInt64 = 10, bond: UInt256 = bond, cap: UInt256 = cap,
                    balance: UInt256 = balance, recorded: Bool = false) -> ChallengeDecision {
            ChallengeDecision.decide(enabled: enabled, rerun: rerun, committedOutput: committed, committedTrace: trace, head: head, challengeEnd: 12,
                                     cap: cap, recorded: recorded) { reads += 1; return (bond, balance) }
        }
        XCTAssertEqual(decide(), .challenge(bond: bond))
        XCTAssertEqual(reads, 1)
        XCTAssertEqual(decide(rerun: Rerun(outputHash: committed, traceRoot: trace)), .agree, "the re-run agrees with the committed output and trace")
        XCTAssertEqual(decide(rerun: Rerun(outputHash: committed, traceRoot: nil)), .agree, "a re-run kept without its trace root agrees on the output")
        XCTAssertEqual(decide(rerun: nil), .agree, "no re-run (alwaysValid, or not re-runnable here): nothing to contradict")
        XCTAssertEqual(decide(enabled: false), .agree, "challenge: false")
        XCTAssertEqual(decide(recorded: true), .resendRecorded, "a challenge recorded before a restart is resent, never signed again")
        XCTAssertEqual(decide(head: 10, recorded: true), decide(head: 11, recorded: true))
        guard case .refuse(let closed) = decide(head: 11) else { return XCTFail("the last block of the window is too late to land in it") }
        XCTAssertTrue(closed.contains("the challenge window closed at block 12"), closed)
        XCTAssertEqual(reads, 1, "the bond and the balance are read only for a contradiction within the window")
        guard case .refuse(let overCap) = decide(bond: 6_000) else { return XCTFail("a bond over the cap") }
        XCTAssertTrue(overCap.contains("the challenge bond 6000 wei is over the configured cap challengeBondCap 5000 wei"), overCap)
        XCTAssertEqual(decide(bond: 5_000), .challenge(bond: 5_000), "a bond equal to the cap is put up")
        guard case .refuse(let poor) = decide(balance: 1_000) else { return XCTFail("a bond the balance cannot pay with gas") }
        XCTAssertTrue(poor.contains("is not below the balance 1000 wei"), poor)
        XCTAssertEqual(reads, 4)
    }

    func testAWrongTraceWithTheRightOutputIsChallengedToo() {
        let output = Keccak256.hash(Array("output".utf8)), honestTrace = Keccak256.hash(Array("trace".utf8))
        let corruptTrace = Keccak256.hash(Array("corrupt trace".utf8))
        let rerun = Rerun(outputHash: output, traceRoot: honestTrace)
        XCTAssertEqual(rerun.contradiction(outputHash: output, traceRoot: corruptTrace),
                       "the re-run's trace root \(honestTrace) contradicts the committed \(corruptTrace) (same output hash)")
        XCTAssertNil(rerun.contradiction(outputHash: output, traceRoot: honestTrace))
        XCTAssertEqual(ChallengeDecision.decide(enabled: true, rerun: rerun, committedOutput: output, committedTrace: corruptTrace, head: 1,
                                                challengeEnd: 10, cap: UInt256(5), recorded: false) { (UInt256(5), UInt256(6)) },
                       .challenge(bond: UInt256(5)))
    }

    func testAKeptReRunReadsBackWithItsTraceRootAndFromBeforeTraceRoots() throws {
        let job = Keccak256.hash(Array("job".utf8)), output = Keccak256.hash(Array("output".utf8)), trace = Keccak256.hash(Array("trace".utf8))
        let store = try ArtifactStore(directory: directory + "/artifacts")
        XCTAssertNil(Challenger.kept(job, in: store))
        try Challenger.keep(Rerun(outputHash: output, traceRoot: trace), job: job, in: store)
        XCTAssertEqual(Challenger.kept(job, in: try ArtifactStore(directory: directory + "/artifacts")), Rerun(outputHash: output, traceRoot: trace))
        try store.save(output.bytes, job: job, part: Challenger.rerunPart)
        XCTAssertEqual(Challenger.kept(job, in: store), Rerun(outputHash: output, traceRoot: nil), "a 32-byte re-run kept by an older daemon")
        try store.save([1, 2, 3], job: job, part: Challenger.rerunPart)
        XCTAssertNil(Challenger.kept(job, in: store), "a torn artifact is no re-run")
    }

    func testARecordedChallengeSurvivesARestart() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let job = Keccak256.hash(Array("job".utf8)), path = directory + "/signing-record.jsonl"
        XCTAssertFalse(Challenger.challenged(job, try SigningRecord(path: path)))
        try SigningRecord(path: path).record(job, step: Challenger.step, raw: [1, 2, 3])
        XCTAssertTrue(Challenger.challenged(job, try SigningRecord(path: path)), "read back from the fsynced record")
    }
}
