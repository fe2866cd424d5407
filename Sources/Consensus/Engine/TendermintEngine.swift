import Primitives

/// The Tendermint consensus algorithm as a pure state machine: Algorithm 1 of Buchman, Kwon and
/// Milosevic, "The latest gossip on BFT consensus" (arXiv 1807.04938), line by line.
///
/// No clock, no I/O, no keys: ``startHeight(_:validators:)`` and ``handle(_:)`` take inputs and
/// return ``EngineEffect``s (sign and broadcast, schedule a timeout, ask the application to build
/// or check a value, decide). The same inputs in the same order always give the same effects,
/// which is what WAL replay and the deterministic simulation rely on.
///
/// After every input the upon-rules are evaluated to a fixpoint in this fixed priority; after any
/// rule fires evaluation restarts from the top:
///  1. line 49 — decide (a proposal and +2/3 precommits for it in any round),
///  2. line 55 — round skip (+1/3 of power sent messages in a higher round; the highest such round),
///  3. lines 22 / 28 — prevote on the round's proposal (mutually exclusive by its POL round),
///  4. line 36 — lock / valid value on a proposal with +2/3 prevotes,
///  5. line 44 — precommit nil on +2/3 prevotes for nil,
///  6. line 34 — schedule the prevote timeout on +2/3 prevotes of any kind,
///  7. line 47 — schedule the precommit timeout on +2/3 precommits of any kind.
/// Timeouts (lines 57, 61, 65) are inputs, handled when they arrive and followed by the same evaluation.
public struct TendermintEngine {
    /// Messages for rounds further ahead than this are dropped (they would make proposer lookup slow).
    public static let maxRoundsAhead: UInt32 = 10_000

    /// Our consensus address, or nil for an observer that never signs.
    public let me: Address?
    /// The timeout configuration.
    public let timeouts: TimeoutConfig

    /// h_p.
    public private(set) var height: UInt64 = 0
    /// The validators of `height`.
    public private(set) var validators: ValidatorSet
    /// round_p.
    public private(set) var round: UInt32 = 0
    /// step_p.
    public private(set) var step: Step = .propose
    /// lockedValue_p.
    public private(set) var lockedValue: ProposalValue?
    /// lockedRound_p (nil for −1).
    public private(set) var lockedRound: UInt32?
    /// validValue_p.
    public private(set) var validValue: ProposalValue?
    /// validRound_p (nil for −1).
    public private(set) var validRound: UInt32?
    /// decision_p[h_p].
    public private(set) var decision: Decision?

    private var books: [UInt32: RoundBook] = [:]
    private var validity: [ValueKey: Bool] = [:]
    private var validationRequested: Set<ValueKey> = []
    private var proposedBlocks: Set<Hash32> = []
    private var proposedInRound = false
    private var valueRequested = false
    private var commitPauseSkipped = false
    private var nextHeightMessages: [ConsensusMessage] = []
    private var ownMessages: [ConsensusMessage] = []
    private var effects: [EngineEffect] = []

    /// Creates an engine; nothing happens until ``startHeight(_:validators:)``.
    public init(me: Address?, validators: ValidatorSet, timeouts: TimeoutConfig) {
        self.me = me
        self.validators = validators
        self.timeouts = timeouts
    }

    // MARK: - Inputs

    /// Starts consensus instance `height` with its validator set (line 10: `upon start do StartRound(0)`),
    /// then processes messages for it that arrived while the previous height was finishing.
    public mutating func startHeight(_ height: UInt64, validators: ValidatorSet) -> [EngineEffect] {
        self.height = height
        self.validators = validators
        lockedValue = nil; lockedRound = nil; validValue = nil; validRound = nil
        decision = nil
        commitPauseSkipped = false
        books = [:]
        validity = [:]
        validationRequested = []
        proposedBlocks = []
        ownMessages = []
        startRound(0)
        schedule(.rebroadcast, round: 0)
        let early = nextHeightMessages
        nextHeightMessages = []
        for message in early where message.height == height { receive(message) }
        evaluateRules()
        return takeEffects()
    }

