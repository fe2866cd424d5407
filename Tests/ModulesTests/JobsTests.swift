import Foundation
import Crypto
import Primitives
import Storage
import XCTest
@testable import Chain
@testable import Modules

/// The jobs module through real signed transactions, the staking module, block hooks and
/// the supply ledger: the lifecycle, every rejection by name, the timeouts, the fee split,
/// the encodings of docs/verification.md, and `sum(balances) + staked + escrowed == supply`
/// after every block. Models come from `FixtureModels` (the registry is exercised end to end
/// in Tests/e2e/test_jobs.py).
final class JobsTests: XCTestCase {
    static let opg = StakingParameters.opg
    static let model = "digits_logreg"
    static let chainId: UInt64 = 1
    /// Keys 0–1 providers, 2–5 verifiers, 6 the requester, 7 an outsider.
    static let keys = (0..<8).map { try! PrivateKey(Keccak256.digest(Array("jobs test \($0)".utf8))) }
    static let providers = [0, 1], verifiers = [2, 3, 4, 5], requester = 6, outsider = 7
    static let jobsParams = JobsParameters(
        acceptBlocks: 4, attestCommitBlocks: 3, attestRevealBlocks: 3, challengeBlocks: 5, committeeSize: 3, voteCapBps: 5_000,
        collateralBps: 20_000, timeoutPenaltyBps: 5_000, providerShareBps: 8_500, verifierShareBps: 1_000, burnShareBps: 500,
        challengeBond: opg * 2)

    static func address(_ k: Int) -> Address { keys[k].address }

    final class Harness {
        let state = StateDB(root: MerklePatriciaTrie.emptyRoot, nodes: TrieNodeStore(store: MemoryStore()), flatReads: false)
        let executor: TransactionExecutor
        /// What the block hooks reported (`TransactionExecutor.hookNotice`).
        let notices: NoticeLog
        var number: UInt64 = 1
        private var nonces = [UInt64](repeating: 0, count: JobsTests.keys.count)

        /// `extraVerifiers` more verifiers (keyless addresses, 5 OPG each) join the four keyed ones.
        /// `signatureWorkers` as the jobs module takes it (1: the serial path).
        init(jobs: JobsParameters = JobsTests.jobsParams, verifierStakes: [UInt256] = [5, 6, 7, 8].map { JobsTests.opg * $0 },
             extraVerifiers: Int = 0, models: FixtureModels = FixtureModels(), signatureWorkers: Int = 2) throws {
            let log = NoticeLog()
            notices = log
            executor = TransactionExecutor(handlers: NativeHandlerRegistry([Staking(), Jobs(models: models, signatureWorkers: signatureWorkers),
                                                                           Supply()]),
                                           encodeRevert: ABI.encodeRevert, hookNotice: { log.append($0) })
            var operators = JobsTests.providers.map {
                GenesisOperator(address: JobsTests.address($0), role: .provider, stake: JobsTests.opg * 10, models: [JobsTests.model],
                                hardwareClass: "cpu")
            }
            for (v, stake) in zip(JobsTests.verifiers, verifierStakes) {
                operators.append(GenesisOperator(address: JobsTests.address(v), role: .verifier, stake: stake, models: [JobsTests.model],
                                                 hardwareClass: "cpu"))
            }
            for i in 0..<extraVerifiers {
                operators.append(GenesisOperator(address: try Address(Keccak256.hash(Array("extra verifier \(i)".utf8)).bytes.suffix(20)),
                                                 role: .verifier, stake: JobsTests.opg * 5, models: [JobsTests.model], hardwareClass: "cpu"))
            }
            let (words, staked) = try Staking.genesisStorage(parameters: StakingTests.params, operators: operators)
            StakingTests.writeGenesis(state, words: words + (try jobs.genesisStorage()), staked: staked, funding: JobsTests.keys)
        }

        var env: BlockEnvironment {
            var env = BlockEnvironment(number: number, timestamp: number, coinbase: .zero, baseFee: 0, gasLimit: 30_000_000, chainId: JobsTests.chainId)
            env.parentHash = Keccak256.hash(Array("block \(number - 1)".utf8))
            return env
        }

        @discardableResult
        func send(_ k: Int, _ signature: String, _ values: [ABIValue] = [], value: UInt256 = .zero) throws -> TransactionResult {
            try sendRaw(k, data: ABI.encodeCall(signature, values), value: value)
        }

        @discardableResult
        func sendRaw(_ k: Int, data: [UInt8], value: UInt256 = .zero, to: Address = Jobs.address) throws -> TransactionResult {
            try StakingTests.apply(executor, state: state, block: env, key: JobsTests.keys[k], nonce: &nonces[k], to: to, data: data,
                                   value: value, gas: 8_000_000)
        }

        /// Ends the block (hooks run) and checks the supply invariant.
        func endBlock(file: StaticString = #filePath, line: UInt = #line) {
            executor.endBlock(env, state: state)
            number += 1
            executor.beginBlock(env, state: state)
            StakingTests.assertSupplyHolds(state, JobsTests.keys.map(\.address) + [Staking.address, Jobs.address], file: file, line: line)
        }

        func advance(to target: UInt64) { while number < target { endBlock() } }

        func view(_ signature: String, _ values: [ABIValue] = [], _ types: [ABIType]) throws -> [ABIValue] {
            let r = executor.call(from: .zero, to: Jobs.address, value: .zero, data: try ABI.encodeCall(signature, values),
                                  gasLimit: 100_000_000, state: state, block: env)
            if let reason = r.revertReason { throw NativeRevert(reason) }
            return try ABI.decode(types, r.returnData)
        }

        /// `getJob` as a dictionary by field name.
        func job(_ id: Hash32) throws -> [String: ABIValue] {
            guard case .tuple(let f) = try view("getJob(bytes32)", [.fixedBytes(id.bytes)], [Jobs.jobType])[0] else { return [:] }
            return Dictionary(uniqueKeysWithValues: zip(Jobs.jobFieldNames, f))
        }

