import Chain
import Primitives

/// The end-block agenda (draws and timeouts), the draws and settlement
/// (docs/verification.md, "Draws", "Timeouts", "Settlement").
extension Jobs {
    // MARK: Agenda

    /// The newest agenda rules this node implements (`JobsParameters.agendaVersion`).
    public static let latestAgendaVersion: UInt64 = 2

    /// The agenda rules of this block: the genesis version from its first block, version 1
    /// before it and on a chain whose genesis wrote no version.
    func agendaVersion(_ context: NativeCallContext) throws -> UInt64 {
        let version = try context.loadWord(Slot.agendaVersion).uint64 ?? 1
        let from = try context.loadWord(Slot.agendaVersionFrom).uint64 ?? .max
        return version >= 2 && context.block.number >= from ? version : 1
    }

    /// Puts the job on the agenda of block `target` (at the earliest the next block) and
    /// records that block in the job. Version 1 walks on to the first block whose agenda
    /// has room for it (at most `agendaCapacity` items); version 2 appends at constant gas,
    /// since its hook carries whatever it cannot handle forward.
    func schedule(_ id: Hash32, _ base: Hash32, at target: UInt64, _ context: NativeCallContext) throws {
        var block = Swift.max(target, context.block.number + 1)
        let bounded = try agendaVersion(context) == 1
        while true {
            let list = try context.mappingSlot(Slot.agenda, key: Hash32(word: UInt256(block)))
            if try !bounded || context.loadWord(list) < UInt256(Self.agendaCapacity) {
                try context.store(id, at: try context.pushArrayElement(list))
                try set(base, .agendaBlock, block, context)
                return
            }
            block += 1
        }
    }

    /// Handles the agenda by the rules of the block's `agendaVersion`.
    public func endBlock(_ context: NativeCallContext) throws {
        if try agendaVersion(context) == 1 { try endBlockVersion1(context) } else { try endBlockVersion2(context) }
    }

    /// Version 1: handles this block's agenda in the order the items were scheduled. An
    /// item whose job has moved on (its `agendaBlock` is another block) is skipped. When
    /// less than `itemGasReserve` of the hook's gas is left, the remaining items move to
    /// the next blocks' agendas. Any item's failure fails the whole hook, whose changes
    /// are undone: the block's agenda is then never handled (the liveness bug version 2
    /// fixes; kept so that blocks made under it replay to the same state).
    private func endBlockVersion1(_ context: NativeCallContext) throws {
        let list = try context.mappingSlot(Slot.agenda, key: Hash32(word: UInt256(context.block.number)))
        let count = try context.loadWord(list).uint64 ?? 0
        guard count > 0 else { return }
        let params = try parameters(context)
        for i in 0..<count {
            let slot = try context.arrayElementSlot(list, index: UInt256(i))
            let id = try context.load(slot)
            try context.store(.zero, at: slot)
            let base = try jobSlot(id, context)
            guard try number(base, .agendaBlock, context) == context.block.number else { continue }
            if context.gasLeft < Self.itemGasReserve {
                try schedule(id, base, at: context.block.number + 1, context)
            } else {
                try act(id, base, params, context)
            }
        }
        try context.storeWord(.zero, at: list)
    }

    /// Version 2: handles the agendas of every block from the carried cursor up to this
    /// one, oldest first and each in scheduling order, skipping items whose job has moved
    /// on. When less than `itemGasReserve` is left, it stores the cursor (block and index)
    /// and stops: the rest waits for the next block at constant gas. Each item runs in its
    /// own snapshot (`handle`), so one item's failure undoes that item only.
    private func endBlockVersion2(_ context: NativeCallContext) throws {
        let now = context.block.number
        let carried = try context.loadWord(Slot.agendaCursorBlock).uint64 ?? 0
        var block = carried == 0 ? now : Swift.min(carried, now)
        var index = try carried == 0 ? 0 : context.loadWord(Slot.agendaCursorIndex).uint64 ?? 0
        var params: JobsParameters?
        while block <= now {
            let list = try context.mappingSlot(Slot.agenda, key: Hash32(word: UInt256(block)))
            let count = try context.loadWord(list).uint64 ?? 0
            while index < count {
                guard context.gasLeft >= Self.itemGasReserve else {
                    context.note("\(count - index) items of block \(block)'s jobs agenda (and any after it) carried to the next block")
                    return try carry(block, index, context)
                }
                let slot = try context.arrayElementSlot(list, index: UInt256(index))
                let id = try context.load(slot)
                try context.store(.zero, at: slot)
                index += 1
                let base = try jobSlot(id, context)
                guard try number(base, .agendaBlock, context) == block else { continue }
                if params == nil { params = try parameters(context) }
                try handle(id, base, params!, context)
            }
            if count > 0 { try context.storeWord(.zero, at: list) }
            block += 1
            index = 0
        }
        try carry(now + 1, 0, context)
    }

