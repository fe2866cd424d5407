import CBenchPeer
import Chain
import Crypto
import Foundation
import Inference
import Modules
import Primitives
import Storage

/// `opgd bench-attestations`: attestation signatures checked per second inside block
/// execution (issue 10 §6), against libsecp256k1's own recover in a C loop on every core
/// (Sources/CBenchPeer), measured in the same process.
///
/// A chain is brought, by real transactions in real blocks, to `jobs` attested-only jobs in
/// their reveal phase, each with a committee of `committee` of 16 verifiers, all committed. One
/// block of reveal transactions (`perTransaction` reveals each, every job's reveals) is then
/// proposed on that head and validated like an imported block (`ChainService.verify`: sender
/// recovery, execution, roots; nothing is committed, so every round validates the same block
/// on the same head) twice a round, alternating: by a chain whose jobs module recovers each
/// reveal's signature where it checks it, in order (`signatureWorkers: 1`), and by one whose
/// module recovers a call's signatures ahead on every core (the node's default). Each round
/// brackets the validations with the C loop on every core; the bound is the mean of the two
/// C rates.
public enum AttestationBench {
    /// Any model id resolves (an attested-only job never reads the model's bytes).
    private final class AnyModel: ModelResolver {
        func model(_ modelID: String, context: NativeCallContext) throws -> RegisteredModel {
            _ = try context.load(.zero)
            return RegisteredModel(id: modelID, fileHash: Keccak256.hash(Array(modelID.utf8)), size: 1, kernelSpecVersion: KernelSpec.version)
        }

        func modelBytes(_ model: RegisteredModel, context: NativeCallContext) throws -> [UInt8] {
            throw NativeRevert("the benchmark's models have no bytes")
        }
    }

    /// Most reveals one transaction carries.
    public static let maxPerTransaction = AttestationReveal.maxPerCall
    static let model = "bench-model"
    static let chainId: UInt64 = 5_197_896
    static let opg = StakingParameters.opg

