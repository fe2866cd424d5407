import Chain
import Primitives

/// `requestJob`'s arguments, checked for form (docs/verification.md, "requestJob").
public struct JobRequest: Equatable, Sendable {
    /// The function's canonical signature.
    public static let signature = "requestJob(string,bytes,bytes32,string,uint8,uint256,uint256,uint64)"
    static var types: [ABIType] { [.string, .bytes, .fixedBytes(32), .string, .uint(8), .uint(256), .uint(256), .uint(64)] }

    public var modelId: String
    /// The input inline (then `inputHash` is zero and `inputURI` empty), or empty.
    public var input: [UInt8]
    /// The input's keccak256 when it is given by reference.
    public var inputHash: Hash32
    /// Where the input is served when given by reference.
    public var inputURI: String
    public var verificationClass: VerificationClass
    public var maxFee: UInt256
    public var verificationFee: UInt256
    /// The last block in which the provider may commit its result.
    public var deadline: UInt64

    /// Describes a request.
    public init(modelId: String, input: [UInt8], inputHash: Hash32 = .zero, inputURI: String = "", verificationClass: VerificationClass,
                maxFee: UInt256, verificationFee: UInt256, deadline: UInt64) {
        self.modelId = modelId
        self.input = input
        self.inputHash = inputHash
        self.inputURI = inputURI
        self.verificationClass = verificationClass
        self.maxFee = maxFee
        self.verificationFee = verificationFee
        self.deadline = deadline
    }

    /// The calldata of `requestJob` for this request.
    public func calldata() throws -> [UInt8] {
        try ABI.encodeCall(Self.signature, [.string(modelId), .bytes(input), .fixedBytes(inputHash.bytes), .string(inputURI),
                                            .uint(UInt256(UInt64(verificationClass.rawValue))), .uint(maxFee), .uint(verificationFee),
                                            .uint(UInt256(deadline))])
    }

    /// Decodes and checks `requestJob`'s arguments (everything that needs no state); a
    /// `NativeRevert` names the rule broken.
    public static func decode(_ arguments: [UInt8]) throws -> JobRequest {
        let v = try decodeArguments(types, arguments)
        guard let model = v[0].stringValue, let input = v[1].bytesValue, let uri = v[3].stringValue, let classWord = v[4].uintValue,
              let maxFee = v[5].uintValue, let verificationFee = v[6].uintValue, let deadline = v[7].uintValue?.uint64 else {
            throw NativeRevert("invalid calldata")
        }
        guard let classByte = classWord.uint64, let verificationClass = VerificationClass(rawValue: UInt8(truncatingIfNeeded: classByte)),
              classByte <= 2 else {
            throw NativeRevert("verification class \(classWord) is not 1 (exact) or 2 (attestedOnly)")
        }
        let request = JobRequest(modelId: model, input: input, inputHash: try Jobs.hashArgument(v[2]), inputURI: uri,
                                 verificationClass: verificationClass, maxFee: maxFee, verificationFee: verificationFee, deadline: deadline)
        try checkPayload(inline: input, hash: request.inputHash, uri: uri, what: "input")
        guard !maxFee.isZero else { throw NativeRevert("max fee must be above zero") }
        guard !maxFee.addingReportingOverflow(verificationFee).overflow else { throw NativeRevert("max fee + verification fee overflows") }
        return request
    }
}

/// `commitResult`'s arguments.
public struct JobResult: Equatable, Sendable {
    /// The function's canonical signature.
    public static let signature = "commitResult(bytes32,bytes,bytes32,string,bytes32)"
    static var types: [ABIType] { [.fixedBytes(32), .bytes, .fixedBytes(32), .string, .fixedBytes(32)] }

    public var jobId: Hash32
    /// The output inline (then `outputHash` is zero and `outputURI` empty), or empty.
    public var output: [UInt8]
    public var outputHash: Hash32
    public var outputURI: String
    /// For exact jobs the Merkle root over the kernel's per-node output hashes; zero for attested-only jobs.
    public var traceRoot: Hash32

