import Consensus
import Crypto
import Foundation
import Primitives
import Storage
import XCTest
@testable import Chain
@testable import Modules

/// Validator sets from staking and double-sign evidence through the real chain service
/// (docs/staking.md, "Validator set" and "Double signing"; docs/chain.md, "Evidence"), on
/// a memory store and on LevelDB: a validator registered by a transaction signs two
/// heights later and the headers' set hashes follow; evidence a proposer includes
/// slashes and tombstones the validator, and an importing node agrees; every rejection
/// names its reason.
final class StakingValidatorChainTests: XCTestCase {
    static let opg = StakingParameters.opg
    static let accounts = (0..<4).map { try! PrivateKey(Keccak256.digest(Array("staking chain account \($0)".utf8))) }
    static let consensusKeys = (0..<4).map { try! PrivateKey(Keccak256.digest(Array("staking chain consensus \($0)".utf8))) }
    static var proposer: Address { accounts[0].address }

    var directories: [URL] = []

    override func tearDown() { for d in directories { try? FileManager.default.removeItem(at: d) } }

    /// Runs `body` with two fresh stores of one kind (a chain and its replica), for memory and LevelDB.
    private func forEachStore(_ body: (KeyValueStore, KeyValueStore) throws -> Void) throws {
        try body(MemoryStore(), MemoryStore())
        let dirs = (0..<2).map { _ in FileManager.default.temporaryDirectory.appendingPathComponent("opg-valset-\(UUID().uuidString)") }
        directories += dirs
        try body(try LevelDBStore(path: dirs[0].path), try LevelDBStore(path: dirs[1].path))
    }

    /// A genesis whose staking operators are validators `(account index, stake)`: the staking
    /// module supplies the validator sets (`validatorsFromStaking`).
    static func genesis(_ validators: [(Int, UInt256)]) throws -> GenesisSpec {
        let operators = validators.map {
            GenesisOperator(address: accounts[$0.0].address, role: .validator, stake: $0.1, consensusKey: consensusKeys[$0.0].publicKey.compressed)
        }
        let (words, staked) = try Staking.genesisStorage(parameters: StakingTests.params, operators: operators)
        let set = try ValidatorSet(try operators.map {
            try Validator(address: $0.address, consensusKey: $0.consensusKey, power: Staking.power(ofStake: $0.stake))
        })
        return GenesisSpec(config: ChainConfig(chainId: 1, blockReward: opg, validators: set), timestamp: 0, gasLimit: 30_000_000,
                           initialBaseFee: UInt256(1_000_000_000), extraData: [], alloc: accounts.map { ($0.address, opg * 1_000) },
                           moduleStorage: words, staked: staked, validatorsFromStaking: true)
    }

    /// A chain service over `store` at block 0 of `spec`, with the staking module's sets
    /// (the wiring `ChainSetup.service` does for such a genesis).
    static func chain(_ spec: GenesisSpec, _ store: KeyValueStore) throws -> ChainService {
        let db = try ChainDatabase(store: store)
        let (block, batch) = try spec.genesisBlock(nodes: db.nodes)
        try db.commit(block: block, receipts: [], stateBatch: batch, genesis: [])
        let handlers = NativeHandlerRegistry(StandardModules.all())
        return ChainService(config: spec.config, database: db, handlers: handlers, encodeRevert: ABI.encodeRevert,
                            validatorSets: StakingValidatorSets(config: spec.config, database: db, handlers: handlers))
    }

    static func send(_ chain: ChainService, from k: Int, _ signature: String, _ values: [ABIValue], value: UInt256 = .zero) throws {
        let tx = try Transaction(type: .dynamicFee, chainId: 1, nonce: chain.pendingNonce(of: accounts[k].address), maxPriorityFeePerGas: 1,
                                 maxFeePerGas: UInt256(10_000_000_000), gasLimit: 2_000_000, to: Staking.address, value: value,
                                 data: try ABI.encodeCall(signature, values)).signed(with: accounts[k])
        try chain.submit(tx)
    }

    /// The hash of the set of `(account index, power)`.
    static func setHash(_ members: [(Int, UInt64)]) throws -> Hash32 {
        try ValidatorSet(members.map { Validator(address: accounts[$0.0].address, consensusSigner: consensusKeys[$0.0], power: $0.1) }).hash
    }

