import Crypto
import Primitives

/// The payload each side puts in its XX message carrying `s` (the responder's message 2, the
/// initiator's message 3): its secp256k1 node public key and a signature that binds that key to
/// this session (docs/p2p.md "Identity payload").
///
///     version (1 byte, 0x01) ‖ node public key (65 bytes, 0x04 ‖ x ‖ y) ‖ r (32) ‖ s (32) ‖ v (1)
///
/// The signature is over keccak256(`domain` ‖ message number (0x02 or 0x03) ‖ the signer's Noise
/// static key (32 bytes) ‖ the handshake hash h after the message's tokens (32 bytes)). h covers
/// the prologue and both ephemeral keys, so a signature is worthless in any other session.
struct HandshakeIdentity {
    /// The identity payload format version.
    static let version: UInt8 = 1
    /// 1 + 65 + 65 bytes.
    static let encodedLength = 1 + 65 + 65
    /// The domain separator of the signed bytes.
    static let domain = Array("opg/p2p/noise-xx-identity/v1".utf8)

    /// The signer's node public key.
    let nodeKey: PublicKey
    /// The signature over `signedHash`.
    let signature: RecoverableSignature

    /// The 32-byte hash a node signs for handshake message `messageNumber` (2 or 3).
    static func signedHash(messageNumber: UInt8, noiseStaticKey: [UInt8], handshakeHash: [UInt8]) -> Hash32 {
        Keccak256.hash(domain + [messageNumber] + noiseStaticKey + handshakeHash)
    }

    /// Signs the session for message `messageNumber` with `nodeKey`.
    static func sign(nodeKey: PrivateKey, messageNumber: UInt8, noiseStaticKey: [UInt8], handshakeHash: [UInt8]) -> HandshakeIdentity {
        let hash = signedHash(messageNumber: messageNumber, noiseStaticKey: noiseStaticKey, handshakeHash: handshakeHash)
        return HandshakeIdentity(nodeKey: nodeKey.publicKey, signature: nodeKey.sign(hash))
    }

    /// The wire bytes.
    var encoded: [UInt8] {
        [Self.version] + nodeKey.uncompressed + signature.r + signature.s + [signature.recoveryID]
    }

    /// Parses the wire bytes; checks length, version and that the key is a curve point.
    init(decoding bytes: [UInt8]) throws {
        guard bytes.count == Self.encodedLength else { throw NetworkError.malformedIdentity(length: bytes.count) }
        guard bytes[0] == Self.version else { throw NetworkError.unsupportedIdentityVersion(bytes[0]) }
        guard bytes[1] == 0x04, let key = try? PublicKey(bytes: Array(bytes[1..<66])) else { throw NetworkError.invalidNodeKey }
        nodeKey = key
        signature = RecoverableSignature(r: Array(bytes[66..<98]), s: Array(bytes[98..<130]), recoveryID: bytes[130])
    }

    init(nodeKey: PublicKey, signature: RecoverableSignature) {
        self.nodeKey = nodeKey
        self.signature = signature
    }

    /// Checks the signature recovers to `nodeKey` for this session and returns the peer id.
    func verify(messageNumber: UInt8, noiseStaticKey: [UInt8], handshakeHash: [UInt8]) throws -> PeerID {
        let hash = Self.signedHash(messageNumber: messageNumber, noiseStaticKey: noiseStaticKey, handshakeHash: handshakeHash)
        guard let recovered = try? signature.recoverPublicKey(hash), recovered == nodeKey else {
            throw NetworkError.identitySignatureMismatch
        }
        return PeerID(nodeKey)
    }
}
