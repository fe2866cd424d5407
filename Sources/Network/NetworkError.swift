import Glibc

/// Errors of the P2P transport: the Noise handshake, the frame and envelope decoders and the
/// sockets. Each names the rule broken; a peer that causes one is disconnected.
public struct NetworkError: Error, Equatable, CustomStringConvertible {
    /// What went wrong.
    public let message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    public var description: String { message }

    // MARK: Noise primitives

    /// An X25519 public key that is not 32 bytes.
    static let invalidPublicKeyLength = NetworkError("noise: X25519 public key must be 32 bytes")
    /// An X25519 private key that is not 32 bytes.
    static let invalidPrivateKeyLength = NetworkError("noise: X25519 private key must be 32 bytes")
    /// A Diffie-Hellman result of all zeros: the peer sent a low-order point.
    static let lowOrderPoint = NetworkError("noise: X25519 shared secret is all zeros (low-order point)")
    /// The AEAD tag did not verify: the ciphertext, nonce or key is wrong.
    static let decryptionFailed = NetworkError("noise: decryption failed (bad tag, tampered or out-of-order message)")
    /// The 2^64−1 nonce is reserved; a key used that many times must not be used again.
    static let nonceExhausted = NetworkError("noise: nonce exhausted, the session must end")
    /// A ciphertext shorter than the 16-byte tag.
    static let ciphertextTooShort = NetworkError("noise: ciphertext shorter than the 16-byte tag")
    /// A Noise message longer than 65535 bytes.
    static let messageTooLong = NetworkError("noise: message longer than 65535 bytes")

    // MARK: Handshake

    /// A handshake message whose length does not fit its step of the pattern.
    static func malformedHandshakeMessage(step: Int, length: Int) -> NetworkError {
        NetworkError("noise: handshake message \(step) has a wrong length (\(length) bytes)")
    }
    /// A write or read out of turn, or after the handshake finished.
    static let handshakeOutOfTurn = NetworkError("noise: handshake message out of turn")
    /// A handshake payload that is not version ‖ node key ‖ signature.
    static func malformedIdentity(length: Int) -> NetworkError {
        NetworkError("handshake: identity payload must be \(HandshakeIdentity.encodedLength) bytes, got \(length)")
    }
    /// An identity payload with an unknown version byte.
    static func unsupportedIdentityVersion(_ version: UInt8) -> NetworkError {
        NetworkError("handshake: unsupported identity version \(version)")
    }
    /// The node key in the payload is not a secp256k1 point.
    static let invalidNodeKey = NetworkError("handshake: node public key is not a valid secp256k1 point")
    /// The signature does not recover to the node key the peer sent.
    static let identitySignatureMismatch = NetworkError("handshake: node signature does not match the node key")
    /// The peer authenticated as someone else than the id we dialled.
    static func unexpectedPeer(expected: PeerID, got: PeerID) -> NetworkError {
        NetworkError("handshake: expected peer \(expected), got \(got)")
    }
    /// The peer presented our own node key.
    static let selfConnection = NetworkError("handshake: peer presented our own node key")

    // MARK: Frames and envelopes

    /// A frame whose length prefix exceeds the 65535-byte limit or is below the tag size.
    static func invalidFrameLength(_ length: Int) -> NetworkError {
        NetworkError("frame: length \(length) outside \(Frame.minimumCiphertextLength)...\(Frame.maximumCiphertextLength)")
    }
    /// An envelope shorter than its 3-byte header.
    static func envelopeTooShort(_ length: Int) -> NetworkError {
        NetworkError("envelope: \(length) bytes, shorter than the \(Envelope.headerLength)-byte header")
    }
    /// An envelope naming a channel this node does not know.
    static func unknownChannel(_ byte: UInt8) -> NetworkError {
        NetworkError("envelope: unknown channel 0x\(String(byte, radix: 16))")
    }
    /// A message body too large for one frame.
    static func envelopeTooLarge(_ length: Int) -> NetworkError {
        NetworkError("envelope: body of \(length) bytes exceeds \(Envelope.maximumBodyLength)")
    }

    // MARK: Sockets and configuration

    /// A system call failed; `errno` is described.
    static func system(_ call: String, _ code: Int32) -> NetworkError {
        NetworkError("\(call) failed: \(String(cString: strerror(code)))")
    }
    /// The peer closed the connection.
    static let connectionClosed = NetworkError("connection closed by peer")
    /// A peer address that is not `host:port`.
    static func invalidAddress(_ text: String) -> NetworkError {
        NetworkError("invalid peer address \"\(text)\": want host:port")
    }
    /// A persistent-peer entry that is not `0xPEERID@host:port`.
    static func invalidPeerEntry(_ text: String) -> NetworkError {
        NetworkError("invalid persistent peer \"\(text)\": want 0x<40 hex peer id>@host:port")
    }
}