    /// `getOperator(account k)` at the chain's head.
    static func operatorInfo(_ chain: ChainService, _ k: Int) throws -> [ABIValue] {
        let head = chain.head
        let result = chain.builder.executor.call(
            from: .zero, to: Staking.address, value: .zero, data: try ABI.encodeCall("getOperator(address)", [.address(accounts[k].address)]),
            gasLimit: 100_000_000, state: chain.database.state(at: head),
            block: chain.config.environment(number: head.number + 1, timestamp: head.timestamp, coinbase: .zero, baseFee: .zero, gasLimit: 100_000_000))
        guard case .tuple(let fields) = try ABI.decode([Staking.operatorInfoType], result.returnData)[0] else { throw NativeRevert("no tuple") }
        return fields
    }

    /// A vote of consensus key `k`, signed by key `signer` (default: `k`) for `domain`.
    static func vote(_ k: Int, height: UInt64, round: UInt32 = 0, type: VoteType = .precommit, block: Hash32?, domain: SignDomain,
                     signer: Int? = nil) -> SignedVote {
        let vote = Vote(type: type, height: height, round: round, blockHash: block, validator: consensusKeys[k].address)
        return SignedVote(vote: vote, signature: consensusKeys[signer ?? k].sign(Keccak256.hash(vote.signBytes(domain))))
    }

    /// Key `k`'s two precommits at `height`, round 0, for two different blocks.
    static func doubleSign(_ k: Int, height: UInt64, domain: SignDomain) -> DuplicateVoteEvidence {
        DuplicateVoteEvidence(vote(k, height: height, block: Hash32(word: UInt256(1)), domain: domain),
                              vote(k, height: height, block: Hash32(word: UInt256(2)), domain: domain))
    }

    /// sum(balances) + staked == genesis + minted − burned at the head.
    static func assertSupplyHolds(_ chain: ChainService, file: StaticString = #filePath, line: UInt = #line) {
        let state = chain.database.state(at: chain.head)
        let ledger = SupplyLedger(state)
        let held = (accounts.map(\.address) + StandardModules.all().map(\.address)).reduce(UInt256.zero) { $0 + state.balance(of: $1) }
        XCTAssertEqual(held + ledger.staked, ledger.totalSupply, "sum(balances) + staked == genesis + minted − burned", file: file, line: line)
    }

    // MARK: Validator sets

    func testARegisteredValidatorSignsTwoHeightsLaterAndReplayReproducesTheHashes() throws {
        try forEachStore { store, replicaStore in
            let spec = try Self.genesis([(0, Self.opg * 300)])
            let chain = try Self.chain(spec, store)
            let key = Self.consensusKeys[1].publicKey.compressed
            try Self.send(chain, from: 1, "registerValidator(bytes,bytes)",
                          [.bytes(key), .bytes(Staking.consensusKeyProof(account: Self.accounts[1], key: key, chainId: 1))], value: Self.opg * 100)
            var blocks: [Block] = []
            for n in 1...5 {
                let executed = try chain.produceBlock(timestamp: UInt64(n), coinbase: Self.proposer)
                if n == 1 { XCTAssertEqual(executed.results.map(\.success), [true], "registered in block 1") }
                blocks.append(executed.block)
            }
            // Registered in block 1: in the set of height 3 (H + 2), capped at (300 − 1) / 3 = 99
            // power for one height; the rest (1) at height 4.
            let one = try Self.setHash([(0, 300)]), capped = try Self.setHash([(0, 300), (1, 99)]), full = try Self.setHash([(0, 300), (1, 100)])
            XCTAssertEqual(blocks.map(\.header.validatorsHash), [one, one, capped, full, full])
            XCTAssertEqual(blocks.map(\.header.nextValidatorsHash), [one, capped, full, full, full])
            XCTAssertEqual(try Self.operatorInfo(chain, 1)[14].uintValue, 100, "power in the latest set")

            let replica = try Self.chain(spec, replicaStore)
            for n in 1...5 { try replica.importBlock(try XCTUnwrap(try chain.database.block(number: UInt64(n)))) }
            for n in 0...5 { XCTAssertEqual(try replica.database.hash(number: UInt64(n)), try chain.database.hash(number: UInt64(n))) }
            XCTAssertEqual(replica.head, chain.head)
        }
    }

    func testABlockWithTheWrongSetHashIsRefused() throws {
        let spec = try Self.genesis([(0, Self.opg * 300)])
        let chain = try Self.chain(spec, MemoryStore())
        let proposal = try chain.propose(timestamp: 1, proposer: Self.proposer)
        var block = proposal.block
        block.header.nextValidatorsHash = try Self.setHash([(0, 299)])
        XCTAssertThrowsError(try chain.verify(block)) { error in
            XCTAssertTrue("\(error)".contains("is not the next validator set's hash"), "\(error)")
        }
        XCTAssertThrowsError(try chain.propose(timestamp: 1, proposer: Self.accounts[1].address)) { error in
            XCTAssertTrue("\(error)".contains("is not a validator"), "\(error)")
        }
    }

