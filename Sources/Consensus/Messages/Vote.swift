import Crypto
import Primitives

/// The two vote types of a round.
public enum VoteType: UInt8, Sendable {
    /// ⟨PREVOTE, h, r, id(v)⟩
    case prevote = 0x02
    /// ⟨PRECOMMIT, h, r, id(v)⟩
    case precommit = 0x03

    /// The signer step of this vote type.
    public var step: Step { self == .prevote ? .prevote : .precommit }
    /// The sign-bytes type of this vote type.
    public var signedType: SignedMessageType { self == .prevote ? .prevote : .precommit }
}

/// An unsigned vote: for a block hash, or for nil.
public struct Vote: Hashable, Sendable {
    /// Prevote or precommit.
    public let type: VoteType
    /// The height.
    public let height: UInt64
    /// The round.
    public let round: UInt32
    /// The block voted for, or nil.
    public let blockHash: Hash32?
    /// The voting validator's consensus address.
    public let validator: Address

    /// Creates a vote.
    public init(type: VoteType, height: UInt64, round: UInt32, blockHash: Hash32?, validator: Address) {
        self.type = type
        self.height = height
        self.round = round
        self.blockHash = blockHash
        self.validator = validator
    }

    /// The bytes the validator signs.
    public func signBytes(_ domain: SignDomain) -> [UInt8] {
        SignBytes.encode(domain: domain, type: type.signedType, height: height, round: round, polRound: nil, blockHash: blockHash)
    }

    /// The signer position of this vote.
    public var position: SignPosition { SignPosition(height: height, round: round, step: type.step) }
}

/// A vote with its signature over ``Vote/signBytes(_:)``.
public struct SignedVote: Hashable, Sendable {
    /// The vote.
    public let vote: Vote
    /// The validator's recoverable signature over keccak256 of the sign bytes.
    public let signature: RecoverableSignature

    /// Creates a signed vote.
    public init(vote: Vote, signature: RecoverableSignature) {
        self.vote = vote
        self.signature = signature
    }

    /// Throws unless the signature recovers to the vote's validator.
    public func verifySignature(_ domain: SignDomain, verifier: SignatureVerifier? = nil) throws {
        try (verifier ?? SignatureVerifier()).check(signBytes: vote.signBytes(domain), signature: signature, claimed: vote.validator)
    }
}
