import CSecp256k1
import Primitives

/// An ECDSA signature with its recovery id, as Ethereum transactions carry it.
public struct RecoverableSignature: Hashable, Sendable {
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
        self.r = Self.word(r)
        self.s = Self.word(s)
        self.recoveryID = recoveryID
    }

    /// `bytes` left-padded (or cut) to 32 bytes, in one allocation.
    private static func word(_ bytes: [UInt8]) -> [UInt8] {
        if bytes.count == 32 { return bytes }
        return [UInt8](unsafeUninitializedCapacity: 32) { out, count in
            let take = Swift.min(32, bytes.count)
            let pad = 32 - take
            for i in 0..<pad { out[i] = 0 }
            for i in 0..<take { out[pad + i] = bytes[bytes.count - take + i] }
            count = 32
        }
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
        PublicKey(try recover(hash))
    }

    /// Recovers the signer's address for `hash`: the public key is serialized and
    /// hashed in stack buffers (sender recovery is the hot path of block import).
    public func recoverAddress(_ hash: Hash32) throws -> Address {
        var key = try recover(hash)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 65 + 32) { buffer in
            let base = buffer.baseAddress!
            var length = 65
            _ = secp256k1_ec_pubkey_serialize(Secp256k1Context.shared.pointer, base, &length, &key, UInt32(SECP256K1_EC_UNCOMPRESSED))
            Keccak256.digest(UnsafeBufferPointer(start: base + 1, count: 64), into: base + 65)
            return try! Address(Array(UnsafeBufferPointer(start: base + 65 + 12, count: 20)))
        }
    }

    private func recover(_ hash: Hash32) throws -> secp256k1_pubkey {
        try validate()
        let context = Secp256k1Context.shared.pointer
        var signature = secp256k1_ecdsa_recoverable_signature()
        let parsed = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { compact in
            let base = compact.baseAddress!
            r.withUnsafeBufferPointer { base.update(from: $0.baseAddress!, count: 32) }
            s.withUnsafeBufferPointer { (base + 32).update(from: $0.baseAddress!, count: 32) }
            return secp256k1_ecdsa_recoverable_signature_parse_compact(context, &signature, base, Int32(recoveryID))
        }
        guard parsed == 1 else { throw CryptoError.invalidSignatureValues }
        var key = secp256k1_pubkey()
        guard secp256k1_ecdsa_recover(context, &key, &signature, hash.bytes) == 1 else { throw CryptoError.unrecoverable }
        return key
    }
}