    // MARK: Evidence

    func testDoubleSignEvidenceInABlockSlashesAndTombstones() throws {
        try forEachStore { store, replicaStore in
            let spec = try Self.genesis([(0, Self.opg * 300), (1, Self.opg * 150)])
            let chain = try Self.chain(spec, store), replica = try Self.chain(spec, replicaStore)
            let domain = SignDomain(chainID: 1, genesisHash: try XCTUnwrap(try chain.database.hash(number: 0)))
            let evidence = Self.doubleSign(1, height: 1, domain: domain).encoded
            try chain.produceBlock(timestamp: 1, coinbase: Self.proposer)
            let balanceBefore = chain.database.state(at: chain.head).balance(of: Self.proposer)
            XCTAssertTrue(chain.pendingEvidence.add(evidence))
            XCTAssertFalse(chain.pendingEvidence.add(evidence), "the pool keeps one copy")
            let block2 = try chain.produceBlock(timestamp: 2, coinbase: Self.proposer).block
            XCTAssertEqual(block2.evidence, [evidence])
            XCTAssertEqual(block2.header.evidenceHash, Block.evidenceHash([evidence]))
            XCTAssertEqual(chain.pendingEvidence.count, 0, "included evidence leaves the pool")
            XCTAssertEqual(try chain.database.evidence(number: 2), [evidence])

            // 5% of 150 OPG slashed: 10% of that (0.75 OPG) to the proposer, the rest burned.
            let info = try Self.operatorInfo(chain, 1)
            XCTAssertEqual(info[1].uintValue, Self.opg * 150 - Self.opg * 15 / 2, "stake after the slash")
            XCTAssertEqual(info[7], .bool(true), "tombstoned")
            XCTAssertEqual(info[5], .bool(true), "jailed")
            XCTAssertEqual(info[9].uintValue, 1, "one fault")
            let balanceAfter = chain.database.state(at: chain.head).balance(of: Self.proposer)
            XCTAssertEqual(balanceAfter - balanceBefore, Self.opg + Self.opg * 3 / 4, "block reward and the reporter's share")
            Self.assertSupplyHolds(chain)

            // Out of the set from height 4 (block 2 + 2), under the cap: 449 / 3 = 149 of its 150 leave first.
            for n in 3...5 { try chain.produceBlock(timestamp: UInt64(n), coinbase: Self.proposer) }
            let hashes = try (1...5).map { try XCTUnwrap(try chain.database.header(number: UInt64($0))).validatorsHash }
            let both = try Self.setHash([(0, 300), (1, 150)])
            XCTAssertEqual(hashes, [both, both, both, try Self.setHash([(0, 300), (1, 1)]), try Self.setHash([(0, 300)])])

            // The same evidence again is refused (already punished) and dropped from the pool.
            XCTAssertTrue(chain.pendingEvidence.add(evidence))
            let again = try chain.propose(timestamp: 6, proposer: Self.proposer)
            XCTAssertEqual(again.block.evidence, [])
            XCTAssertNil(again.block.header.evidenceHash)
            XCTAssertEqual(again.excludedEvidence.map(\.reason), ["already punished: \(Self.accounts[1].address.checksummed) is tombstoned"])
            XCTAssertEqual(chain.pendingEvidence.count, 0)

            // An importing node verifies the evidence itself and agrees on every hash.
            for n in 1...5 { try replica.importBlock(try XCTUnwrap(try chain.database.block(number: UInt64(n)))) }
            XCTAssertEqual(replica.head, chain.head)
            Self.assertSupplyHolds(replica)
        }
    }

    func testABlockCarryingInvalidEvidenceIsInvalid() throws {
        let spec = try Self.genesis([(0, Self.opg * 300), (1, Self.opg * 150)])
        let chain = try Self.chain(spec, MemoryStore())
        let domain = SignDomain(chainID: 1, genesisHash: try XCTUnwrap(try chain.database.hash(number: 0)))
        let valid = try chain.propose(timestamp: 1, proposer: Self.proposer).block
        let forged = DuplicateVoteEvidence(Self.vote(1, height: 1, block: Hash32(word: UInt256(1)), domain: domain),
                                           Self.vote(1, height: 1, block: Hash32(word: UInt256(2)), domain: domain, signer: 0)).encoded
        for (evidence, fragment) in [([1, 2, 3] as [UInt8], "evidence 0 is invalid: malformed evidence"), (forged, "evidence 0 is invalid: invalid evidence: invalid signature")] {
            var block = valid
            block.evidence = [evidence]
            block.header.evidenceHash = Block.evidenceHash([evidence])
            XCTAssertThrowsError(try chain.verify(block)) { error in XCTAssertTrue("\(error)".contains(fragment), "\(error)") }
        }
        var unhashed = valid
        unhashed.evidence = [Self.doubleSign(1, height: 1, domain: domain).encoded]
        XCTAssertThrowsError(try chain.verify(unhashed)) { error in
            XCTAssertTrue("\(error)".contains("evidenceHash (absent) is not the hash of the block's evidence"), "\(error)")
        }
        // The proposer drops what the chain refuses, with the reason.
        chain.pendingEvidence.add([9, 9])
        let proposal = try chain.propose(timestamp: 1, proposer: Self.proposer)
        XCTAssertEqual(proposal.block.evidence, [])
        XCTAssertEqual(proposal.excludedEvidence.count, 1)
        XCTAssertTrue(proposal.excludedEvidence[0].reason.hasPrefix("malformed evidence"), proposal.excludedEvidence[0].reason)
        XCTAssertEqual(chain.pendingEvidence.count, 0)
    }

