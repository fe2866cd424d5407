import Primitives

/// An input to the engine. The caller authenticates messages (``ConsensusMessage/authenticate(_:validators:verifier:)``)
/// and certificates before handing them in; the engine trusts what it is given.
public enum EngineInput: Hashable, Sendable {
    /// A signed proposal or vote, from the network or our own signer.
    case message(ConsensusMessage)
    /// A timeout the engine scheduled has fired.
    case timeout(Timeout)
    /// The application's answer to ``EngineEffect/requestValidation(height:value:)``: `valid(v)`.
    case validity(height: UInt64, value: ValueKey, valid: Bool)
    /// The application's answer to ``EngineEffect/requestValue(height:round:)``: `getValue()`.
    case proposalValue(height: UInt64, round: UInt32, value: ProposalValue)
    /// A decision learned with its certificate (block sync), already verified by the caller.
    case certifiedDecision(value: ProposalValue, certificate: CommitCertificate)
}

/// A message for our signer: what the engine wants to broadcast.
public enum UnsignedMessage: Hashable, Sendable {
    /// ⟨PROPOSAL, h, r, v, vr⟩
    case proposal(Proposal)
    /// ⟨PREVOTE, h, r, id⟩ or ⟨PRECOMMIT, h, r, id⟩
    case vote(Vote)

    /// The bytes to sign.
    public func signBytes(_ domain: SignDomain) -> [UInt8] {
        switch self {
        case .proposal(let p): return p.signBytes(domain)
        case .vote(let v): return v.signBytes(domain)
        }
    }

    /// The signer position.
    public var position: SignPosition {
        switch self {
        case .proposal(let p): return p.position
        case .vote(let v): return v.position
        }
    }
}

/// A decision: the value, the round it was decided in and the certificate that proves it.
public struct Decision: Hashable, Sendable {
    /// The height decided.
    public let height: UInt64
    /// The decided value.
    public let value: ProposalValue
    /// More than two thirds of precommits for it.
    public let certificate: CommitCertificate

    /// A decision from its parts (a certified block learned elsewhere, tests).
    public init(height: UInt64, value: ProposalValue, certificate: CommitCertificate) {
        self.height = height
        self.value = value
        self.certificate = certificate
    }
}

/// An effect the engine asks its driver to carry out, in order.
public enum EngineEffect: Hashable, Sendable {
    /// Build a value to propose (`getValue()`); answer with ``EngineInput/proposalValue(height:round:value:)``.
    case requestValue(height: UInt64, round: UInt32)
    /// Check a proposed value (`valid(v)`); answer with ``EngineInput/validity(height:value:valid:)``.
    case requestValidation(height: UInt64, value: ProposalValue)
    /// Sign this message, broadcast it and hand it back as ``EngineInput/message(_:)``.
    case signAndBroadcast(UnsignedMessage)
    /// Send these already signed messages again.
    case rebroadcast([ConsensusMessage])
    /// Deliver ``EngineInput/timeout(_:)`` after `millis`.
    case scheduleTimeout(Timeout, millis: UInt64)
    /// The height is decided: commit the value with its certificate.
    case decide(Decision)
    /// A validator equivocated; gossip and include the evidence.
    case evidence(DuplicateVoteEvidence)
    /// The commit pause is over: start the next height (``TendermintEngine/startHeight(_:validators:)``).
    case heightCompleted(UInt64)
}