        func status(_ id: Hash32) throws -> JobStatus {
            JobStatus(rawValue: UInt8(try job(id)["status"]?.uintValue?.uint64 ?? 0)) ?? .none
        }

        func committee(_ id: Hash32) throws -> [Address] {
            guard case .array(let items) = try view("getCommittee(bytes32)", [.fixedBytes(id.bytes)], Jobs.committeeTypes)[0] else { return [] }
            return items.compactMap(\.addressValue)
        }

        func balance(_ k: Int) -> UInt256 { state.balance(of: JobsTests.address(k)) }

        func operatorStake(_ k: Int) throws -> (stake: UInt256, tombstoned: Bool) {
            let r = executor.call(from: .zero, to: Staking.address, value: .zero,
                                  data: try ABI.encodeCall("getOperator(address)", [.address(JobsTests.address(k))]),
                                  gasLimit: 100_000_000, state: state, block: env)
            guard case .tuple(let f) = try ABI.decode([Staking.operatorInfoType], r.returnData)[0] else { return (.zero, false) }
            return (f[1].uintValue ?? .zero, f[7] == .bool(true))
        }

        /// Requests a job from the requester; returns its id.
        func request(maxFee: UInt256 = JobsTests.opg * 10, verificationFee: UInt256 = JobsTests.opg * 2, deadlineIn: UInt64 = 30,
                     verificationClass: VerificationClass = .exact, input: [UInt8] = Array("pixels".utf8), inputHash: Hash32 = .zero,
                     inputURI: String = "") throws -> Hash32 {
            let nonce = try view("nonceOf(address)", [.address(JobsTests.address(JobsTests.requester))], [.uint(256)])[0].uintValue ?? .zero
            let request = JobRequest(modelId: JobsTests.model, input: input, inputHash: inputHash, inputURI: inputURI,
                                     verificationClass: verificationClass, maxFee: maxFee, verificationFee: verificationFee,
                                     deadline: number + deadlineIn)
            let r = try sendRaw(JobsTests.requester, data: try request.calldata(), value: maxFee + verificationFee)
            XCTAssertTrue(r.success, r.revertReason ?? "")
            let id = Jobs.jobId(chainId: JobsTests.chainId, requester: JobsTests.address(JobsTests.requester), nonce: nonce)
            XCTAssertEqual(r.returnData, id.bytes)
            return id
        }

        /// The key index of the job's drawn provider.
        func provider(_ id: Hash32) throws -> Int {
            let address = try job(id)["provider"]?.addressValue
            return try XCTUnwrap(JobsTests.providers.first { JobsTests.address($0) == address })
        }

        /// Requests, lets the draw happen, accepts with `fee` and commits an output (inline
        /// "seven", or by reference when `outputHash` is given): the job is committed.
        func committedJob(fee: UInt256 = JobsTests.opg * 4, verificationClass: VerificationClass = .exact, input: [UInt8] = Array("pixels".utf8),
                          inputHash: Hash32 = .zero, inputURI: String = "", outputHash: Hash32? = nil,
                          traceRoot: Hash32? = nil) throws -> (Hash32, Int) {
            let id = try request(verificationClass: verificationClass, input: input, inputHash: inputHash, inputURI: inputURI)
            advance(to: number + 3)
            XCTAssertEqual(try status(id), .assigned)
            let p = try provider(id)
            let accepted = try send(p, "acceptJob(bytes32,uint256)", [.fixedBytes(id.bytes), .uint(fee)], value: fee * 2)
            XCTAssertTrue(accepted.success, accepted.revertReason ?? "")
            let trace = traceRoot ?? (verificationClass == .exact ? Keccak256.hash(Array("trace".utf8)) : .zero)
            let result = outputHash.map { JobResult(jobId: id, output: [], outputHash: $0, outputURI: "https://provider.example/out", traceRoot: trace) }
                ?? JobResult(jobId: id, output: Array("seven".utf8), traceRoot: trace)
            let committed = try sendRaw(p, data: try result.calldata())
            XCTAssertTrue(committed.success, committed.revertReason ?? "")
            return (id, p)
        }

        /// Lets the committee draw happen; returns the members' key indexes.
        func drawnCommittee(_ id: Hash32) throws -> [Int] {
            advance(to: number + 4)
            XCTAssertEqual(try status(id), .attesting)
            return try committee(id).map { member in JobsTests.verifiers.first { JobsTests.address($0) == member }! }
        }

        func attestation(_ id: Hash32, _ verdict: Verdict) throws -> Attestation {
            let j = try job(id)
            return Attestation(jobId: id, modelId: JobsTests.model, inputHash: try Hash32(XCTUnwrap(j["inputHash"]?.bytesValue)),
                               outputHash: try Hash32(XCTUnwrap(j["outputHash"]?.bytesValue)),
                               traceRoot: try Hash32(XCTUnwrap(j["traceRoot"]?.bytesValue)), verdict: verdict,
                               epoch: j["epoch"]?.uintValue?.uint64 ?? 0)
        }

        static func salt(_ k: Int) -> Hash32 { Keccak256.hash(Array("salt \(k)".utf8)) }

        /// Member `k` commits to `verdict`; returns the reveal that opens it.
        func commit(_ id: Hash32, _ k: Int, _ verdict: Verdict) throws -> AttestationReveal {
            let a = try attestation(id, verdict)
            let commitment = Attestation.commitment(digest: a.digest(chainId: JobsTests.chainId), salt: Self.salt(k), verifier: JobsTests.address(k))
            let r = try send(k, "commitAttestation(bytes32,bytes32)", [.fixedBytes(id.bytes), .fixedBytes(commitment.bytes)])
            XCTAssertTrue(r.success, r.revertReason ?? "")
            return AttestationReveal(jobId: id, verifier: JobsTests.address(k), verdict: verdict, salt: Self.salt(k),
                                     signature: a.signature(key: JobsTests.keys[k], chainId: JobsTests.chainId))
        }

