import Crypto
import Primitives
import XCTest
@testable import Chain
@testable import Modules

/// The end-block agenda under load: hundreds of results committed in one block, through
/// real signed transactions, the staking module and the block hooks, with the supply
/// equation checked after every block (docs/verification.md, "Agenda").
final class JobsAgendaLoadTests: XCTestCase {
    /// Results committed in one block: the load the benches helper saw leave jobs stuck.
    static let burst = 344
    /// Verifiers eligible for the model, as in `opgd bench-attestations` (each adds the
    /// reads of its eligibility check to every committee draw).
    static let verifierCount = 16

    /// Requests `burst` jobs in one block, accepts each as soon as it is drawn, and commits
    /// every result in one block; nobody attests. Returns the harness and the job ids.
    func committedBurst(_ params: JobsParameters) throws -> (JobsTests.Harness, [Hash32]) {
        let h = try JobsTests.Harness(jobs: params, extraVerifiers: Self.verifierCount - JobsTests.verifiers.count)
        let fee = JobsTests.opg / UInt256(100)
        let ids = try (0..<Self.burst).map { _ in try h.request(maxFee: fee, verificationFee: .zero, deadlineIn: 400) }
        var waiting = ids
        while !waiting.isEmpty, h.number < 100 {
            h.endBlock()
            waiting = try waiting.filter { id in
                guard try h.status(id) == .assigned else { return true }
                let accepted = try h.send(try h.provider(id), "acceptJob(bytes32,uint256)", [.fixedBytes(id.bytes), .uint(fee)], value: fee * 2)
                XCTAssertTrue(accepted.success, accepted.revertReason ?? "")
                return false
            }
        }
        XCTAssertTrue(waiting.isEmpty, "\(waiting.count) jobs were never drawn a provider")
        for id in ids {
            let result = JobResult(jobId: id, output: Array("seven".utf8), traceRoot: Keccak256.hash(Array("trace".utf8)))
            let committed = try h.sendRaw(try h.provider(id), data: try result.calldata())
            XCTAssertTrue(committed.success, committed.revertReason ?? "")
        }
        return (h, ids)
    }

