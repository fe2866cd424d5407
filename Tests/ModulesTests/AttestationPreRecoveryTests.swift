import Crypto
import Primitives
import Storage
import XCTest
@testable import Chain
@testable import Modules

/// `revealAttestations` recovers a batch's signatures ahead on every core
/// (`AttestationPreRecovery`): the same transactions on two chains, one recovering ahead and
/// one recovering each signature in order, give the same success, revert reason, gas, return
/// data and events for every transaction, and the same state root — for valid batches,
/// equivocation, and batches with every kind of bad signature at every position.
final class AttestationPreRecoveryTests: XCTestCase {
    typealias Harness = JobsTests.Harness

    /// Long phases, so that three jobs' reveals are open at once.
    static let params: JobsParameters = {
        var p = JobsTests.jobsParams
        p.attestCommitBlocks = 40
        p.attestRevealBlocks = 40
        return p
    }()

    /// Runs the script on a fresh chain; returns one line per transaction and the state root.
    func transcript(recoversAhead: Bool) throws -> (lines: [String], root: Hash32) {
        let h = try Harness(jobs: Self.params, recoversAttestationsAhead: recoversAhead)
        var lines: [String] = []
        func record(_ r: TransactionResult) {
            lines.append("\(r.success) gas \(r.gasUsed) \(r.revertReason ?? "-") \(r.returnData) \(r.logs)")
        }
        // Three jobs, every member committed to `valid`: their reveals are open together.
        var reveals: [[AttestationReveal]] = []
        var attestations: [Attestation] = []
        for _ in 0..<3 {
            let (id, _) = try h.committedJob()
            let members = try h.drawnCommittee(id)
            reveals.append(try members.map { try h.commit(id, $0, .valid) })
            attestations.append(try h.attestation(id, .valid))
        }
        let all = reveals.flatMap { $0 }
        func key(of verifier: Address) throws -> PrivateKey {
            JobsTests.keys[try XCTUnwrap(JobsTests.verifiers.first { JobsTests.address($0) == verifier })]
        }
        // Bad signatures at the first, a middle and the last position of a full batch.
        var wrongChain = all[4]
        wrongChain.signature = attestations[1].signature(key: try key(of: all[4].verifier), chainId: 99)
        var shortSignature = all[4]
        shortSignature.signature = Array(all[4].signature.prefix(64))
        var badV = all[4]
        badV.signature = Array(all[4].signature.prefix(64)) + [29]
        var notOnCurve = all[4]
        notOnCurve.signature = [UInt8](repeating: 0xFF, count: 64) + [27]
        var swapped = all[4]
        swapped.signature = all[5].signature
        for bad in [wrongChain, shortSignature, badV, notOnCurve, swapped] {
            for position in [0, 4, all.count - 1] {
                var batch = all
                batch[position] = bad
                record(try h.reveal(batch))
            }
        }
        // A valid batch of two jobs' reveals, a replay, then the rest.
        record(try h.reveal(Array(all.prefix(6))))
        record(try h.reveal([all[0], all[1]]))
        record(try h.reveal(Array(all.suffix(3))))
        // Equivocation in a batch: a second, different, valid signature by a member.
        var second = all[0]
        second.verdict = .invalid
        second.signature = try h.attestation(all[0].jobId, .invalid).signature(key: try key(of: all[0].verifier), chainId: JobsTests.chainId)
        record(try h.reveal([second]))
        h.endBlock()
        var batch = WriteBatch()
        return (lines, try h.state.commit(into: &batch))
    }

    func testRecoveringAheadChangesNoResultGasEventOrState() throws {
        let ahead = try transcript(recoversAhead: true)
        let inOrder = try transcript(recoversAhead: false)
        XCTAssertEqual(ahead.lines.count, 19)
        for (a, b) in zip(ahead.lines, inOrder.lines) { XCTAssertEqual(a, b) }
        XCTAssertEqual(ahead.root, inOrder.root)
        // The script exercised what it claims: reverts naming each broken rule, then successes.
        let joined = ahead.lines.joined(separator: "\n")
        for fragment in ["not the verifier", "signature must be 65 bytes", "signature v must be 27, 28, 0 or 1", "invalid signature",
                         "already revealed (a replayed attestation)"] {
            XCTAssertTrue(joined.contains(fragment), "no transaction reverted with \(fragment)")
        }
        XCTAssertTrue(ahead.lines[15].hasPrefix("true"), ahead.lines[15])
        XCTAssertTrue(ahead.lines[17].hasPrefix("true"), ahead.lines[17])
        XCTAssertTrue(ahead.lines[18].hasPrefix("true"), ahead.lines[18])
    }
}
