import Crypto
import Primitives

/// A signed consensus message as it travels between validators and lands in the WAL.
public enum ConsensusMessage: Hashable, Sendable {
    /// A signed proposal.
    case proposal(SignedProposal)
    /// A signed prevote or precommit.
    case vote(SignedVote)

    /// The largest proposal payload a message may carry.
    public static let maxPayloadBytes = 16 << 20

    /// The message's height.
    public var height: UInt64 {
        switch self {
        case .proposal(let p): return p.proposal.height
        case .vote(let v): return v.vote.height
        }
    }

    /// The message's round.
    public var round: UInt32 {
        switch self {
        case .proposal(let p): return p.proposal.round
        case .vote(let v): return v.vote.round
        }
    }

    /// The signer position (height, round, step) the signature was given at.
    public var position: SignPosition {
        switch self {
        case .proposal(let p): return p.proposal.position
        case .vote(let v): return v.vote.position
        }
    }

    /// The signer's address.
    public var signer: Address {
        switch self {
        case .proposal(let p): return p.proposal.proposer
        case .vote(let v): return v.vote.validator
        }
    }

    /// The bytes the signer signed.
    public func signBytes(_ domain: SignDomain) -> [UInt8] {
        switch self {
        case .proposal(let p): return p.proposal.signBytes(domain)
        case .vote(let v): return v.vote.signBytes(domain)
        }
    }

    /// The signature.
    public var signature: RecoverableSignature {
        switch self {
        case .proposal(let p): return p.signature
        case .vote(let v): return v.signature
        }
    }

    /// Checks the signature, that the signer is a validator of `validators` (the set of the
    /// message's height) and, for a proposal, that it comes from the round's proposer and has a POL round below its round.
    public func authenticate(_ domain: SignDomain, validators: ValidatorSet, verifier: SignatureVerifier) throws {
        guard validators.index(of: signer) != nil else { throw ConsensusMessageError.unknownValidator(signer) }
        if case .proposal(let p) = self {
            if let vr = p.proposal.polRound, vr >= p.proposal.round {
                throw ConsensusMessageError.invalidPOLRound(polRound: vr, round: p.proposal.round)
            }
            let expected = validators.proposer(round: p.proposal.round).address
            guard expected == signer else { throw ConsensusMessageError.wrongProposer(got: signer, expected: expected) }
        }
        try verifier.check(signBytes: signBytes(domain), signature: signature, claimed: signer)
    }

    // MARK: - Binary encoding

    /// The encoding: a kind byte (1 proposal, 2 prevote, 3 precommit) and fixed-width fields
    /// (docs/consensus.md, "Messages").
    public var encoded: [UInt8] {
        var w = ByteWriter(capacity: 140)
        encode(into: &w)
        return w.bytes
    }

    func encode(into w: inout ByteWriter) {
        switch self {
        case .proposal(let sp):
            let p = sp.proposal
            w.u8(SignedMessageType.proposal.rawValue)
            w.u64(p.height)
            w.u32(p.round)
            w.optionalRound(p.polRound)
            w.raw(p.value.blockHash.bytes)
            w.raw(p.proposer.bytes)
            w.signature(sp.signature)
            w.blob(p.value.payload)
        case .vote(let sv):
            let v = sv.vote
            w.u8(v.type.rawValue)
            w.u64(v.height)
            w.u32(v.round)
            w.optionalHash(v.blockHash)
            w.raw(v.validator.bytes)
            w.signature(sv.signature)
        }
    }

    /// Decodes ``encoded``, throwing a ``ConsensusMessageError`` naming what is wrong.
    public init(decoding bytes: [UInt8]) throws {
        var r = ByteReader(bytes)
        try self.init(from: &r)
        try r.finish()
    }

    init(from r: inout ByteReader) throws {
        let kind = try r.u8()
        switch kind {
        case SignedMessageType.proposal.rawValue:
            let height = try r.u64(), round = try r.round(), polRound = try r.optionalRound()
            let hash = try r.hash(), proposer = try r.address(), signature = try r.signature()
            let payload = try r.blob(max: Self.maxPayloadBytes)
            if let vr = polRound, vr >= round { throw ConsensusMessageError.invalidPOLRound(polRound: vr, round: round) }
            let value = ProposalValue(blockHash: hash, payload: payload)
            self = .proposal(SignedProposal(proposal: Proposal(height: height, round: round, polRound: polRound, value: value, proposer: proposer),
                                            signature: signature))
        case VoteType.prevote.rawValue, VoteType.precommit.rawValue:
            let type = VoteType(rawValue: kind)!
            let height = try r.u64(), round = try r.round(), hash = try r.optionalHash()
            let validator = try r.address(), signature = try r.signature()
            self = .vote(SignedVote(vote: Vote(type: type, height: height, round: round, blockHash: hash, validator: validator), signature: signature))
        default:
            throw ConsensusMessageError.unknownKind(kind)
        }
    }
}
