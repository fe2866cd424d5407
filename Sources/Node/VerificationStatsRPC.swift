import Chain
import JSON
import Modules
import Primitives
import RPC

/// `opg_verificationStats(fromBlock, toBlock)` (docs/rpc.md, "Verification statistics"):
/// the verification network's vital signs per staking epoch and over the range, computed
/// from chain data only — the receipts of the range's blocks (the jobs module's and the
/// staking module's events, the inference precompile's `ModelInferenceEvent`s) and job
/// records read at the state after `toBlock`, so the answer for a range never changes once
/// its blocks exist. No index: the range is bounded like `eth_getLogs`', and the scan reads
/// each block's receipts once (docs/rpc.md gives the measured cost).
public final class VerificationStatsRPC {
    /// Most blocks one call may span (`eth_getLogs`' limit).
    public static let maxBlocks: UInt64 = 10_000

    private let chain: ChainService
    private let models: ModelRPC
    private let requested, accepted, resultCommitted, attestationCommitted, attestationRevealed, slashed, jailed: Hash32

    /// The method over `chain`, reading states through `models`' readers.
    public init(chain: ChainService, models: ModelRPC) {
        self.chain = chain
        self.models = models
        let jobs = Jobs(models: ModelRegistry()), staking = Staking()
        requested = Self.topic(jobs, "JobRequested")
        accepted = Self.topic(jobs, "JobAccepted")
        resultCommitted = Self.topic(jobs, "ResultCommitted")
        attestationCommitted = Self.topic(jobs, "AttestationCommitted")
        attestationRevealed = Self.topic(jobs, "AttestationRevealed")
        slashed = Self.topic(staking, "Slashed")
        jailed = Self.topic(staking, "Jailed")
    }

    /// Registers the method on `dispatcher`, which keeps this object alive.
    public func register(on dispatcher: RPCDispatcher) {
        dispatcher.register("opg_verificationStats") { [self] p in
            try p.expect(atMost: 2)
            let from = try p.uint64(0, "fromBlock"), to = try p.uint64(1, "toBlock")
            guard from <= to else { throw RPCError.invalidParams("1: toBlock \(to) is before fromBlock \(from)") }
            guard to - from < Self.maxBlocks else { throw RPCError(code: -32005, message: "query exceeds max block range \(Self.maxBlocks)") }
            guard let reader = try models.reader(number: to) else {
                throw RPCError.invalidParams("1: toBlock \(to) is past the head (\(models.reader().head.number))")
            }
            return try stats(from: from, to: to, reader)
        }
    }

    /// Topic 0 of the event `name` that `module` declares.
    private static func topic(_ module: NativeModule, _ name: String) -> Hash32 {
        ABI.eventTopic(module.events.first { $0.hasPrefix(name + "(") } ?? name)
    }

    private func stats(from: UInt64, to: UInt64, _ reader: ModelRPC.Reader) throws -> JSONValue {
        let epochBlocks = try Explorer.epochBlocks(reader)
        guard epochBlocks > 0 else { throw RPCError.internalError("the staking module's epochBlocks is 0") }
        let load = { reader.state.storage(of: InferencePrecompile.reservedAddress, slot: $0) }
        var epochs: [(epoch: UInt64, from: UInt64, to: UInt64, tally: VerificationTally)] = []
        var challengeBlocks: UInt64?
        var committees: [Hash32: [String: UInt256]] = [:]  // (job, block) → member weights, looked up only
        for number in from...to {
            if epochs.last?.epoch != number / epochBlocks { epochs.append((number / epochBlocks, number, number, VerificationTally())) }
            var tally = epochs[epochs.count - 1].tally
            for log in (try chain.database.receipts(number: number) ?? []).flatMap(\.logs) {
                guard let topic = log.topics.first else { continue }
                if log.address == InferencePrecompile.reservedAddress && topic == InferencePrecompile.modelInferenceTopic {
                    tally.inferenceCalls += 1
                    tally.callers.insert(try InferenceRPC.record(of: log, block: number, load: load).caller)
                } else if log.address == Jobs.address, log.topics.count >= 3 {
                    let id = log.topics[1], account = Address(word: log.topics[2])
                    if topic == requested {
                        tally.requesters.insert(account)
                        tally.callers.insert(account)
                        tally.jobs.append(outcome(try JobsRPC.jobJSON(id, reader), reader, &challengeBlocks))
                    } else if topic == accepted || topic == resultCommitted {
                        tally.providers.insert(account)
                    } else if topic == attestationCommitted {
                        tally.verifiers.insert(account)
                    } else if topic == attestationRevealed {
                        tally.verifiers.insert(account)
                        tally.attestations += 1
                        let key = Keccak256.hash(id.bytes + UInt256(number).bigEndianBytes32)
                        if committees[key] == nil { committees[key] = try committee(of: id, before: number) }
                        tally.voteWeight[account, default: .zero] += committees[key]?[account.checksummed] ?? .zero
                    }
                } else if log.address == Staking.address {
                    if topic == slashed { tally.slashes += 1 }
                    if topic == jailed { tally.jailings += 1 }
                }
            }
            epochs[epochs.count - 1].tally = tally
            epochs[epochs.count - 1].to = number
        }
        var total = VerificationTally()
        var epochJSON: [JSONValue] = []
        for (i, slice) in epochs.enumerated() {
            total.add(slice.tally)
            var o: JSONObject = ["epoch": .int(slice.epoch), "fromBlock": .int(slice.from), "toBlock": .int(slice.to)]
            for (key, value) in slice.tally.json(previous: i > 0 ? epochs[i - 1].tally : nil).members { o[key] = value }
            epochJSON.append(.object(o))
        }
        var totalJSON = total.json()
        totalJSON["callsGrowthBps"] = nil  // growth is between epochs
        totalJSON["jobsGrowthBps"] = nil
        return .object(["fromBlock": .int(from), "toBlock": .int(to), "epochBlocks": .int(epochBlocks),
                        "total": .object(totalJSON), "epochs": .array(epochJSON), "verifierStake": try verifierStake(reader)])
    }