        @discardableResult
        func reveal(_ items: [AttestationReveal], from k: Int = JobsTests.outsider) throws -> TransactionResult {
            try send(k, "revealAttestations((bytes32,address,uint8,bytes32,bytes)[])", [.array(items.map(\.abiValue))])
        }
    }

    /// Lines a block hook reported, collected for a test to read.
    final class NoticeLog: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [String] = []
        var lines: [String] { lock.withLock { stored } }
        func append(_ line: String) { lock.withLock { stored.append(line) } }
    }

    func assertReverts(_ result: TransactionResult, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(result.success, "expected a revert naming \(fragment)", file: file, line: line)
        XCTAssertTrue(result.revertReason?.contains(fragment) ?? false, "\(result.revertReason ?? "no reason") should contain \(fragment)",
                      file: file, line: line)
    }

    // MARK: Encodings (docs/verification.md, vectors reproduced by Tests/e2e/test_verification_vectors.py)

    func testEncodingsMatchTheDocumentedVectors() throws {
        let requester = try Address(hex: "0x" + String(repeating: "11", count: 20))
        let id = Jobs.jobId(chainId: 1337, requester: requester, nonce: 7)
        XCTAssertEqual(id.bytes, try Hex.decode("0x4d876aa2c46d258c5e75097574e87984c313271864a39f6ec76b6e43d7d6db34"))
        let key = try PrivateKey(Keccak256.digest(Array("opg verification vector key".utf8)))
        XCTAssertEqual(key.address.checksummed, "0xB7CcfC13cC50C52889c5fEC7a284314DE7931CfE")
        let a = Attestation(jobId: id, modelId: "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", inputHash: Keccak256.hash(Array("input".utf8)),
                            outputHash: Keccak256.hash(Array("output".utf8)), traceRoot: Keccak256.hash(Array("trace".utf8)), verdict: .valid, epoch: 42)
        XCTAssertEqual(Attestation.domainSeparator(chainId: 1337).bytes,
                       try Hex.decode("0x003971f91d93cbd17073c69278b5e5fc38f999c0e7329d803553d9fd094b11d6"))
        XCTAssertEqual(a.structHash.bytes, try Hex.decode("0x43c918413d83203da11ebf3c7df84386d4695783619a316cf209a0f08c12c595"))
        let digest = a.digest(chainId: 1337)
        XCTAssertEqual(digest.bytes, try Hex.decode("0x098186273da977bd79a5bb6a244190936ea19820c9f856cdbb5ed1226421d782"))
        XCTAssertEqual(a.signature(key: key, chainId: 1337), try Hex.decode(
            "0xd8fe39d4bcc5349dd5159a33df809d3c00efc7ea213736ae7e081cb18dc5596e7611da4ce4035ee1f7df57e241ed3daa880ef7b988540032c77ad9209dccb6421b"))
        XCTAssertEqual(Attestation.commitment(digest: digest, salt: Keccak256.hash(Array("salt".utf8)), verifier: key.address).bytes,
                       try Hex.decode("0xd5d1036d7c633c4e2871911e0171d7c8d2931809bcf56b9d8a86fa5fb70263f2"))
        XCTAssertEqual(try Attestation.recoverSigner(a.signature(key: key, chainId: 1337), digest: digest), key.address)
    }

    func testDrawsAreStakeWeightedWithoutReplacementAndVotesCapped() throws {
        let candidates = (0..<6).map { (Address(lowByte: UInt8($0 + 1)), JobsTests.opg * UInt256(UInt64($0 + 1))) }
        var counts = [Int](repeating: 0, count: 6)
        for s in 0..<600 {
            let drawn = Jobs.weightedDraw(candidates, count: 3, seed: Keccak256.hash(Array("seed \(s)".utf8)))
            XCTAssertEqual(Set(drawn.map(\.address)).count, 3, "without replacement")
            counts[Int(drawn[0].address.bytes[19]) - 1] += 1
        }
        XCTAssertLessThan(counts[0], counts[5], "the first pick follows stake: \(counts)")
        XCTAssertEqual(Jobs.weightedDraw(candidates, count: 9, seed: .zero).count, 6, "at most every candidate")
        XCTAssertEqual(Jobs.weightedDraw([], count: 3, seed: .zero).count, 0)
        let weights = Jobs.cappedWeights([UInt256(98), 1, 1], capBps: 5_000)
        XCTAssertEqual(weights, [2, 1, 1], "the whale is capped to half the capped total")
        XCTAssertEqual(Jobs.cappedWeights([UInt256(3), 3, 3], capBps: 5_000), [3, 3, 3], "equal stakes are under the cap")
        XCTAssertEqual(Jobs.cappedWeights([UInt256(90), 10], capBps: 5_000), [10, 10])
        XCTAssertEqual(Jobs.cappedWeights([UInt256(90), 10], capBps: 4_000), [90, 10], "an infeasible cap leaves the stakes")
        for s in 0..<200 {
            var rng = SplitMix64(seed: UInt64(s))
            let stakes = (0..<3).map { _ in UInt256(rng.next() % 1_000 + 1) }
            let w = Jobs.cappedWeights(stakes, capBps: 5_000)
            let total = w.reduce(UInt256.zero, +)
            for x in w { XCTAssertLessThanOrEqual(x * UInt256(3), total * UInt256(2), "no single member reaches the 2/3 quorum: \(stakes) → \(w)") }
        }
    }

    // MARK: Lifecycle

    func testAnHonestExactJobIsVerifiedFinalizedAndTheFeeSplit() throws {
        let h = try Harness()
        let before = (0..<8).map(h.balance)
        let (id, p) = try h.committedJob()
        let members = try h.drawnCommittee(id)
        XCTAssertEqual(members.count, 3)
        let reveals = try members.map { try h.commit(id, $0, .valid) }
        let r = try h.reveal(reveals)
        XCTAssertTrue(r.success, r.revertReason ?? "")
        XCTAssertEqual(try h.status(id), .challengeable, "every member revealed valid: quorum at once")
        assertReverts(try h.send(JobsTests.outsider, "finalize(bytes32)", [.fixedBytes(id.bytes)]), "is open until block")
        h.advance(to: h.number + 5)
        let fin = try h.send(JobsTests.outsider, "finalize(bytes32)", [.fixedBytes(id.bytes)])
        XCTAssertTrue(fin.success, fin.revertReason ?? "")
        XCTAssertEqual(try h.status(id), .finalized)
        h.endBlock()
        let fee = JobsTests.opg * 4
        XCTAssertEqual(h.balance(p), before[p] + fee * UInt256(8_500) / UInt256(10_000), "85% of the fee; the collateral back")
        XCTAssertEqual(h.balance(JobsTests.requester), before[JobsTests.requester] - fee - JobsTests.opg * 2,
                       "the rest of the max fee back; the fee and the verification fee paid")
        let pool = fee / UInt256(10) + JobsTests.opg * 2
        var paid = UInt256.zero
        for m in members { paid += h.balance(m) - before[m] }
        XCTAssertLessThanOrEqual(paid, pool)
        XCTAssertLessThan(pool - paid, UInt256(10), "the majority shares 10% + the verification fee, dust burned")
        XCTAssertEqual(SupplyLedger(h.state).escrowed, .zero)
        XCTAssertEqual(SupplyLedger(h.state).burned, fee / UInt256(20) + (pool - paid), "5% burned")
        for m in members { XCTAssertEqual(try h.operatorStake(m).stake > .zero, true) }
    }

    /// With a challenge window of 0, settlement version 2 (from its genesis block) settles
    /// the job in the reveal that reaches the quorum, `JobFinalized` in that receipt; before
    /// its block, and on a chain whose genesis names version 1, the job waits for a
    /// `finalize` transaction as it always did.
    func testAWindowOfZeroSettlesAtQuorumFromTheSettlementVersionsBlock() throws {
        for (version, from, settlesAtQuorum) in [(UInt64(2), UInt64(0), true), (2, 1_000, false), (1, 0, false)] {
            var params = JobsTests.jobsParams
            params.challengeBlocks = 0
            params.settlementVersion = version
            params.settlementVersionFromBlock = from
            let h = try Harness(jobs: params)
            let (id, _) = try h.committedJob()
            let members = try h.drawnCommittee(id)
            let reveal = try h.reveal(try members.map { try h.commit(id, $0, .valid) })
            XCTAssertTrue(reveal.success, reveal.revertReason ?? "")
            let finalizedLogs = reveal.logs.filter { $0.topics.first == ABI.eventTopic(Jobs.Event.finalized) }
            let quorumLogs = reveal.logs.filter { $0.topics.first == ABI.eventTopic(Jobs.Event.quorumReached) }
            let label = "version \(version) from block \(from)"
            XCTAssertEqual(quorumLogs.count, 1, label)
            XCTAssertEqual(finalizedLogs.count, settlesAtQuorum ? 1 : 0, label)
            XCTAssertEqual(try h.status(id), settlesAtQuorum ? .finalized : .challengeable, label)
            let finalize = try h.send(JobsTests.outsider, "finalize(bytes32)", [.fixedBytes(id.bytes)])
            if settlesAtQuorum {
                assertReverts(finalize, "is finalized, not challengeWindow")
            } else {
                XCTAssertTrue(finalize.success, finalize.revertReason ?? "")
            }
            let job = try h.job(id)
            XCTAssertEqual(job["settledAt"]?.uintValue, UInt256(h.number), "\(label): settled in the block of the quorum")
            XCTAssertEqual(job["challengeEnd"]?.uintValue, UInt256(h.number), label)
            h.endBlock()
            XCTAssertEqual(try h.status(id), .finalized, label)
            XCTAssertEqual(SupplyLedger(h.state).escrowed, .zero, label)
        }
    }

    func testAnAttestedOnlyJobIsFinalizedButNeverVerified() throws {
        let h = try Harness()
        let id = try h.request(verificationClass: .attestedOnly)
        h.advance(to: h.number + 3)
        let p = try h.provider(id)
        XCTAssertTrue(try h.send(p, "acceptJob(bytes32,uint256)", [.fixedBytes(id.bytes), .uint(JobsTests.opg)], value: JobsTests.opg * 2).success)
        assertReverts(try h.sendRaw(p, data: try JobResult(jobId: id, output: [1], traceRoot: Keccak256.hash([1])).calldata()),
                      "an attested-only result has no trace root")
        XCTAssertTrue(try h.sendRaw(p, data: try JobResult(jobId: id, output: [1], traceRoot: .zero).calldata()).success)
        let members = try h.drawnCommittee(id)
        let reveals = try members.map { try h.commit(id, $0, .valid) }
        XCTAssertTrue(try h.reveal(reveals).success)
        h.advance(to: h.number + 5)
        XCTAssertTrue(try h.send(JobsTests.outsider, "finalize(bytes32)", [.fixedBytes(id.bytes)]).success)
        let j = try h.job(id)
        XCTAssertEqual(j["status"], .uint(UInt256(UInt64(JobStatus.finalized.rawValue))))
        XCTAssertEqual(j["verificationClass"], .uint(2), "the class stays attested-only: JobsRPC labels it attested, never verified")
    }

    func testAChallengeRecordsADisputeAndStopsFinalization() throws {
        let h = try Harness()
        let (id, _) = try h.committedJob()
        let members = try h.drawnCommittee(id)
        XCTAssertTrue(try h.reveal(try members.map { try h.commit(id, $0, .valid) }).success)
        assertReverts(try h.send(JobsTests.outsider, "challenge(bytes32)", [.fixedBytes(id.bytes)], value: JobsTests.opg), "send exactly the challenge bond")
        let r = try h.send(JobsTests.outsider, "challenge(bytes32)", [.fixedBytes(id.bytes)], value: JobsTests.opg * 2)
        XCTAssertTrue(r.success, r.revertReason ?? "")
        XCTAssertEqual(try h.status(id), .disputed)
        let d = try h.view("getDispute(bytes32)", [.fixedBytes(id.bytes)], Jobs.disputeTypes)
        XCTAssertEqual(d[0], .address(JobsTests.address(JobsTests.outsider)))
        XCTAssertEqual(d[3], .uint(UInt256(UInt64(DisputeState.open.rawValue))))
        h.advance(to: h.number + 6)
        assertReverts(try h.send(JobsTests.outsider, "finalize(bytes32)", [.fixedBytes(id.bytes)]), "is disputed, not challengeWindow")
    }

    func testAnInvalidQuorumOpensADisputeForTheCommittee() throws {
        let h = try Harness()
        let (id, _) = try h.committedJob()
        let members = try h.drawnCommittee(id)
        XCTAssertTrue(try h.reveal(try members.map { try h.commit(id, $0, .invalid) }).success)
        XCTAssertEqual(try h.status(id), .disputed)
        XCTAssertEqual(try h.view("getDispute(bytes32)", [.fixedBytes(id.bytes)], Jobs.disputeTypes)[0], .address(.zero))
    }

    // MARK: Timeouts

    func testNoAcceptRefundsEverything() throws {
        let h = try Harness()
        let before = h.balance(JobsTests.requester)
        let id = try h.request()
        h.advance(to: h.number + 3 + 4)
        XCTAssertEqual(try h.status(id), .refunded)
        XCTAssertEqual(h.balance(JobsTests.requester), before)
        XCTAssertEqual(SupplyLedger(h.state).escrowed, .zero)
    }

    func testNoResultByTheDeadlineRefundsWithAPenaltyFromTheCollateral() throws {
        let h = try Harness()
        let before = (0..<8).map(h.balance)
        let id = try h.request(deadlineIn: 12)
        h.advance(to: h.number + 3)
        let p = try h.provider(id)
        XCTAssertTrue(try h.send(p, "acceptJob(bytes32,uint256)", [.fixedBytes(id.bytes), .uint(JobsTests.opg * 4)], value: JobsTests.opg * 8).success)
        h.advance(to: h.number + 12)
        XCTAssertEqual(try h.status(id), .refunded)
        XCTAssertEqual(h.balance(JobsTests.requester), before[JobsTests.requester] + JobsTests.opg * 4, "fees back plus half the collateral")
        XCTAssertEqual(h.balance(p), before[p] - JobsTests.opg * 4)
        XCTAssertEqual(SupplyLedger(h.state).escrowed, .zero)
    }

    func testNoQuorumRedrawsOnceThenSettlesUnverified() throws {
        let h = try Harness()
        let before = (0..<8).map(h.balance)
        let (id, p) = try h.committedJob()
        _ = try h.drawnCommittee(id)
        h.advance(to: h.number + 6)  // nobody commits: the reveal deadline passes
        XCTAssertEqual(try h.job(id)["round"], .uint(1))
        _ = try h.drawnCommittee(id)
        h.advance(to: h.number + 6)
        XCTAssertEqual(try h.status(id), .unverified)
        let fee = JobsTests.opg * 4
        XCTAssertEqual(h.balance(p), before[p] + fee * UInt256(8_500) / UInt256(10_000))
        XCTAssertEqual(h.balance(JobsTests.requester), before[JobsTests.requester] - fee + fee / UInt256(10),
                       "the verification fee and the verifiers' share come back")
        XCTAssertEqual(SupplyLedger(h.state).escrowed, .zero)
    }

    func testAJobNoProviderServesIsRefunded() throws {
        let h = try Harness()
        // Jail nobody: a model nobody declared has no eligible provider.
        let request = JobRequest(modelId: "digits_cnn", input: [1], verificationClass: .exact, maxFee: JobsTests.opg, verificationFee: .zero,
                                 deadline: h.number + 30)
        XCTAssertTrue(try h.sendRaw(JobsTests.requester, data: try request.calldata(), value: JobsTests.opg).success)
        let id = Jobs.jobId(chainId: JobsTests.chainId, requester: JobsTests.address(JobsTests.requester), nonce: 0)
        h.advance(to: h.number + 3)
        XCTAssertEqual(try h.status(id), .refunded)
    }

    /// Agenda version 1 (kept for replay; docs/verification.md, "Timeouts and the agenda").
    func testAFullAgendaMovesToTheNextBlockWithRoom() throws {
        let h = try Harness(jobs: JobsAgendaLoadTests.params(agendaVersion: 1))
        let ids = try (0..<(Int(Jobs.agendaCapacity) + 8)).map { _ in try h.request(maxFee: JobsTests.opg, verificationFee: .zero) }
        let requestBlock = h.number
        h.advance(to: requestBlock + 2)
        // The draw block's hook, run by hand to read its gas.
        let runner = NativeCallRunner(handlers: h.executor.handlers, encodeRevert: ABI.encodeRevert, state: h.state, block: h.env, transaction: nil)
        let jobs = try XCTUnwrap(h.executor.handlers.handler(at: Jobs.address))
        let outcome = runner.runHook(jobs, gas: GasSchedule.blockHook) { try $0.endBlock($1) }
        XCTAssertNil(outcome.revertReason)
        let perDraw = outcome.gasUsed / Jobs.agendaCapacity
        print("jobs hook: \(Jobs.agendaCapacity) provider draws among 2 providers used \(outcome.gasUsed) gas, \(perDraw) per draw")
        XCTAssertLessThan(perDraw, Jobs.itemGasReserve / 4)
        h.number += 1
        let assigned = try ids.filter { try h.status($0) == .assigned }.count
        XCTAssertEqual(assigned, Int(Jobs.agendaCapacity), "one block's agenda holds \(Jobs.agendaCapacity) draws")
        h.advance(to: requestBlock + 4)
        for id in ids { XCTAssertEqual(try h.status(id), .assigned, "the rest are drawn in the next block") }
    }

    // MARK: Attestation rejections

    func testAttestationRejectionsAreNamed() throws {
        let h = try Harness()
        let (id, p) = try h.committedJob()
        let members = try h.drawnCommittee(id)
        let outsiders = JobsTests.verifiers.filter { !members.contains($0) }
        let a = try h.attestation(id, .valid)
        // Commit rules.
        assertReverts(try h.send(outsiders[0], "commitAttestation(bytes32,bytes32)", [.fixedBytes(id.bytes), .fixedBytes(Hash32.slot(1).bytes)]),
                      "is not on the committee")
        assertReverts(try h.send(p, "commitAttestation(bytes32,bytes32)", [.fixedBytes(id.bytes), .fixedBytes(Hash32.slot(1).bytes)]),
                      "is not on the committee")
        assertReverts(try h.send(members[0], "commitAttestation(bytes32,bytes32)", [.fixedBytes(id.bytes), .fixedBytes(Hash32.zero.bytes)]),
                      "commitment must not be zero")
        let r0 = try h.commit(id, members[0], .valid)
        assertReverts(try h.send(members[0], "commitAttestation(bytes32,bytes32)", [.fixedBytes(id.bytes), .fixedBytes(Hash32.slot(1).bytes)]),
                      "has already committed")
        // Reveals before the phase opens.
        assertReverts(try h.reveal([r0]), "reveals open after block")
        let r1 = try h.commit(id, members[1], .valid)
        h.advance(to: try XCTUnwrap(h.job(id)["commitEnd"]?.uintValue?.uint64) + 1)
        func signed(_ k: Int, _ digest: Hash32) -> [UInt8] {
            let s = JobsTests.keys[k].sign(digest)
            return s.r + s.s + [s.recoveryID + 27]
        }
        var item = r0
        // A signature for another chain id, another module, another job.
        item.signature = a.signature(key: JobsTests.keys[members[0]], chainId: 2)
        assertReverts(try h.reveal([item]), "not the verifier: it was signed over another domain or message")
        let otherModule = Keccak256.hash([0x19, 0x01] + Keccak256.digest(
            Keccak256.digest(Array(Attestation.domainType.utf8)) + Keccak256.digest(Array("OPG-Verify".utf8)) + Keccak256.digest(Array("1".utf8))
                + UInt256(JobsTests.chainId).bigEndianBytes32 + Hash32(word: Staking.address).bytes) + a.structHash.bytes)
        item.signature = signed(members[0], otherModule)
        assertReverts(try h.reveal([item]), "not the verifier")
        var otherJob = a
        otherJob.jobId = Keccak256.hash([7])
        item.signature = otherJob.signature(key: JobsTests.keys[members[0]], chainId: JobsTests.chainId)
        assertReverts(try h.reveal([item]), "not the verifier")
        // Malformed signatures.
        item.signature = Array(r0.signature.prefix(64))
        assertReverts(try h.reveal([item]), "signature must be 65 bytes")
        item.signature = Array(r0.signature.prefix(64)) + [29]
        assertReverts(try h.reveal([item]), "signature v must be 27, 28, 0 or 1")
        // A reveal not matching its commitment (another salt; another verdict than committed).
        item = r0
        item.salt = Hash32.slot(9)
        assertReverts(try h.reveal([item]), "the reveal does not match its commitment")
        item = r0
        item.verdict = .invalid
        item.signature = try h.attestation(id, .invalid).signature(key: JobsTests.keys[members[0]], chainId: JobsTests.chainId)
        assertReverts(try h.reveal([item]), "the reveal does not match its commitment")
        // A member that never committed; a non-member's valid signature.
        var uncommitted = r0
        uncommitted.verifier = JobsTests.address(members[2])
        uncommitted.signature = a.signature(key: JobsTests.keys[members[2]], chainId: JobsTests.chainId)
        assertReverts(try h.reveal([uncommitted]), "no commitment")
        var stranger = r0
        stranger.verifier = JobsTests.address(outsiders[0])
        stranger.signature = a.signature(key: JobsTests.keys[outsiders[0]], chainId: JobsTests.chainId)
        assertReverts(try h.reveal([stranger]), "not on the job's committee")
        // The batch is all or nothing, naming the failing item.
        assertReverts(try h.reveal([r1, stranger]), "attestation 1 (job")
        XCTAssertEqual(try h.job(id)["revealedCount"], .uint(0))
        XCTAssertTrue(try h.reveal([r0, r1]).success)
        // A replayed attestation.
        assertReverts(try h.reveal([r0]), "already revealed (a replayed attestation)")
    }

    /// Signatures recovered ahead on several threads are a cache: every receipt (status, gas,
    /// events, revert reason) and the state root are those of the serial path, over reveals
    /// that record, carry a bad signature, a malformed one, a non-member, a replay and an
    /// equivocation.
    func testRevealsRecoveredAheadGiveTheSerialPathsOutcome() throws {
        let params = JobsParameters(acceptBlocks: 4, attestCommitBlocks: 40, attestRevealBlocks: 40, challengeBlocks: 5, committeeSize: 3,
                                    voteCapBps: 5_000, collateralBps: 20_000, timeoutPenaltyBps: 5_000, providerShareBps: 8_500,
                                    verifierShareBps: 1_000, burnShareBps: 500, challengeBond: JobsTests.opg * 2)
        func run(workers: Int) throws -> (results: [TransactionResult], root: Hash32) {
            let h = try Harness(jobs: params, signatureWorkers: workers)
            var reveals: [[AttestationReveal]] = []
            for n in 0..<4 {
                let (id, _) = try h.committedJob(input: Array("pixels \(n)".utf8))
                let members = try h.drawnCommittee(id)
                reveals.append(try members.enumerated().map { m, k in try h.commit(id, k, n == 0 && m == 2 ? .invalid : .valid) })
            }
            func resigned(_ item: AttestationReveal, by k: Int, verdict: Verdict? = nil) throws -> AttestationReveal {
                var out = item
                out.verdict = verdict ?? item.verdict
                out.signature = try h.attestation(item.jobId, out.verdict).signature(key: JobsTests.keys[k], chainId: JobsTests.chainId)
                return out
            }
            let job2 = reveals[2]
            var nonMember = job2[0]
            nonMember.verifier = JobsTests.address(JobsTests.outsider)
            nonMember.signature = try resigned(job2[0], by: JobsTests.outsider).signature
            var malformed = job2[1]
            malformed.signature.removeLast()
            let calls: [[AttestationReveal]] = [
                reveals[0] + reveals[1],
                [job2[0], try resigned(job2[1], by: JobsTests.outsider), job2[2]],
                [job2[0], nonMember, job2[2]],
                [job2[0], malformed, job2[2]],
                job2 + reveals[3],
                [reveals[0][1]],
                [try resigned(reveals[3][0], by: JobsTests.verifiers.first { JobsTests.address($0) == reveals[3][0].verifier }!, verdict: .invalid)],
            ]
            var results: [TransactionResult] = []
            for items in calls { results.append(try h.reveal(items)) }
            h.endBlock()
            var batch = WriteBatch()
            return (results, try h.state.commit(into: &batch))
        }
        let serial = try run(workers: 1), ahead = try run(workers: 2)
        XCTAssertEqual(serial.results.map(\.success), [true, false, false, false, true, false, true])
        for (i, fragment) in [(1, "the signature recovers to"), (2, "not on the job's committee"), (3, "signature must be 65 bytes"),
                              (5, "already revealed (a replayed attestation)")] {
            assertReverts(serial.results[i], fragment)
        }
        XCTAssertTrue(serial.results[6].logs.contains { $0.topics.first == ABI.eventTopic(Jobs.Event.equivocation) }, "the equivocation is punished")
        XCTAssertEqual(ahead.results, serial.results, "receipts: status, gas, events and revert reasons")
        XCTAssertEqual(ahead.root, serial.root, "state root")
    }

    func testAVerifierThatSignsTwoDifferentRevealsIsSlashedAndTombstoned() throws {
        let h = try Harness()
        let (id, _) = try h.committedJob()
        let members = try h.drawnCommittee(id)
        let reveals = try members.map { try h.commit(id, $0, .valid) }
        XCTAssertTrue(try h.reveal(Array(reveals.prefix(2))).success)
        let cheat = members[0]
        let (stake, _) = try h.operatorStake(cheat)
        var second = reveals[0]
        second.verdict = .invalid
        second.signature = try h.attestation(id, .invalid).signature(key: JobsTests.keys[cheat], chainId: JobsTests.chainId)
        let reporterBefore = h.balance(JobsTests.outsider)
        let r = try h.reveal([second])
        XCTAssertTrue(r.success, r.revertReason ?? "")
        let (after, tombstoned) = try h.operatorStake(cheat)
        XCTAssertEqual(after, stake - stake / UInt256(5), "20% slashed")
        XCTAssertTrue(tombstoned)
        XCTAssertEqual(h.balance(JobsTests.outsider), reporterBefore + stake / UInt256(5) / UInt256(10), "the reporter gets the slash reward")
        guard case .array(let weights) = try h.view("getCommittee(bytes32)", [.fixedBytes(id.bytes)], Jobs.committeeTypes)[1] else {
            return XCTFail("no weights")
        }
        XCTAssertEqual(try h.job(id)["validWeight"], weights[1], "the cheat's vote no longer counts")
        assertReverts(try h.reveal([second]), "equivocation already punished")
        h.endBlock()
    }

    // MARK: Malformed input of every function

    func testMalformedRequestsAreRefusedByName() throws {
        let h = try Harness()
        func request(_ mutate: (inout JobRequest) -> Void, value: UInt256? = nil) throws -> TransactionResult {
            var r = JobRequest(modelId: JobsTests.model, input: [1, 2, 3], verificationClass: .exact, maxFee: JobsTests.opg,
                               verificationFee: JobsTests.opg, deadline: h.number + 30)
            mutate(&r)
            return try h.sendRaw(JobsTests.requester, data: try r.calldata(), value: value ?? r.maxFee + r.verificationFee)
        }
        assertReverts(try request({ $0.input = [UInt8](repeating: 1, count: Jobs.maxInlineBytes + 1) }), "is over the limit of 98304")
        assertReverts(try request({ $0.inputHash = Hash32.slot(1) }), "inline or as hash and URI, not both")
        assertReverts(try request({ $0.input = [] }), "input is empty")
        assertReverts(try request({ $0.input = []; $0.inputHash = Hash32.slot(1); $0.inputURI = "has space" }), "input URI must be 1…256")
        assertReverts(try request({ $0.maxFee = .zero }), "max fee must be above zero")
        assertReverts(try request({ _ in }, value: JobsTests.opg), "send exactly max fee + verification fee")
        assertReverts(try request({ $0.deadline = h.number + 3 }), "deadline")
        assertReverts(try request({ $0.deadline = h.number + Jobs.maxDeadlineBlocks + 1 }), "deadline")
        assertReverts(try request({ $0.modelId = "no_such_model" }), "unknown model ID")
        var data = try JobRequest(modelId: JobsTests.model, input: [1], verificationClass: .exact, maxFee: 1, verificationFee: 0,
                                  deadline: h.number + 30).calldata()
        data[4 + 4 * 32 + 31] = 3
        assertReverts(try h.sendRaw(JobsTests.requester, data: data, value: 1), "verification class 3 is not 1 (exact) or 2 (attestedOnly)")
        assertReverts(try h.sendRaw(JobsTests.requester, data: Array(data.prefix(40)), value: 1), "invalid calldata")
        XCTAssertTrue(try request({ $0.input = []; $0.inputHash = Hash32.slot(1); $0.inputURI = "https://example.org/in" }).success, "by reference")
    }

    func testMalformedCallsOfEveryOtherFunctionAreRefusedByName() throws {
        let h = try Harness()
        let (id, p) = try h.committedJob()
        let unknown = Hash32.slot(77).bytes
        let cases: [(Int, String, [ABIValue], UInt256, String)] = [
            (p, "acceptJob(bytes32,uint256)", [.fixedBytes(unknown), .uint(1)], .zero, "unknown job"),
            (p, "acceptJob(bytes32,uint256)", [.fixedBytes(id.bytes), .uint(1)], .zero, "is committed, not assigned"),
            (p, "commitAttestation(bytes32,bytes32)", [.fixedBytes(id.bytes), .fixedBytes(unknown)], .zero, "is committed, not attesting"),
            (p, "challenge(bytes32)", [.fixedBytes(id.bytes)], JobsTests.opg * 2, "is committed, not challengeWindow"),
            (p, "finalize(bytes32)", [.fixedBytes(id.bytes)], .zero, "is committed, not challengeWindow"),
            (p, "finalize(bytes32)", [.fixedBytes(id.bytes)], .one, "finalize is not payable"),
            (JobsTests.outsider, "revealAttestations((bytes32,address,uint8,bytes32,bytes)[])", [.array([])], .zero, "reveal at least one attestation"),
        ]
        for (k, signature, values, value, reason) in cases { assertReverts(try h.send(k, signature, values, value: value), reason) }
        let badVerdict = AttestationReveal(jobId: id, verifier: .zero, verdict: .valid, salt: .zero, signature: [])
        var encoded = try ABI.encodeCall("revealAttestations((bytes32,address,uint8,bytes32,bytes)[])", [.array([badVerdict.abiValue])])
        encoded[4 + 32 + 32 + 32 + 64 + 31] = 4
        assertReverts(try h.sendRaw(JobsTests.outsider, data: encoded), "verdict 4 is not 1 (valid), 2 (invalid) or 3 (inconclusive)")
        let tooMany = [ABIValue](repeating: badVerdict.abiValue, count: AttestationReveal.maxPerCall + 1)
        assertReverts(try h.send(JobsTests.outsider, "revealAttestations((bytes32,address,uint8,bytes32,bytes)[])", [.array(tooMany)]), "over the limit of 64")
        for function in Jobs(models: FixtureModels()).functions where function.mutability != .view {
            assertReverts(try h.sendRaw(JobsTests.outsider, data: function.selector + [1, 2, 3]), "invalid calldata")
        }
        // Second job: accept by someone else, the wrong fee and collateral, late; commitResult by someone else.
        let second = try h.request()
        h.advance(to: h.number + 3)
        let q = try h.provider(second)
        let other = JobsTests.providers.first { $0 != q }!
        assertReverts(try h.send(other, "acceptJob(bytes32,uint256)", [.fixedBytes(second.bytes), .uint(1)], value: 2), "is assigned to")
        assertReverts(try h.send(q, "acceptJob(bytes32,uint256)", [.fixedBytes(second.bytes), .uint(JobsTests.opg * 11)], value: 2), "must be 1…")
        assertReverts(try h.send(q, "acceptJob(bytes32,uint256)", [.fixedBytes(second.bytes), .uint(JobsTests.opg)], value: JobsTests.opg),
                      "send exactly the collateral")
        XCTAssertTrue(try h.send(q, "acceptJob(bytes32,uint256)", [.fixedBytes(second.bytes), .uint(JobsTests.opg)], value: JobsTests.opg * 2).success)
        assertReverts(try h.sendRaw(other, data: try JobResult(jobId: second, output: [1], traceRoot: Hash32.slot(1)).calldata()),
                      "only the job's provider")
        assertReverts(try h.sendRaw(q, data: try JobResult(jobId: second, output: [1], traceRoot: .zero).calldata()), "needs its trace root")
        assertReverts(try h.sendRaw(q, data: try JobResult(jobId: second, output: [], traceRoot: Hash32.slot(1)).calldata()), "output is empty")
        // Views.
        XCTAssertThrowsError(try h.view("getJob(bytes32)", [.fixedBytes(unknown)], [Jobs.jobType]))
        XCTAssertThrowsError(try h.view("attestationDigest(bytes32,uint8)", [.fixedBytes(id.bytes), .uint(0)], [.fixedBytes(32)]))
        XCTAssertEqual(try h.view("jobCount()", [], [.uint(256)])[0], .uint(2))
        XCTAssertEqual(try h.view("jobAt(uint256)", [.uint(0)], [.fixedBytes(32)])[0], .fixedBytes(id.bytes))
        XCTAssertEqual(try h.view("jobInput(bytes32)", [.fixedBytes(id.bytes)], [.bytes])[0], .bytes(Array("pixels".utf8)))
        XCTAssertEqual(try h.view("jobOutput(bytes32)", [.fixedBytes(id.bytes)], [.bytes])[0], .bytes(Array("seven".utf8)))
    }

    func testAChainWithoutJobsParametersRefusesPolitely() throws {
        let h = try Harness()
        for slot in 0..<JobsParameters.wordCount { h.state.setStorage(.zero, of: Jobs.address, slot: .slot(UInt64(slot))) }
        let r = try h.sendRaw(JobsTests.requester, data: try JobRequest(modelId: JobsTests.model, input: [1], verificationClass: .exact, maxFee: 1,
                                                                        verificationFee: 0, deadline: 100).calldata(), value: 1)
        assertReverts(r, "jobs are not enabled on this chain")
        h.endBlock()
    }

    func testGenesisParametersAreChecked() {
        var p = JobsParameters.default
        p.burnShareBps = 600
        XCTAssertEqual(p.violation(), "providerShareBps + verifierShareBps + burnShareBps must be 10000, got 10100")
        p = .default
        p.committeeSize = 0
        XCTAssertNotNil(p.violation())
        XCTAssertNil(JobsParameters.default.violation())
    }
}
