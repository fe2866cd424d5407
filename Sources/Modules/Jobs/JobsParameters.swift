import Chain
import Primitives

/// The jobs module's genesis parameters (genesis `jobs`, docs/verification.md,
/// "Parameters"). They live in the module's storage slots 0…11, written at genesis, so a
/// proof of the state proves them too; a chain whose genesis wrote none refuses every job.
public struct JobsParameters: Equatable, Sendable {
    /// Blocks a drawn provider has to accept (default 20).
    public var acceptBlocks: UInt64
    /// Blocks a drawn committee has to commit its attestations (default 10).
    public var attestCommitBlocks: UInt64
    /// Blocks after the commit phase for reveals (default 10).
    public var attestRevealBlocks: UInt64
    /// Blocks between quorum and `finalize` in which anyone may challenge (default 150; 0 allowed).
    public var challengeBlocks: UInt64
    /// Committee size k (default 3).
    public var committeeSize: UInt64
    /// Largest share of the committee's weight one member's vote carries, in basis points
    /// (default 5,000: with k = 3 no member reaches the 2/3 quorum alone).
    public var voteCapBps: UInt64
    /// Collateral a provider locks at `acceptJob`, as basis points of its fee (default 20,000 = 2×).
    public var collateralBps: UInt64
    /// Share of the collateral paid to the requester when the provider commits no result
    /// by the deadline (default 5,000 = 50%).
    public var timeoutPenaltyBps: UInt64
    /// The provider's share of the fee (default 8,500).
    public var providerShareBps: UInt64
    /// The majority verifiers' share of the fee (default 1,000), on top of the verification fee.
    public var verifierShareBps: UInt64
    /// The share of the fee burned (default 500). The three shares sum to 10,000.
    public var burnShareBps: UInt64
    /// The bond a challenger sends with `challenge` (default 100 OPG).
    public var challengeBond: UInt256
    /// The end-block agenda's rules (docs/verification.md, "Agenda"): 1, a per-block list
    /// of at most `Jobs.agendaCapacity` items whose leftovers walk to later blocks, or 2
    /// (default), unbounded lists handled from a carried cursor with every item isolated.
    /// Not one of the `parameters()` words: it lives in slots 18 and 19.
    public var agendaVersion: UInt64 = Jobs.latestAgendaVersion
    /// The first block that runs `agendaVersion` (default 0); version 1 runs before it.
    public var agendaVersionFromBlock: UInt64 = 0
    /// The settlement rules (docs/verification.md, "Settlement"): 1, a job that reaches
    /// its quorum always waits for a `finalize` transaction, or 2 (default), with a
    /// challenge window of 0 the quorum settles the job in the same call. Not one of the
    /// `parameters()` words: it lives in slots 28 and 29.
    public var settlementVersion: UInt64 = Jobs.latestSettlementVersion
    /// The first block that runs `settlementVersion` (default 0); version 1 runs before it.
    public var settlementVersionFromBlock: UInt64 = 0

    /// The defaults above.
    public static let `default` = JobsParameters(
        acceptBlocks: 20, attestCommitBlocks: 10, attestRevealBlocks: 10, challengeBlocks: 150, committeeSize: 3, voteCapBps: 5_000,
        collateralBps: 20_000, timeoutPenaltyBps: 5_000, providerShareBps: 8_500, verifierShareBps: 1_000, burnShareBps: 500,
        challengeBond: StakingParameters.opg * 100)

    /// Sets every parameter.
    public init(acceptBlocks: UInt64, attestCommitBlocks: UInt64, attestRevealBlocks: UInt64, challengeBlocks: UInt64,
                committeeSize: UInt64, voteCapBps: UInt64, collateralBps: UInt64, timeoutPenaltyBps: UInt64,
                providerShareBps: UInt64, verifierShareBps: UInt64, burnShareBps: UInt64, challengeBond: UInt256) {
        self.acceptBlocks = acceptBlocks
        self.attestCommitBlocks = attestCommitBlocks
        self.attestRevealBlocks = attestRevealBlocks
        self.challengeBlocks = challengeBlocks
        self.committeeSize = committeeSize
        self.voteCapBps = voteCapBps
        self.collateralBps = collateralBps
        self.timeoutPenaltyBps = timeoutPenaltyBps
        self.providerShareBps = providerShareBps
        self.verifierShareBps = verifierShareBps
        self.burnShareBps = burnShareBps
        self.challengeBond = challengeBond
    }

