import Chain
import Consensus
import Crypto
import Foundation
import JSON
import Modules
import Primitives
import Storage
import XCTest
@testable import Node

/// The node's own wiring for a genesis that bonds validators in staking (ChainSetup picks
/// `StakingValidatorSets`), on LevelDB: a double sign included as evidence takes the
/// validator out of the set under the cap, and `opgd replay` re-executes the data
/// directory — evidence included — to the same hashes and state.
final class StakingReplayTests: XCTestCase {
    func testReplayReproducesAStakingChainWithEvidence() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("opg-staking-replay-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let keys = ["a", "b"].map { try! PrivateKey(Keccak256.digest(Array("replay consensus \($0)".utf8))) }
        let other = try PrivateKey(Keccak256.digest(Array("replay validator b".utf8)))
        let accounts = [DevNet.validatorKey.address, other.address]
        let devnet = try [UInt8](Data(contentsOf: ConfigTests.repo.appendingPathComponent("genesis/devnet.json")))
        guard case .object(var genesis) = try JSONParser.parse(devnet) else { return XCTFail("devnet.json is not an object") }
        genesis["validators"] = nil
        genesis["staking"] = .object(["operators": .array(zip(accounts, [20_000, 10_000]).enumerated().map { i, entry in
            .object(["address": .string(entry.0.hex), "role": .string("validator"), "stake": .string("\(entry.1)000000000000000000"),
                     "consensusKey": .string(Hex.encode(keys[i].publicKey.compressed))])
        })])
        let bytes = JSONValue.object(genesis).serializedBytes()
        let spec = try GenesisFile.parse(bytes)
        XCTAssertTrue(spec.validatorsFromStaking)
        _ = try ChainSetup.initDataDir(spec: spec, genesisBytes: bytes, dataDir: dir, logger: Logger(level: .error))
        var headers: [Header] = []
        do {
            let database = try ChainDatabase(store: try LevelDBStore(path: dir))
            let chain = ChainSetup.service(spec: spec, database: database)
            let domain = SignDomain(chainID: spec.config.chainId, genesisHash: try XCTUnwrap(try database.hash(number: 0)))
            let votes = [Hash32(word: UInt256(1)), Hash32(word: UInt256(2))].map { block -> SignedVote in
                let vote = Vote(type: .prevote, height: 1, round: 0, blockHash: block, validator: keys[1].address)
                return SignedVote(vote: vote, signature: keys[1].sign(Keccak256.hash(vote.signBytes(domain))))
            }
            XCTAssertTrue(chain.pendingEvidence.add(DuplicateVoteEvidence(votes[0], votes[1]).encoded))
            for n in 1...4 { headers.append(try chain.produceBlock(timestamp: UInt64(n), coinbase: accounts[0]).block.header) }
            XCTAssertEqual(try database.evidence(number: 1).count, 1)
        }
        let set = { (powers: [UInt64]) in
            try ValidatorSet(zip(accounts, powers).enumerated().map { i, entry in Validator(address: entry.0, consensusSigner: keys[i], power: entry.1) }).hash
        }
        // Tombstoned in block 1: from height 3, under the cap of (30,000 − 1) / 3 = 9,999 per height.
        XCTAssertEqual(headers.map(\.validatorsHash), [try set([20_000, 10_000]), try set([20_000, 10_000]), try set([20_000, 1]),
                                                       try ValidatorSet([Validator(address: accounts[0], consensusSigner: keys[0], power: 20_000)]).hash])
        let report = try Replay.run(dataDir: dir, logger: Logger(level: .error))
        XCTAssertEqual(report.head, 4)
        XCTAssertEqual(report.stateRoot, headers[3].stateRoot)
    }
}
