import Crypto
import Primitives

/// Proof that a block was decided: precommits for it, in one round, from validators holding more
/// than two thirds of the height's voting power. Stored beside the block (never in `extraData`)
/// and checked by block sync before a block is accepted.
public struct CommitCertificate: Hashable, Sendable {
    /// One validator's precommit signature; the vote itself follows from the certificate's fields.
    public struct Signature: Hashable, Sendable {
        /// The validator's consensus address.
        public let validator: Address
        /// Its signature over the precommit's sign bytes.
        public let signature: RecoverableSignature

        /// Creates an entry.
        public init(validator: Address, signature: RecoverableSignature) {
            self.validator = validator
            self.signature = signature
        }
    }

    /// The decided height.
    public let height: UInt64
    /// The round of the precommits.
    public let round: UInt32
    /// The decided block.
    public let blockHash: Hash32
    /// The signatures, sorted by validator address.
    public let signatures: [Signature]

    /// Creates a certificate from its parts (sorted by validator address).
    public init(height: UInt64, round: UInt32, blockHash: Hash32, signatures: [Signature]) {
        self.height = height
        self.round = round
        self.blockHash = blockHash
        self.signatures = signatures.sorted { $0.validator < $1.validator }
    }

    /// Creates a certificate from precommits, which must all be for `blockHash` at `height`/`round`.
    public init(height: UInt64, round: UInt32, blockHash: Hash32, precommits: [SignedVote]) throws {
        for (i, p) in precommits.enumerated() {
            let v = p.vote
            guard v.type == .precommit, v.height == height, v.round == round, v.blockHash == blockHash else {
                throw CertificateError.mismatchedVote(index: i)
            }
        }
        self.init(height: height, round: round, blockHash: blockHash,
                  signatures: precommits.map { Signature(validator: $0.vote.validator, signature: $0.signature) })
    }

    /// The precommits the certificate carries, as signed votes (what re-broadcast and catch-up send).
    public var precommits: [SignedVote] {
        signatures.map {
            SignedVote(vote: Vote(type: .precommit, height: height, round: round, blockHash: blockHash, validator: $0.validator),
                       signature: $0.signature)
        }
    }

    /// Checks every signature against `validators` (the set of `height`), that no validator signs
    /// twice, and that the signers hold more than two thirds of the power. Returns the signed power.
    @discardableResult
    public func verify(_ domain: SignDomain, validators: ValidatorSet, verifier: SignatureVerifier? = nil) throws -> UInt64 {
        let verifier = verifier ?? SignatureVerifier()
        var seen = [Bool](repeating: false, count: validators.count)
        var power: UInt64 = 0
        for (i, vote) in precommits.enumerated() {
            guard let index = validators.index(of: vote.vote.validator) else {
                throw CertificateError.invalidSignature(index: i, reason: "\(vote.vote.validator) is not a validator")
            }
            guard !seen[index] else { throw CertificateError.duplicateSigner(vote.vote.validator) }
            seen[index] = true
            do {
                try vote.verifySignature(domain, verifier: verifier)
            } catch {
                throw CertificateError.invalidSignature(index: i, reason: "\(error)")
            }
            power += validators.validators[index].power
        }
        guard power >= validators.quorumPower else {
            throw CertificateError.insufficientPower(got: power, needed: validators.quorumPower)
        }
        return power
    }

    /// The encoding: height(8) ‖ round(4) ‖ blockHash(32) ‖ count(4) ‖ count × (address(20) ‖ signature(65)).
    public var encoded: [UInt8] {
        var w = ByteWriter(capacity: 48 + signatures.count * 85)
        w.u64(height)
        w.u32(round)
        w.raw(blockHash.bytes)
        w.u32(UInt32(signatures.count))
        for s in signatures {
            w.raw(s.validator.bytes)
            w.signature(s.signature)
        }
        return w.bytes
    }

    /// Decodes ``encoded``.
    public init(decoding bytes: [UInt8]) throws {
        var r = ByteReader(bytes)
        let height = try r.u64(), round = try r.round(), hash = try r.hash()
        let count = Int(try r.u32())
        guard count <= r.remaining / 85 else { throw ConsensusMessageError.truncated(needed: count * 85, available: r.remaining) }
        var signatures: [Signature] = []
        for _ in 0..<count { signatures.append(Signature(validator: try r.address(), signature: try r.signature())) }
        try r.finish()
        self.init(height: height, round: round, blockHash: hash, signatures: signatures)
    }
}
