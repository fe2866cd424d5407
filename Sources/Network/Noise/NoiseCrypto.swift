import COpenSSL
import Crypto

/// The cipher and hash functions of `Noise_*_25519_ChaChaPoly_SHA256` (Noise spec rev 34 §5, §12),
/// through OpenSSL 3's EVP API. Stateless; every call owns and frees its OpenSSL context (the
/// cipher, which keeps one per key, is ``ChaChaPolyKey``).
enum NoiseCrypto {
    /// HASHLEN for SHA-256.
    static let hashLength = 32
    /// The Poly1305 tag length.
    static let tagLength = 16

    /// HASH(data): SHA-256.
    static func hash(_ data: [UInt8]) -> [UInt8] { SHA256.hash(data) }

    /// HMAC-HASH(key, data) with SHA-256 (`EVP_Q_mac`, "HMAC" with digest "SHA256").
    static func hmac(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: hashLength)
        var length = 0
        let result = EVP_Q_mac(nil, "HMAC", nil, "SHA256", nil, key, key.count, data, data.count, &out, hashLength, &length)
        // HMAC-SHA256 with a valid digest name cannot fail short of memory exhaustion.
        precondition(result != nil && length == hashLength, "EVP_Q_mac(HMAC-SHA256) failed")
        return out
    }

    /// HKDF(chaining_key, input_key_material, num_outputs) as Noise §4.3 defines it: two or
    /// three 32-byte outputs chained through HMAC-SHA256 (RFC 5869 with an empty info).
    static func hkdf(chainingKey: [UInt8], inputKeyMaterial: [UInt8], outputs: Int) -> [[UInt8]] {
        let tempKey = hmac(key: chainingKey, inputKeyMaterial)
        var result: [[UInt8]] = []
        var previous: [UInt8] = []
        for index in 1...outputs {
            previous = hmac(key: tempKey, previous + [UInt8(index)])
            result.append(previous)
        }
        return result
    }
}

/// A ChaCha20-Poly1305 key (RFC 8439) with its OpenSSL contexts: ENCRYPT(k, n, ad, plaintext) and
/// DECRYPT(k, n, ad, ciphertext) of Noise §5.1/§12.3. Each direction's `EVP_CIPHER_CTX` is set up
/// with the cipher and the key on first use and kept; a message only sets its nonce
/// (`EVP_CipherInit_ex` with no cipher and no key resets the counter and the Poly1305 state), so a
/// frame no longer allocates a context, fetches the cipher and loads the key (7% of a validator's
/// CPU at four validators on two cores). Not thread-safe, like the ``CipherState`` that owns it.
final class ChaChaPolyKey {
    private let key: [UInt8]
    private var encryption: OpaquePointer?
    private var decryption: OpaquePointer?

    /// A key of 32 bytes.
    init(_ key: [UInt8]) { self.key = key }

    deinit {
        EVP_CIPHER_CTX_free(encryption)
        EVP_CIPHER_CTX_free(decryption)
    }

    /// ENCRYPT(k, n, ad, plaintext): ciphertext ‖ 16-byte tag.
    func encrypt(nonce: UInt64, associatedData: [UInt8], plaintext: [UInt8]) throws -> [UInt8] {
        guard let context = try self.context(encrypting: true) else { throw NetworkError("noise: EVP_CIPHER_CTX_new failed") }
        var out = [UInt8](repeating: 0, count: plaintext.count + NoiseCrypto.tagLength)
        var written: Int32 = 0
        var unused: Int32 = 0
        let ok = out.withUnsafeMutableBufferPointer { buffer -> Bool in
            let base = buffer.baseAddress!
            guard EVP_EncryptInit_ex(context, nil, nil, nil, Self.nonceBytes(nonce)) == 1,
                  EVP_EncryptUpdate(context, nil, &unused, associatedData, Int32(associatedData.count)) == 1,
                  EVP_EncryptUpdate(context, base, &written, plaintext, Int32(plaintext.count)) == 1,
                  EVP_EncryptFinal_ex(context, base + Int(written), &unused) == 1 else { return false }
            return EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_GET_TAG, Int32(NoiseCrypto.tagLength), base + plaintext.count) == 1
        }
        guard ok, Int(written) == plaintext.count else { throw NetworkError("noise: ChaCha20-Poly1305 encryption failed") }
        return out
    }

    /// DECRYPT(k, n, ad, ciphertext): the plaintext, or `NetworkError.decryptionFailed` when the
    /// tag does not verify.
    func decrypt(nonce: UInt64, associatedData: [UInt8], ciphertext: [UInt8]) throws -> [UInt8] {
        guard ciphertext.count >= NoiseCrypto.tagLength else { throw NetworkError.ciphertextTooShort }
        guard let context = try self.context(encrypting: false) else { throw NetworkError("noise: EVP_CIPHER_CTX_new failed") }
        let bodyLength = ciphertext.count - NoiseCrypto.tagLength
        // One spare byte so the output pointer is never nil (a nil output means AAD to OpenSSL).
        var out = [UInt8](repeating: 0, count: bodyLength + 1)
        var written: Int32 = 0
        var unused: Int32 = 0
        var tag = Array(ciphertext[bodyLength...])
        let ok = out.withUnsafeMutableBufferPointer { buffer -> Bool in
            ciphertext.withUnsafeBufferPointer { input -> Bool in
                guard EVP_DecryptInit_ex(context, nil, nil, nil, Self.nonceBytes(nonce)) == 1,
                      EVP_DecryptUpdate(context, nil, &unused, associatedData, Int32(associatedData.count)) == 1,
                      EVP_DecryptUpdate(context, buffer.baseAddress, &written, input.baseAddress, Int32(bodyLength)) == 1,
                      EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_SET_TAG, Int32(NoiseCrypto.tagLength), &tag) == 1 else { return false }
                return EVP_DecryptFinal_ex(context, buffer.baseAddress! + Int(written), &unused) == 1
            }
        }
        guard ok else {
            ERR_clear_error()
            throw NetworkError.decryptionFailed
        }
        out.removeLast()
        return out
    }

    /// The direction's context, created with the cipher and the key on first use (nil if OpenSSL
    /// cannot allocate one).
    private func context(encrypting: Bool) throws -> OpaquePointer? {
        if let existing = encrypting ? encryption : decryption { return existing }
        guard let context = EVP_CIPHER_CTX_new() else { return nil }
        guard EVP_CipherInit_ex(context, EVP_chacha20_poly1305(), nil, key, nil, encrypting ? 1 : 0) == 1 else {
            EVP_CIPHER_CTX_free(context)
            throw NetworkError("noise: ChaCha20-Poly1305 key setup failed")
        }
        if encrypting { encryption = context } else { decryption = context }
        return context
    }

    /// The 96-bit ChaChaPoly nonce: 32 zero bits then the 64-bit counter little-endian (§12.3).
    private static func nonceBytes(_ counter: UInt64) -> [UInt8] {
        var nonce = [UInt8](repeating: 0, count: 12)
        for i in 0..<8 { nonce[4 + i] = UInt8(truncatingIfNeeded: counter >> (8 * UInt64(i))) }
        return nonce
    }
}
