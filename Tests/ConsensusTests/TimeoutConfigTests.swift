import Consensus
import XCTest

final class TimeoutConfigTests: XCTestCase {
    func testDefaultsAndGrowthPerRound() {
        let c = TimeoutConfig.production
        XCTAssertEqual(c.millis(.propose, round: 0), 3000)
        XCTAssertEqual(c.millis(.propose, round: 2), 4000)
        XCTAssertEqual(c.millis(.prevote, round: 1), 1500)
        XCTAssertEqual(c.millis(.precommit, round: 0), 1000)
        XCTAssertEqual(c.millis(.commit, round: 9), 1000)
        XCTAssertEqual(TimeoutConfig.testProfile.millis(.propose, round: 1), 35)
    }

    func testTimingConditionsAreCheckedWhenTheConfigLoads() {
        func make(_ p: UInt64 = 1, _ v: UInt64 = 1, _ c: UInt64 = 1, _ d: UInt64 = 1, _ r: UInt64 = 1) throws -> TimeoutConfig {
            try TimeoutConfig(proposeMillis: p, prevoteMillis: v, precommitMillis: c, roundIncrementMillis: d, commitMillis: 0, rebroadcastMillis: r)
        }
        XCTAssertNoThrow(try make())
        XCTAssertThrowsError(try make(0)) { XCTAssertEqual($0 as? TimeoutConfigError, .zeroTimeout(step: "propose")) }
        XCTAssertThrowsError(try make(1, 0)) { XCTAssertEqual($0 as? TimeoutConfigError, .zeroTimeout(step: "prevote")) }
        XCTAssertThrowsError(try make(1, 1, 0)) { XCTAssertEqual($0 as? TimeoutConfigError, .zeroTimeout(step: "precommit")) }
        XCTAssertThrowsError(try make(1, 1, 1, 0)) { XCTAssertEqual($0 as? TimeoutConfigError, .zeroRoundIncrement) }
        XCTAssertThrowsError(try make(1, 1, 1, 1, 0)) { XCTAssertEqual($0 as? TimeoutConfigError, .zeroRebroadcastInterval) }
        XCTAssertThrowsError(try make(3_600_001)) {
            XCTAssertEqual($0 as? TimeoutConfigError, .timeoutTooLarge(step: "propose", millis: 3_600_001, max: 3_600_000))
        }
    }
}