    /// Processes one input and returns the effects, in order.
    public mutating func handle(_ input: EngineInput) -> [EngineEffect] {
        switch input {
        case .message(let m):
            receive(m)
        case .timeout(let t):
            onTimeout(t)
        case .validity(let h, let key, let valid):
            if h == height { validity[key] = valid }
        case .proposalValue(let h, let r, let value):
            if h == height, r == round, step == .propose, !proposedInRound, decision == nil, isProposer(r) {
                validity[value.key] = true
                propose(value)
            }
        case .certifiedDecision(let value, let certificate):
            if certificate.height == height, decision == nil, value.blockHash == certificate.blockHash {
                decide(value, certificate: certificate)
            }
        }
        evaluateRules()
        return takeEffects()
    }

    // MARK: - Algorithm 1

    /// StartRound(round), lines 11–21.
    private mutating func startRound(_ r: UInt32) {
        round = r
        step = .propose
        proposedInRound = false
        valueRequested = false
        if isProposer(r) {
            if let v = validValue {
                propose(v)
            } else {
                valueRequested = true
                effects.append(.requestValue(height: height, round: r))
            }
        } else {
            schedule(.propose, round: r)
        }
    }

    /// Line 17: broadcast ⟨PROPOSAL, h_p, round_p, proposal, validRound_p⟩. A proposal with a POL
    /// round is followed by the +2/3 prevotes that justify it (the paper assumes gossip delivers
    /// every message eventually; a peer that missed those prevotes could otherwise never accept it).
    private mutating func propose(_ value: ProposalValue) {
        guard let me else { return }
        proposedInRound = true
        effects.append(.signAndBroadcast(.proposal(Proposal(height: height, round: round, polRound: validRound, value: value, proposer: me))))
        let justification = proofOfLock(round: validRound, block: value.blockHash)
        if !justification.isEmpty { effects.append(.rebroadcast(justification)) }
    }

    /// The prevotes for `block` in `round` that we hold.
    private func proofOfLock(round: UInt32?, block: Hash32) -> [ConsensusMessage] {
        guard let round, let book = books[round] else { return [] }
        return book.prevoteVotes(for: block).map { .vote($0) }
    }

    private mutating func broadcastVote(_ type: VoteType, _ block: Hash32?) {
        guard let me, validators.index(of: me) != nil else { return }
        effects.append(.signAndBroadcast(.vote(Vote(type: type, height: height, round: round, blockHash: block, validator: me))))
    }

    /// Lines 57–64 and 65–67, plus the commit pause and re-broadcast.
    private mutating func onTimeout(_ t: Timeout) {
        guard t.height == height else { return }
        switch t.kind {
        case .propose:
            if decision == nil, t.round == round, step == .propose {
                broadcastVote(.prevote, nil)
                step = .prevote
            }
        case .prevote:
            if decision == nil, t.round == round, step == .prevote {
                broadcastVote(.precommit, nil)
                step = .precommit
            }
        case .precommit:
            if decision == nil, t.round == round { startRound(round + 1) }
        case .commit:
            if decision != nil { effects.append(.heightCompleted(height)) }
        case .rebroadcast:
            let latest = latestOwnMessages()
            if !latest.isEmpty { effects.append(.rebroadcast(latest)) }
            schedule(.rebroadcast, round: round)
        }
    }

    /// Records a message of this height (or keeps one of the next height for later).
    private mutating func receive(_ message: ConsensusMessage) {
        if message.height == height + 1 {
            if nextHeightMessages.count < validators.count * 8 { nextHeightMessages.append(message) }
            return
        }
        if let decided = decision {
            if message.height == height { countLatePrecommit(message, decided: decided) }
            return
        }
        guard message.height == height,
              message.round <= round.addingReportingOverflow(Self.maxRoundsAhead).partialValue,
              let index = validators.index(of: message.signer) else { return }
        if message.signer == me { rememberOwn(message) }
        let power = validators.validators[index].power
        var book = books[message.round] ?? RoundBook(validatorCount: validators.count)
        switch message {
        case .proposal(let p):
            guard book.proposal == nil, validators.proposer(round: p.proposal.round).address == p.proposal.proposer else { return }
            book.proposal = p
            book.markSender(index, power: power)
            let block = p.proposal.value.blockHash
            if proposedBlocks.insert(block).inserted {
                let set = validators
                for r in books.keys.sorted() where r != message.round {
                    books[r]!.countParked(for: block) { set.validators[$0].power }
                }
                book.countParked(for: block) { set.validators[$0].power }
            }
            let key = p.proposal.value.key
            if validity[key] == nil, !validationRequested.contains(key) {
                validationRequested.insert(key)
                effects.append(.requestValidation(height: height, value: p.proposal.value))
            }
        case .vote(let v):
            let counts = v.vote.blockHash.map { proposedBlocks.contains($0) } ?? true
            if case .conflict(let a, let b) = book.add(v, index: index, power: power, countsIfConflicting: counts) {
                effects.append(.evidence(DuplicateVoteEvidence(a, b)))
            }
        }
        books[message.round] = book
    }

