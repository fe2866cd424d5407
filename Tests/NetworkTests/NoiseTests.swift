import Foundation
import Primitives
import XCTest
@testable import Network

/// The Noise XX handshake and transport against the published cacophony vectors, and the
/// failures the transport must detect.
final class NoiseTests: XCTestCase {
    struct Vector {
        let prologue: [UInt8]
        let initiatorStatic, initiatorEphemeral, responderStatic, responderEphemeral: [UInt8]
        let messages: [(payload: [UInt8], ciphertext: [UInt8])]
    }

    static func loadVector() throws -> Vector {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/noise-xx-vectors.json")
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let entry = (root["vectors"] as! [[String: Any]])[0]
        XCTAssertEqual(entry["name"] as? String, NoiseXXHandshake.protocolName)
        func hex(_ key: String) throws -> [UInt8] { try Hex.decodeLenient(entry[key] as! String) }
        let messages = try (entry["messages"] as! [[String: String]]).map {
            (try Hex.decodeLenient($0["payload"]!), try Hex.decodeLenient($0["ciphertext"]!))
        }
        return Vector(prologue: try hex("init_prologue"), initiatorStatic: try hex("init_static"),
                      initiatorEphemeral: try hex("init_ephemeral"), responderStatic: try hex("resp_static"),
                      responderEphemeral: try hex("resp_ephemeral"), messages: messages)
    }

    func vectorHandshakes(_ v: Vector) throws -> (NoiseXXHandshake, NoiseXXHandshake) {
        let initiator = NoiseXXHandshake(role: .initiator, prologue: v.prologue, staticKey: try X25519KeyPair(privateKey: v.initiatorStatic),
                                         ephemeral: try X25519KeyPair(privateKey: v.initiatorEphemeral))
        let responder = NoiseXXHandshake(role: .responder, prologue: v.prologue, staticKey: try X25519KeyPair(privateKey: v.responderStatic),
                                         ephemeral: try X25519KeyPair(privateKey: v.responderEphemeral))
        return (initiator, responder)
    }

    func testCacophonyVectorHandshakeAndTransport() throws {
        let v = try Self.loadVector()
        let (initiator, responder) = try vectorHandshakes(v)
        // Handshake: initiator, responder, initiator; every byte must match and decrypt back.
        for (index, message) in v.messages.prefix(3).enumerated() {
            let (writer, reader) = index % 2 == 0 ? (initiator, responder) : (responder, initiator)
            let written = try writer.writeMessage(payload: message.payload)
            XCTAssertEqual(Hex.encode(written), Hex.encode(message.ciphertext), "handshake message \(index + 1)")
            XCTAssertEqual(try reader.readMessage(written).payload, message.payload)
        }
        XCTAssertTrue(initiator.isComplete && responder.isComplete)
        XCTAssertEqual(initiator.handshakeHash, responder.handshakeHash)
        XCTAssertEqual(initiator.remoteStaticKey, try X25519KeyPair(privateKey: v.responderStatic).publicKey)
        XCTAssertEqual(responder.remoteStaticKey, try X25519KeyPair(privateKey: v.initiatorStatic).publicKey)
        var initiatorSession = try initiator.split()
        var responderSession = try responder.split()
        // Transport: responder, initiator, responder.
        for (index, message) in v.messages.dropFirst(3).enumerated() {
            let ciphertext: [UInt8]
            let plaintext: [UInt8]
            if index % 2 == 0 {
                ciphertext = try responderSession.sending.encrypt(message.payload)
                plaintext = try initiatorSession.receiving.decrypt(ciphertext)
            } else {
                ciphertext = try initiatorSession.sending.encrypt(message.payload)
                plaintext = try responderSession.receiving.decrypt(ciphertext)
            }
            XCTAssertEqual(Hex.encode(ciphertext), Hex.encode(message.ciphertext), "transport message \(index + 4)")
            XCTAssertEqual(plaintext, message.payload)
        }
    }

