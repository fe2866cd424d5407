import Consensus
import Primitives
import XCTest

final class ValidatorSetTests: XCTestCase {
    private func address(_ i: UInt8) -> Address { Address(lowByte: i) }

    func testThresholdsAreStrictlyAboveTwoThirdsAndOneThird() throws {
        for total in UInt64(1)...30 {
            let set = try ValidatorSet([Validator(address: address(1), power: total)])
            XCTAssertGreaterThan(3 * set.quorumPower, 2 * total)
            XCTAssertLessThanOrEqual(3 * (set.quorumPower - 1), 2 * total)
            XCTAssertGreaterThan(3 * set.oneThirdPower, total)
            XCTAssertLessThanOrEqual(3 * (set.oneThirdPower - 1), total)
        }
    }

    /// Over `total power` consecutive heights each validator proposes round 0 exactly `power`
    /// times, whatever order the validators were listed in.
    func testWeightedRoundRobinIsProportionalAndOrderIndependent() throws {
        let validators = [Validator(address: address(3), power: 1), Validator(address: address(1), power: 3), Validator(address: address(2), power: 2)]
        var set = try ValidatorSet(validators)
        XCTAssertEqual(set, try ValidatorSet(validators.reversed()))
        var counts: [Address: Int] = [:]
        var sequence: [UInt8] = []
        for _ in 0..<12 {
            let p = set.proposer(round: 0).address
            counts[p, default: 0] += 1
            sequence.append(p.bytes[19])
            set = set.advanced()
        }
        XCTAssertEqual(counts[address(1)], 6)
        XCTAssertEqual(counts[address(2)], 4)
        XCTAssertEqual(counts[address(3)], 2)
        XCTAssertEqual(sequence, [1, 2, 1, 3, 2, 1, 1, 2, 1, 3, 2, 1], "smooth weighted round-robin, ties to the lowest address")
        // Round r of height h is round 0 of height h + r (same steps from the same priorities).
        let start = try ValidatorSet(validators)
        XCTAssertEqual(start.proposer(round: 2), start.advanced().advanced().proposer(round: 0))
    }

    func testBadSetsAreNamed() {
        XCTAssertThrowsError(try ValidatorSet([])) { XCTAssertEqual($0 as? ValidatorSetError, .empty) }
        XCTAssertThrowsError(try ValidatorSet([Validator(address: address(1), power: 0)])) {
            XCTAssertEqual($0 as? ValidatorSetError, .zeroPower(address(1)))
        }
        XCTAssertThrowsError(try ValidatorSet([Validator(address: address(1), power: 1), Validator(address: address(1), power: 2)])) {
            XCTAssertEqual($0 as? ValidatorSetError, .duplicateValidator(address(1)))
        }
        XCTAssertThrowsError(try ValidatorSet([Validator(address: address(1), power: ValidatorSet.maxTotalPower),
                                               Validator(address: address(2), power: 1)])) {
            XCTAssertEqual($0 as? ValidatorSetError, .totalPowerTooLarge(got: ValidatorSet.maxTotalPower + 1, max: ValidatorSet.maxTotalPower))
        }
    }
}
