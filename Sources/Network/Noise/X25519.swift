import COpenSSL

/// An X25519 key pair held by OpenSSL (`EVP_PKEY` of type `EVP_PKEY_X25519`). The instance owns
/// its `EVP_PKEY` and frees it in `deinit`; the raw private key never leaves OpenSSL except
/// through `EVP_PKEY_new_raw_private_key` at creation.
public final class X25519KeyPair: @unchecked Sendable {
    private let key: OpaquePointer
    /// The 32-byte public key (`EVP_PKEY_get_raw_public_key`).
    public let publicKey: [UInt8]

    /// A key pair from 32 private-key bytes (`EVP_PKEY_new_raw_private_key`); OpenSSL clamps
    /// them as RFC 7748 says.
    public init(privateKey: [UInt8]) throws {
        guard privateKey.count == 32 else { throw NetworkError.invalidPrivateKeyLength }
        guard let key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nil, privateKey, 32) else {
            throw NetworkError("noise: EVP_PKEY_new_raw_private_key failed")
        }
        self.key = key
        var out = [UInt8](repeating: 0, count: 32)
        var length = 32
        guard EVP_PKEY_get_raw_public_key(key, &out, &length) == 1, length == 32 else {
            EVP_PKEY_free(key)
            throw NetworkError("noise: EVP_PKEY_get_raw_public_key failed")
        }
        publicKey = out
    }

    /// A fresh key pair from OpenSSL's CSPRNG (`RAND_bytes`).
    public static func generate() throws -> X25519KeyPair {
        var secret = [UInt8](repeating: 0, count: 32)
        guard RAND_bytes(&secret, 32) == 1 else { throw NetworkError("noise: RAND_bytes failed") }
        defer { secret.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, 32) } }
        return try X25519KeyPair(privateKey: secret)
    }

    deinit { EVP_PKEY_free(key) }

    /// DH(self, peer): the X25519 shared secret with a peer's 32-byte public key
    /// (`EVP_PKEY_derive`). A result of all zeros — what every low-order point gives — is
    /// refused with `NetworkError.lowOrderPoint` (Noise spec §12.1 allows either; we refuse).
    public func sharedSecret(with peerPublicKey: [UInt8]) throws -> [UInt8] {
        guard peerPublicKey.count == 32 else { throw NetworkError.invalidPublicKeyLength }
        guard let peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nil, peerPublicKey, 32) else {
            throw NetworkError("noise: EVP_PKEY_new_raw_public_key failed")
        }
        defer { EVP_PKEY_free(peer) }
        guard let context = EVP_PKEY_CTX_new(key, nil) else { throw NetworkError("noise: EVP_PKEY_CTX_new failed") }
        defer { EVP_PKEY_CTX_free(context) }
        var secret = [UInt8](repeating: 0, count: 32)
        var length = 32
        guard EVP_PKEY_derive_init(context) == 1, EVP_PKEY_derive_set_peer(context, peer) == 1 else {
            throw NetworkError("noise: EVP_PKEY_derive_init failed")
        }
        // OpenSSL 3 itself fails the derivation when the result is all zeros; both paths end here.
        guard EVP_PKEY_derive(context, &secret, &length) == 1, length == 32 else {
            ERR_clear_error()
            throw NetworkError.lowOrderPoint
        }
        guard secret.contains(where: { $0 != 0 }) else { throw NetworkError.lowOrderPoint }
        return secret
    }
}
