import CSecp256k1
import Primitives

/// A secp256k1 public key.
public struct PublicKey: Equatable, Sendable {
    /// The 65-byte uncompressed encoding (`0x04 ‖ x ‖ y`).
    public let uncompressed: [UInt8]

    init(_ key: secp256k1_pubkey) {
        var key = key
        var out = [UInt8](repeating: 0, count: 65)
        var length = 65
        _ = secp256k1_ec_pubkey_serialize(Secp256k1Context.shared.pointer, &out, &length, &key, UInt32(SECP256K1_EC_UNCOMPRESSED))
        uncompressed = out
    }

    /// Parses a 33-byte compressed or 65-byte uncompressed key (`secp256k1_ec_pubkey_parse`).
    public init(bytes: [UInt8]) throws {
        var key = secp256k1_pubkey()
        guard secp256k1_ec_pubkey_parse(Secp256k1Context.shared.pointer, &key, bytes, bytes.count) == 1 else {
            throw CryptoError("public key is not a valid secp256k1 point encoding")
        }
        self.init(key)
    }

    /// The 33-byte compressed encoding (`0x02` or `0x03` for an even or odd y, then x).
    public var compressed: [UInt8] { [0x02 | (uncompressed[64] & 1)] + uncompressed[1...32] }

    /// The address: the last 20 bytes of keccak256(x ‖ y).
    public var address: Address {
        let digest = uncompressed.withUnsafeBufferPointer { Keccak256.digest(UnsafeBufferPointer(rebasing: $0[1...])) }
        // 32 − 12 = 20 bytes, always.
        return try! Address(Array(digest[12...]))
    }
}
