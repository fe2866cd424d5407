import COpenSSL
import Crypto

/// The cipher and hash functions of `Noise_*_25519_ChaChaPoly_SHA256` (Noise spec rev 34 §5, §12),
/// through OpenSSL 3's EVP API. Stateless; every call owns and frees its OpenSSL context.
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

    /// The 96-bit ChaChaPoly nonce: 32 zero bits then the 64-bit counter little-endian (§12.3).
    private static func nonceBytes(_ counter: UInt64) -> [UInt8] {
        var nonce = [UInt8](repeating: 0, count: 12)
        for i in 0..<8 { nonce[4 + i] = UInt8(truncatingIfNeeded: counter >> (8 * UInt64(i))) }
        return nonce
    }

    /// ENCRYPT(k, n, ad, plaintext): ChaCha20-Poly1305 (RFC 8439), ciphertext ‖ 16-byte tag.
    static func encrypt(key: [UInt8], nonce: UInt64, associatedData: [UInt8], plaintext: [UInt8]) throws -> [UInt8] {
        guard let context = EVP_CIPHER_CTX_new() else { throw NetworkError("noise: EVP_CIPHER_CTX_new failed") }
        defer { EVP_CIPHER_CTX_free(context) }
        var out = [UInt8](repeating: 0, count: plaintext.count + tagLength)
        var written: Int32 = 0
        var unused: Int32 = 0
        let ok = out.withUnsafeMutableBufferPointer { buffer -> Bool in
            let base = buffer.baseAddress!
            guard EVP_EncryptInit_ex(context, EVP_chacha20_poly1305(), nil, key, nonceBytes(nonce)) == 1,
                  EVP_EncryptUpdate(context, nil, &unused, associatedData, Int32(associatedData.count)) == 1,
                  EVP_EncryptUpdate(context, base, &written, plaintext, Int32(plaintext.count)) == 1,
                  EVP_EncryptFinal_ex(context, base + Int(written), &unused) == 1 else { return false }
            return EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_GET_TAG, Int32(tagLength), base + plaintext.count) == 1
        }
        guard ok, Int(written) == plaintext.count else { throw NetworkError("noise: ChaCha20-Poly1305 encryption failed") }
        return out
    }

    /// DECRYPT(k, n, ad, ciphertext): the plaintext, or `NetworkError.decryptionFailed` when the
    /// tag does not verify.
    static func decrypt(key: [UInt8], nonce: UInt64, associatedData: [UInt8], ciphertext: [UInt8]) throws -> [UInt8] {
        guard ciphertext.count >= tagLength else { throw NetworkError.ciphertextTooShort }
        guard let context = EVP_CIPHER_CTX_new() else { throw NetworkError("noise: EVP_CIPHER_CTX_new failed") }
        defer { EVP_CIPHER_CTX_free(context) }
        let bodyLength = ciphertext.count - tagLength
        // One spare byte so the output pointer is never nil (a nil output means AAD to OpenSSL).
        var out = [UInt8](repeating: 0, count: bodyLength + 1)
        var written: Int32 = 0
        var unused: Int32 = 0
        var tag = Array(ciphertext[bodyLength...])
        let ok = out.withUnsafeMutableBufferPointer { buffer -> Bool in
            ciphertext.withUnsafeBufferPointer { input -> Bool in
                guard EVP_DecryptInit_ex(context, EVP_chacha20_poly1305(), nil, key, nonceBytes(nonce)) == 1,
                      EVP_DecryptUpdate(context, nil, &unused, associatedData, Int32(associatedData.count)) == 1,
                      EVP_DecryptUpdate(context, buffer.baseAddress, &written, input.baseAddress, Int32(bodyLength)) == 1,
                      EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_SET_TAG, Int32(tagLength), &tag) == 1 else { return false }
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
}