    /// The statuses of `ids` that are not settled, by name, with their counts.
    func unsettled(_ h: JobsTests.Harness, _ ids: [Hash32]) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for id in ids {
            let status = try h.status(id)
            if !status.isSettled { counts[status.name, default: 0] += 1 }
        }
        return counts
    }

    static func params(agendaVersion: UInt64, from: UInt64 = 0) -> JobsParameters {
        var p = JobsTests.jobsParams
        p.agendaVersion = agendaVersion
        p.agendaVersionFromBlock = from
        return p
    }

    func testHundredsOfResultsCommittedInOneBlockAllSettle() throws {
        let (h, ids) = try committedBurst(Self.params(agendaVersion: 2))
        let committedAt = h.number
        // Nobody attests: each job is drawn a committee, times out, is redrawn once and
        // settles unverified, within a bounded number of blocks.
        h.advance(to: committedAt + 200)
        XCTAssertEqual(try unsettled(h, ids), [:], "every job settles within 200 blocks of its commitment")
        for id in ids { XCTAssertEqual(try h.status(id), .unverified) }
        XCTAssertEqual(SupplyLedger(h.state).escrowed, .zero, "nothing is left in escrow")
        XCTAssertFalse(h.notices.lines.contains { $0.contains("hook failed") }, h.notices.lines.joined(separator: "\n"))
    }

    /// The version named in genesis runs from its block: before it a block's agenda holds
    /// `agendaCapacity` provider draws and the rest walk on; from it one hook draws them all.
    func testTheAgendaVersionActivatesAtItsBlock() throws {
        for (from, drawnInOneHook) in [(UInt64(100), Int(Jobs.agendaCapacity)), (0, 40)] {
            let h = try JobsTests.Harness(jobs: Self.params(agendaVersion: 2, from: from))
            let ids = try (0..<40).map { _ in try h.request(maxFee: JobsTests.opg, verificationFee: .zero) }
            h.advance(to: h.number + 3)
            let assigned = try ids.filter { try h.status($0) == .assigned }.count
            XCTAssertEqual(assigned, drawnInOneHook, "agenda version 2 from block \(from)")
        }
    }

    /// Two jobs whose results are committed in the same block, so that their committee
    /// draws share one block's agenda; the first job's model id is damaged so that its draw
    /// reverts. Returns the harness, the two ids and a closure that mends the damage (for
    /// getJob, which reads the model id).
    func twoJobsOneBroken(agendaVersion: UInt64) throws -> (JobsTests.Harness, broken: Hash32, healthy: Hash32, mend: () -> Void) {
        let h = try JobsTests.Harness(jobs: Self.params(agendaVersion: agendaVersion))
        let fee = JobsTests.opg
        let ids = try (0..<2).map { _ in try h.request(maxFee: fee * 2, verificationFee: .zero) }
        h.advance(to: h.number + 3)
        for id in ids {
            XCTAssertTrue(try h.send(try h.provider(id), "acceptJob(bytes32,uint256)", [.fixedBytes(id.bytes), .uint(fee)], value: fee * 2).success)
            let result = JobResult(jobId: id, output: Array("seven".utf8), traceRoot: Keccak256.hash(Array("trace".utf8)))
            XCTAssertTrue(try h.sendRaw(try h.provider(id), data: try result.calldata()).success)
        }
        let modelSlot = SolidityStorage.offset(SolidityStorage.mappingSlot(Jobs.Slot.jobs, key: ids[0]), by: UInt256(Jobs.Field.modelId.rawValue))
        let modelHead = h.state.storage(of: Jobs.address, slot: modelSlot)
        h.state.setStorage(Hash32(word: UInt256.max), of: Jobs.address, slot: modelSlot)
        return (h, ids[0], ids[1], { h.state.setStorage(modelHead, of: Jobs.address, slot: modelSlot) })
    }

    /// Version 1 (main's agenda before this fix, kept for replay): one item's revert fails
    /// the whole hook, so the healthy job on the same agenda is never drawn a committee
    /// and stays committed for ever. The node now logs the failed hook.
    func testVersion1LosesTheWholeAgendaToOneFailingItemAndSaysSo() throws {
        let (h, broken, healthy, mend) = try twoJobsOneBroken(agendaVersion: 1)
        h.advance(to: h.number + 100)
        mend()
        XCTAssertEqual(try h.status(healthy), .committed, "stuck: its agenda was undone with the broken item")
        XCTAssertEqual(try h.status(broken), .committed)
        XCTAssertEqual(h.notices.lines.filter { $0.contains("Jobs end-block hook failed") }.count, 1, h.notices.lines.joined(separator: "\n"))
    }

    /// Version 2: the failing item is isolated, retried once, then settled by the
    /// fall-back rule, each step noted; the job beside it is drawn its committee.
    func testAFailingItemIsIsolatedRetriedThenSettled() throws {
        let (h, broken, healthy, mend) = try twoJobsOneBroken(agendaVersion: 2)
        h.advance(to: h.number + 6)
        mend()
        XCTAssertEqual(try h.status(healthy), .attesting, "the healthy job's committee was drawn")
        XCTAssertEqual(try h.status(broken), .unverified, "two failed draws, then settled unverified")
        let notes = h.notices.lines.filter { $0.contains("job \(broken)") }
        XCTAssertEqual(notes.count, 3, notes.joined(separator: "\n"))
        XCTAssertTrue(notes.last?.contains("settled as unverified") ?? false, notes.joined(separator: "\n"))
        XCTAssertFalse(h.notices.lines.contains { $0.contains("hook failed") })
        let base = SolidityStorage.mappingSlot(Jobs.Slot.jobs, key: broken)
        let failures = h.state.storage(of: Jobs.address, slot: SolidityStorage.offset(base, by: UInt256(Jobs.Field.agendaFailures.rawValue)))
        XCTAssertEqual(UInt256(word: failures), UInt256(2), "the failures are recorded in the job")
        h.advance(to: h.number + 60)
        XCTAssertEqual(try h.status(healthy), .unverified, "nobody attests: redrawn once, then settled")
    }
}
