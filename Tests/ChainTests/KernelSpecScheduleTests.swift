import Crypto
import Primitives
import XCTest
@testable import Chain

/// The kernel spec schedule: which arithmetic each block runs, and the rules a schedule obeys.
final class KernelSpecScheduleTests: XCTestCase {
    typealias Activation = KernelSpecSchedule.Activation

    func testEachBlockRunsTheVersionActiveAtItsHeight() throws {
        let schedule = try KernelSpecSchedule([Activation(fromBlock: 0, version: 1), Activation(fromBlock: 100, version: 2),
                                              Activation(fromBlock: 250, version: 4)])
        XCTAssertEqual([0, 1, 99, 100, 101, 249, 250, UInt64.max].map(schedule.version(at:)), [1, 1, 1, 2, 2, 2, 4, 4])
        XCTAssertEqual(KernelSpecSchedule.initial.version(at: 0), 1)
        XCTAssertEqual(KernelSpecSchedule.initial.version(at: 1_000_000), 1)
    }

    func testTheBlockEnvironmentCarriesTheScheduledVersion() throws {
        let schedule = try KernelSpecSchedule([Activation(fromBlock: 0, version: 1), Activation(fromBlock: 10, version: 2)])
        let config = ChainConfig(chainId: 7, blockReward: .zero, validators: try ValidatorSet([Validator(address: Address(lowByte: 1), consensusSigner: PrivateKey(Keccak256.digest([1])))]),
                                 kernelSpecSchedule: schedule)
        let before = config.environment(number: 9, timestamp: 1, coinbase: .zero, baseFee: .zero, gasLimit: 30_000_000)
        let after = config.environment(number: 10, timestamp: 1, coinbase: .zero, baseFee: .zero, gasLimit: 30_000_000)
        XCTAssertEqual(before.kernelSpecVersion, 1)
        XCTAssertEqual(after.kernelSpecVersion, 2)
        XCTAssertEqual(after.chainId, 7)
    }

    func testMalformedSchedulesAreRefused() {
        let cases: [([Activation], String)] = [
            ([], "at least one activation is required"),
            ([Activation(fromBlock: 1, version: 1)], "the first activation must be at block 0, not 1"),
            ([Activation(fromBlock: 0, version: 0)], "versions start at 1, got 0"),
            ([Activation(fromBlock: 0, version: 1), Activation(fromBlock: 0, version: 2)], "activation at block 0 does not come after block 0"),
            ([Activation(fromBlock: 0, version: 2), Activation(fromBlock: 5, version: 1)], "version 1 at block 5 is not above version 2"),
        ]
        for (activations, message) in cases {
            XCTAssertThrowsError(try KernelSpecSchedule(activations)) { XCTAssertEqual(($0 as? KernelSpecScheduleError)?.message, message) }
        }
    }
}
