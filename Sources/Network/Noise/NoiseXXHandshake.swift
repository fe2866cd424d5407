/// The handshake of `Noise_XX_25519_ChaChaPoly_SHA256` (Noise Protocol Framework rev 34, §7.5):
///
///     -> e
///     <- e, ee, s, es
///     -> s, se
///
/// Each side learns the other's static X25519 key. The payloads of the second and third
/// messages are encrypted (the first one's travels in clear). Not thread-safe: one connection
/// drives it, then calls `split()`.
public final class NoiseXXHandshake {
    /// Which side of the pattern this instance plays.
    public enum Role: Sendable { case initiator, responder }

    /// The protocol name hashed into the transcript.
    public static let protocolName = "Noise_XX_25519_ChaChaPoly_SHA256"
    /// The longest Noise message (§3).
    public static let maximumMessageLength = 65535

    private static let keyLength = 32
    private static let tagLength = NoiseCrypto.tagLength

    /// This side's role.
    public let role: Role
    private var symmetric: SymmetricState
    private let localStatic: X25519KeyPair
    private let localEphemeral: X25519KeyPair
    private var remoteEphemeral: [UInt8]?
    /// The peer's static X25519 key, once its message carrying `s` has been read.
    public private(set) var remoteStaticKey: [UInt8]?
    /// Messages written or read so far (0…3).
    public private(set) var step = 0

    /// Starts a handshake. `ephemeral` is drawn fresh unless given (test vectors give it).
    init(role: Role, prologue: [UInt8], staticKey: X25519KeyPair, ephemeral: X25519KeyPair) {
        self.role = role
        symmetric = SymmetricState(protocolName: Self.protocolName)
        symmetric.mixHash(prologue)
        localStatic = staticKey
        localEphemeral = ephemeral
    }

    /// Starts a handshake with a fresh ephemeral key.
    public convenience init(role: Role, prologue: [UInt8], staticKey: X25519KeyPair) throws {
        self.init(role: role, prologue: prologue, staticKey: staticKey, ephemeral: try X25519KeyPair.generate())
    }

    /// The handshake hash h: after the last message, the session's channel binding.
    public var handshakeHash: [UInt8] { symmetric.handshakeHash }

    /// Whether all three messages have passed.
    public var isComplete: Bool { step == 3 }

    /// Whether this side writes the next message.
    public var isOurTurn: Bool { !isComplete && (step % 2 == 0) == (role == .initiator) }

    /// Writes the next message with a fixed payload.
    public func writeMessage(payload: [UInt8]) throws -> [UInt8] {
        try writeMessage { _ in payload }
    }

    /// Writes the next message; `makePayload` receives the handshake hash after this message's
    /// tokens (the value the reader sees in `readMessage`'s `hashBeforePayload`), so a payload
    /// can sign it.
    public func writeMessage(makePayload: ([UInt8]) throws -> [UInt8]) throws -> [UInt8] {
        guard isOurTurn else { throw NetworkError.handshakeOutOfTurn }
        var message: [UInt8] = []
        switch step {
        case 0:
            message += localEphemeral.publicKey
            symmetric.mixHash(localEphemeral.publicKey)
        case 1:
            message += localEphemeral.publicKey
            symmetric.mixHash(localEphemeral.publicKey)
            symmetric.mixKey(try localEphemeral.sharedSecret(with: remoteEphemeral!))        // ee
            message += try symmetric.encryptAndHash(localStatic.publicKey)                    // s
            symmetric.mixKey(try localStatic.sharedSecret(with: remoteEphemeral!))           // es
        default:
            message += try symmetric.encryptAndHash(localStatic.publicKey)                    // s
            symmetric.mixKey(try localStatic.sharedSecret(with: remoteEphemeral!))           // se
        }
        let payload = try makePayload(symmetric.handshakeHash)
        message += try symmetric.encryptAndHash(payload)
        guard message.count <= Self.maximumMessageLength else { throw NetworkError.messageTooLong }
        step += 1
        return message
    }