    /// `{verifiers, stake, largestShareBps, nakamotoCoefficient}` of the stake of the operators
    /// registered as verifiers at `reader`'s block, neither jailed nor tombstoned, with stake:
    /// the power behind the votes, beside the weight actually cast.
    private func verifierStake(_ reader: ModelRPC.Reader) throws -> JSONValue {
        let count = try ABI.decode([.uint(256)], reader.view(at: Staking.address, "operatorCount()", []))[0].uintValue?.uint64 ?? 0
        var stakes: [UInt256] = []
        for index in 0..<count {
            let output = try reader.view(at: Staking.address, "operatorAt(uint256)", [.uint(UInt256(index))])
            let record = try StakingRPC.operatorJSON(try ABI.decode([.address], output)[0].addressValue ?? .zero, reader)
            guard record["role"] == .string(OperatorRole.verifier.name), record["jailed"] == .bool(false), record["tombstoned"] == .bool(false),
                  let stake = try record["stake"]?.stringValue.map({ try UInt256(hexQuantity: $0) }), !stake.isZero else { continue }
            stakes.append(stake)
        }
        return .object(["verifiers": .int(stakes.count), "stake": .string(stakes.reduce(UInt256.zero, +).hexQuantity),
                        "largestShareBps": StatsMath.largestShareBps(stakes).map { .int($0) } ?? .null,
                        "nakamotoCoefficient": StatsMath.nakamotoCoefficient(stakes).map { .int($0) } ?? .null])
    }

    /// A job's record (`opg_getJob`'s JSON at the range's last block) as the statistics see it.
    private func outcome(_ job: JSONValue, _ reader: ModelRPC.Reader, _ challengeBlocks: inout UInt64?) -> JobOutcome {
        func number(_ key: String, in value: JSONValue? = nil) -> UInt64 { UInt64((value ?? job)[key]?.numberValue?.text ?? "") ?? 0 }
        var outcome = JobOutcome(status: JobStatus(name: job["status"]?.stringValue ?? "") ?? .none, requestedAt: number("requestedAt"),
                                 providerDrawn: job["provider"] != .null, round: number("round"), settledAt: number("settledAt"),
                                 disputed: job["dispute"] != .null)
        let challengeEnd = number("challengeEnd")
        if challengeEnd != 0 {
            if challengeBlocks == nil { challengeBlocks = Explorer.jobsBlockParameters(reader)?.first { $0.name == "challengeBlocks" }?.blocks }
            outcome.verdictBlock = challengeEnd - min(challengeEnd, challengeBlocks ?? 0)
            outcome.verdictValid = true
        } else if let dispute = job["dispute"], dispute != .null, dispute["challenger"] == .null {
            outcome.verdictBlock = number("openedAt", in: dispute)
        }
        switch job["dispute"]?["state"]?.stringValue {
        case "providerRight": outcome.providerRight = true
        case "providerWrong": outcome.providerRight = false
        default: break  // open, undecided, or no dispute
        }
        return outcome
    }

    /// The vote weights of the committee that attestations revealed in block `number` count
    /// for: the job's committee at the state after the block before (a redraw happens in a
    /// block's end hook, after its transactions), keyed by checksummed address.
    private func committee(of id: Hash32, before number: UInt64) throws -> [String: UInt256] {
        guard number > 0, let reader = try models.reader(number: number - 1),
              case .array(let members)? = try JobsRPC.jobJSON(id, reader)["committee"] else { return [:] }
        var weights: [String: UInt256] = [:]
        for member in members {
            guard let address = member["address"]?.stringValue, let weight = member["weight"]?.stringValue else { continue }
            weights[address] = try? UInt256(hexQuantity: weight)
        }
        return weights
    }
}