    func testHKDFIsRFC5869WithEmptyInfo() throws {
        // RFC 5869 test case 3 (IKM 0x0b × 22, no salt = 32 zero bytes, empty info): Noise's HKDF
        // outputs are the RFC's T(1) and T(2), so they are the OKM's bytes 0..<32 and 32..<42.
        let outputs = NoiseCrypto.hkdf(chainingKey: [UInt8](repeating: 0, count: 32),
                                       inputKeyMaterial: [UInt8](repeating: 0x0b, count: 22), outputs: 2)
        let okm = "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
        XCTAssertEqual(Hex.encode(outputs[0], prefix: false) + Hex.encode(outputs[1].prefix(10), prefix: false), okm)
    }

    func testLowOrderPointsAreRefused() throws {
        let key = try X25519KeyPair.generate()
        let lowOrder = [
            [UInt8](repeating: 0, count: 32),
            [1] + [UInt8](repeating: 0, count: 31),
            try Hex.decodeLenient("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
            try Hex.decodeLenient("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
            try Hex.decodeLenient("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        ]
        for point in lowOrder {
            XCTAssertThrowsError(try key.sharedSecret(with: point)) { XCTAssertEqual($0 as? NetworkError, .lowOrderPoint) }
        }
        XCTAssertThrowsError(try key.sharedSecret(with: [1, 2, 3])) { XCTAssertEqual($0 as? NetworkError, .invalidPublicKeyLength) }
    }

    func testLowOrderEphemeralFailsTheHandshake() throws {
        let responder = try NoiseXXHandshake(role: .responder, prologue: [], staticKey: try .generate())
        _ = try responder.readMessage([UInt8](repeating: 0, count: 32))
        XCTAssertThrowsError(try responder.writeMessage(payload: [])) { XCTAssertEqual($0 as? NetworkError, .lowOrderPoint) }
    }

    func testTamperedHandshakeMessagesFail() throws {
        let v = try Self.loadVector()
        for position in [0, 40, 90, 120] {
            let (initiator, responder) = try vectorHandshakes(v)
            _ = try responder.readMessage(try initiator.writeMessage(payload: []))
            var second = try responder.writeMessage(payload: Array("x".utf8))
            second[position % second.count] ^= 0x01
            XCTAssertThrowsError(try initiator.readMessage(second), "flip at \(position)")
        }
        let (initiator, responder) = try vectorHandshakes(v)
        XCTAssertThrowsError(try responder.readMessage([1, 2, 3])) {
            XCTAssertEqual($0 as? NetworkError, .malformedHandshakeMessage(step: 1, length: 3))
        }
        XCTAssertThrowsError(try initiator.readMessage([UInt8](repeating: 0, count: 32))) {
            XCTAssertEqual($0 as? NetworkError, .handshakeOutOfTurn)
        }
    }

    func testDifferentProloguesFail() throws {
        let initiator = try NoiseXXHandshake(role: .initiator, prologue: Array("net-a".utf8), staticKey: try .generate())
        let responder = try NoiseXXHandshake(role: .responder, prologue: Array("net-b".utf8), staticKey: try .generate())
        _ = try responder.readMessage(try initiator.writeMessage(payload: []))
        XCTAssertThrowsError(try initiator.readMessage(try responder.writeMessage(payload: []))) {
            XCTAssertEqual($0 as? NetworkError, .decryptionFailed)
        }
    }

    func sessions() throws -> (NoiseSession, NoiseSession) {
        let initiator = try NoiseXXHandshake(role: .initiator, prologue: [], staticKey: try .generate())
        let responder = try NoiseXXHandshake(role: .responder, prologue: [], staticKey: try .generate())
        _ = try responder.readMessage(try initiator.writeMessage(payload: []))
        _ = try initiator.readMessage(try responder.writeMessage(payload: []))
        _ = try responder.readMessage(try initiator.writeMessage(payload: []))
        return (try initiator.split(), try responder.split())
    }

    func testOutOfOrderReplayedAndTamperedTransportMessagesFail() throws {
        var (a, b) = try sessions()
        let first = try a.sending.encrypt([1])
        let second = try a.sending.encrypt([2])
        XCTAssertThrowsError(try b.receiving.decrypt(second)) { XCTAssertEqual($0 as? NetworkError, .decryptionFailed) }
        // A failed decryption does not advance the nonce: the right message still opens.
        XCTAssertEqual(try b.receiving.decrypt(first), [1])
        XCTAssertThrowsError(try b.receiving.decrypt(first)) { XCTAssertEqual($0 as? NetworkError, .decryptionFailed) }
        var tampered = second
        tampered[0] ^= 0x80
        XCTAssertThrowsError(try b.receiving.decrypt(tampered)) { XCTAssertEqual($0 as? NetworkError, .decryptionFailed) }
        XCTAssertEqual(try b.receiving.decrypt(second), [2])
        XCTAssertThrowsError(try b.receiving.decrypt([0, 1, 2])) { XCTAssertEqual($0 as? NetworkError, .ciphertextTooShort) }
        // Empty messages round-trip too.
        XCTAssertEqual(try a.receiving.decrypt(try b.sending.encrypt([])), [])
    }

    func testNonceExhaustion() throws {
        var (a, b) = try sessions()
        a.sending.cipher = CipherState(key: try keyOf(a.sending.cipher), nonce: CipherState.maximumNonce - 1)
        b.receiving.cipher = CipherState(key: try keyOf(b.receiving.cipher), nonce: CipherState.maximumNonce - 1)
        XCTAssertEqual(try b.receiving.decrypt(try a.sending.encrypt([9])), [9])
        XCTAssertThrowsError(try a.sending.encrypt([9])) { XCTAssertEqual($0 as? NetworkError, .nonceExhausted) }
        XCTAssertThrowsError(try b.receiving.decrypt([UInt8](repeating: 0, count: 17))) { XCTAssertEqual($0 as? NetworkError, .nonceExhausted) }
    }

    private func keyOf(_ cipher: CipherState) throws -> [UInt8] {
        let key = try XCTUnwrap(Mirror(reflecting: cipher).children.first { $0.label == "key" }?.value as? ChaChaPolyKey)
        return try XCTUnwrap(Mirror(reflecting: key).children.first { $0.label == "key" }?.value as? [UInt8])
    }

    /// A key's contexts are set up once and reused with a new nonce per message: every result equals
    /// that of a fresh key, in any order of nonces and directions, and a failed decryption leaves
    /// the key usable.
    func testReusedCipherContextsMatchFreshOnes() throws {
        let bytes = (0..<32).map { UInt8($0 * 7 + 1) }
        let reused = ChaChaPolyKey(bytes)
        let nonces: [UInt64] = [0, 1, 1 << 40, 2, UInt64.max - 1, 0]
        for (i, nonce) in nonces.enumerated() {
            let plaintext = (0..<(i * 37)).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ i) }
            let ad = [UInt8(i), 0xAA]
            let ciphertext = try reused.encrypt(nonce: nonce, associatedData: ad, plaintext: plaintext)
            XCTAssertEqual(ciphertext, try ChaChaPolyKey(bytes).encrypt(nonce: nonce, associatedData: ad, plaintext: plaintext))
            var tampered = ciphertext
            tampered[tampered.count - 1] ^= 1
            XCTAssertThrowsError(try reused.decrypt(nonce: nonce, associatedData: ad, ciphertext: tampered)) {
                XCTAssertEqual($0 as? NetworkError, .decryptionFailed)
            }
            XCTAssertEqual(try reused.decrypt(nonce: nonce, associatedData: ad, ciphertext: ciphertext), plaintext)
            XCTAssertThrowsError(try reused.decrypt(nonce: nonce &+ 1, associatedData: ad, ciphertext: ciphertext))
        }
    }

    func testTransportRejectsOversizeMessages() throws {
        var (a, _) = try sessions()
        XCTAssertThrowsError(try a.sending.encrypt([UInt8](repeating: 0, count: 65520))) { XCTAssertEqual($0 as? NetworkError, .messageTooLong) }
        XCTAssertNoThrow(try a.sending.encrypt([UInt8](repeating: 0, count: 65519)))
    }
}