    /// Reads the peer's next message and returns its payload, with the handshake hash the
    /// payload was encrypted under (what the writer's `makePayload` received).
    public func readMessage(_ message: [UInt8]) throws -> (payload: [UInt8], hashBeforePayload: [UInt8]) {
        guard !isComplete, !isOurTurn else { throw NetworkError.handshakeOutOfTurn }
        guard message.count <= Self.maximumMessageLength else { throw NetworkError.messageTooLong }
        let k = Self.keyLength, tag = Self.tagLength
        let minimum = [k, k + (k + tag) + tag, (k + tag) + tag][step]
        guard message.count >= minimum else {
            throw NetworkError.malformedHandshakeMessage(step: step + 1, length: message.count)
        }
        var offset = 0
        func take(_ count: Int) -> [UInt8] {
            defer { offset += count }
            return Array(message[offset..<offset + count])
        }
        switch step {
        case 0:
            let ephemeral = take(k)
            remoteEphemeral = ephemeral
            symmetric.mixHash(ephemeral)
        case 1:
            let ephemeral = take(k)
            remoteEphemeral = ephemeral
            symmetric.mixHash(ephemeral)
            symmetric.mixKey(try localEphemeral.sharedSecret(with: ephemeral))                // ee
            let staticKey = try symmetric.decryptAndHash(take(k + tag))                      // s
            remoteStaticKey = staticKey
            symmetric.mixKey(try localEphemeral.sharedSecret(with: staticKey))               // es
        default:
            let staticKey = try symmetric.decryptAndHash(take(k + tag))                      // s
            remoteStaticKey = staticKey
            symmetric.mixKey(try localEphemeral.sharedSecret(with: staticKey))               // se
        }
        let hashBeforePayload = symmetric.handshakeHash
        let payload = try symmetric.decryptAndHash(Array(message[offset...]))
        step += 1
        return (payload, hashBeforePayload)
    }

    /// Split(): the transport session, once the handshake is complete.
    public func split() throws -> NoiseSession {
        guard isComplete, let remoteStaticKey else { throw NetworkError.handshakeOutOfTurn }
        let (initiatorToResponder, responderToInitiator) = symmetric.split()
        switch role {
        case .initiator:
            return NoiseSession(sending: initiatorToResponder, receiving: responderToInitiator,
                                handshakeHash: handshakeHash, remoteStaticKey: remoteStaticKey)
        case .responder:
            return NoiseSession(sending: responderToInitiator, receiving: initiatorToResponder,
                                handshakeHash: handshakeHash, remoteStaticKey: remoteStaticKey)
        }
    }
}

/// The transport phase of a finished Noise handshake: one cipher state per direction,
/// associated data empty (§5.2). Not thread-safe; a connection's reader owns `receiving` and its
/// writer `sending`, so the two halves are separate values.
public struct NoiseSession {
    /// Encrypts what this side sends.
    public var sending: NoiseSender
    /// Decrypts what the peer sends.
    public var receiving: NoiseReceiver
    /// The final handshake hash (channel binding).
    public let handshakeHash: [UInt8]
    /// The peer's static X25519 key.
    public let remoteStaticKey: [UInt8]

    init(sending: CipherState, receiving: CipherState, handshakeHash: [UInt8], remoteStaticKey: [UInt8]) {
        self.sending = NoiseSender(cipher: sending)
        self.receiving = NoiseReceiver(cipher: receiving)
        self.handshakeHash = handshakeHash
        self.remoteStaticKey = remoteStaticKey
    }
}

/// The sending half of a transport session.
public struct NoiseSender {
    var cipher: CipherState

    /// Encrypts one transport message (ciphertext ‖ tag); fails with `nonceExhausted` at 2^64−1.
    public mutating func encrypt(_ plaintext: [UInt8]) throws -> [UInt8] {
        guard plaintext.count + NoiseCrypto.tagLength <= NoiseXXHandshake.maximumMessageLength else {
            throw NetworkError.messageTooLong
        }
        return try cipher.encrypt(associatedData: [], plaintext)
    }
}

/// The receiving half of a transport session.
public struct NoiseReceiver {
    var cipher: CipherState

    /// Decrypts the next transport message; a tampered, replayed or reordered one fails.
    public mutating func decrypt(_ ciphertext: [UInt8]) throws -> [UInt8] {
        guard ciphertext.count <= NoiseXXHandshake.maximumMessageLength else { throw NetworkError.messageTooLong }
        return try cipher.decrypt(associatedData: [], ciphertext)
    }
}
