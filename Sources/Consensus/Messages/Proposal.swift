import Crypto
import Primitives

/// An unsigned proposal ⟨PROPOSAL, h, r, v, vr⟩.
public struct Proposal: Hashable, Sendable {
    /// The height.
    public let height: UInt64
    /// The round.
    public let round: UInt32
    /// The round of the proof of lock the proposer re-proposes from (the paper's vr), nil for −1.
    public let polRound: UInt32?
    /// The proposed value.
    public let value: ProposalValue
    /// The proposer's consensus address.
    public let proposer: Address

    /// Creates a proposal.
    public init(height: UInt64, round: UInt32, polRound: UInt32?, value: ProposalValue, proposer: Address) {
        self.height = height
        self.round = round
        self.polRound = polRound
        self.value = value
        self.proposer = proposer
    }

    /// The bytes the proposer signs: they bind the block hash; the payload is bound through it
    /// (the application checks that the payload hashes to `blockHash`).
    public func signBytes(_ domain: SignDomain) -> [UInt8] {
        SignBytes.encode(domain: domain, type: .proposal, height: height, round: round, polRound: polRound, blockHash: value.blockHash)
    }

    /// The signer position of this proposal.
    public var position: SignPosition { SignPosition(height: height, round: round, step: .propose) }
}

/// A proposal with its signature over ``Proposal/signBytes(_:)``.
public struct SignedProposal: Hashable, Sendable {
    /// The proposal.
    public let proposal: Proposal
    /// The proposer's recoverable signature.
    public let signature: RecoverableSignature

    /// Creates a signed proposal.
    public init(proposal: Proposal, signature: RecoverableSignature) {
        self.proposal = proposal
        self.signature = signature
    }
}