    public static func run(jobs jobCount: Int, committee: Int, perTransaction: Int, rounds: Int) throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let key = { (tag: String, i: Int) in try! PrivateKey(Keccak256.digest(Array("opg attestation bench \(tag) \(i)".utf8))) }
        let verifiers = (0..<max(16, committee + 1)).map { key("verifier", $0) }
        let provider = key("provider", 0), requester = key("requester", 0), revealer = key("revealer", 0)
        let jobsParams = JobsParameters(acceptBlocks: 1_000, attestCommitBlocks: 1_000, attestRevealBlocks: 1_000, challengeBlocks: 10,
                                        committeeSize: UInt64(committee), voteCapBps: 10_000, collateralBps: 20_000, timeoutPenaltyBps: 5_000,
                                        providerShareBps: 8_500, verifierShareBps: 1_000, burnShareBps: 500, challengeBond: opg)
        let stakingParams = StakingParameters(providerMinStake: opg, verifierMinStake: opg, validatorMinStake: opg * 100, epochBlocks: 10_000,
                                              unbondingBlocks: 20, jailBlocks: 5, slashRewardBps: 1_000, wrongProviderSlashBps: 500,
                                              losingVerifierSlashBps: 1_000, equivocationSlashBps: 2_000, doubleSignSlashBps: 500)
        let operators = [GenesisOperator(address: provider.address, role: .provider, stake: opg * 10, models: [model], hardwareClass: "cpu")]
            + verifiers.map { GenesisOperator(address: $0.address, role: .verifier, stake: opg * 5, models: [model], hardwareClass: "cpu") }
        let (words, staked) = try Staking.genesisStorage(parameters: stakingParams, operators: operators)
        let spec = GenesisSpec(config: ChainConfig(chainId: chainId, blockReward: UInt256(1_000), validators: try ValidatorSet([DevNet.validator])),
                               timestamp: 0, gasLimit: 2_000_000_000, initialBaseFee: UInt256(1), extraData: [],
                               alloc: ([provider, requester, revealer] + verifiers).map { ($0.address, opg * 1_000_000) },
                               moduleStorage: words + (try jobsParams.genesisStorage()), staked: staked)
        // The end-block hook's notes (the setup's draws carried from block to block) would
        // interleave with the table: counted, and the count reported on standard error.
        let hookNotes = NoteCounter()
        let database = try ChainDatabase(store: MemoryStore())
        _ = try ChainSetup.initialise(database, spec: spec, genesisBytes: [])
        let chain = ChainService(config: spec.config, database: database,
                                 handlers: NativeHandlerRegistry([Staking(), Jobs(models: AnyModel()), Supply()]),
                                 encodeRevert: ABI.encodeRevert, poolLimits: MempoolLimits(maxPerAccount: 100_000, pendingSlots: 1_000_000),
                                 notice: { _ in hookNotes.add() })
        let serialChain = ChainService(config: spec.config, database: database,
                                       handlers: NativeHandlerRegistry([Staking(), Jobs(models: AnyModel(), signatureWorkers: 1), Supply()]),
                                       encodeRevert: ABI.encodeRevert, notice: { _ in hookNotes.add() })
        var nonces: [Address: UInt64] = [:]
        func send(_ from: PrivateKey, _ data: [UInt8], value: UInt256 = .zero) throws {
            let nonce = nonces[from.address, default: 0]
            nonces[from.address] = nonce + 1
            let tx = Transaction(type: .dynamicFee, chainId: chainId, nonce: nonce, maxPriorityFeePerGas: UInt256(1), maxFeePerGas: UInt256(1_000_000),
                                 gasLimit: 1_000_000, to: Jobs.address, value: value, data: data, accessList: [])
            _ = try chain.submit(try tx.signed(with: from))
        }
        func block() throws {
            let executed = try chain.produceBlock(timestamp: chain.head.timestamp + 1, coinbase: DevNet.validatorKey.address, sync: false)
            if let failed = zip(executed.results, executed.block.transactions).first(where: { !$0.0.success }) {
                throw CommandError("bench setup: transaction \(failed.1.hash) reverted: \(failed.0.revertReason ?? "no reason")")
            }
        }
        func view(_ signature: String, _ id: Hash32, _ types: [ABIType]) throws -> [ABIValue] {
            let head = chain.head
            let r = chain.builder.executor.call(from: .zero, to: Jobs.address, value: .zero, data: try ABI.encodeCall(signature, [.fixedBytes(id.bytes)]),
                                                gasLimit: 100_000_000, state: database.state(at: head),
                                                block: chain.builder.environment(parent: head, timestamp: head.timestamp + 1, coinbase: .zero))
            if let reason = r.revertReason { throw CommandError("bench setup: \(signature) of \(id) reverted: \(reason)") }
            return try ABI.decode(types, r.returnData)
        }
        func job(_ id: Hash32) throws -> [String: ABIValue] {
            guard case .tuple(let fields) = try view("getJob(bytes32)", id, [Jobs.jobType])[0] else { throw CommandError("bench setup: getJob is malformed") }
            return Dictionary(uniqueKeysWithValues: zip(Jobs.jobFieldNames, fields))
        }
        func waitFor(_ status: JobStatus, _ ids: [Hash32]) throws {
            for _ in 0..<200 {
                if try ids.allSatisfy({ try job($0)["status"]?.uintValue == UInt256(UInt64(status.rawValue)) }) { return }
                try block()
            }
            let statuses = try ids.map { try job($0)["status"]?.uintValue?.uint64 ?? 0 }
            throw CommandError("bench setup: the jobs did not reach \(status) within 200 blocks (statuses \(Set(statuses).sorted()))")
        }

        // Jobs requested, assigned, accepted, committed, their committees drawn, every member committed.
        let fee = opg, verificationFee = opg
        let ids = try (0..<jobCount).map { n -> Hash32 in
            let request = JobRequest(modelId: model, input: Array("input \(n)".utf8), verificationClass: .attestedOnly, maxFee: fee * 2,
                                     verificationFee: verificationFee, deadline: 10_000)
            try send(requester, try request.calldata(), value: fee * 2 + verificationFee)
            return Jobs.jobId(chainId: chainId, requester: requester.address, nonce: UInt256(UInt64(n)))
        }
        try block()
        try waitFor(.assigned, ids)
        // A few results per block: with 344 results in one block some jobs were still `committed`
        // 200 blocks later (their committee draws did not happen; reported, not looked into here).
        for (n, id) in ids.enumerated() {
            try send(provider, try ABI.encodeCall("acceptJob(bytes32,uint256)", [.fixedBytes(id.bytes), .uint(fee)]), value: fee * 2)
            try send(provider, try JobResult(jobId: id, output: Array("output".utf8), traceRoot: .zero).calldata())
            if n % 4 == 3 { try block() }
        }
        try block()
        try waitFor(.attesting, ids)
        var reveals: [AttestationReveal] = []
        for id in ids {
            let j = try job(id)
            func hash(_ name: String) throws -> Hash32 { try Hash32(j[name]?.bytesValue ?? []) }
            let attestation = Attestation(jobId: id, modelId: model, inputHash: try hash("inputHash"), outputHash: try hash("outputHash"),
                                          traceRoot: try hash("traceRoot"), verdict: .valid, epoch: j["epoch"]?.uintValue?.uint64 ?? 0)
            let digest = attestation.digest(chainId: chainId)
            guard case .array(let members) = try view("getCommittee(bytes32)", id, Jobs.committeeTypes)[0] else {
                throw CommandError("bench setup: getCommittee is malformed")
            }
            for verifier in verifiers where members.contains(.address(verifier.address)) {
                let salt = Keccak256.hash(id.bytes + verifier.address.bytes)
                let commitment = Attestation.commitment(digest: digest, salt: salt, verifier: verifier.address)
                try send(verifier, try ABI.encodeCall("commitAttestation(bytes32,bytes32)", [.fixedBytes(id.bytes), .fixedBytes(commitment.bytes)]))
                reveals.append(AttestationReveal(jobId: id, verifier: verifier.address, verdict: .valid, salt: salt,
                                                 signature: attestation.signature(key: verifier, chainId: chainId)))
            }
        }
        try block()

