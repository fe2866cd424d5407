import Chain
import Foundation
import JSON
import Modules
import Primitives
import RPC
import Storage
import XCTest
@testable import Node

/// `opg_verificationStats`' arithmetic (percentiles, ratios, growth, vote share, Nakamoto
/// coefficient) on hand-made figures with their edge cases, the job outcomes it classifies,
/// and the method on a real chain (devnet genesis, MemoryStore, blocks produced here): an
/// empty range's figures, one epoch, several, and every rejection by name.
final class VerificationStatsTests: XCTestCase {
    func testPercentileIsTheNearestRank() {
        XCTAssertNil(StatsMath.percentile([], 50), "no values, no median")
        XCTAssertEqual(StatsMath.percentile([7], 50), 7)
        XCTAssertEqual(StatsMath.percentile([7], 90), 7)
        XCTAssertEqual(StatsMath.percentile([4, 1, 3, 2], 50), 2, "rank ⌈0.5 × 4⌉ = 2 of the sorted values: the lower median")
        XCTAssertEqual(StatsMath.percentile([5, 1, 4, 2, 3], 50), 3)
        XCTAssertEqual(StatsMath.percentile(Array(1...10), 90), 9, "rank ⌈0.9 × 10⌉ = 9")
        XCTAssertEqual(StatsMath.percentile(Array(1...11), 90), 10, "rank ⌈9.9⌉ = 10")
        XCTAssertEqual(StatsMath.percentile([3, 3, 3], 90), 3)
        XCTAssertEqual(StatsMath.percentile([1, 100], 100), 100)
    }

    func testRatiosAndGrowthInBasisPoints() {
        XCTAssertNil(StatsMath.ratioBps(0, 0), "no denominator: undefined, not 0%")
        XCTAssertEqual(StatsMath.ratioBps(0, 5), 0)
        XCTAssertEqual(StatsMath.ratioBps(2, 3), 6_666, "rounded down")
        XCTAssertEqual(StatsMath.ratioBps(3, 3), 10_000)
        XCTAssertNil(StatsMath.growthBps(current: 5, previous: nil), "the first epoch has no growth")
        XCTAssertNil(StatsMath.growthBps(current: 5, previous: 0), "growth from nothing has no ratio")
        XCTAssertEqual(StatsMath.growthBps(current: 6, previous: 4), 5_000)
        XCTAssertEqual(StatsMath.growthBps(current: 8, previous: 4), 10_000, "doubled")
        XCTAssertEqual(StatsMath.growthBps(current: 0, previous: 4), -10_000, "fell to nothing")
        XCTAssertEqual(StatsMath.growthBps(current: 1, previous: 3), -6_666, "rounded toward zero")
        XCTAssertEqual(StatsMath.growthBps(current: 3, previous: 3), 0)
    }

    func testLargestShareAndNakamotoCoefficient() throws {
        let w = { (values: [UInt64]) in values.map { UInt256($0) } }
        XCTAssertNil(StatsMath.largestShareBps([]))
        XCTAssertNil(StatsMath.nakamotoCoefficient([]))
        XCTAssertNil(StatsMath.nakamotoCoefficient(w([0, 0])), "no weight at all")
        XCTAssertEqual(StatsMath.largestShareBps(w([10])), 10_000)
        XCTAssertEqual(StatsMath.nakamotoCoefficient(w([10])), 1)
        XCTAssertEqual(StatsMath.largestShareBps(w([1, 1, 1])), 3_333)
        XCTAssertEqual(StatsMath.nakamotoCoefficient(w([1, 1, 1])), 2, "one of three equals holds exactly a third, not more")
        XCTAssertEqual(StatsMath.nakamotoCoefficient(w([1, 1, 1, 1])), 2)
        XCTAssertEqual(StatsMath.nakamotoCoefficient(w([50, 10, 10, 10, 10, 10])), 1)
        XCTAssertEqual(StatsMath.nakamotoCoefficient(w([10, 30, 20, 40])), 1, "40 of 100 is over a third; order of input does not matter")
        XCTAssertEqual(StatsMath.nakamotoCoefficient(w(Array(repeating: 1, count: 10))), 4)
        let huge = try UInt256(hexQuantity: "0x" + String(repeating: "f", count: 60))
        XCTAssertEqual(StatsMath.nakamotoCoefficient([huge, huge, huge, huge]), 2, "wei-sized weights do not overflow")
        XCTAssertEqual(StatsMath.largestShareBps([huge, huge, huge, huge]), 2_500)
    }

