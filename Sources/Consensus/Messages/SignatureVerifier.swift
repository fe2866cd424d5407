import Crypto
import Primitives
import Synchronization

/// Checks that a signature over sign bytes recovers to a claimed address, remembering what it
/// has recovered: gossip delivers each message several times (re-broadcasts, relays), and the
/// WAL replays them, so the same signature is seen again and again.
///
/// Any thread may use it: `opgd`'s consensus channel recovers each message's signer on the peer's
/// connection thread (``recoverSigner(signBytes:signature:)``) before handing the message to the
/// consensus queue, whose check then finds the signer here and never waits on a recovery. The
/// cache maps (digest, signature) to the address that signature recovers to, so whoever fills
/// it, a check reads what its own recovery would give.
///
/// The cache is a lookup table only (never iterated); it is cleared when it reaches `capacity`.
public final class SignatureVerifier: Sendable {
    private let recovered = Mutex<[[UInt8]: Address]>([:])
    private let capacity: Int

    /// Creates a verifier remembering up to `capacity` signatures.
    public init(capacity: Int = 65_536) { self.capacity = capacity }

    /// How many signatures are remembered (for tests and status).
    public var rememberedCount: Int { recovered.withLock { $0.count } }

    /// Throws ``ConsensusMessageError/badSignature(_:)`` or ``ConsensusMessageError/wrongSigner(claimed:recovered:)``.
    public func check(signBytes: [UInt8], signature: RecoverableSignature, claimed: Address) throws {
        let signer = try recoverSigner(signBytes: signBytes, signature: signature)
        guard signer == claimed else { throw ConsensusMessageError.wrongSigner(claimed: claimed, recovered: signer) }
    }

    /// The address `signature` over `signBytes` recovers to, from the cache or recovered and
    /// remembered; throws ``ConsensusMessageError/badSignature(_:)``.
    @discardableResult
    public func recoverSigner(signBytes: [UInt8], signature: RecoverableSignature) throws -> Address {
        let digest = Keccak256.hash(signBytes)
        let key = digest.bytes + signature.r + signature.s + [signature.recoveryID]
        if let known = recovered.withLock({ $0[key] }) { return known }
        let signer: Address
        do {
            try signature.validate()
            signer = try signature.recoverAddress(digest)
        } catch {
            throw ConsensusMessageError.badSignature("\(error)")
        }
        recovered.withLock { cache in
            if cache.count >= capacity { cache.removeAll(keepingCapacity: true) }
            cache[key] = signer
        }
        return signer
    }
}