    /// How many words the parameters take (slots 0…11).
    static let wordCount = 12

    /// The parameters' words, slot 0 first (the order of `parameters()`'s outputs).
    public var words: [UInt256] {
        [acceptBlocks, attestCommitBlocks, attestRevealBlocks, challengeBlocks, committeeSize, voteCapBps, collateralBps, timeoutPenaltyBps,
         providerShareBps, verifierShareBps, burnShareBps].map { UInt256($0) } + [challengeBond]
    }

    /// Parameters from their words; nil when an integer does not fit 64 bits or the
    /// words are all zero (no jobs genesis).
    init?(words w: [UInt256]) {
        let small = w.prefix(11).compactMap(\.uint64)
        guard w.count == Self.wordCount, small.count == 11, small[4] > 0 else { return nil }
        self.init(acceptBlocks: small[0], attestCommitBlocks: small[1], attestRevealBlocks: small[2], challengeBlocks: small[3],
                  committeeSize: small[4], voteCapBps: small[5], collateralBps: small[6], timeoutPenaltyBps: small[7],
                  providerShareBps: small[8], verifierShareBps: small[9], burnShareBps: small[10], challengeBond: w[11])
    }

    /// The rule a parameter set breaks, if any.
    public func violation() -> String? {
        for (name, value) in [("acceptBlocks", acceptBlocks), ("attestCommitBlocks", attestCommitBlocks),
                              ("attestRevealBlocks", attestRevealBlocks)] where !(1...100_000).contains(value) {
            return "\(name): \(value) is not in 1…100000"
        }
        if challengeBlocks > 1_000_000 { return "challengeBlocks: \(challengeBlocks) is over 1000000" }
        if !(1...Jobs.maxCommitteeSize).contains(committeeSize) { return "committeeSize: \(committeeSize) is not in 1…\(Jobs.maxCommitteeSize)" }
        if !(1...10_000).contains(voteCapBps) { return "voteCapBps: \(voteCapBps) is not in 1…10000" }
        if collateralBps > 1_000_000 { return "collateralBps: \(collateralBps) is over 1000000" }
        if timeoutPenaltyBps > 10_000 { return "timeoutPenaltyBps: \(timeoutPenaltyBps) basis points is over 10000" }
        for (name, bps) in [("providerShareBps", providerShareBps), ("verifierShareBps", verifierShareBps), ("burnShareBps", burnShareBps)]
            where bps > 10_000 { return "\(name): \(bps) basis points is over 10000" }
        if !(1...Jobs.latestAgendaVersion).contains(agendaVersion) {
            return "agendaVersion: \(agendaVersion) is not a version this node implements (1…\(Jobs.latestAgendaVersion)); upgrade opgd"
        }
        if !(1...Jobs.latestSettlementVersion).contains(settlementVersion) {
            return "settlementVersion: \(settlementVersion) is not a version this node implements (1…\(Jobs.latestSettlementVersion)); upgrade opgd"
        }
        if providerShareBps + verifierShareBps + burnShareBps != 10_000 {
            return "providerShareBps + verifierShareBps + burnShareBps must be 10000, got \(providerShareBps + verifierShareBps + burnShareBps)"
        }
        return nil
    }

    /// The storage words the jobs module holds at genesis (its parameters).
    public func genesisStorage() throws -> [GenesisStorageWord] {
        if let violation = violation() { throw NativeRevert(violation) }
        return words.enumerated().map { GenesisStorageWord(address: Jobs.address, slot: .slot(UInt64($0.offset)), value: Hash32(word: $0.element)) }
            + [GenesisStorageWord(address: Jobs.address, slot: Jobs.Slot.agendaVersion, value: Hash32(word: UInt256(agendaVersion))),
               GenesisStorageWord(address: Jobs.address, slot: Jobs.Slot.agendaVersionFrom, value: Hash32(word: UInt256(agendaVersionFromBlock))),
               GenesisStorageWord(address: Jobs.address, slot: Jobs.Slot.settlementVersion, value: Hash32(word: UInt256(settlementVersion))),
               GenesisStorageWord(address: Jobs.address, slot: Jobs.Slot.settlementVersionFrom,
                                  value: Hash32(word: UInt256(settlementVersionFromBlock)))]
    }
}
