import Crypto
@testable import Network

/// libFuzzer entry for handshake message processing. Keys are fixed (the ephemerals too), so a
/// handshake is deterministic and the committed seeds are real messages. The first input byte
/// picks the step the rest of the input replaces:
///   0: the responder reads it as message 1, then writes message 2;
///   1: the initiator reads it as message 2 (after writing message 1), then writes message 3;
///   2: the responder reads it as message 3 after genuine messages 1 and 2, then decrypts a
///      transport frame.
/// Every failure must be a NetworkError; nothing may crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNoiseHandshake(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let message = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    do {
        try FuzzSides.run(step: Int(data[0] % 3), message: message)
    } catch {
        guard error is NetworkError else { fatalError("handshake threw \(error)") }
    }
    return 0
}

/// The two fixed parties.
enum FuzzSides {
    static let prologue = Array("opg/p2p/1/fuzz".utf8)
    static let initiatorNodeKey = try! PrivateKey([UInt8](repeating: 0x11, count: 32))
    static let responderNodeKey = try! PrivateKey([UInt8](repeating: 0x22, count: 32))

    static func party(_ role: NoiseXXHandshake.Role) throws -> PeerHandshake {
        let seed: UInt8 = role == .initiator ? 0x31 : 0x41
        let staticKey = try X25519KeyPair(privateKey: [UInt8](repeating: seed, count: 32))
        let ephemeral = try X25519KeyPair(privateKey: [UInt8](repeating: seed + 1, count: 32))
        let noise = NoiseXXHandshake(role: role, prologue: prologue, staticKey: staticKey, ephemeral: ephemeral)
        return PeerHandshake(noise: noise, nodeKey: role == .initiator ? initiatorNodeKey : responderNodeKey,
                             noiseStaticKey: staticKey.publicKey, expectedPeer: role == .initiator ? PeerID(responderNodeKey.publicKey) : nil)
    }

    static func run(step: Int, message: [UInt8]) throws {
        let initiator = try party(.initiator), responder = try party(.responder)
        switch step {
        case 0:
            try responder.read(message)
            _ = try responder.writeNext()
        case 1:
            try responder.read(try initiator.writeNext())
            _ = try responder.writeNext()
            try initiator.read(message)
            _ = try initiator.writeNext()
        default:
            try responder.read(try initiator.writeNext())
            try initiator.read(try responder.writeNext())
            _ = try initiator.writeNext()
            try responder.read(message)
            var session = try responder.finish().session
            _ = try session.receiving.decrypt(message)
        }
    }
}