    /// Evaluates the upon-rules in their fixed priority until none fires.
    private mutating func evaluateRules() {
        while decision == nil {
            if ruleDecide() || ruleRoundSkip() || ruleProposal() || rulePOL() || rulePrecommitNil()
                || rulePrevoteTimeout() || rulePrecommitTimeout() { continue }
            break
        }
    }

    /// Line 49: ⟨PROPOSAL, h_p, r, v, ∗⟩ from proposer(h_p, r) AND 2f + 1 ⟨PRECOMMIT, h_p, r, id(v)⟩ while decision_p[h_p] = nil.
    private mutating func ruleDecide() -> Bool {
        for r in books.keys.sorted() {
            guard let book = books[r], let p = book.proposal else { continue }
            let v = p.proposal.value
            guard book.precommits(for: v.blockHash) >= validators.quorumPower, validity[v.key] == true else { continue }
            let signatures = book.precommitVotes(for: v.blockHash).map {
                CommitCertificate.Signature(validator: $0.vote.validator, signature: $0.signature)
            }
            let certificate = CommitCertificate(height: height, round: r, blockHash: v.blockHash, signatures: signatures)
            decide(v, certificate: certificate)
            return true
        }
        return false
    }

    /// Lines 50–54 (the next height is started by the driver after the commit pause).
    private mutating func decide(_ value: ProposalValue, certificate: CommitCertificate) {
        let d = Decision(height: height, value: value, certificate: certificate)
        decision = d
        effects.append(.decide(d))
        schedule(.commit, round: certificate.round)
        skipCommitPauseIfAllPrecommitted()
    }

    /// A precommit for the decided block in the decision round that arrives after the decision:
    /// counted only when the commit pause may end early (``TimeoutConfig/skipCommitPause``).
    private mutating func countLatePrecommit(_ message: ConsensusMessage, decided: Decision) {
        guard timeouts.skipCommitPause, !commitPauseSkipped, case .vote(let v) = message, v.vote.type == .precommit,
              v.vote.round == decided.certificate.round, v.vote.blockHash == decided.value.blockHash,
              let index = validators.index(of: message.signer), var book = books[v.vote.round] else { return }
        if message.signer == me { rememberOwn(message) }
        if case .conflict(let a, let b) = book.add(v, index: index, power: validators.validators[index].power, countsIfConflicting: true) {
            effects.append(.evidence(DuplicateVoteEvidence(a, b)))
        }
        books[v.vote.round] = book
        skipCommitPauseIfAllPrecommitted()
    }

    /// Ends the commit pause when every validator's precommit for the decided block is in and
    /// ``TimeoutConfig/skipCommitPause`` is on: the height is complete now, not at the commit timeout.
    private mutating func skipCommitPauseIfAllPrecommitted() {
        guard timeouts.skipCommitPause, !commitPauseSkipped, let d = decision, let book = books[d.certificate.round],
              book.precommits(for: d.value.blockHash) >= validators.totalPower else { return }
        commitPauseSkipped = true
        effects.append(.heightCompleted(height))
    }

    /// Line 55: f + 1 ⟨∗, h_p, round, ∗, ∗⟩ with round > round_p → StartRound(round).
    private mutating func ruleRoundSkip() -> Bool {
        guard let target = books.keys.filter({ $0 > round && books[$0]!.senderPower >= validators.oneThirdPower }).max() else {
            return false
        }
        startRound(target)
        return true
    }

