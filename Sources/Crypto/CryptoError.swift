/// Errors from key handling, signatures and keystores. Each names the rule broken.
public struct CryptoError: Error, Equatable, CustomStringConvertible {
    /// What went wrong.
    public let message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    /// A private key outside 1…n−1.
    static let invalidPrivateKey = CryptoError("private key must be 32 bytes in 1…n-1 of secp256k1")
    /// A signature whose s is in the upper half of the curve order (EIP-2).
    static let highS = CryptoError("invalid signature: s must be at most n/2 (EIP-2)")
    /// r or s outside 1…n−1, or a recovery id other than 0 or 1.
    static let invalidSignatureValues = CryptoError("invalid signature: r and s must be in 1…n-1 and the recovery id 0 or 1")
    /// No public key can be recovered from the signature and hash.
    static let unrecoverable = CryptoError("invalid signature: no public key recovers from it")

    public var description: String { message }
}