    /// Describes a result.
    public init(jobId: Hash32, output: [UInt8], outputHash: Hash32 = .zero, outputURI: String = "", traceRoot: Hash32) {
        self.jobId = jobId
        self.output = output
        self.outputHash = outputHash
        self.outputURI = outputURI
        self.traceRoot = traceRoot
    }

    /// The calldata of `commitResult` for this result.
    public func calldata() throws -> [UInt8] {
        try ABI.encodeCall(Self.signature, [.fixedBytes(jobId.bytes), .bytes(output), .fixedBytes(outputHash.bytes), .string(outputURI),
                                            .fixedBytes(traceRoot.bytes)])
    }

    /// Decodes and checks `commitResult`'s arguments (everything that needs no state).
    public static func decode(_ arguments: [UInt8]) throws -> JobResult {
        let v = try decodeArguments(types, arguments)
        guard let output = v[1].bytesValue, let uri = v[3].stringValue else { throw NativeRevert("invalid calldata") }
        let result = JobResult(jobId: try Jobs.hashArgument(v[0]), output: output, outputHash: try Jobs.hashArgument(v[2]), outputURI: uri,
                               traceRoot: try Jobs.hashArgument(v[4]))
        try checkPayload(inline: output, hash: result.outputHash, uri: uri, what: "output")
        return result
    }
}

/// An input or output is inline (≤ 96 KiB, no hash, no URI) or by reference (a non-zero
/// keccak256 and a URI of 1…256 printable ASCII bytes).
private func checkPayload(inline: [UInt8], hash: Hash32, uri: String, what: String) throws {
    if !inline.isEmpty {
        guard inline.count <= Jobs.maxInlineBytes else {
            throw NativeRevert("inline \(what) of \(inline.count) bytes is over the limit of \(Jobs.maxInlineBytes); send its hash and a URI")
        }
        guard hash == .zero, uri.isEmpty else { throw NativeRevert("send the \(what) inline or as hash and URI, not both") }
        return
    }
    guard hash != .zero else { throw NativeRevert("\(what) is empty: send it inline or as a non-zero hash and a URI") }
    let bytes = Array(uri.utf8)
    guard (1...Jobs.maxURIBytes).contains(bytes.count), bytes.allSatisfy({ (0x21...0x7e).contains($0) }) else {
        throw NativeRevert("\(what) URI must be 1…\(Jobs.maxURIBytes) printable ASCII characters without spaces")
    }
}

// MARK: - Transactions

extension Jobs {
    func request(_ r: JobRequest, _ context: NativeCallContext) throws -> Hash32 {
        let params = try parameters(context)
        let total = r.maxFee + r.verificationFee
        guard context.value == total else {
            throw NativeRevert("send exactly max fee + verification fee = \(total) wei with the request, got \(context.value)")
        }
        let earliest = context.block.number + 3 + params.acceptBlocks
        guard r.deadline >= earliest, r.deadline <= context.block.number + Self.maxDeadlineBlocks else {
            throw NativeRevert("deadline \(r.deadline) must be between block \(earliest) (after the draw and accept window) and block \(context.block.number + Self.maxDeadlineBlocks)")
        }
        let modelId = try models.jobModelID(r.modelId, context: context)
        let nonceSlot = try context.mappingSlot(Slot.nonces, key: Hash32(word: context.caller))
        let nonce = try context.loadWord(nonceSlot)
        try context.storeWord(nonce + .one, at: nonceSlot)
        try context.chargeHashing(byteCount: 96)
        let id = Self.jobId(chainId: context.block.chainId, requester: context.caller, nonce: nonce)
        let base = try jobSlot(id, context)
        try context.escrow(total)
        try context.storeAddress(context.caller, at: field(base, .requester))
        try setStatus(base, .requested, context)
        try set(base, .verificationClass, UInt64(r.verificationClass.rawValue), context)
        try context.storeBytes(Array(modelId.utf8), at: field(base, .modelId))
        var inputHash = r.inputHash
        if !r.input.isEmpty {
            try context.chargeHashing(byteCount: r.input.count)
            inputHash = Keccak256.hash(r.input)
            try context.storeBlob(r.input, at: Self.blobKey(id, output: false))
        } else {
            try context.storeBytes(Array(r.inputURI.utf8), at: field(base, .inputURI))
        }
        try context.store(inputHash, at: field(base, .inputHash))
        try set(base, .maxFee, r.maxFee, context)
        try set(base, .verificationFee, r.verificationFee, context)
        try set(base, .deadline, r.deadline, context)
        try set(base, .requestedAt, context.block.number, context)
        try context.store(id, at: try context.pushArrayElement(Slot.jobList))
        try schedule(id, base, at: context.block.number + 2, context)
        try context.emit(topics: [SignatureCache.topic(Event.requested), id, Hash32(word: context.caller)],
                         data: try ABI.encode([.string, .uint(8), .uint(256), .uint(256), .uint(64)],
                                              [.string(modelId), .uint(UInt256(UInt64(r.verificationClass.rawValue))), .uint(r.maxFee),
                                               .uint(r.verificationFee), .uint(UInt256(r.deadline))]))
        return id
    }

