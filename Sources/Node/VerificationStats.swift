import JSON
import Modules
import Primitives

/// The integer arithmetic of `opg_verificationStats` (docs/rpc.md, "Verification
/// statistics"): percentiles, ratios and growth in basis points, the largest vote share
/// and the Nakamoto coefficient. No floating point, so every node answers the same digits.
public enum StatsMath {
    /// The nearest-rank percentile `p` (1…100) of `values`: the value at rank ⌈p × n / 100⌉
    /// (1-based) of the values in ascending order; nil when there are none.
    public static func percentile(_ values: [UInt64], _ p: UInt64) -> UInt64? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let n = UInt64(sorted.count)
        let rank = max(1, (p * n + 99) / 100)
        return sorted[Int(min(rank, n) - 1)]
    }

    /// `part / whole` in basis points (10,000 = all), rounded down; nil when `whole` is 0.
    public static func ratioBps(_ part: UInt64, _ whole: UInt64) -> UInt64? {
        whole == 0 ? nil : part * 10_000 / whole
    }

    /// The change from `previous` to `current` in basis points of `previous` (+10,000 =
    /// doubled, −10,000 = fell to zero), rounded toward zero; nil without a previous value
    /// or when it was 0 (growth from nothing has no ratio).
    public static func growthBps(current: UInt64, previous: UInt64?) -> Int64? {
        guard let previous, previous > 0 else { return nil }
        return (Int64(current) - Int64(previous)) * 10_000 / Int64(previous)
    }

    /// The largest of `weights` as basis points of their sum, rounded down; nil when the sum is 0.
    public static func largestShareBps(_ weights: [UInt256]) -> UInt64? {
        let total = weights.reduce(UInt256.zero, +)
        guard !total.isZero, let largest = weights.max() else { return nil }
        return (largest * UInt256(10_000) / total).uint64
    }

    /// The Nakamoto coefficient of `weights`: the fewest holders whose weights together are
    /// more than a third of the sum — enough, on average, to keep any committee from the
    /// two-thirds quorum (docs/verification.md). Nil when the sum is 0.
    public static func nakamotoCoefficient(_ weights: [UInt256]) -> UInt64? {
        let total = weights.reduce(UInt256.zero, +)
        guard !total.isZero else { return nil }
        var held = UInt256.zero, count: UInt64 = 0
        for weight in weights.sorted(by: >) {
            held += weight
            count += 1
            if held * UInt256(3) > total { break }
        }
        return count
    }
}

/// What a job requested in the range had come to at the range's last block: the fields of
/// `opg_getJob` the statistics read.
public struct JobOutcome: Sendable, Equatable {
    public var status: JobStatus
    public var requestedAt: UInt64
    /// A provider was drawn (a refund with one drawn is a provider timeout).
    public var providerDrawn: Bool
    /// 1 after a redraw.
    public var round: UInt64
    /// Block of the committee's verdict: a valid quorum (its `challengeEnd` less the
    /// challenge window) or an invalid one (the dispute the committee opened); nil without one.
    public var verdictBlock: UInt64?
    /// True when the verdict was valid.
    public var verdictValid: Bool
    /// Block the job was settled in (0 while unsettled).
    public var settledAt: UInt64
    /// A dispute record exists (a challenge, or an invalid quorum).
    public var disputed: Bool
    /// What the dispute game decided about the provider's result: true = it was right, false
    /// = it was wrong; nil while the dispute is open or when it settled undecided.
    public var providerRight: Bool?

    /// An outcome; see the fields.
    public init(status: JobStatus, requestedAt: UInt64, providerDrawn: Bool, round: UInt64 = 0, verdictBlock: UInt64? = nil,
                verdictValid: Bool = false, settledAt: UInt64 = 0, disputed: Bool = false, providerRight: Bool? = nil) {
        self.status = status
        self.requestedAt = requestedAt
        self.providerDrawn = providerDrawn
        self.round = round
        self.verdictBlock = verdictBlock
        self.verdictValid = verdictValid
        self.settledAt = settledAt
        self.disputed = disputed
        self.providerRight = providerRight
    }

    /// Still on its way to a verdict or a settlement.
    public var isPending: Bool { [.requested, .assigned, .accepted, .committed, .attesting].contains(status) }
    /// The dispute game decided the dispute (the provider was right or wrong).
    public var disputeResolved: Bool { disputed && providerRight != nil }
    /// A decided dispute that went against the committee: its verdict was valid and the
    /// provider was wrong, or invalid and the provider was right.
    public var overturned: Bool { disputeResolved && verdictBlock != nil && verdictValid != providerRight }
    /// Refunded after the drawn provider missed its accept window or its deadline.
    public var isTimeout: Bool { status == .refunded && providerDrawn }
}

