import COpenSSL

/// The key-derivation functions keystore files use, through OpenSSL.
enum KeyDerivation {
    /// scrypt (`EVP_PBE_scrypt`); `maxmem` is sized for the parameters (N=262144 needs 256 MiB).
    static func scrypt(password: [UInt8], salt: [UInt8], n: UInt64, r: UInt64, p: UInt64, length: Int) throws -> [UInt8] {
        guard n > 1, n & (n - 1) == 0 else { throw CryptoError("keystore: scrypt n must be a power of two above 1") }
        guard r > 0, p > 0, r * p < (1 << 30), n <= (1 << 24) else { throw CryptoError("keystore: scrypt r, p or n out of range") }
        var out = [UInt8](repeating: 0, count: length)
        let maxmem = max(UInt64(1) << 30, 128 * r * n * 2 + (1 << 20))
        let ok = EVP_PBE_scrypt(password.map { CChar(bitPattern: $0) }, password.count, salt, salt.count, n, r, p, maxmem, &out, length)
        guard ok == 1 else { throw CryptoError("keystore: scrypt failed for n=\(n) r=\(r) p=\(p)") }
        return out
    }

    /// PBKDF2 with HMAC-SHA256 (`PKCS5_PBKDF2_HMAC`).
    static func pbkdf2SHA256(password: [UInt8], salt: [UInt8], iterations: Int, length: Int) throws -> [UInt8] {
        guard iterations > 0, iterations <= 100_000_000 else { throw CryptoError("keystore: pbkdf2 c out of range") }
        var out = [UInt8](repeating: 0, count: length)
        let ok = PKCS5_PBKDF2_HMAC(password.map { CChar(bitPattern: $0) }, Int32(password.count), salt, Int32(salt.count),
                                   Int32(iterations), EVP_sha256(), Int32(length), &out)
        guard ok == 1 else { throw CryptoError("keystore: pbkdf2 failed") }
        return out
    }

    /// AES-128-CTR encryption or decryption (the same operation) with OpenSSL's EVP cipher API.
    static func aes128CTR(key: [UInt8], iv: [UInt8], _ input: [UInt8]) throws -> [UInt8] {
        guard key.count == 16, iv.count == 16 else { throw CryptoError("keystore: aes-128-ctr needs a 16-byte key and iv") }
        guard let context = EVP_CIPHER_CTX_new() else { throw CryptoError("keystore: EVP_CIPHER_CTX_new failed") }
        defer { EVP_CIPHER_CTX_free(context) }
        guard EVP_EncryptInit_ex(context, EVP_aes_128_ctr(), nil, key, iv) == 1 else { throw CryptoError("keystore: cipher init failed") }
        var out = [UInt8](repeating: 0, count: input.count + 16)
        var written: Int32 = 0
        var final: Int32 = 0
        guard EVP_EncryptUpdate(context, &out, &written, input, Int32(input.count)) == 1,
              EVP_EncryptFinal_ex(context, &out[Int(written)], &final) == 1 else {
            throw CryptoError("keystore: aes-128-ctr failed")
        }
        return Array(out[0..<Int(written + final)])
    }
}