    func requireStatus(_ id: Hash32, _ base: Hash32, _ wanted: JobStatus, _ context: NativeCallContext) throws {
        let actual = try status(base, context)
        guard actual == wanted else { throw NativeRevert("job \(id) is \(actual.name), not \(wanted.name)") }
    }

    func accept(_ id: Hash32, fee: UInt256, _ context: NativeCallContext) throws {
        let base = try existingJob(id, context)
        try requireStatus(id, base, .assigned, context)
        let provider = try context.loadAddress(field(base, .provider))
        guard context.caller == provider else { throw NativeRevert("job \(id) is assigned to \(provider.checksummed), not \(context.caller.checksummed)") }
        let acceptBy = try number(base, .acceptBy, context)
        guard context.block.number <= acceptBy else { throw NativeRevert("the accept window of job \(id) closed at block \(acceptBy)") }
        let maxFee = try word(base, .maxFee, context)
        guard !fee.isZero, fee <= maxFee else { throw NativeRevert("fee \(fee) must be 1…\(maxFee) wei (the job's max fee)") }
        let deadline = try number(base, .deadline, context)
        guard context.block.number < deadline else { throw NativeRevert("job \(id)'s deadline \(deadline) has come") }
        let params = try parameters(context)
        let collateral = try Self.share(fee, params.collateralBps)
        guard context.value == collateral else {
            throw NativeRevert("send exactly the collateral \(collateral) wei (fee × \(params.collateralBps) / 10000) with acceptJob, got \(context.value)")
        }
        try context.escrow(collateral)
        try set(base, .fee, fee, context)
        try set(base, .collateral, collateral, context)
        try setStatus(base, .accepted, context)
        try schedule(id, base, at: deadline, context)
        try context.emit(topics: [SignatureCache.topic(Event.accepted), id, Hash32(word: provider)],
                         data: fee.bigEndianBytes32 + collateral.bigEndianBytes32)
    }

    func commitResult(_ r: JobResult, _ context: NativeCallContext) throws {
        let base = try existingJob(r.jobId, context)
        try requireStatus(r.jobId, base, .accepted, context)
        let provider = try context.loadAddress(field(base, .provider))
        guard context.caller == provider else { throw NativeRevert("only the job's provider \(provider.checksummed) commits its result") }
        let isExact = try number(base, .verificationClass, context) == UInt64(VerificationClass.exact.rawValue)
        guard isExact == (r.traceRoot != .zero) else {
            throw NativeRevert(isExact ? "an exact job's result needs its trace root" : "an attested-only result has no trace root; send zero")
        }
        var outputHash = r.outputHash
        if !r.output.isEmpty {
            try context.chargeHashing(byteCount: r.output.count)
            outputHash = Keccak256.hash(r.output)
            try context.storeBlob(r.output, at: Self.blobKey(r.jobId, output: true))
        } else {
            try context.storeBytes(Array(r.outputURI.utf8), at: field(base, .outputURI))
        }
        try context.store(outputHash, at: field(base, .outputHash))
        try context.store(r.traceRoot, at: field(base, .traceRoot))
        try set(base, .committedAt, context.block.number, context)
        try setStatus(base, .committed, context)
        try schedule(r.jobId, base, at: context.block.number + 3, context)
        try context.emit(topics: [SignatureCache.topic(Event.resultCommitted), r.jobId, Hash32(word: provider)], data: outputHash.bytes + r.traceRoot.bytes)
    }

