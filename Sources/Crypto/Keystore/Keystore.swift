import COpenSSL
import Foundation
import JSON
import Primitives

/// Web3 Secret Storage (keystore v3) files: the private key encrypted with AES-128-CTR
/// under a key derived from a password by scrypt (or PBKDF2-HMAC-SHA256 when reading),
/// with a keccak MAC. Files we write decrypt in eth-account and geth, and theirs in ours.
public enum Keystore {
    /// scrypt cost parameters.
    public struct ScryptParameters: Sendable {
        /// CPU/memory cost (a power of two).
        public var n: UInt64
        /// Block size.
        public var r: UInt64
        /// Parallelism.
        public var p: UInt64

        /// geth's "standard" parameters (N=262144, r=8, p=1).
        public static let standard = ScryptParameters(n: 262_144, r: 8, p: 1)
        /// geth's "light" parameters (N=4096, r=8, p=6).
        public static let light = ScryptParameters(n: 4096, r: 8, p: 6)

        /// Creates parameters.
        public init(n: UInt64, r: UInt64, p: UInt64) {
            self.n = n
            self.r = r
            self.p = p
        }
    }

    /// Encrypts `key` under `password` and returns the keystore JSON text.
    public static func encrypt(_ key: PrivateKey, password: String, scrypt: ScryptParameters = .standard) throws -> String {
        let salt = try random(32), iv = try random(16)
        let derived = try KeyDerivation.scrypt(password: Array(password.utf8), salt: salt, n: scrypt.n, r: scrypt.r, p: scrypt.p, length: 32)
        let ciphertext = try KeyDerivation.aes128CTR(key: Array(derived[0..<16]), iv: iv, key.bytes)
        let mac = Keccak256.digest(Array(derived[16..<32]) + ciphertext)
        let hex = { (b: [UInt8]) in JSONValue.string(Hex.encode(b[...], prefix: false)) }
        let document: JSONValue = [
            "address": hex(key.address.bytes),
            "crypto": [
                "cipher": "aes-128-ctr",
                "cipherparams": ["iv": hex(iv)],
                "ciphertext": hex(ciphertext),
                "kdf": "scrypt",
                "kdfparams": ["dklen": 32, "n": .int(scrypt.n), "p": .int(scrypt.p), "r": .int(scrypt.r), "salt": hex(salt)],
                "mac": hex(mac),
            ],
            "id": .string(UUID().uuidString.lowercased()),
            "version": 3,
        ]
        return document.serialized()
    }

    /// Decrypts keystore JSON text with `password`. A wrong password fails the MAC check.
    public static func decrypt(_ text: String, password: String) throws -> PrivateKey {
        let document: JSONValue
        do { document = try JSONParser.parse(text) } catch { throw CryptoError("keystore: \(error)") }
        guard document["version"]?.numberValue?.int64 == 3 else { throw CryptoError("keystore: version must be 3") }
        guard let crypto = document["crypto"] ?? document["Crypto"], crypto.objectValue != nil else {
            throw CryptoError("keystore: missing crypto object")
        }
        guard crypto["cipher"]?.stringValue == "aes-128-ctr" else { throw CryptoError("keystore: crypto.cipher must be aes-128-ctr") }
        let ciphertext = try hexField(crypto["ciphertext"], "crypto.ciphertext")
        let iv = try hexField(crypto["cipherparams"]?["iv"], "crypto.cipherparams.iv")
        let mac = try hexField(crypto["mac"], "crypto.mac")
        guard let params = crypto["kdfparams"], params.objectValue != nil else { throw CryptoError("keystore: missing crypto.kdfparams") }
        let salt = try hexField(params["salt"], "crypto.kdfparams.salt")
        let dklen = try number(params["dklen"], "crypto.kdfparams.dklen")
        guard dklen >= 32, dklen <= 64 else { throw CryptoError("keystore: crypto.kdfparams.dklen must be 32…64") }
        let password = Array(password.utf8)
        let derived: [UInt8]
        switch crypto["kdf"]?.stringValue {
        case "scrypt":
            derived = try KeyDerivation.scrypt(password: password, salt: salt, n: number(params["n"], "crypto.kdfparams.n"),
                                               r: number(params["r"], "crypto.kdfparams.r"), p: number(params["p"], "crypto.kdfparams.p"),
                                               length: Int(dklen))
        case "pbkdf2":
            guard params["prf"]?.stringValue == "hmac-sha256" else { throw CryptoError("keystore: crypto.kdfparams.prf must be hmac-sha256") }
            derived = try KeyDerivation.pbkdf2SHA256(password: password, salt: salt, iterations: Int(number(params["c"], "crypto.kdfparams.c")),
                                                     length: Int(dklen))
        default:
            throw CryptoError("keystore: crypto.kdf must be scrypt or pbkdf2")
        }
        guard Keccak256.digest(Array(derived[16..<32]) + ciphertext) == mac else {
            throw CryptoError("keystore: could not decrypt key with given password (MAC mismatch)")
        }
        let key = try PrivateKey(KeyDerivation.aes128CTR(key: Array(derived[0..<16]), iv: iv, ciphertext))
        if let recorded = document["address"]?.stringValue, let address = try? Hex.decodeLenient(recorded), address != key.address.bytes {
            throw CryptoError("keystore: address field does not match the decrypted key")
        }
        return key
    }

    /// The address a keystore file declares, without decrypting it.
    public static func address(of text: String) throws -> Address {
        guard let field = (try? JSONParser.parse(text))?["address"]?.stringValue else { throw CryptoError("keystore: missing address") }
        do { return try Address(Hex.decodeLenient(field)) } catch { throw CryptoError("keystore: address: \(error)") }
    }

    private static func hexField(_ value: JSONValue?, _ name: String) throws -> [UInt8] {
        guard let text = value?.stringValue else { throw CryptoError("keystore: missing \(name)") }
        do { return try Hex.decodeLenient(text) } catch { throw CryptoError("keystore: \(name): \(error)") }
    }

    private static func number(_ value: JSONValue?, _ name: String) throws -> UInt64 {
        guard let n = value?.numberValue?.uint64 else { throw CryptoError("keystore: \(name) must be a non-negative integer") }
        return n
    }

    private static func random(_ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        guard RAND_bytes(&out, Int32(count)) == 1 else { throw CryptoError("RAND_bytes failed") }
        return out
    }
}