    func testJobOutcomesAreClassified() {
        let pending = JobOutcome(status: .attesting, requestedAt: 1, providerDrawn: true)
        XCTAssertTrue(pending.isPending)
        let noProvider = JobOutcome(status: .refunded, requestedAt: 1, providerDrawn: false, settledAt: 3)
        XCTAssertFalse(noProvider.isTimeout, "no eligible provider is a refund, not a timeout")
        XCTAssertTrue(JobOutcome(status: .refunded, requestedAt: 1, providerDrawn: true, settledAt: 9).isTimeout)
        let open = JobOutcome(status: .disputed, requestedAt: 1, providerDrawn: true, verdictBlock: 8, verdictValid: true, disputed: true)
        XCTAssertFalse(open.disputeResolved)
        XCTAssertFalse(open.overturned, "an open dispute overturns nothing yet")
        var upheld = open
        upheld.status = .finalized
        XCTAssertFalse(upheld.disputeResolved, "the job's status alone decides nothing: the dispute's state does")
        upheld.providerRight = true
        XCTAssertTrue(upheld.disputeResolved)
        XCTAssertFalse(upheld.overturned, "a valid verdict on a result found right stood")
        var reversed = open
        reversed.providerRight = false
        XCTAssertTrue(reversed.overturned, "a valid verdict on a result found wrong was overturned")
        let invalidButRight = JobOutcome(status: .finalized, requestedAt: 1, providerDrawn: true, verdictBlock: 8, disputed: true, providerRight: true)
        XCTAssertTrue(invalidButRight.overturned, "an invalid verdict on a result found right was overturned")
        var invalidAndWrong = invalidButRight
        invalidAndWrong.providerRight = false
        XCTAssertFalse(invalidAndWrong.overturned)
    }