    func commitAttestation(_ id: Hash32, commitment: Hash32, _ context: NativeCallContext) throws {
        guard commitment != .zero else { throw NativeRevert("commitment must not be zero") }
        let base = try existingJob(id, context)
        try requireStatus(id, base, .attesting, context)
        let commitEnd = try number(base, .commitEnd, context)
        guard context.block.number <= commitEnd else { throw NativeRevert("the commit phase of job \(id) ended at block \(commitEnd)") }
        let record = try memberSlot(id, round: try number(base, .round, context), context.caller, context)
        guard !(try context.loadWord(offset(record, MemberField.weight.rawValue))).isZero else {
            throw NativeRevert("\(context.caller.checksummed) is not on the committee of job \(id)")
        }
        guard try context.load(offset(record, MemberField.commitment.rawValue)) == .zero else {
            throw NativeRevert("\(context.caller.checksummed) has already committed an attestation for job \(id)")
        }
        try context.store(commitment, at: offset(record, MemberField.commitment.rawValue))
        try set(base, .committedCount, try number(base, .committedCount, context) + 1, context)
        try context.emit(topics: [SignatureCache.topic(Event.attestationCommitted), id, Hash32(word: context.caller)], data: [])
    }

    /// Checks and records each reveal in order; any rejected item reverts the whole call
    /// with its index. A valid second signature by a member who already revealed a
    /// different attestation for the job is equivocation: slashed and tombstoned, with
    /// the reward to the caller. With more than one signature worker the signatures are
    /// recovered on the workers while this thread checks the items (`AttestationRecovery`),
    /// each used only where the in-order check reads the same attestation, so the outcome
    /// is the serial path's.
    func reveal(_ items: [AttestationReveal], _ context: NativeCallContext) throws {
        let recovery = signatureWorkers > 1 && items.count > 1 ? recoverAhead(items, context) : nil
        defer { recovery?.finish() }
        var touched: [(Hash32, Hash32)] = []
        for (i, item) in items.enumerated() {
            do {
                if let base = try revealOne(item, recovered: { recovery?.entry(i) }, context),
                   !touched.contains(where: { $0.0 == item.jobId }) { touched.append((item.jobId, base)) }
            } catch let revert as NativeRevert {
                throw NativeRevert("attestation \(i) (job \(item.jobId), verifier \(item.verifier.checksummed)): \(revert.reason)")
            }
        }
        for (id, base) in touched { try decideIfComplete(id, base, context) }
    }

    /// Starts recovering each item's signature over its attestation as the state stands when
    /// the call starts (read speculatively: no gas, no change; none for an unknown job or a
    /// non-member) on `signatureWorkers` threads.
    private func recoverAhead(_ items: [AttestationReveal], _ context: NativeCallContext) -> AttestationRecovery {
        let attestations = items.map { item in context.speculatively { try? revealedAttestation(item, context).attestation } }
        return AttestationRecovery(attestations: attestations, signatures: items.map(\.signature), chainId: context.block.chainId,
                                   workers: min(signatureWorkers, items.count))
    }

    /// The reveal's job base slot, member record, weight and the attestation its signature
    /// must be over; reverts for an unknown job or a verifier not on the committee.
    private func revealedAttestation(_ item: AttestationReveal, _ context: NativeCallContext) throws
        -> (base: Hash32, record: Hash32, weight: UInt256, attestation: Attestation) {
        let base = try existingJob(item.jobId, context)
        let round = try number(base, .round, context)
        let record = try memberSlot(item.jobId, round: round, item.verifier, context)
        let weight = try context.loadWord(offset(record, MemberField.weight.rawValue))
        guard !weight.isZero else { throw NativeRevert("not on the job's committee") }
        return (base, record, weight, try attestation(item.jobId, base, verdict: item.verdict, context))
    }

