import Primitives

/// Everything received in one round of one height: the proposal, the votes by block (each
/// indexed like the validator set, never a map that is iterated), power tallies, and which of the
/// once-only rules have fired.
///
/// A validator that equivocates is counted for each block it voted for, as the paper counts
/// messages: otherwise the vote a node happened to receive first could hide a proof of lock that
/// every other node sees, and the network could stall. Beyond its first vote, an equivocator's
/// votes count only for nil and for blocks proposed at this height (the caller says which); the
/// latest vote for a block not (yet) proposed is parked, one per validator and type, and counted
/// if that block's proposal arrives. So an equivocator cannot fill memory with made-up blocks.
struct RoundBook {
    /// The proposal of the round's proposer (the first one received; a second is ignored).
    var proposal: SignedProposal?
    private var prevoteSlots: [Hash32?: [SignedVote?]] = [:]
    private var precommitSlots: [Hash32?: [SignedVote?]] = [:]
    private var prevoteTally: [Hash32?: UInt64] = [:]
    private var precommitTally: [Hash32?: UInt64] = [:]
    private var firstPrevote: [SignedVote?]
    private var firstPrecommit: [SignedVote?]
    private var conflicting: [Bool]
    private var parked: [SignedVote?]
    /// Power of the validators that prevoted (each once).
    private(set) var prevotePower: UInt64 = 0
    /// Power of the validators that precommitted (each once).
    private(set) var precommitPower: UInt64 = 0
    private var sent: [Bool]
    /// Power of the validators that sent any message in this round (line 55).
    private(set) var senderPower: UInt64 = 0

    /// Line 34 fired (prevote timeout scheduled).
    var prevoteTimeoutScheduled = false
    /// Line 36 fired (lock / valid value updated).
    var polRuleFired = false
    /// Line 47 fired (precommit timeout scheduled).
    var precommitTimeoutScheduled = false

    init(validatorCount: Int) {
        firstPrevote = [SignedVote?](repeating: nil, count: validatorCount)
        firstPrecommit = firstPrevote
        sent = [Bool](repeating: false, count: validatorCount)
        conflicting = [Bool](repeating: false, count: 2 * validatorCount)
        parked = [SignedVote?](repeating: nil, count: 2 * validatorCount)
    }

    /// What adding a vote did.
    enum AddResult: Equatable {
        case added
        case duplicate
        /// The validator already voted for another block here: the two votes (reported once per validator and type).
        case conflict(SignedVote, SignedVote)
    }

    /// Records a vote from the validator at `index` with `power`. `countsIfConflicting` says
    /// whether a second, different vote of the validator is still counted (nil or a proposed block).
    mutating func add(_ vote: SignedVote, index: Int, power: UInt64, countsIfConflicting: Bool) -> AddResult {
        let isPrevote = vote.vote.type == .prevote
        let block = vote.vote.blockHash
        let first = isPrevote ? firstPrevote[index] : firstPrecommit[index]
        var slots = (isPrevote ? prevoteSlots[block] : precommitSlots[block]) ?? [SignedVote?](repeating: nil, count: sent.count)
        if slots[index] != nil { return .duplicate }
        let conflictIndex = index * 2 + (isPrevote ? 0 : 1)
        if let first {
            let firstConflict = !conflicting[conflictIndex]
            conflicting[conflictIndex] = true
            if countsIfConflicting {
                count(vote, slots: &slots, index: index, power: power)
            } else {
                parked[conflictIndex] = vote
            }
            return firstConflict ? .conflict(first, vote) : .duplicate
        }
        count(vote, slots: &slots, index: index, power: power)
        if isPrevote {
            firstPrevote[index] = vote
            prevotePower += power
        } else {
            firstPrecommit[index] = vote
            precommitPower += power
        }
        markSender(index, power: power)
        return .added
    }

    private mutating func count(_ vote: SignedVote, slots: inout [SignedVote?], index: Int, power: UInt64) {
        let block = vote.vote.blockHash
        slots[index] = vote
        if vote.vote.type == .prevote {
            prevoteSlots[block] = slots
            prevoteTally[block, default: 0] += power
        } else {
            precommitSlots[block] = slots
            precommitTally[block, default: 0] += power
        }
    }

    /// Counts the parked votes for `block`, now that it has been proposed; `power` gives a validator's power by index.
    mutating func countParked(for block: Hash32, power: (Int) -> UInt64) {
        for i in parked.indices {
            guard let vote = parked[i], vote.vote.blockHash == block else { continue }
            parked[i] = nil
            var slots = (vote.vote.type == .prevote ? prevoteSlots[block] : precommitSlots[block])
                ?? [SignedVote?](repeating: nil, count: sent.count)
            if slots[i / 2] == nil { count(vote, slots: &slots, index: i / 2, power: power(i / 2)) }
        }
    }

    /// Records that the validator at `index` sent something in this round.
    mutating func markSender(_ index: Int, power: UInt64) {
        guard !sent[index] else { return }
        sent[index] = true
        senderPower += power
    }

    /// Power of prevotes for `block` (nil: prevotes for nil).
    func prevotes(for block: Hash32?) -> UInt64 { prevoteTally[block] ?? 0 }
    /// Power of precommits for `block` (nil: precommits for nil).
    func precommits(for block: Hash32?) -> UInt64 { precommitTally[block] ?? 0 }

    /// The prevotes for `block`, in validator order.
    func prevoteVotes(for block: Hash32) -> [SignedVote] { prevoteSlots[block]?.compactMap { $0 } ?? [] }
    /// The precommits for `block`, in validator order.
    func precommitVotes(for block: Hash32) -> [SignedVote] { precommitSlots[block]?.compactMap { $0 } ?? [] }
}