/// The figures of one slice of blocks (an epoch, or the whole range), gathered block by
/// block by `VerificationStatsRPC` and turned into JSON by `json`.
public struct VerificationTally: Sendable {
    /// In-block inference calls (the precompile's `ModelInferenceEvent`s).
    public var inferenceCalls: UInt64 = 0
    /// Callers of those inferences and requesters of jobs.
    public var callers = Set<Address>()
    /// Requesters of jobs.
    public var requesters = Set<Address>()
    /// Jobs requested in the slice, as they stood at the range's last block.
    public var jobs: [JobOutcome] = []
    /// Attestations revealed (`AttestationRevealed`).
    public var attestations: UInt64 = 0
    /// Providers that accepted a job or committed a result.
    public var providers = Set<Address>()
    /// Verifiers that committed or revealed an attestation.
    public var verifiers = Set<Address>()
    /// Each verifier's vote weight summed over its revealed attestations.
    public var voteWeight: [Address: UInt256] = [:]
    /// The staking module's `Slashed` and `Jailed` events.
    public var slashes: UInt64 = 0, jailings: UInt64 = 0

    /// An empty tally.
    public init() {}

    /// Jobs plus in-block inference calls.
    public var calls: UInt64 { UInt64(jobs.count) + inferenceCalls }

    /// Adds `other`'s figures (the whole range is the sum of its epochs).
    public mutating func add(_ other: VerificationTally) {
        inferenceCalls += other.inferenceCalls
        callers.formUnion(other.callers)
        requesters.formUnion(other.requesters)
        jobs += other.jobs
        attestations += other.attestations
        providers.formUnion(other.providers)
        verifiers.formUnion(other.verifiers)
        for (verifier, weight) in other.voteWeight { voteWeight[verifier, default: .zero] += weight }
        slashes += other.slashes
        jailings += other.jailings
    }

    /// Blocks from `start` to `end` (0 if a record ever put them the other way round).
    static func blocks(from start: UInt64, to end: UInt64) -> UInt64 { end > start ? end - start : 0 }

    /// The figures as JSON (docs/rpc.md lists each); `previous` is the epoch before, for growth.
    public func json(previous: VerificationTally? = nil) -> JSONObject {
        let pending = UInt64(jobs.filter(\.isPending).count)
        let decided = UInt64(jobs.count) - pending
        let verdicts = UInt64(jobs.filter { $0.verdictBlock != nil }.count)
        let disputes = jobs.filter(\.disputed)
        let resolved = UInt64(disputes.filter(\.disputeResolved).count)
        let overturned = UInt64(disputes.filter(\.overturned).count)
        let refunds = UInt64(jobs.filter { $0.status == .refunded }.count)
        let timeouts = UInt64(jobs.filter(\.isTimeout).count)
        let unverified = UInt64(jobs.filter { $0.status == .unverified }.count)
        let weights = Array(voteWeight.values)
        let totalWeight = weights.reduce(UInt256.zero, +)
        func optional<N: BinaryInteger>(_ n: N?) -> JSONValue { n.map { JSONValue.int($0) } ?? .null }
        func blocks(_ values: [UInt64]) -> JSONValue {
            .object(["count": .int(values.count), "median": optional(StatsMath.percentile(values, 50)),
                     "p90": optional(StatsMath.percentile(values, 90))])
        }
        let jobCount = UInt64(jobs.count), disputeCount = UInt64(disputes.count)
        let finalized = jobs.filter { $0.status == .finalized }
        var o = JSONObject()
        o["jobs"] = .int(jobCount)
        o["inferenceCalls"] = .int(inferenceCalls)
        o["calls"] = .int(calls)
        o["callsGrowthBps"] = optional(StatsMath.growthBps(current: calls, previous: previous?.calls))
        o["jobsGrowthBps"] = optional(StatsMath.growthBps(current: jobCount, previous: previous.map { UInt64($0.jobs.count) }))
        o["uniqueCallers"] = .int(callers.count)
        o["uniqueRequesters"] = .int(requesters.count)
        o["attestations"] = .int(attestations)
        o["activeProviders"] = .int(providers.count)
        o["activeVerifiers"] = .int(verifiers.count)
        o["voteWeight"] = .string(totalWeight.hexQuantity)
        o["largestVoteShareBps"] = optional(StatsMath.largestShareBps(weights))
        o["nakamotoCoefficient"] = optional(StatsMath.nakamotoCoefficient(weights))
        o["pending"] = .int(pending)
        o["decided"] = .int(decided)
        o["verdicts"] = .int(verdicts)
        o["coverageBps"] = optional(StatsMath.ratioBps(verdicts, decided))
        o["timeToQuorum"] = blocks(jobs.compactMap { job in job.verdictBlock.map { Self.blocks(from: job.requestedAt, to: $0) } })
        o["timeToFinality"] = blocks(finalized.map { Self.blocks(from: $0.requestedAt, to: $0.settledAt) })
        o["finalized"] = .int(finalized.count)
        o["disputes"] = .int(disputeCount)
        o["disputeRateBps"] = optional(StatsMath.ratioBps(disputeCount, verdicts))
        o["disputesResolved"] = .int(resolved)
        o["overturned"] = .int(overturned)
        o["overturnRateBps"] = optional(StatsMath.ratioBps(overturned, resolved))
        o["refunds"] = .int(refunds)
        o["refundRateBps"] = optional(StatsMath.ratioBps(refunds, decided))
        o["timeouts"] = .int(timeouts)
        o["timeoutRateBps"] = optional(StatsMath.ratioBps(timeouts, decided))
        o["unverified"] = .int(unverified)
        o["redraws"] = .int(jobs.filter { $0.round > 0 }.count)
        o["slashes"] = .int(slashes)
        o["jailings"] = .int(jailings)
        return o
    }
}
