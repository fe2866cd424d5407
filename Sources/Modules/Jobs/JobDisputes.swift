import Chain
import Inference
import Primitives

/// The dispute game (docs/verification.md, "Disputes"): a disputed exact job over a model
/// stored in the registry is re-executed whole inside the call (`resolveDispute`), traced,
/// and its output hash and trace root compared with the provider's commitment; the losing
/// side is slashed and the job settled. A dispute nobody resolves by `resolveBy` is
/// resolved by the end-block hook the same way when it can be, and settled undecided
/// (everyone's escrow returned, nobody slashed) when it cannot.
extension Jobs {
    /// Blocks from a dispute's opening in which anyone may resolve it by a transaction;
    /// at the last of them the end-block hook resolves it.
    public static let disputeBlocks: UInt64 = 100
    /// Share of a wrong provider's collateral paid to the side that proved it wrong (the
    /// challenger, or the committee members who voted invalid), and of a wrong challenger's
    /// bond paid to the provider; the rest is burned.
    public static let disputeRewardBps: UInt64 = 5_000

    /// What re-executing a disputed job found.
    enum Reexecution {
        /// The model ran: the output hash and trace root an honest provider commits.
        case result(outputHash: Hash32, traceRoot: Hash32)
        /// The job cannot be run at all (its input is not a canonical tensor list the model
        /// takes, or the kernel refuses it): nobody can be proven wrong.
        case unrunnable(String)
    }

    /// `resolveDispute(jobId, input)`: re-executes the job and settles its dispute. `input`
    /// is empty for a job whose input is inline, and the input bytes (keccak256 = the job's
    /// input hash) for one given by reference.
    func resolveDispute(_ id: Hash32, input: [UInt8], _ context: NativeCallContext) throws {
        let base = try existingJob(id, context)
        try requireStatus(id, base, .disputed, context)
        guard try number(base, .verificationClass, context) == UInt64(VerificationClass.exact.rawValue) else {
            let resolveBy = try disputeField(id, .resolveBy, context)
            throw NativeRevert("job \(id) is attested-only: the chain cannot re-execute it; its dispute settles undecided at block \(resolveBy)")
        }
        let bytes = try disputeInput(id, base, given: input, context)
        let outcome = try reexecute(base, input: bytes, gasCap: .max, context)
        try settleDispute(id, base, outcome, context)
    }

    /// At `resolveBy`, in the end-block hook: resolves by re-execution when the job's input
    /// is on chain and the run fits the hook's gas; otherwise, for an exact job over a
    /// stored model, by the node path (a provider that did not reveal its whole trace by
    /// `revealBy` loses, one that did wins: nobody proved a node wrong) — the same for a
    /// model registered by reference with a schedule root (reference version 2); otherwise
    /// undecided.
    func resolveDisputeAtDeadline(_ id: Hash32, _ base: Hash32, _ context: NativeCallContext) throws {
        guard try number(base, .verificationClass, context) == UInt64(VerificationClass.exact.rawValue) else {
            return try settleDispute(id, base, .undecided, context)
        }
        if let input = try context.blob(Self.blobKey(id, output: false)) {
            let cap = context.gasLeft > Self.itemGasReserve ? context.gasLeft - Self.itemGasReserve : 0
            do { return try settleDispute(id, base, try reexecute(base, input: input, gasCap: cap, context), context) } catch is NativeRevert {
                if context.gasLeft == 0 { throw NativeCallContext.OutOfGas() }
            }
        }
        let nodes: Int
        do { nodes = try storedSession(base, context).session.model.graph.nodes.count } catch is NativeRevert {
            if context.gasLeft == 0 { throw NativeCallContext.OutOfGas() }
            guard let reference = try disputableReference(base, context) else { return try settleDispute(id, base, .undecided, context) }
            nodes = Int(reference.nodeCount)
        }
        let revealed = try disputeField(id, .revealedPieces, context) == Self.pieceCount(nodes: nodes)
        try settleDispute(id, base, revealed ? .providerRight : .providerWrong, context)
    }

