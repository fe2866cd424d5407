import Crypto
import Primitives

/// Checks that a signature over sign bytes recovers to a claimed address, remembering what it
/// has recovered: gossip delivers each message several times (re-broadcasts, relays), and the
/// WAL replays them, so the same signature is seen again and again.
///
/// The cache is a lookup table only (never iterated); it is cleared when it reaches `capacity`.
public final class SignatureVerifier {
    private var recovered: [[UInt8]: Address] = [:]
    private let capacity: Int

    /// Creates a verifier remembering up to `capacity` signatures.
    public init(capacity: Int = 65_536) { self.capacity = capacity }

    /// Throws ``ConsensusMessageError/badSignature(_:)`` or ``ConsensusMessageError/wrongSigner(claimed:recovered:)``.
    public func check(signBytes: [UInt8], signature: RecoverableSignature, claimed: Address) throws {
        let digest = Keccak256.hash(signBytes)
        let key = digest.bytes + signature.r + signature.s + [signature.recoveryID]
        let signer: Address
        if let known = recovered[key] {
            signer = known
        } else {
            do {
                try signature.validate()
                signer = try signature.recoverAddress(digest)
            } catch {
                throw ConsensusMessageError.badSignature("\(error)")
            }
            if recovered.count >= capacity { recovered.removeAll(keepingCapacity: true) }
            recovered[key] = signer
        }
        guard signer == claimed else { throw ConsensusMessageError.wrongSigner(claimed: claimed, recovered: signer) }
    }
}
