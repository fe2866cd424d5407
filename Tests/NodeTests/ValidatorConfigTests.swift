import Consensus
import JSON
import Network
import XCTest
@testable import Node

/// `p2p` and `consensus` in the node config: defaults, profiles, and the timing conditions
/// checked when the config loads (each broken one named).
final class ValidatorConfigTests: XCTestCase {
    private func parse(_ text: String) throws -> NodeConfig { try NodeConfig.parse(JSONParser.parse(text)) }

    private func assertRefused(_ text: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try parse(text), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(expected), "\(error) should say \(expected)", file: file, line: line)
        }
    }

    func testDefaultsAreProductionTimeoutsWithKeysInTheDataDirectory() throws {
        let config = try parse(#"{"dataDir":"/d"}"#)
        XCTAssertEqual(try config.consensusTimeouts(), TimeoutConfig.production)
        let settings = try config.validatorSettings(account: nil)
        XCTAssertEqual(settings.consensusDirectory, "/d/consensus")
        XCTAssertEqual(settings.nodeKeyFile, "/d/node_key")
        XCTAssertNil(settings.listenAddress)
        XCTAssertTrue(settings.persistentPeers.isEmpty)
    }

    func testBlockIntervalIsTheCommitPause() throws {
        XCTAssertEqual(try parse(#"{"dataDir":"d","blockIntervalMs":250}"#).consensusTimeouts().commitMillis, 250)
        XCTAssertEqual(try parse(#"{"dataDir":"d","consensus":{"timeouts":"test"}}"#).consensusTimeouts(), TimeoutConfig.testProfile)
        let test = try parse(#"{"dataDir":"d","blockIntervalMs":100,"consensus":{"timeouts":"test"}}"#).consensusTimeouts()
        XCTAssertEqual([test.proposeMillis, test.prevoteMillis, test.commitMillis], [30, 10, 100])
    }

    func testSkipCommitPauseIsOffUnlessSet() throws {
        XCTAssertFalse(try parse(#"{"dataDir":"d","consensus":{"timeouts":"test"}}"#).consensusTimeouts().skipCommitPause)
        let skipping = try parse(#"{"dataDir":"d","consensus":{"timeouts":"test","skipCommitPause":true}}"#).consensusTimeouts()
        XCTAssertTrue(skipping.skipCommitPause)
        XCTAssertEqual([skipping.proposeMillis, skipping.commitMillis], [30, 10], "the timeouts stay the profile's")
        assertRefused(#"{"dataDir":"d","consensus":{"skipCommitPause":"yes"}}"#, "consensus.skipCommitPause: must be true or false")
    }

    func testP2PFields() throws {
        let id = "0x" + String(repeating: "ab", count: 20)
        let config = try parse(#"{"dataDir":"d","p2p":{"listen":"127.0.0.1:26656","persistentPeers":["\#(id)@10.0.0.2:26657","\#(id)@[::1]:1"],"nodeKeyFile":"k"},"consensus":{"directory":"c"}}"#)
        XCTAssertEqual(config.p2pListen, "127.0.0.1:26656")
        XCTAssertEqual(config.persistentPeers.map(\.description), ["\(id)@10.0.0.2:26657", "\(id)@[::1]:1"])
        let settings = try config.validatorSettings(account: nil)
        XCTAssertEqual([settings.nodeKeyFile, settings.consensusDirectory], ["k", "c"])
        assertRefused(#"{"dataDir":"d","p2p":{"listen":"nowhere"}}"#, "p2p.listen: \"nowhere\" is not host:port")
        assertRefused(#"{"dataDir":"d","p2p":{"persistentPeers":["127.0.0.1:1"]}}"#, "p2p.persistentPeers[0]")
        assertRefused(#"{"dataDir":"d","p2p":{"seeds":[]}}"#, "p2p.seeds: unknown field")
    }

    func testTimingConditionsAreCheckedWhenTheConfigLoads() {
        assertRefused(#"{"dataDir":"d","consensus":{"timeouts":"fast"}}"#, "consensus.timeouts: must be \"production\", \"test\" or an object")
        assertRefused(#"{"dataDir":"d","consensus":{"timeouts":{"prevoteMs":0}}}"#,
                      "consensus.timeouts: \(TimeoutConfigError.zeroTimeout(step: "prevote"))")
        assertRefused(#"{"dataDir":"d","consensus":{"timeouts":{"roundIncrementMs":0}}}"#,
                      "consensus.timeouts: \(TimeoutConfigError.zeroRoundIncrement)")
        assertRefused(#"{"dataDir":"d","consensus":{"timeouts":{"rebroadcastMs":0}}}"#,
                      "consensus.timeouts: \(TimeoutConfigError.zeroRebroadcastInterval)")
        assertRefused(#"{"dataDir":"d","consensus":{"timeouts":{"proposeMs":3600001}}}"#,
                      "consensus.timeouts: \(TimeoutConfigError.timeoutTooLarge(step: "propose", millis: 3_600_001, max: TimeoutConfig.maxMillis))")
        assertRefused(#"{"dataDir":"d","consensus":{"timeouts":{"commitMs":5}}}"#, "consensus.timeouts.commitMs: unknown field")
    }
}