    /// Stores the agenda cursor (writing only what changed).
    private func carry(_ block: UInt64, _ index: UInt64, _ context: NativeCallContext) throws {
        if try context.loadWord(Slot.agendaCursorBlock) != UInt256(block) { try context.storeWord(UInt256(block), at: Slot.agendaCursorBlock) }
        if try context.loadWord(Slot.agendaCursorIndex) != UInt256(index) { try context.storeWord(UInt256(index), at: Slot.agendaCursorIndex) }
    }

    /// Acts on one item in a snapshot with all but `carryGasReserve` of the hook's gas. A
    /// failure (a revert, or running out of that gas) undoes the item only; it is counted
    /// in the job's `agendaFailures` and noted for the node's log. An item that failed is
    /// put on the next block's agenda again (a new draw seed, staking changes or more gas
    /// may let it through); after `agendaAttempts` failures the job is settled by
    /// `fallBack` instead, which draws nothing and only pays out what the job holds in
    /// escrow. A fall-back that fails too (only broken escrow books could make it) takes
    /// the job off the agenda, noted, rather than retrying for ever.
    private func handle(_ id: Hash32, _ base: Hash32, _ params: JobsParameters, _ context: NativeCallContext) throws {
        let failures = try number(base, .agendaFailures, context)
        let current = try status(base, context)
        let fallingBack = failures >= Self.agendaAttempts
        let reason = context.attempt(gasCap: context.gasLeft - Self.carryGasReserve) {
            if fallingBack { try fallBack(id, base, current, params, context) } else { try act(id, base, params, context) }
        }
        if fallingBack {
            let settled = "settled as \(try status(base, context).name)"
            context.note("job \(id) (\(current.name)): agenda item failed \(failures) times; "
                         + (reason.map { "settling it failed (\($0)); it is off the agenda" } ?? settled))
        }
        guard let reason else { return }
        try set(base, .agendaFailures, failures + 1, context)
        if fallingBack { return try set(base, .agendaBlock, UInt64(0), context) }
        context.note("job \(id) (\(current.name)): agenda item failed (\(reason)); tried again in the next block")
        try schedule(id, base, at: context.block.number + 1, context)
    }

    /// The settlement of an item that keeps failing: what its timeout would end in without
    /// any further draw. Before a result: a refund (with the no-result penalty once the
    /// provider accepted); with a result: settled unverified; in a dispute: undecided.
    private func fallBack(_ id: Hash32, _ base: Hash32, _ status: JobStatus, _ params: JobsParameters, _ context: NativeCallContext) throws {
        switch status {
        case .requested, .assigned: try refund(id, base, penaltyBps: 0, context)
        case .accepted: try refund(id, base, penaltyBps: params.timeoutPenaltyBps, context)
        case .committed, .attesting: _ = try settle(id, base, verified: false, context)
        case .disputed: try settleDispute(id, base, .undecided, context)
        default: try set(base, .agendaBlock, UInt64(0), context)
        }
    }

    private func act(_ id: Hash32, _ base: Hash32, _ params: JobsParameters, _ context: NativeCallContext) throws {
        switch try status(base, context) {
        case .requested: try drawProvider(id, base, params, context)
        case .assigned: try refund(id, base, penaltyBps: 0, context)  // no accept
        case .accepted: try refund(id, base, penaltyBps: params.timeoutPenaltyBps, context)  // no result by the deadline
        case .committed: try drawCommittee(id, base, params, context)
        case .attesting: try decide(id, base, params, atRevealEnd: true, context)
        case .disputed: try resolveDisputeAtDeadline(id, base, context)
        default: break
        }
    }

