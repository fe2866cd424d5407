import Foundation
import Inference
import Modules
import Primitives
import XCTest
@testable import Operators

/// What a verifier stages and sends against a node of a model registered by reference
/// (docs/daemons.md, "Disputes"), from the file alone: the fixture `gather_embedding`
/// (Tests/ModulesTests/Fixtures; a Gather over a 1,100-row table of two value chunks, then a
/// MatMul and an Add), whose chain-side game `JobReferenceDisputeTests` plays.
final class ReferenceDisputeProofTests: XCTestCase {
    private func proof() throws -> ReferenceDisputeProof {
        let file = Array(try Data(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ModulesTests/Fixtures/gather_embedding.onnx")))
        return try ReferenceDisputeProof(file: file, session: try InferenceSession(bytes: file))
    }

    func testAGatherStagesTheHeaderAndTheChunksOfItsRowsAlone() throws {
        let p = try proof()
        func staged(_ indices: [Int64]?) throws -> [[UInt64]] { try p.chunks(position: 0, gatherIndices: indices).map { [$0.tensor, $0.chunk] } }
        XCTAssertEqual(try staged([5, 7, 5]), [[0, 0], [0, 1]], "rows 5 and 7 are in the first value chunk")
        XCTAssertEqual(try staged([5, 1050]), [[0, 0], [0, 1], [0, 2]])
        XCTAssertEqual(try staged([-1]), [[0, 0], [0, 2]], "-1 is the last row")
        XCTAssertThrowsError(try staged([1100])) { XCTAssertTrue("\($0)".contains("Gather index 1100 is outside the 1100 rows of 'table'"), "\($0)") }
        XCTAssertEqual(try p.chunks(position: 1, gatherIndices: nil).map(\.chunk), [0, 1], "a MatMul's weight is brought whole")
        for c in try p.chunks(position: 0, gatherIndices: [5, 1050]) {
            XCTAssertNoThrow(try c.proof.verify(chunk: c.data, initializerRoot: p.initializers.root))
        }
    }

    func testBatchesFitATransactionAndKeepTheHeaderFirst() throws {
        let chunks = try proof().chunks(position: 0, gatherIndices: [5, 1050])
        XCTAssertEqual(ReferenceDisputeProof.batches(chunks).map { $0.map(\.chunk) }, [[0, 1, 2]],
                       "the second value chunk holds 76 rows (4,864 bytes): all three fit one batch")
        let batches = ReferenceDisputeProof.batches([chunks[0], chunks[1], chunks[1], chunks[2]])
        XCTAssertEqual(batches.map { $0.map(\.chunk) }, [[0, 1], [1, 2]], "two full chunks never share a batch; the header rides with the first")
        XCTAssertTrue(batches.allSatisfy { $0.count == 1 || $0.reduce(0) { $0 + $1.data.count } <= ReferenceDisputeProof.maxBatchBytes })
        XCTAssertLessThan(try ReferenceDisputeProof.stageCalldata(job: .zero, batches[0]).count, 96 * 1024)
    }

    func testTheRegisteredRootsMustBeTheFilesOwn() throws {
        let p = try proof()
        XCTAssertNoThrow(try p.check(initializerRoot: p.initializers.root, nodesRoot: p.nodes.root, scheduleRoot: p.schedule.root))
        XCTAssertThrowsError(try p.check(initializerRoot: p.initializers.root, nodesRoot: p.nodes.root, scheduleRoot: Keccak256.hash([1]))) {
            XCTAssertTrue("\($0)".contains("the registered schedule root"), "\($0)")
        }
    }
}