    /// The input bytes to run: the inline input, or the given bytes when the job's input is
    /// by reference (they must hash to its input hash).
    func disputeInput(_ id: Hash32, _ base: Hash32, given: [UInt8], _ context: NativeCallContext) throws -> [UInt8] {
        if let inline = try context.blob(Self.blobKey(id, output: false)) {
            guard given.isEmpty else { throw NativeRevert("job \(id)'s input is on chain: send empty input") }
            return inline
        }
        try context.chargeHashing(byteCount: given.count)
        let hash = Keccak256.hash(given)
        let wanted = try context.load(field(base, .inputHash))
        guard hash == wanted else {
            throw NativeRevert("the input sent hashes to \(hash), not the job's input hash \(wanted): send the input bytes the requester referenced")
        }
        return given
    }

    /// Runs the job's model on `input`, traced, charging its inference gas. Reverts
    /// (deciding nothing) when the model is not stored on chain, its cost depends on input
    /// values, or its gas is over the block's inference budget or `gasCap`.
    private func reexecute(_ base: Hash32, input: [UInt8], gasCap: UInt64, _ context: NativeCallContext) throws -> Reexecution {
        let (model, session) = try storedSession(base, context)
        let feeds: [String: Tensor]
        do { feeds = try Self.feeds(input, session) } catch let revert as NativeRevert { return .unrunnable(revert.reason) }
        let (cost, gas) = inference.sessions.gas(model.fileHash, session: session, inputShapes: feeds.mapValues(\.shape))
        guard cost.isStatic else {
            throw NativeRevert("model \(model.id): its cost depends on input values (\(cost.dynamicReason ?? "a shape is not fixed")), so it cannot be re-executed whole")
        }
        do { try session.limits.check(cost, context: "model \(model.id)") } catch { return .unrunnable("\(error)") }
        guard gas <= inference.blockGasBudget else {
            throw NativeRevert("re-executing model \(model.id) needs \(gas) inference gas, more than the block's inference budget of \(inference.blockGasBudget)")
        }
        guard gas <= gasCap else { throw NativeRevert("re-executing model \(model.id) needs \(gas) gas, more than the \(gasCap) left") }
        try context.useGas(gas)
        let trace: ExecutionTrace
        do { trace = try session.trace(feeds, options: RunOptions(threads: inference.threads)) } catch {
            return .unrunnable("the kernel refuses the job's input: \(error)")
        }
        return .result(outputHash: ExecutionTrace.outputHash(trace.outputs), traceRoot: trace.root)
    }

    // MARK: Settlement

    /// Settles a dispute by what re-execution found: the provider's commitment matches
    /// (provider right), differs (provider wrong), or the job cannot be run (undecided).
    private func settleDispute(_ id: Hash32, _ base: Hash32, _ outcome: Reexecution, _ context: NativeCallContext) throws {
        switch outcome {
        case .result(let outputHash, let traceRoot):
            let dispute = try context.mappingSlot(Slot.disputes, key: id)
            try context.store(outputHash, at: offset(dispute, DisputeField.outputHash.rawValue))
            try context.store(traceRoot, at: offset(dispute, DisputeField.traceRoot.rawValue))
            let committedOutput = try context.load(field(base, .outputHash)), committedTrace = try context.load(field(base, .traceRoot))
            try settleDispute(id, base, outputHash == committedOutput && traceRoot == committedTrace ? .providerRight : .providerWrong, context)
        case .unrunnable:
            try settleDispute(id, base, .undecided, context)
        }
    }