    // MARK: Draws

    /// keccak256(tag ‖ uint256 chainId ‖ jobId ‖ parent block hash): the seed of a draw made
    /// in this block's hook.
    static func seed(_ tag: [UInt8], chainId: UInt64, jobId: Hash32, blockHash: Hash32) -> Hash32 {
        Keccak256.hash(tag + UInt256(chainId).bigEndianBytes32 + jobId.bytes + blockHash.bytes)
    }

    /// Draws up to `count` distinct candidates, stake-weighted without replacement: draw i
    /// takes r = keccak256(seed ‖ uint256 i) mod (remaining stake) and picks the candidate
    /// whose cumulative stake interval holds r, in the candidates' order.
    public static func weightedDraw(_ candidates: [(address: Address, stake: UInt256)], count: Int, seed: Hash32)
        -> [(address: Address, stake: UInt256)] {
        var remaining = candidates.filter { !$0.stake.isZero }
        var picked: [(address: Address, stake: UInt256)] = []
        while picked.count < count, !remaining.isEmpty {
            let total = remaining.reduce(UInt256.zero) { $0 + $1.stake }
            var r = UInt256(word: Keccak256.hash(seed.bytes + UInt256(UInt64(picked.count)).bigEndianBytes32)) % total
            var index = 0
            while r >= remaining[index].stake {
                r -= remaining[index].stake
                index += 1
            }
            picked.append(remaining.remove(at: index))
        }
        return picked
    }

    /// Vote weights: the stakes, the largest lowered to a common cap c so that no member
    /// holds more than `capBps` of the total after capping, when that is possible (k × cap
    /// ≥ 100%); c = capBps × R / (10000 − m × capBps) for the m capped members and the sum R
    /// of the others (integer division).
    public static func cappedWeights(_ stakes: [UInt256], capBps: UInt64) -> [UInt256] {
        guard UInt64(stakes.count) * capBps >= 10_000 else { return stakes }
        let order = stakes.indices.sorted { stakes[$0] > stakes[$1] || (stakes[$0] == stakes[$1] && $0 < $1) }
        let total = stakes.reduce(UInt256.zero, +)
        var rest = total
        for m in 0..<stakes.count {
            let top = stakes[order[m]]
            let denominator = 10_000 - UInt64(m) * capBps
            let cap = m == 0 ? total * UInt256(capBps) / UInt256(10_000) : rest * UInt256(capBps) / UInt256(denominator)
            if top <= cap {
                guard m > 0 else { return stakes }
                var weights = stakes
                for j in 0..<m { weights[order[j]] = cap }
                return weights
            }
            rest -= top
            if UInt64(m + 1) * capBps >= 10_000 { break }
        }
        // Every member capped: equal weights.
        return stakes.map { _ in .one }
    }

    private func drawProvider(_ id: Hash32, _ base: Hash32, _ params: JobsParameters, _ context: NativeCallContext) throws {
        let model = String(decoding: try context.loadBytes(field(base, .modelId)), as: UTF8.self)
        let epoch = try currentEpoch(context)
        let candidates = try eligible(model, .provider, epoch, context)
        let seed = Self.seed(Self.providerTag, chainId: context.block.chainId, jobId: id, blockHash: context.block.parentHash)
        guard let provider = Self.weightedDraw(candidates, count: 1, seed: seed).first else {
            try refund(id, base, penaltyBps: 0, context)
            return
        }
        try context.storeAddress(provider.address, at: field(base, .provider))
        try set(base, .acceptBy, context.block.number + params.acceptBlocks, context)
        try setStatus(base, .assigned, context)
        try schedule(id, base, at: context.block.number + params.acceptBlocks, context)
    }

