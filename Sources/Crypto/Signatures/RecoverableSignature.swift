import CSecp256k1
import Primitives

/// An ECDSA signature with its recovery id, as Ethereum transactions carry it.
public struct RecoverableSignature: Equatable, Sendable {
    /// r, 32 bytes big-endian.
    public let r: [UInt8]
    /// s, 32 bytes big-endian.
    public let s: [UInt8]
    /// The recovery id (y parity), 0 or 1.
    public let recoveryID: UInt8

    /// The secp256k1 group order n.
    public static let curveOrder = try! UInt256(hexQuantity: "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
    /// n / 2: the largest s EIP-2 allows.
    public static let halfCurveOrder = curveOrder >> 1

    /// Creates a signature from its parts; `r` and `s` may be shorter than 32 bytes.
    public init(r: [UInt8], s: [UInt8], recoveryID: UInt8) {
        self.r = [UInt8](repeating: 0, count: max(0, 32 - r.count)) + r.suffix(32)
        self.s = [UInt8](repeating: 0, count: max(0, 32 - s.count)) + s.suffix(32)
        self.recoveryID = recoveryID
    }

    /// Creates a signature from integer r and s.
    public init(r: UInt256, s: UInt256, recoveryID: UInt8) {
        self.init(r: r.bigEndianBytes32, s: s.bigEndianBytes32, recoveryID: recoveryID)
    }

    /// r as an integer.
    public var rValue: UInt256 { (try? UInt256(bigEndian: r)) ?? .zero }
    /// s as an integer.
    public var sValue: UInt256 { (try? UInt256(bigEndian: s)) ?? .zero }

    /// Checks r, s ∈ 1…n−1, s ≤ n/2 (EIP-2) and recovery id ∈ {0, 1}.
    public func validate() throws {
        let r = rValue, s = sValue
        guard !r.isZero, !s.isZero, r < Self.curveOrder, s < Self.curveOrder, recoveryID <= 1 else {
            throw CryptoError.invalidSignatureValues
        }
        guard s <= Self.halfCurveOrder else { throw CryptoError.highS }
    }

    /// Recovers the signer's public key for `hash` (`secp256k1_ecdsa_recover`), after `validate()`.
    public func recoverPublicKey(_ hash: Hash32) throws -> PublicKey {
        try validate()
        let context = Secp256k1Context.shared.pointer
        var signature = secp256k1_ecdsa_recoverable_signature()
        guard secp256k1_ecdsa_recoverable_signature_parse_compact(context, &signature, r + s, Int32(recoveryID)) == 1 else {
            throw CryptoError.invalidSignatureValues
        }
        var key = secp256k1_pubkey()
        guard secp256k1_ecdsa_recover(context, &key, &signature, hash.bytes) == 1 else { throw CryptoError.unrecoverable }
        return PublicKey(key)
    }

    /// Recovers the signer's address for `hash`.
    public func recoverAddress(_ hash: Hash32) throws -> Address { try recoverPublicKey(hash).address }
}