    /// Settles a dispute as `state` (providerWrong, providerRight or undecided), records
    /// when, and emits `DisputeResolved` in a transaction.
    func settleDispute(_ id: Hash32, _ base: Hash32, _ state: DisputeState, _ context: NativeCallContext) throws {
        let dispute = try context.mappingSlot(Slot.disputes, key: id)
        switch state {
        case .providerWrong: try providerWasWrong(id, base, dispute, context)
        case .providerRight: try providerWasRight(id, base, dispute, context)
        default: try undecided(id, base, dispute, context)
        }
        try freeStagedChunks(id, context)
        try context.storeWord(UInt256(UInt64(state.rawValue)), at: offset(dispute, DisputeField.state.rawValue))
        try context.storeWord(UInt256(context.block.number), at: offset(dispute, DisputeField.resolvedAt.rawValue))
        if context.transaction != nil {
            try context.emit(topics: [SignatureCache.topic(Event.disputeResolved), id], data: UInt256(UInt64(state.rawValue)).bigEndianBytes32)
        }
    }

    /// The committee members of the current round who revealed `verdict` and did not
    /// equivocate, with their weights, in draw order.
    private func voters(_ id: Hash32, _ base: Hash32, _ verdict: Verdict, _ context: NativeCallContext) throws -> [(Address, UInt256)] {
        let round = try number(base, .round, context)
        var out: [(Address, UInt256)] = []
        for member in try committee(base, context) {
            let record = try memberSlot(id, round: round, member, context)
            guard try context.loadWord(offset(record, MemberField.verdict.rawValue)) == UInt256(UInt64(verdict.rawValue)),
                  try context.loadWord(offset(record, MemberField.equivocated.rawValue)).isZero else { continue }
            out.append((member, try context.loadWord(offset(record, MemberField.weight.rawValue))))
        }
        return out
    }

    /// Slashes each of `losers` `losingVerifierSlashBps` of its stake, the reward share to `beneficiary`.
    private func slashVoters(_ losers: [(Address, UInt256)], id: Hash32, beneficiary: Address, _ context: NativeCallContext) throws {
        let bps = UInt16(try Staking.parameters(context: context).losingVerifierSlashBps)
        for (member, _) in losers {
            try Staking.slash(member, fractionBps: bps, reason: "losing side of the dispute over job \(id)", beneficiary: beneficiary, context: context)
        }
    }

    /// The provider's result was wrong: the requester gets the max fee and verification fee
    /// back; `disputeRewardBps` of the collateral goes to whoever proved it (the challenger
    /// with its bond back, or the members who voted invalid, by weight) and the rest is
    /// burned; the provider is slashed `wrongProviderSlashBps` of its stake and jailed; the
    /// members who voted valid are slashed `losingVerifierSlashBps`.
    private func providerWasWrong(_ id: Hash32, _ base: Hash32, _ dispute: Hash32, _ context: NativeCallContext) throws {
        let requester = try context.loadAddress(field(base, .requester))
        let provider = try context.loadAddress(field(base, .provider))
        let challenger = try context.loadAddress(dispute)
        try context.releaseEscrow(try word(base, .maxFee, context) + (try word(base, .verificationFee, context)), to: requester)
        let collateral = try word(base, .collateral, context)
        let reward = try Self.share(collateral, Self.disputeRewardBps)
        var paid = UInt256.zero
        if challenger != .zero {
            try context.releaseEscrow(reward + (try context.loadWord(offset(dispute, DisputeField.bond.rawValue))), to: challenger)
            paid = reward
        } else {
            let winners = try voters(id, base, .invalid, context)
            let weight = winners.reduce(UInt256.zero) { $0 + $1.1 }
            for (member, w) in winners where !weight.isZero {
                let amount = reward * w / weight
                if !amount.isZero { try context.releaseEscrow(amount, to: member) }
                paid += amount
            }
        }
        if collateral > paid { try context.burnEscrow(collateral - paid) }
        let stakingParams = try Staking.parameters(context: context)
        let reason = "wrong result for job \(id)"
        try Staking.slash(provider, fractionBps: UInt16(stakingParams.wrongProviderSlashBps), reason: reason, beneficiary: challenger, context: context)
        do { try Staking.jail(provider, reason: reason, context: context) } catch is NativeRevert {
            // Already jailed (by another dispute): it stays jailed.
            if context.gasLeft == 0 { throw NativeCallContext.OutOfGas() }
        }
        try slashVoters(try voters(id, base, .valid, context), id: id, beneficiary: challenger, context)
        try finish(base, .overturned, context)
    }