    private func drawCommittee(_ id: Hash32, _ base: Hash32, _ params: JobsParameters, _ context: NativeCallContext) throws {
        let model = String(decoding: try context.loadBytes(field(base, .modelId)), as: UTF8.self)
        let epoch = try currentEpoch(context)
        let provider = try context.loadAddress(field(base, .provider))
        let candidates = try eligible(model, .verifier, epoch, context).filter { $0.address != provider }
        let seed = Self.seed(Self.committeeTag, chainId: context.block.chainId, jobId: id, blockHash: context.block.parentHash)
        let drawn = Self.weightedDraw(candidates, count: Int(params.committeeSize), seed: seed)
        guard !drawn.isEmpty else {
            _ = try settle(id, base, verified: false, context)
            return
        }
        let weights = Self.cappedWeights(drawn.map(\.stake), capBps: params.voteCapBps)
        let round = try number(base, .round, context)
        let list = field(base, .committee)
        try context.storeWord(.zero, at: list)
        for (member, weight) in zip(drawn, weights) {
            try context.storeAddress(member.address, at: try context.pushArrayElement(list))
            try context.storeWord(weight, at: offset(try memberSlot(id, round: round, member.address, context), MemberField.weight.rawValue))
        }
        for f in [Field.validWeight, .invalidWeight, .committedCount, .revealedCount] { try set(base, f, UInt256.zero, context) }
        try set(base, .committeeWeight, weights.reduce(UInt256.zero, +), context)
        try set(base, .epoch, epoch, context)
        let commitEnd = context.block.number + params.attestCommitBlocks
        try set(base, .commitEnd, commitEnd, context)
        try set(base, .revealEnd, commitEnd + params.attestRevealBlocks, context)
        try setStatus(base, .attesting, context)
        try schedule(id, base, at: commitEnd + params.attestRevealBlocks, context)
    }

    /// The staking module's eligible operators; none when staking refuses (a chain without
    /// staking parameters). Running out of gas is not a refusal: it propagates.
    private func eligible(_ model: String, _ role: OperatorRole, _ epoch: UInt64,
                          _ context: NativeCallContext) throws -> [(address: Address, stake: UInt256)] {
        do { return try Staking.eligibleOperators(model: model, role: role, epoch: epoch, context: context) } catch is NativeRevert {
            if context.gasLeft == 0 { throw NativeCallContext.OutOfGas() }
            return []
        }
    }

    /// The staking epoch of this block (0 on a chain without staking, where nobody is eligible).
    private func currentEpoch(_ context: NativeCallContext) throws -> UInt64 {
        do { return context.block.number / (try Staking.parameters(context: context)).epochBlocks } catch is NativeRevert {
            if context.gasLeft == 0 { throw NativeCallContext.OutOfGas() }
            return 0
        }
    }

    // MARK: Quorum

    /// The newest settlement rules this node implements (`JobsParameters.settlementVersion`).
    public static let latestSettlementVersion: UInt64 = 2

    /// The settlement rules of this block: the genesis version from its first block, version
    /// 1 before it and on a chain whose genesis wrote no version.
    func settlementVersion(_ context: NativeCallContext) throws -> UInt64 {
        let version = try context.loadWord(Slot.settlementVersion).uint64 ?? 1
        let from = try context.loadWord(Slot.settlementVersionFrom).uint64 ?? .max
        return version >= 2 && context.block.number >= from ? version : 1
    }

    /// After a reveal call: decides the round once every member has committed and revealed.
    func decideIfComplete(_ id: Hash32, _ base: Hash32, _ context: NativeCallContext) throws {
        let size = try context.loadWord(field(base, .committee)).uint64 ?? 0
        guard try number(base, .revealedCount, context) == size else { return }
        try decide(id, base, try parameters(context), atRevealEnd: false, context)
    }

    /// Quorum: valid weight ≥ 2/3 of the committee's → challenge window (settlement version
    /// 2 with a window of 0: finalized at once, in the same call); invalid weight ≥ 2/3 → a
    /// dispute opened by the committee; otherwise (at the reveal deadline, or when everyone
    /// has revealed) a redraw in round 0, settlement as unverified in round 1.
    private func decide(_ id: Hash32, _ base: Hash32, _ params: JobsParameters, atRevealEnd: Bool, _ context: NativeCallContext) throws {
        let total = try word(base, .committeeWeight, context)
        let valid = try word(base, .validWeight, context)
        let invalid = try word(base, .invalidWeight, context)
        if valid * UInt256(3) >= total * UInt256(2) {
            let end = context.block.number + params.challengeBlocks
            try set(base, .challengeEnd, end, context)
            try set(base, .agendaBlock, UInt64(0), context)
            try setStatus(base, .challengeable, context)
            if context.transaction != nil { try context.emit(topics: [SignatureCache.topic(Event.quorumReached), id], data: UInt256(end).bigEndianBytes32) }
            if params.challengeBlocks == 0, try settlementVersion(context) >= 2 { try finalizeNow(id, base, context) }
        } else if invalid * UInt256(3) >= total * UInt256(2) {
            try set(base, .agendaBlock, UInt64(0), context)
            try openDispute(id, base, challenger: .zero, bond: .zero, context)
        } else if try number(base, .round, context) == 0 {
            try set(base, .round, UInt64(1), context)
            try setStatus(base, .committed, context)
            try schedule(id, base, at: context.block.number + 3, context)
        } else {
            _ = try settle(id, base, verified: false, context)
        }
    }

