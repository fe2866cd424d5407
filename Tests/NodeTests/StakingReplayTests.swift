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
    private let keys = ["a", "b"].map { try! PrivateKey(Keccak256.digest(Array("replay consensus \($0)".utf8))) }
    private let accounts = [DevNet.validatorKey.address, try! PrivateKey(Keccak256.digest(Array("replay validator b".utf8))).address]

    /// devnet.json with both validators bonded in staking (20,000 and 10,000 OPG).
    private func stakingGenesis() throws -> (spec: GenesisSpec, bytes: [UInt8]) {
        let devnet = try [UInt8](Data(contentsOf: ConfigTests.repo.appendingPathComponent("genesis/devnet.json")))
        guard case .object(var genesis) = try JSONParser.parse(devnet) else { throw CommandError("devnet.json is not an object") }
        genesis["validators"] = nil
        genesis["staking"] = .object(["operators": .array(zip(accounts, [20_000, 10_000]).enumerated().map { i, entry in
            .object(["address": .string(entry.0.hex), "role": .string("validator"), "stake": .string("\(entry.1)000000000000000000"),
                     "consensusKey": .string(Hex.encode(keys[i].publicKey.compressed))])
        })])
        let bytes = JSONValue.object(genesis).serializedBytes()
        let spec = try GenesisFile.parse(bytes)
        XCTAssertTrue(spec.validatorsFromStaking)
        return (spec, bytes)
    }

    /// Validator b's two prevotes for different blocks at height 1.
    private func doubleSign(_ database: ChainDatabase, _ spec: GenesisSpec) throws -> DuplicateVoteEvidence {
        let domain = SignDomain(chainID: spec.config.chainId, genesisHash: try XCTUnwrap(try database.hash(number: 0)))
        let votes = [Hash32(word: UInt256(1)), Hash32(word: UInt256(2))].map { block -> SignedVote in
            let vote = Vote(type: .prevote, height: 1, round: 0, blockHash: block, validator: keys[1].address)
            return SignedVote(vote: vote, signature: keys[1].sign(Keccak256.hash(vote.signBytes(domain))))
        }
        return DuplicateVoteEvidence(votes[0], votes[1])
    }

    /// The engine's application on two nodes: the proposer's block takes the chain pool's evidence
    /// and its payload carries it; the other validator's `verify` executes it with the evidence and
    /// refuses the same block with its evidence stripped from the payload.
    func testProposalPayloadCarriesPooledEvidenceAndVerifyChecksIt() throws {
        let (spec, bytes) = try stakingGenesis()
        let chains = try (0..<2).map { _ -> ChainService in
            let database = try ChainDatabase(store: MemoryStore())
            _ = try ChainSetup.initialise(database, spec: spec, genesisBytes: bytes)
            return ChainSetup.service(spec: spec, database: database)
        }
        let apps = chains.enumerated().map { i, chain in
            ChainApplication(chain: chain, validators: ConsensusValidatorSets(chain: chain), me: keys[i].address, logger: Logger(level: .error),
                             now: { 10 })
        }
        let evidence = try doubleSign(chains[0].database, spec).encoded
        XCTAssertTrue(chains[0].pendingEvidence.add(evidence))
        let value = try apps[0].proposeValue(height: 1, round: 0)
        let decoded = try BlockPayload.decode(value.payload, expectedHash: value.blockHash)
        XCTAssertEqual(decoded.evidence, [evidence])
        XCTAssertNotNil(decoded.header.evidenceHash)
        let header = try RLP.decode(decoded.header.rlp)
        let stripped = RLP.encode(.list([header, .list(decoded.rawTransactions.map { .bytes($0) }), .list([])]))
        XCTAssertFalse(apps[1].verify(height: 1, value: ProposalValue(blockHash: value.blockHash, payload: stripped)))
        XCTAssertTrue(apps[1].verify(height: 1, value: value))
    }

    func testReplayReproducesAStakingChainWithEvidence() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("opg-staking-replay-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (spec, bytes) = try stakingGenesis()
        _ = try ChainSetup.initDataDir(spec: spec, genesisBytes: bytes, dataDir: dir, logger: Logger(level: .error))
        var headers: [Header] = []
        do {
            let database = try ChainDatabase(store: try LevelDBStore(path: dir))
            let chain = ChainSetup.service(spec: spec, database: database)
            XCTAssertTrue(chain.pendingEvidence.add(try doubleSign(database, spec).encoded))
            for n in 1...4 { headers.append(try chain.produceBlock(timestamp: UInt64(n), coinbase: accounts[0]).block.header) }
            XCTAssertEqual(try database.evidence(number: 1).count, 1)
        }
        let set = { [accounts, keys] (powers: [UInt64]) in
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