    func testTallyFigures() throws {
        var tally = VerificationTally()
        let empty = tally.json()
        XCTAssertEqual(empty["calls"], .int(0))
        XCTAssertEqual(empty["coverageBps"], .null, "no decided job: coverage undefined")
        XCTAssertEqual(empty["timeToQuorum"], .object(["count": .int(0), "median": .null, "p90": .null]))
        XCTAssertEqual(empty["nakamotoCoefficient"], .null)
        XCTAssertEqual(empty["overturnRateBps"], .null)
        tally.inferenceCalls = 2
        tally.jobs = [
            JobOutcome(status: .finalized, requestedAt: 10, providerDrawn: true, verdictBlock: 18, verdictValid: true, settledAt: 20),
            JobOutcome(status: .finalized, requestedAt: 10, providerDrawn: true, round: 1, verdictBlock: 40, verdictValid: true, settledAt: 44),
            JobOutcome(status: .disputed, requestedAt: 11, providerDrawn: true, verdictBlock: 30, disputed: true),
            JobOutcome(status: .refunded, requestedAt: 12, providerDrawn: true, settledAt: 32),
            JobOutcome(status: .refunded, requestedAt: 12, providerDrawn: false, settledAt: 14),
            JobOutcome(status: .unverified, requestedAt: 13, providerDrawn: true, round: 1, settledAt: 60),
            JobOutcome(status: .accepted, requestedAt: 14, providerDrawn: true),
        ]
        let a = Address(lowByte: 0xA1), b = Address(lowByte: 0xB2), c = Address(lowByte: 0xC3)
        tally.voteWeight = [a: UInt256(60), b: UInt256(30), c: UInt256(10)]
        let o = tally.json(previous: { var p = VerificationTally(); p.inferenceCalls = 6; return p }())
        XCTAssertEqual(o["jobs"], .int(7))
        XCTAssertEqual(o["calls"], .int(9))
        XCTAssertEqual(o["callsGrowthBps"], .int(5_000), "9 calls after 6")
        XCTAssertEqual(o["jobsGrowthBps"], .null, "no jobs before")
        XCTAssertEqual(o["pending"], .int(1))
        XCTAssertEqual(o["decided"], .int(6))
        XCTAssertEqual(o["verdicts"], .int(3))
        XCTAssertEqual(o["coverageBps"], .int(5_000))
        XCTAssertEqual(o["timeToQuorum"], .object(["count": .int(3), "median": .int(19), "p90": .int(30)]), "8, 19, 30 blocks")
        XCTAssertEqual(o["timeToFinality"], .object(["count": .int(2), "median": .int(10), "p90": .int(34)]))
        XCTAssertEqual(o["disputes"], .int(1))
        XCTAssertEqual(o["disputeRateBps"], .int(3_333))
        XCTAssertEqual(o["disputesResolved"], .int(0))
        XCTAssertEqual(o["overturnRateBps"], .null, "no dispute resolved: the overturn rate is undefined, not 0")
        XCTAssertEqual(o["refunds"], .int(2))
        XCTAssertEqual(o["refundRateBps"], .int(3_333))
        XCTAssertEqual(o["timeouts"], .int(1))
        XCTAssertEqual(o["timeoutRateBps"], .int(1_666))
        XCTAssertEqual(o["unverified"], .int(1))
        XCTAssertEqual(o["redraws"], .int(2))
        XCTAssertEqual(o["voteWeight"], .string("0x64"))
        XCTAssertEqual(o["largestVoteShareBps"], .int(6_000))
        XCTAssertEqual(o["nakamotoCoefficient"], .int(1))
        var sum = VerificationTally()
        sum.add(tally)
        sum.add(tally)
        XCTAssertEqual(sum.json()["voteWeight"], .string("0xc8"))
        XCTAssertEqual(sum.json()["jobs"], .int(14))
    }

    // MARK: The method on a real chain

    /// A devnet chain of `blocks` empty blocks after genesis, and a dispatcher with the method.
    private func devnet(blocks: UInt64) throws -> (RPCDispatcher, ChainService) {
        let bytes = try [UInt8](Data(contentsOf: ConfigTests.repo.appendingPathComponent("genesis/devnet.json")))
        let spec = try GenesisFile.parse(bytes)
        let database = try ChainDatabase(store: MemoryStore())
        _ = try ChainSetup.initialise(database, spec: spec, genesisBytes: bytes)
        let chain = ChainSetup.service(spec: spec, database: database)
        for n in 0..<blocks { _ = try chain.produceBlock(timestamp: 1_700_000_001 + n, coinbase: DevNet.validatorKey.address) }
        let dispatcher = RPCDispatcher()
        VerificationStatsRPC(chain: chain, models: ModelRPC(chain: chain)).register(on: dispatcher)
        return (dispatcher, chain)
    }

    private func call(_ dispatcher: RPCDispatcher, _ params: String) throws -> JSONValue {
        let body = #"{"jsonrpc":"2.0","id":1,"method":"opg_verificationStats","params":\#(params)}"#
        return try XCTUnwrap(dispatcher.handle(body: Array(body.utf8)))
    }