    // MARK: Settlement

    /// What a settlement paid.
    struct Payout {
        var provider = UInt256.zero, verifiers = UInt256.zero, burned = UInt256.zero, refunded = UInt256.zero
    }

    /// Refunds the requester's fees and returns the provider's collateral less
    /// `penaltyBps` of it, which goes to the requester.
    private func refund(_ id: Hash32, _ base: Hash32, penaltyBps: UInt64, _ context: NativeCallContext) throws {
        let requester = try context.loadAddress(field(base, .requester))
        let collateral = try word(base, .collateral, context)
        let penalty = try Self.share(collateral, penaltyBps)
        try context.releaseEscrow(try word(base, .maxFee, context) + (try word(base, .verificationFee, context)) + penalty, to: requester)
        if collateral > penalty { try context.releaseEscrow(collateral - penalty, to: try context.loadAddress(field(base, .provider))) }
        try finish(base, .refunded, context)
    }

    /// Pays a committed job: the provider its share and its collateral, the burn share
    /// burned, the requester the rest of the max fee; when `verified`, the majority
    /// verifiers (revealed `valid`, not equivocating) share the verifier share plus the
    /// verification fee by weight (what division leaves is burned), otherwise the
    /// requester gets those back and the result is labelled unverified.
    func settle(_ id: Hash32, _ base: Hash32, verified: Bool, _ context: NativeCallContext) throws -> Payout {
        let params = try parameters(context)
        let fee = try word(base, .fee, context)
        let requester = try context.loadAddress(field(base, .requester))
        let provider = try context.loadAddress(field(base, .provider))
        var pay = Payout()
        pay.provider = try Self.share(fee, params.providerShareBps)
        let pool = try Self.share(fee, params.verifierShareBps) + (try word(base, .verificationFee, context))
        pay.burned = fee - pay.provider - (try Self.share(fee, params.verifierShareBps))
        pay.refunded = try word(base, .maxFee, context) - fee
        if verified {
            let round = try number(base, .round, context)
            var majority: [(Address, UInt256)] = []
            for member in try committee(base, context) {
                let record = try memberSlot(id, round: round, member, context)
                guard try context.loadWord(offset(record, MemberField.verdict.rawValue)) == UInt256(UInt64(Verdict.valid.rawValue)),
                      try context.loadWord(offset(record, MemberField.equivocated.rawValue)).isZero else { continue }
                majority.append((member, try context.loadWord(offset(record, MemberField.weight.rawValue))))
            }
            let weight = majority.reduce(UInt256.zero) { $0 + $1.1 }
            for (member, w) in majority where !weight.isZero {
                let amount = pool * w / weight
                if !amount.isZero { try context.releaseEscrow(amount, to: member) }
                pay.verifiers += amount
            }
            pay.burned += pool - pay.verifiers
        } else {
            pay.refunded += pool
        }
        try context.releaseEscrow(pay.provider + (try word(base, .collateral, context)), to: provider)
        if !pay.refunded.isZero { try context.releaseEscrow(pay.refunded, to: requester) }
        if !pay.burned.isZero { try context.burnEscrow(pay.burned) }
        try finish(base, verified ? .finalized : .unverified, context)
        return pay
    }

    func finish(_ base: Hash32, _ status: JobStatus, _ context: NativeCallContext) throws {
        try setStatus(base, status, context)
        try set(base, .agendaBlock, UInt64(0), context)
        try set(base, .settledAt, context.block.number, context)
    }
}
