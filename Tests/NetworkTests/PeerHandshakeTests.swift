import Crypto
import XCTest
@testable import Network

/// The identity layer of the handshake: node keys, signatures bound to the session, expected
/// peer ids.
final class PeerHandshakeTests: XCTestCase {
    let prologue = Array("opg-test".utf8)

    /// Runs the three messages, letting `tamper` rewrite each in flight; returns both sides.
    @discardableResult
    func run(initiatorKey: PrivateKey, responderKey: PrivateKey, expected: PeerID? = nil,
             tamper: (Int, [UInt8]) -> [UInt8] = { $1 }) throws -> (PeerHandshake, PeerHandshake) {
        let initiator = try PeerHandshake(role: .initiator, prologue: prologue, nodeKey: initiatorKey, noiseKey: try .generate(), expectedPeer: expected)
        let responder = try PeerHandshake(role: .responder, prologue: prologue, nodeKey: responderKey, noiseKey: try .generate())
        try responder.read(tamper(1, try initiator.writeNext()))
        try initiator.read(tamper(2, try responder.writeNext()))
        try responder.read(tamper(3, try initiator.writeNext()))
        return (initiator, responder)
    }

    func testBothSidesLearnTheOtherNodeID() throws {
        let a = try PrivateKey.generate(), b = try PrivateKey.generate()
        let (initiator, responder) = try run(initiatorKey: a, responderKey: b, expected: PeerID(b.publicKey))
        var (ia, ib) = (try initiator.finish(), try responder.finish())
        XCTAssertEqual(ia.peer, PeerID(b.publicKey))
        XCTAssertEqual(ib.peer, PeerID(a.publicKey))
        XCTAssertEqual(try ib.session.receiving.decrypt(try ia.session.sending.encrypt([42])), [42])
    }

    func testWrongExpectedPeerIsRefused() throws {
        let a = try PrivateKey.generate(), b = try PrivateKey.generate(), other = try PrivateKey.generate()
        XCTAssertThrowsError(try run(initiatorKey: a, responderKey: b, expected: PeerID(other.publicKey))) {
            XCTAssertEqual($0 as? NetworkError, .unexpectedPeer(expected: PeerID(other.publicKey), got: PeerID(b.publicKey)))
        }
    }

    func testConnectingToOurselvesIsRefused() throws {
        let a = try PrivateKey.generate()
        XCTAssertThrowsError(try run(initiatorKey: a, responderKey: a)) { XCTAssertEqual($0 as? NetworkError, .selfConnection) }
    }

    func testTamperedMessagesFail() throws {
        let a = try PrivateKey.generate(), b = try PrivateKey.generate()
        for step in 1...3 {
            XCTAssertThrowsError(try run(initiatorKey: a, responderKey: b) { index, bytes in
                guard index == step else { return bytes }
                var copy = bytes
                copy[copy.count / 2] ^= 0x04
                return copy
            }, "tampered message \(step)")
        }
    }

    /// A signature made for another session (another handshake hash) does not verify, even
    /// though the node key is genuine: the identity cannot be replayed.
    func testSignatureOverAnotherSessionIsRefused() throws {
        let b = try PrivateKey.generate()
        let noiseKey = try X25519KeyPair.generate()
        let stale = HandshakeIdentity.sign(nodeKey: b, messageNumber: 2, noiseStaticKey: noiseKey.publicKey,
                                           handshakeHash: [UInt8](repeating: 7, count: 32))
        let initiatorNoise = try NoiseXXHandshake(role: .initiator, prologue: prologue, staticKey: try .generate())
        let responderNoise = try NoiseXXHandshake(role: .responder, prologue: prologue, staticKey: noiseKey)
        let initiator = PeerHandshake(noise: initiatorNoise, nodeKey: try .generate(), noiseStaticKey: [], expectedPeer: nil)
        _ = try responderNoise.readMessage(try initiator.writeNext())
        XCTAssertThrowsError(try initiator.read(try responderNoise.writeMessage(payload: stale.encoded))) {
            XCTAssertEqual($0 as? NetworkError, .identitySignatureMismatch)
        }
    }

    /// A signature by one key presented with another node key (claiming someone else's id).
    func testSignatureByAnotherKeyIsRefused() throws {
        let impostor = try PrivateKey.generate(), victim = try PrivateKey.generate()
        let initiatorNoise = try NoiseXXHandshake(role: .initiator, prologue: prologue, staticKey: try .generate())
        let responderStatic = try X25519KeyPair.generate()
        let responderNoise = try NoiseXXHandshake(role: .responder, prologue: prologue, staticKey: responderStatic)
        let initiator = PeerHandshake(noise: initiatorNoise, nodeKey: try .generate(), noiseStaticKey: [], expectedPeer: nil)
        _ = try responderNoise.readMessage(try initiator.writeNext())
        let message = try responderNoise.writeMessage { hash in
            let real = HandshakeIdentity.sign(nodeKey: impostor, messageNumber: 2, noiseStaticKey: responderStatic.publicKey, handshakeHash: hash)
            return HandshakeIdentity(nodeKey: victim.publicKey, signature: real.signature).encoded
        }
        XCTAssertThrowsError(try initiator.read(message)) { XCTAssertEqual($0 as? NetworkError, .identitySignatureMismatch) }
    }

    func testMalformedIdentityPayloads() throws {
        XCTAssertThrowsError(try HandshakeIdentity(decoding: [1, 2])) { XCTAssertEqual($0 as? NetworkError, .malformedIdentity(length: 2)) }
        var bytes = HandshakeIdentity.sign(nodeKey: try .generate(), messageNumber: 2, noiseStaticKey: [], handshakeHash: []).encoded
        bytes[0] = 9
        XCTAssertThrowsError(try HandshakeIdentity(decoding: bytes)) { XCTAssertEqual($0 as? NetworkError, .unsupportedIdentityVersion(9)) }
        bytes[0] = 1
        bytes[1] = 0x05
        XCTAssertThrowsError(try HandshakeIdentity(decoding: bytes)) { XCTAssertEqual($0 as? NetworkError, .invalidNodeKey) }
    }

    func testFirstMessageMustCarryNoPayload() throws {
        let initiatorNoise = try NoiseXXHandshake(role: .initiator, prologue: prologue, staticKey: try .generate())
        let responder = try PeerHandshake(role: .responder, prologue: prologue, nodeKey: try .generate(), noiseKey: try .generate())
        XCTAssertThrowsError(try responder.read(try initiatorNoise.writeMessage(payload: [1, 2, 3]))) {
            XCTAssertEqual($0 as? NetworkError, .malformedHandshakeMessage(step: 1, length: 35))
        }
    }
}