    /// Records one reveal; returns the job's base slot when a reveal was recorded (not for
    /// equivocation). `recovered` gives this item's signature recovered ahead, if any.
    private func revealOne(_ item: AttestationReveal, recovered: () -> AttestationRecovery.Entry?, _ context: NativeCallContext) throws -> Hash32? {
        let (base, record, weight, attestation) = try revealedAttestation(item, context)
        let entry = recovered()
        let ahead = entry?.attestation == attestation ? entry : nil
        let digest = ahead?.digest ?? attestation.digest(chainId: context.block.chainId)
        try context.useGas(Self.signatureCheckGas)
        let signer = try ahead?.signer.get() ?? Attestation.recoverSigner(item.signature, digest: digest)
        guard signer == item.verifier else {
            throw NativeRevert("the signature recovers to \(signer.checksummed), not the verifier: it was signed over another domain or message (chain id, module, job, result, verdict or epoch)")
        }
        let revealed = try context.load(offset(record, MemberField.revealedDigest.rawValue))
        if revealed != .zero {
            guard revealed != digest else { throw NativeRevert("already revealed (a replayed attestation)") }
            guard try context.loadWord(offset(record, MemberField.equivocated.rawValue)).isZero else {
                throw NativeRevert("equivocation already punished")
            }
            try punishEquivocation(item, base, record, weight: weight, context)
            return nil
        }
        try requireStatus(item.jobId, base, .attesting, context)
        let commitEnd = try number(base, .commitEnd, context)
        let size = try context.loadWord(field(base, .committee)).uint64 ?? 0
        let everyoneCommitted = try number(base, .committedCount, context) == size
        guard context.block.number > commitEnd || everyoneCommitted else {
            throw NativeRevert("reveals open after block \(commitEnd) or once every member has committed")
        }
        let revealEnd = try number(base, .revealEnd, context)
        guard context.block.number <= revealEnd else { throw NativeRevert("the reveal phase ended at block \(revealEnd)") }
        let commitment = try context.load(offset(record, MemberField.commitment.rawValue))
        guard commitment != .zero else { throw NativeRevert("no commitment: only committed attestations are revealed") }
        try context.chargeHashing(byteCount: 84)
        guard Attestation.commitment(digest: digest, salt: item.salt, verifier: item.verifier) == commitment else {
            throw NativeRevert("the reveal does not match its commitment")
        }
        try context.store(digest, at: offset(record, MemberField.revealedDigest.rawValue))
        try context.storeWord(UInt256(UInt64(item.verdict.rawValue)), at: offset(record, MemberField.verdict.rawValue))
        try set(base, .revealedCount, try number(base, .revealedCount, context) + 1, context)
        if let tally = Self.tally(item.verdict) { try set(base, tally, try word(base, tally, context) + weight, context) }
        try Staking.recordAttestations(item.verifier, count: 1, context: context)
        try context.emit(topics: [SignatureCache.topic(Event.attestationRevealed), item.jobId, Hash32(word: item.verifier)],
                         data: UInt256(UInt64(item.verdict.rawValue)).bigEndianBytes32)
        return base
    }

    /// The job field that sums the weight of `verdict`, if any.
    static func tally(_ verdict: Verdict) -> Field? {
        switch verdict {
        case .valid: return .validWeight
        case .invalid: return .invalidWeight
        case .inconclusive: return nil
        }
    }

    private func punishEquivocation(_ item: AttestationReveal, _ base: Hash32, _ record: Hash32, weight: UInt256,
                                    _ context: NativeCallContext) throws {
        try context.storeWord(.one, at: offset(record, MemberField.equivocated.rawValue))
        let verdict = Verdict(rawValue: UInt8(truncatingIfNeeded: try context.loadWord(offset(record, MemberField.verdict.rawValue)).uint64 ?? 0))
        if let verdict, let tally = Self.tally(verdict) { try set(base, tally, try word(base, tally, context) - weight, context) }
        let stakingParams = try Staking.parameters(context: context)
        let reason = "equivocation: two different attestations for job \(item.jobId)"
        let slashed = try Staking.slash(item.verifier, fractionBps: UInt16(stakingParams.equivocationSlashBps), reason: reason,
                                        beneficiary: context.caller, context: context)
        try Staking.tombstone(item.verifier, reason: reason, context: context)
        try context.emit(topics: [SignatureCache.topic(Event.equivocation), item.jobId, Hash32(word: item.verifier)],
                         data: Hash32(word: context.caller).bytes + slashed.bigEndianBytes32)
    }

