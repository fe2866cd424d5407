import Crypto
import Primitives

/// The last signature a consensus key gave: where, over what, and the signature itself.
/// Persisted before the signature leaves the signer.
public struct SignerState: Hashable, Sendable {
    /// The position signed.
    public let position: SignPosition
    /// The sign bytes signed.
    public let signBytes: [UInt8]
    /// The signature given.
    public let signature: RecoverableSignature

    private static let magic: [UInt8] = Array("opgsign1".utf8)

    /// Creates a state.
    public init(position: SignPosition, signBytes: [UInt8], signature: RecoverableSignature) {
        self.position = position
        self.signBytes = signBytes
        self.signature = signature
    }

    /// The file encoding: "opgsign1" ‖ height(8) ‖ round(4) ‖ step(1) ‖ len(4) ‖ sign bytes ‖ signature(65) ‖ CRC32C(4) of all before.
    public var encoded: [UInt8] {
        var w = ByteWriter()
        w.raw(Self.magic)
        w.u64(position.height)
        w.u32(position.round)
        w.u8(position.step.rawValue)
        w.blob(signBytes)
        w.signature(signature)
        w.u32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    /// Decodes ``encoded``, throwing ``SignerError/corruptState(_:)``.
    public init(decoding bytes: [UInt8]) throws {
        guard bytes.count > 12, Array(bytes.prefix(8)) == Self.magic else { throw SignerError.corruptState("bad magic") }
        var crcReader = ByteReader(bytes, offset: bytes.count - 4)
        let stored = try crcReader.u32()
        let computed = CRC32C.checksum(bytes[0..<bytes.count - 4])
        guard stored == computed else { throw SignerError.corruptState("CRC32C \(computed), file says \(stored)") }
        do {
            var r = ByteReader(Array(bytes[8..<bytes.count - 4]))
            let height = try r.u64(), round = try r.round()
            guard let step = Step(rawValue: try r.u8()) else { throw SignerError.corruptState("unknown step") }
            let signBytes = try r.blob(max: 1024)
            let signature = try r.signature()
            try r.finish()
            self.init(position: SignPosition(height: height, round: round, step: step), signBytes: signBytes, signature: signature)
        } catch let e as ConsensusMessageError {
            throw SignerError.corruptState("\(e)")
        }
    }
}
