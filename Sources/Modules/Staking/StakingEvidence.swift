import Chain
import Consensus
import Crypto
import Primitives

/// Double-sign evidence in blocks (docs/staking.md, "Double signing"): the staking
/// module is the chain's `BlockEvidenceHandler`. Each item is a `DuplicateVoteEvidence`
/// (two votes one consensus key signed at the same height, round and type for different
/// blocks), checked with the consensus code's own sign bytes and secp256k1 against the
/// validator set staking recorded for that height; the validator is slashed
/// `doubleSignSlashBps` (its `slashRewardBps` share to the block's proposer, who
/// included the proof; the rest burned) and tombstoned.
extension Staking: BlockEvidenceHandler {
    /// Oldest evidence a block accepts, in blocks below it: 100,000 (about 28 hours of
    /// 1 s blocks), far inside the default unbonding period, so the stake is still there.
    public static let maxEvidenceAge: UInt64 = 100_000

    public func applyEvidence(_ bytes: [UInt8], genesisHash: Hash32, context: NativeCallContext) throws {
        let evidence: DuplicateVoteEvidence
        do { evidence = try DuplicateVoteEvidence(decoding: bytes) } catch {
            throw NativeRevert("malformed evidence: \(error)")
        }
        let now = context.block.number, height = evidence.height
        guard height <= now else { throw NativeRevert("evidence from height \(height) is above this block's \(now)") }
        guard now - height <= Self.maxEvidenceAge else {
            throw NativeRevert("evidence from height \(height) is \(now - height) blocks old, over the limit of \(Self.maxEvidenceAge)")
        }
        let vote = evidence.first.vote
        guard evidence.second.vote.validator == vote.validator else {
            throw NativeRevert("\(EvidenceError.differentPositions)")
        }
        let members = try validators(at: height, context)
        var signers: [Consensus.Validator] = []
        var offender: Address?
        for member in members {
            try context.chargeHashing(byteCount: 64)
            guard let keyAddress = try? PublicKey(bytes: member.consensusKey).address else { continue }
            signers.append(Consensus.Validator(address: keyAddress, power: member.power))
            if keyAddress == vote.validator { offender = member.address }
        }
        guard let offender else {
            throw NativeRevert("unknown key: \(vote.validator) is not the consensus key of a validator at height \(height)")
        }
        try context.useGas(2 * Self.signatureCheckGas)
        do {
            let set = try Consensus.ValidatorSet(signers)
            try evidence.verify(SignDomain(chainID: context.block.chainId, genesisHash: genesisHash), validators: set)
        } catch let error as EvidenceError {
            throw NativeRevert("\(error)")
        }
        let base = try operatorSlot(offender, context)
        guard try context.loadWord(field(base, .tombstoned)).isZero else {
            throw NativeRevert("already punished: \(offender.checksummed) is tombstoned")
        }
        let kind = vote.type == .prevote ? "prevote" : "precommit"
        let reason = "double \(kind) at height \(height) round \(vote.round)"
        let params = try parameters(context)
        if params.doubleSignSlashBps > 0 {
            _ = try applySlash(offender, bps: params.doubleSignSlashBps, reason: reason, beneficiary: context.block.coinbase, context)
        }
        try applyTombstone(offender, reason: reason, context)
    }
}