    /// The provider's result was right: the job is finalized as after an unchallenged
    /// quorum (the members who voted valid share the verifier pool); the members who voted
    /// invalid are slashed `losingVerifierSlashBps`, the reward share to the provider; a
    /// challenger's bond is forfeited, `disputeRewardBps` of it to the provider, the rest burned.
    private func providerWasRight(_ id: Hash32, _ base: Hash32, _ dispute: Hash32, _ context: NativeCallContext) throws {
        let provider = try context.loadAddress(field(base, .provider))
        let bond = try context.loadWord(offset(dispute, DisputeField.bond.rawValue))
        let losers = try voters(id, base, .invalid, context)
        _ = try settle(id, base, verified: true, context)
        if !bond.isZero {
            let reward = try Self.share(bond, Self.disputeRewardBps)
            if !reward.isZero { try context.releaseEscrow(reward, to: provider) }
            if bond > reward { try context.burnEscrow(bond - reward) }
        }
        try slashVoters(losers, id: id, beneficiary: provider, context)
    }

    /// Nobody can be proven wrong: the requester gets its fees back, the provider its
    /// collateral, the challenger its bond; nobody is slashed.
    private func undecided(_ id: Hash32, _ base: Hash32, _ dispute: Hash32, _ context: NativeCallContext) throws {
        try context.releaseEscrow(try word(base, .maxFee, context) + (try word(base, .verificationFee, context)),
                                  to: try context.loadAddress(field(base, .requester)))
        let collateral = try word(base, .collateral, context)
        if !collateral.isZero { try context.releaseEscrow(collateral, to: try context.loadAddress(field(base, .provider))) }
        let bond = try context.loadWord(offset(dispute, DisputeField.bond.rawValue))
        if !bond.isZero { try context.releaseEscrow(bond, to: try context.loadAddress(dispute)) }
        try finish(base, .refunded, context)
    }

    /// The job's model and its compiled session; reverts `model M is not stored on chain: …`
    /// for a model whose bytes the registry does not hold (registered by reference) or that
    /// does not compile.
    func storedSession(_ base: Hash32, _ context: NativeCallContext) throws -> (model: RegisteredModel, session: InferenceSession) {
        let model = try models.model(String(decoding: try context.loadBytes(field(base, .modelId)), as: UTF8.self), context: context)
        do {
            return (model, try inference.sessions.session(model.fileHash, fileSize: model.size) {
                try InferenceSession(bytes: models.modelBytes(model, context: context))
            })
        } catch let revert as NativeRevert {
            throw NativeRevert("model \(model.id) is not stored on chain, so it cannot be re-executed: \(revert.reason)")
        } catch {
            throw NativeRevert("model \(model.id) does not compile: \(error)")
        }
    }

    /// The feeds an exact job's input bytes hold (its graph inputs, canonical, in the
    /// model's input order); a `NativeRevert` names why they are not.
    static func feeds(_ input: [UInt8], _ session: InferenceSession) throws -> [String: Tensor] {
        let tensors: [Tensor]
        do { tensors = try TensorEncoding.tensors(canonical: input, maxElements: session.limits.maxTensorElements) } catch {
            throw NativeRevert("the job's input: \(error)")
        }
        let declared = session.inputs
        guard tensors.count == declared.count else {
            throw NativeRevert("the job's input holds \(tensors.count) tensors, the model takes \(declared.count)")
        }
        var feeds: [String: Tensor] = [:]
        for (info, tensor) in zip(declared, tensors) {
            var named = tensor
            named.name = info.name
            feeds[info.name] = named
        }
        return feeds
    }

    /// A dispute field as a number.
    func disputeField(_ id: Hash32, _ f: DisputeField, _ context: NativeCallContext) throws -> UInt64 {
        try context.loadWord(offset(try context.mappingSlot(Slot.disputes, key: id), f.rawValue)).uint64 ?? .max
    }
}