        // The block under test: every reveal, `perTransaction` to a transaction.
        var candidates: [SignedTransaction] = []
        for start in stride(from: 0, to: reveals.count, by: perTransaction) {
            let batch = reveals[start..<min(start + perTransaction, reveals.count)].map(\.abiValue)
            let data = try ABI.encodeCall("revealAttestations((bytes32,address,uint8,bytes32,bytes)[])", [.array(batch)])
            let nonce = nonces[revealer.address, default: 0]
            nonces[revealer.address] = nonce + 1
            candidates.append(try Transaction(type: .dynamicFee, chainId: chainId, nonce: nonce, maxPriorityFeePerGas: UInt256(1),
                                              maxFeePerGas: UInt256(1_000_000), gasLimit: 60_000_000, to: Jobs.address, value: .zero, data: data,
                                              accessList: []).signed(with: revealer))
        }
        let head = chain.head
        let proposal = try chain.builder.propose(parent: head, candidates: candidates, timestamp: head.timestamp + 1, coinbase: DevNet.validatorKey.address)
        guard proposal.block.transactions.count == candidates.count, proposal.results.allSatisfy(\.success) else {
            throw CommandError("bench: the reveal block holds \(proposal.block.transactions.count) of \(candidates.count) transactions, "
                               + "reverts: \(proposal.results.compactMap(\.revertReason).prefix(3))")
        }
        let header = proposal.block.header, raws = proposal.block.transactions.map(\.raw)

        guard let peer = opg_recover_peer_create(Int32(reveals.count)) else { throw CommandError("bench: the C peer could not be set up") }
        defer { opg_recover_peer_destroy(peer) }
        func peerRate() throws -> Double {
            let rate = opg_recover_peer_rate(peer, Int32(cores))
            guard rate > 0 else { throw CommandError("bench: the C peer failed to recover its signatures") }
            return rate
        }
        func rate(_ chain: ChainService) throws -> Double {
            Double(reveals.count) / (try Bench.seconds { _ = try chain.verify(header: header, rawTransactions: raws) })
        }
        var serialRates: [Double] = [], aheadRates: [Double] = [], bounds: [Double] = []
        for round in 0..<rounds {
            let before = try peerRate()
            if round % 2 == 0 {
                serialRates.append(try rate(serialChain))
                aheadRates.append(try rate(chain))
            } else {
                aheadRates.append(try rate(chain))
                serialRates.append(try rate(serialChain))
            }
            bounds.append((before + (try peerRate())) / 2)
        }
        func median(_ values: [Double]) -> Double {
            let s = values.sorted()
            return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        }
        func ratio(_ rates: [Double]) -> String {
            let ratios = zip(rates, bounds).map { $0 / $1 }
            return String(format: "%.2f (%.2f–%.2f)", median(ratios), ratios.min()!, ratios.max()!)
        }
        FileHandle.standardError.write(Data("bench-attestations: \(hookNotes.count) end-block hook notes (agenda carry-over in the setup) not shown\n".utf8))
        print("\(reveals.count) reveals (\(jobCount) jobs × \(committee) verifiers) in \(candidates.count) transactions of \(perTransaction), "
              + "\(cores) cores, median of \(rounds) rounds (ratio range in brackets)")
        print("")
        print("| measurement | signatures per second | peer | peer per second | ratio |")
        print("|---|---:|---|---:|---:|")
        let bound = String(format: "%.0f", median(bounds))
        for (what, rates) in [("recovered in order on one core", serialRates), ("each call's recovered ahead on \(cores) threads", aheadRates)] {
            print("| reveal block validated, signatures \(what) | " + String(format: "%.0f", median(rates))
                  + " | \(cores)-core ecrecover bound: C loop, \(cores) threads | \(bound) | \(ratio(rates)) |")
        }
    }
}

/// Counts the chain's notices (`AttestationBench`); thread-safe.
private final class NoteCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var total = 0

    /// One more notice.
    func add() { lock.withLock { total += 1 } }

    /// Notices so far.
    var count: Int { lock.withLock { total } }
}
