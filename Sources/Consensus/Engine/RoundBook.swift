import Primitives

/// Everything received in one round of one height: the proposal, one prevote and one precommit
/// per validator (indexed like the validator set, never a map that is iterated), power tallies by
/// block, and which of the once-only rules have fired.
struct RoundBook {
    /// The proposal of the round's proposer (the first one received; a second is ignored).
    var proposal: SignedProposal?
    private(set) var prevotes: [SignedVote?]
    private(set) var precommits: [SignedVote?]
    private var prevoteTally: [Hash32?: UInt64] = [:]
    private var precommitTally: [Hash32?: UInt64] = [:]
    /// Power of all prevotes received.
    private(set) var prevotePower: UInt64 = 0
    /// Power of all precommits received.
    private(set) var precommitPower: UInt64 = 0
    private var sent: [Bool]
    /// Power of the validators that sent any message in this round (line 55).
    private(set) var senderPower: UInt64 = 0
    private var equivocated: [Bool]

    /// Line 34 fired (prevote timeout scheduled).
    var prevoteTimeoutScheduled = false
    /// Line 36 fired (lock / valid value updated).
    var polRuleFired = false
    /// Line 47 fired (precommit timeout scheduled).
    var precommitTimeoutScheduled = false

    init(validatorCount: Int) {
        prevotes = [SignedVote?](repeating: nil, count: validatorCount)
        precommits = prevotes
        sent = [Bool](repeating: false, count: validatorCount)
        equivocated = sent
    }

    /// What adding a vote did.
    enum AddResult: Equatable {
        case added
        case duplicate
        /// The validator already voted for another block here: the two votes.
        case conflict(SignedVote, SignedVote)
    }

    /// Records a vote from the validator at `index` with `power`.
    mutating func add(_ vote: SignedVote, index: Int, power: UInt64) -> AddResult {
        let existing = vote.vote.type == .prevote ? prevotes[index] : precommits[index]
        if let existing {
            if existing.vote.blockHash == vote.vote.blockHash { return .duplicate }
            if equivocated[index] { return .duplicate }
            equivocated[index] = true
            return .conflict(existing, vote)
        }
        if vote.vote.type == .prevote {
            prevotes[index] = vote
            prevoteTally[vote.vote.blockHash, default: 0] += power
            prevotePower += power
        } else {
            precommits[index] = vote
            precommitTally[vote.vote.blockHash, default: 0] += power
            precommitPower += power
        }
        markSender(index, power: power)
        return .added
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

    /// The precommits for `block`, in validator order.
    func precommitVotes(for block: Hash32) -> [SignedVote] {
        precommits.compactMap { $0 }.filter { $0.vote.blockHash == block }
    }
}