    func challenge(_ id: Hash32, _ context: NativeCallContext) throws {
        let base = try existingJob(id, context)
        try requireStatus(id, base, .challengeable, context)
        let end = try number(base, .challengeEnd, context)
        guard context.block.number < end else { throw NativeRevert("the challenge window of job \(id) closed at block \(end)") }
        let bond = try parameters(context).challengeBond
        guard context.value == bond else { throw NativeRevert("send exactly the challenge bond \(bond) wei, got \(context.value)") }
        try context.escrow(bond)
        try openDispute(id, base, challenger: context.caller, bond: bond, context)
        try context.emit(topics: [SignatureCache.topic(Event.challenged), id, Hash32(word: context.caller)], data: bond.bigEndianBytes32)
    }

    /// Records a dispute and stops the job's settlement until `resolveDispute`, or the
    /// end-block hook at `resolveBy`, settles it (docs/verification.md, "Disputes").
    func openDispute(_ id: Hash32, _ base: Hash32, challenger: Address, bond: UInt256, _ context: NativeCallContext) throws {
        let dispute = try context.mappingSlot(Slot.disputes, key: id)
        try context.storeAddress(challenger, at: dispute)
        try context.storeWord(bond, at: offset(dispute, DisputeField.bond.rawValue))
        try context.storeWord(UInt256(context.block.number), at: offset(dispute, DisputeField.openedAt.rawValue))
        try context.storeWord(UInt256(UInt64(DisputeState.open.rawValue)), at: offset(dispute, DisputeField.state.rawValue))
        let resolveBy = context.block.number + Self.disputeBlocks
        try context.storeWord(UInt256(resolveBy), at: offset(dispute, DisputeField.resolveBy.rawValue))
        try setStatus(base, .disputed, context)
        try schedule(id, base, at: resolveBy, context)
    }

    func finalize(_ id: Hash32, _ context: NativeCallContext) throws {
        let base = try existingJob(id, context)
        try requireStatus(id, base, .challengeable, context)
        let end = try number(base, .challengeEnd, context)
        guard context.block.number >= end else { throw NativeRevert("the challenge window of job \(id) is open until block \(end)") }
        try finalizeNow(id, base, context)
    }

    /// Settles a job whose challenge window has passed as verified, emitting `JobFinalized`
    /// when a transaction does it (the end-block hook emits no events).
    func finalizeNow(_ id: Hash32, _ base: Hash32, _ context: NativeCallContext) throws {
        let paid = try settle(id, base, verified: true, context)
        guard context.transaction != nil else { return }
        try context.emit(topics: [SignatureCache.topic(Event.finalized), id],
                         data: paid.provider.bigEndianBytes32 + paid.verifiers.bigEndianBytes32 + paid.burned.bigEndianBytes32
                             + paid.refunded.bigEndianBytes32)
    }

    /// `amount × bps / 10000`, reverting on overflow.
    static func share(_ amount: UInt256, _ bps: UInt64) throws -> UInt256 {
        let (product, overflow) = amount.multipliedReportingOverflow(by: UInt256(bps))
        guard !overflow else { throw NativeRevert("amount \(amount) × \(bps) basis points overflows") }
        return product / UInt256(10_000)
    }
}

/// Where a dispute stands (`getDispute().state`).
public enum DisputeState: UInt8, Sendable, CaseIterable {
    case none = 0
    /// Recorded; the job's settlement waits for `resolveDispute` or `resolveBy`.
    case open = 1
    /// Re-execution gave another output hash or trace root: the provider was slashed, the requester refunded.
    case providerWrong = 2
    /// Re-execution reproduced the provider's commitment: the job was finalized, the invalid voters slashed.
    case providerRight = 3
    /// Nobody could be proven wrong (the job cannot be run, or nobody resolved it and the
    /// chain could not alone): everyone's escrow returned, nobody slashed.
    case undecided = 4

    /// The state's name in RPC and the CLI.
    public var name: String {
        switch self {
        case .none: return "none"
        case .open: return "open"
        case .providerWrong: return "providerWrong"
        case .providerRight: return "providerRight"
        case .undecided: return "undecided"
        }
    }
}