    /// Each rule of `Staking.applyEvidence`, straight through the executor on a state.
    func testEvidenceRejectionsNameTheRule() throws {
        let h = try StakingTests.Harness(operators: [
            GenesisOperator(address: Self.accounts[0].address, role: .validator, stake: Self.opg * 300, consensusKey: Self.consensusKeys[0].publicKey.compressed),
            GenesisOperator(address: Self.accounts[1].address, role: .validator, stake: Self.opg * 150, consensusKey: Self.consensusKeys[1].publicKey.compressed),
        ])
        let genesisHash = Hash32(word: UInt256(0x6e6e))
        let domain = SignDomain(chainID: 1, genesisHash: genesisHash)
        func apply(_ evidence: [UInt8], at number: UInt64 = 5) -> String? {
            h.number = number
            return h.executor.applyEvidence(evidence, genesisHash: genesisHash, block: h.env, state: h.state)
        }
        func info(_ k: Int) throws -> [ABIValue] {
            guard case .tuple(let fields) = try h.view("getOperator(address)", [.address(Self.accounts[k].address)], [Staking.operatorInfoType])[0]
            else { throw NativeRevert("no tuple") }
            return fields
        }
        let a = Self.vote(1, height: 2, block: Hash32(word: UInt256(1)), domain: domain)
        let cases: [([UInt8], UInt64, String)] = [
            ([0, 0, 0, 1], 5, "malformed evidence: "),
            (DuplicateVoteEvidence(a, a).encoded, 5, "invalid evidence: both votes are for the same block"),
            (DuplicateVoteEvidence(a, Self.vote(1, height: 2, round: 1, block: nil, domain: domain)).encoded, 5,
             "invalid evidence: votes differ in height, round, type or validator"),
            (DuplicateVoteEvidence(a, Self.vote(1, height: 2, type: .prevote, block: nil, domain: domain)).encoded, 5,
             "invalid evidence: votes differ in height, round, type or validator"),
            (Self.doubleSign(3, height: 2, domain: domain).encoded, 5,
             "unknown key: \(Self.consensusKeys[3].address) is not the consensus key of a validator at height 2"),
            (Self.doubleSign(1, height: 2, domain: SignDomain(chainID: 2, genesisHash: genesisHash)).encoded, 5, "invalid evidence: invalid signature"),
            (Self.doubleSign(1, height: 2, domain: SignDomain(chainID: 1, genesisHash: .zero)).encoded, 5, "invalid evidence: invalid signature"),
            (Self.doubleSign(1, height: 6, domain: domain).encoded, 5, "evidence from height 6 is above this block's 5"),
            (Self.doubleSign(1, height: 2, domain: domain).encoded, Staking.maxEvidenceAge + 3,
             "evidence from height 2 is 100001 blocks old, over the limit of 100000"),
        ]
        for (evidence, number, fragment) in cases {
            let reason = apply(evidence, at: number)
            XCTAssertTrue(reason?.hasPrefix(fragment) == true, "\(reason ?? "applied") should start \(fragment)")
        }
        XCTAssertEqual(try info(1)[9].uintValue, 0, "no refused item changed anything")
        let valid = Self.doubleSign(1, height: 2, domain: domain).encoded
        XCTAssertNil(apply(valid))
        XCTAssertEqual(try info(1)[7], .bool(true))
        XCTAssertEqual(apply(Self.doubleSign(1, height: 3, domain: domain).encoded),
                       "already punished: \(Self.accounts[1].address.checksummed) is tombstoned")
        XCTAssertNil(apply(Self.doubleSign(0, height: 5, domain: domain).encoded, at: 5), "evidence of the current height is accepted")
    }
}
