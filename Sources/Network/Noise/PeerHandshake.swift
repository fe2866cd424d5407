import Crypto

/// The XX handshake with node identities on top: the first message carries no payload, the
/// second (responder) and third (initiator) carry a `HandshakeIdentity`, verified on arrival.
/// Drive it with `writeNext()` when `isOurTurn` and `read(_:)` otherwise, until `isComplete`.
public final class PeerHandshake {
    private let noise: NoiseXXHandshake
    private let nodeKey: PrivateKey
    private let localStatic: [UInt8]
    private let expectedPeer: PeerID?
    /// The authenticated peer, once its identity payload verified.
    public private(set) var remotePeer: PeerID?

    /// Starts a handshake. `prologue` names the network (nodes of another network fail the
    /// handshake); `expectedPeer`, when set, is the only identity accepted.
    public convenience init(role: NoiseXXHandshake.Role, prologue: [UInt8], nodeKey: PrivateKey,
                            noiseKey: X25519KeyPair, expectedPeer: PeerID? = nil) throws {
        self.init(noise: NoiseXXHandshake(role: role, prologue: prologue, staticKey: noiseKey, ephemeral: try .generate()),
                  nodeKey: nodeKey, noiseStaticKey: noiseKey.publicKey, expectedPeer: expectedPeer)
    }

    init(noise: NoiseXXHandshake, nodeKey: PrivateKey, noiseStaticKey: [UInt8], expectedPeer: PeerID?) {
        self.noise = noise
        self.nodeKey = nodeKey
        localStatic = noiseStaticKey
        self.expectedPeer = expectedPeer
    }

    /// Whether this side writes the next message.
    public var isOurTurn: Bool { noise.isOurTurn }
    /// Whether all three messages passed and the peer is authenticated.
    public var isComplete: Bool { noise.isComplete && remotePeer != nil }

    /// Writes the next handshake message.
    public func writeNext() throws -> [UInt8] {
        let messageNumber = UInt8(noise.step + 1)
        if messageNumber == 1 { return try noise.writeMessage(payload: []) }
        return try noise.writeMessage { hash in
            HandshakeIdentity.sign(nodeKey: nodeKey, messageNumber: messageNumber, noiseStaticKey: localStatic, handshakeHash: hash).encoded
        }
    }

    /// Reads the peer's next handshake message and, when it carries the peer's identity,
    /// verifies it (signature, expected id, not ourselves).
    public func read(_ message: [UInt8]) throws {
        let messageNumber = UInt8(noise.step + 1)
        let (payload, hash) = try noise.readMessage(message)
        if messageNumber == 1 {
            guard payload.isEmpty else { throw NetworkError.malformedHandshakeMessage(step: 1, length: message.count) }
            return
        }
        let identity = try HandshakeIdentity(decoding: payload)
        // readMessage has set the remote static key by the time a payload is present.
        let peer = try identity.verify(messageNumber: messageNumber, noiseStaticKey: noise.remoteStaticKey!, handshakeHash: hash)
        if peer == PeerID(nodeKey.publicKey) { throw NetworkError.selfConnection }
        if let expectedPeer, expectedPeer != peer { throw NetworkError.unexpectedPeer(expected: expectedPeer, got: peer) }
        remotePeer = peer
    }

    /// The transport session and the authenticated peer, once complete.
    public func finish() throws -> (session: NoiseSession, peer: PeerID) {
        guard isComplete, let remotePeer else { throw NetworkError.handshakeOutOfTurn }
        return (try noise.split(), remotePeer)
    }
}
