import COpenSSL
import CSecp256k1
import Primitives

/// A secp256k1 private key (32 bytes, 1 ≤ k < n).
public struct PrivateKey: Equatable, Sendable {
    /// The 32 key bytes. Treat as secret.
    public let bytes: [UInt8]

    /// Wraps 32 bytes after checking they are a valid key (`secp256k1_ec_seckey_verify`).
    public init(_ bytes: [UInt8]) throws {
        guard bytes.count == 32, secp256k1_ec_seckey_verify(Secp256k1Context.shared.pointer, bytes) == 1 else {
            throw CryptoError.invalidPrivateKey
        }
        self.bytes = bytes
    }

    /// Parses 64 hex digits, with or without `0x`.
    public init(hex: String) throws {
        let raw: [UInt8]
        do { raw = try Hex.decodeLenient(hex.trimmingWhitespace) } catch { throw CryptoError("private key: \(error)") }
        try self.init(raw)
    }

    /// A fresh key from OpenSSL's CSPRNG (`RAND_bytes`).
    public static func generate() throws -> PrivateKey {
        var candidate = [UInt8](repeating: 0, count: 32)
        for _ in 0..<16 {
            guard RAND_bytes(&candidate, 32) == 1 else { throw CryptoError("RAND_bytes failed") }
            if let key = try? PrivateKey(candidate) { return key }
        }
        throw CryptoError("could not draw a valid private key")
    }

    /// The public key (`secp256k1_ec_pubkey_create`).
    public var publicKey: PublicKey {
        var pubkey = secp256k1_pubkey()
        // A verified key always has a public key.
        _ = secp256k1_ec_pubkey_create(Secp256k1Context.shared.pointer, &pubkey, bytes)
        return PublicKey(pubkey)
    }

    /// The account address of this key.
    public var address: Address { publicKey.address }

    /// Signs a 32-byte message hash with RFC 6979 nonces (`secp256k1_ecdsa_sign_recoverable`);
    /// the result always has a low s.
    public func sign(_ hash: Hash32) -> RecoverableSignature {
        var signature = secp256k1_ecdsa_recoverable_signature()
        let context = Secp256k1Context.shared.pointer
        _ = secp256k1_ecdsa_sign_recoverable(context, &signature, hash.bytes, bytes, nil, nil)
        var compact = [UInt8](repeating: 0, count: 64)
        var recoveryID: Int32 = 0
        _ = secp256k1_ecdsa_recoverable_signature_serialize_compact(context, &compact, &recoveryID, &signature)
        return RecoverableSignature(r: Array(compact[0..<32]), s: Array(compact[32..<64]), recoveryID: UInt8(recoveryID))
    }
}

extension String {
    var trimmingWhitespace: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