    /// Lines 22 and 28: the round's proposal while step_p = propose.
    private mutating func ruleProposal() -> Bool {
        guard step == .propose, let p = books[round]?.proposal?.proposal else { return false }
        let v = p.value
        guard let valid = validity[v.key] else { return false }
        if let vr = p.polRound {
            // Line 28: needs 2f + 1 ⟨PREVOTE, h_p, vr, id(v)⟩ with vr < round_p.
            guard vr < round, let pol = books[vr], pol.prevotes(for: v.blockHash) >= validators.quorumPower else { return false }
            let acceptable = valid && (lockedRound.map { $0 <= vr } ?? true || lockedValue == v)
            broadcastVote(.prevote, acceptable ? v.blockHash : nil)
        } else {
            // Line 22.
            let acceptable = valid && (lockedRound == nil || lockedValue == v)
            broadcastVote(.prevote, acceptable ? v.blockHash : nil)
        }
        step = .prevote
        return true
    }

    /// Line 36: proposal and 2f + 1 ⟨PREVOTE, h_p, round_p, id(v)⟩ while valid(v) ∧ step_p ≥ prevote, for the first time.
    private mutating func rulePOL() -> Bool {
        guard step >= .prevote, var book = books[round], !book.polRuleFired, let p = book.proposal?.proposal,
              validity[p.value.key] == true, book.prevotes(for: p.value.blockHash) >= validators.quorumPower else { return false }
        book.polRuleFired = true
        books[round] = book
        if step == .prevote {
            lockedValue = p.value
            lockedRound = round
            broadcastVote(.precommit, p.value.blockHash)
            step = .precommit
        }
        validValue = p.value
        validRound = round
        return true
    }

    /// Line 44: 2f + 1 ⟨PREVOTE, h_p, round_p, nil⟩ while step_p = prevote.
    private mutating func rulePrecommitNil() -> Bool {
        guard step == .prevote, let book = books[round], book.prevotes(for: nil) >= validators.quorumPower else { return false }
        broadcastVote(.precommit, nil)
        step = .precommit
        return true
    }

    /// Line 34: 2f + 1 ⟨PREVOTE, h_p, round_p, ∗⟩ while step_p = prevote, for the first time.
    private mutating func rulePrevoteTimeout() -> Bool {
        guard step == .prevote, var book = books[round], !book.prevoteTimeoutScheduled,
              book.prevotePower >= validators.quorumPower else { return false }
        book.prevoteTimeoutScheduled = true
        books[round] = book
        schedule(.prevote, round: round)
        return true
    }

    /// Line 47: 2f + 1 ⟨PRECOMMIT, h_p, round_p, ∗⟩ for the first time.
    private mutating func rulePrecommitTimeout() -> Bool {
        guard var book = books[round], !book.precommitTimeoutScheduled, book.precommitPower >= validators.quorumPower else { return false }
        book.precommitTimeoutScheduled = true
        books[round] = book
        schedule(.precommit, round: round)
        return true
    }

    // MARK: - Helpers

    private func isProposer(_ r: UInt32) -> Bool {
        me != nil && validators.proposer(round: r).address == me
    }

    private mutating func schedule(_ kind: Timeout.Kind, round r: UInt32) {
        effects.append(.scheduleTimeout(Timeout(kind: kind, height: height, round: r), millis: timeouts.millis(kind, round: r)))
    }

    /// Keeps our own signed messages of the height (what re-broadcast sends).
    private mutating func rememberOwn(_ message: ConsensusMessage) {
        if !ownMessages.contains(message) { ownMessages.append(message) }
    }

    /// Our proposal of the current round (with its proof of lock) and our latest prevote and precommit of the height.
    private func latestOwnMessages() -> [ConsensusMessage] {
        var proposal: ConsensusMessage?, prevote: ConsensusMessage?, precommit: ConsensusMessage?
        for m in ownMessages {
            switch m {
            case .proposal(let p) where p.proposal.round == round: proposal = m
            case .proposal: break
            case .vote(let v) where v.vote.type == .prevote: if prevote.map({ $0.round <= m.round }) ?? true { prevote = m }
            case .vote: if precommit.map({ $0.round <= m.round }) ?? true { precommit = m }
            }
        }
        var latest = [proposal, prevote, precommit].compactMap { $0 }
        if case .proposal(let p)? = proposal { latest += proofOfLock(round: p.proposal.polRound, block: p.proposal.value.blockHash) }
        return latest
    }

    private mutating func takeEffects() -> [EngineEffect] {
        defer { effects = [] }
        return effects
    }
}