    func testARangeWithoutActivityHasZerosAndUndefinedRates() throws {
        let (dispatcher, chain) = try devnet(blocks: 3)
        let answer = try call(dispatcher, #"["0x0","0x3"]"#)
        let result = try XCTUnwrap(answer["result"], "\(answer)")
        XCTAssertEqual(result["fromBlock"], .int(0))
        XCTAssertEqual(result["toBlock"], .int(3))
        let epochBlocks = try XCTUnwrap(UInt64(result["epochBlocks"]?.numberValue?.text ?? ""))
        XCTAssertEqual(epochBlocks, try Explorer.epochBlocks(ModelRPC(chain: chain).reader()))
        let epochs = try XCTUnwrap(result["epochs"]?.arrayValue)
        XCTAssertEqual(epochs.count, 1, "4 blocks of a 100-block epoch: one epoch")
        XCTAssertEqual(epochs[0]["epoch"], .int(0))
        XCTAssertEqual(epochs[0]["fromBlock"], .int(0))
        XCTAssertEqual(epochs[0]["toBlock"], .int(3))
        XCTAssertEqual(epochs[0]["callsGrowthBps"], .null)
        let total = try XCTUnwrap(result["total"])
        for key in ["jobs", "calls", "attestations", "activeVerifiers", "pending", "disputes"] { XCTAssertEqual(total[key], .int(0), key) }
        for key in ["coverageBps", "largestVoteShareBps", "nakamotoCoefficient", "disputeRateBps", "overturnRateBps", "refundRateBps"] {
            XCTAssertEqual(total[key], .null, key)
        }
        XCTAssertEqual(try call(dispatcher, #"["0x2","0x2"]"#)["result"]?["epochs"]?.arrayValue?.count, 1, "a one-block range")
        XCTAssertEqual(result["verifierStake"], .object(["verifiers": .int(0), "stake": "0x0", "largestShareBps": .null, "nakamotoCoefficient": .null]),
                       "the devnet stakes no verifier")
    }

    func testEpochsSplitTheRange() throws {
        let (dispatcher, chain) = try devnet(blocks: 0)
        let epochBlocks = try Explorer.epochBlocks(ModelRPC(chain: chain).reader())
        for n in 1...(epochBlocks + 2) { _ = try chain.produceBlock(timestamp: 1_700_000_000 + n, coinbase: DevNet.validatorKey.address) }
        let from = epochBlocks - 1, to = epochBlocks + 1
        let result = try XCTUnwrap(try call(dispatcher, #"["\#(Hex.quantity(from))","\#(Hex.quantity(to))"]"#)["result"])
        let epochs = try XCTUnwrap(result["epochs"]?.arrayValue)
        XCTAssertEqual(epochs.map { $0["epoch"] }, [.int(0), .int(1)])
        XCTAssertEqual(epochs.map { $0["fromBlock"] }, [.int(from), .int(epochBlocks)], "the first slice starts at fromBlock")
        XCTAssertEqual(epochs.map { $0["toBlock"] }, [.int(epochBlocks - 1), .int(to)], "the last slice ends at toBlock")
    }

    func testBadParametersAreRefusedByName() throws {
        let (dispatcher, _) = try devnet(blocks: 2)
        let cases: [(String, Int, String)] = [
            (#"[]"#, -32602, "missing value for required argument fromBlock"),
            (#"["0x0"]"#, -32602, "missing value for required argument toBlock"),
            (#"[0, "0x1"]"#, -32602, "fromBlock: must be a hex quantity string"),
            (#"["0x1", "ten"]"#, -32602, "toBlock"),
            (#"["0x2","0x1"]"#, -32602, "toBlock 1 is before fromBlock 2"),
            (#"["0x0","0x9"]"#, -32602, "toBlock 9 is past the head (2)"),
            (#"["0x0","0x2710"]"#, -32005, "query exceeds max block range 10000"),
            (#"["0x0","0x1","0x2"]"#, -32602, "too many arguments, want at most 2"),
        ]
        for (params, code, message) in cases {
            let error = try XCTUnwrap(try call(dispatcher, params)["error"], params)
            XCTAssertEqual(error["code"], .int(code), params)
            XCTAssertTrue(error["message"]?.stringValue?.contains(message) == true, "\(params): \(error)")
        }
        XCTAssertNotNil(try call(dispatcher, #"["0x0","0x2"]"#)["result"])
    }
}
