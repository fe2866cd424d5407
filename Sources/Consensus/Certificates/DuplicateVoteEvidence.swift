import Crypto
import Primitives

/// Proof that a validator equivocated: two votes it signed at the same height, round and type
/// for different blocks (nil counts as a block). The pair is stored in a canonical order (nil first,
/// then by block hash; two votes for one block — invalid evidence — by their encodings) so that the
/// same pair always gives the same evidence, whichever order it arrives in or is decoded from.
public struct DuplicateVoteEvidence: Hashable, Sendable {
    /// The vote whose block hash sorts first (nil before any hash).
    public let first: SignedVote
    /// The other vote.
    public let second: SignedVote

    /// Creates evidence from two votes in either order.
    public init(_ a: SignedVote, _ b: SignedVote) {
        var ka = a.vote.blockHash?.bytes ?? [], kb = b.vote.blockHash?.bytes ?? []
        if ka == kb { (ka, kb) = (ConsensusMessage.vote(a).encoded, ConsensusMessage.vote(b).encoded) }
        (first, second) = ka.lexicographicallyPrecedes(kb) ? (a, b) : (b, a)
    }

    /// The equivocating validator.
    public var validator: Address { first.vote.validator }
    /// The height of the equivocation.
    public var height: UInt64 { first.vote.height }

    /// Checks that both votes are at one position by one validator of `validators`, for different
    /// blocks, each with a valid signature.
    public func verify(_ domain: SignDomain, validators: ValidatorSet, verifier: SignatureVerifier? = nil) throws {
        let a = first.vote, b = second.vote
        guard a.validator == b.validator, a.height == b.height, a.round == b.round, a.type == b.type else {
            throw EvidenceError.differentPositions
        }
        guard a.blockHash != b.blockHash else { throw EvidenceError.sameBlock }
        guard validators.index(of: a.validator) != nil else { throw EvidenceError.unknownValidator(a.validator) }
        let verifier = verifier ?? SignatureVerifier()
        for vote in [first, second] {
            do {
                try vote.verifySignature(domain, verifier: verifier)
            } catch {
                throw EvidenceError.invalidSignature("\(error)")
            }
        }
    }

    /// The encoding: the two votes' message encodings, each length-prefixed.
    public var encoded: [UInt8] {
        var w = ByteWriter()
        w.blob(ConsensusMessage.vote(first).encoded)
        w.blob(ConsensusMessage.vote(second).encoded)
        return w.bytes
    }

    /// Decodes ``encoded``.
    public init(decoding bytes: [UInt8]) throws {
        var r = ByteReader(bytes)
        let messages = [try r.blob(max: 256), try r.blob(max: 256)].map { try? ConsensusMessage(decoding: $0) }
        try r.finish()
        guard case .vote(let a)? = messages[0], case .vote(let b)? = messages[1] else {
            throw ConsensusMessageError.unknownKind(0)
        }
        self.init(a, b)
    }
}
