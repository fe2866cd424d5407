import Consensus
import Network
@testable import Node
import Primitives

/// libFuzzer entry for the consensus channel's decoders: the input is an envelope's message type
/// (2 bytes, big-endian) and body. A part goes through `MessagePart` (which must re-encode to the
/// same bytes) and a `PartAssembler`; any other type through `ConsensusWireMessage` (whose body must
/// re-encode to what decodes to the same message). The body is also fed to the engine's decoders
/// (`ConsensusMessage`: proposal and votes, `CommitCertificate`, `DuplicateVoteEvidence`, also
/// when it names one block twice, which `verify` refuses but whose order is canonical), each of which must re-encode to bytes that decode to the same value. Bodies above one envelope are split
/// into parts and must reassemble to themselves. Every failure must be a named error; nothing may crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConsensusWire(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 2 else { return 0 }
    let kind = UInt16(data[0]) << 8 | UInt16(data[1])
    let body = Array(UnsafeBufferPointer(start: data + 2, count: size - 2))

    if kind == ConsensusWireMessage.Kind.part.rawValue {
        do {
            let part = try MessagePart(decoding: body)
            guard part.encoded == body else { fatalError("a part does not re-encode to its bytes") }
            var assembler = PartAssembler()
            if let whole = try assembler.add(part) { _ = try? ConsensusWireMessage(kind: whole.kind, body: whole.body) }
        } catch {
            guard error is ConsensusWireError else { fatalError("part decoding threw \(error)") }
        }
    } else {
        do {
            let message = try ConsensusWireMessage(kind: kind, body: body)
            guard try ConsensusWireMessage(kind: kind, body: message.body) == message else { fatalError("wire message does not round-trip") }
            guard try message.envelopes().allSatisfy({ $0.channel == .consensus }) else { fatalError("envelope on another channel") }
        } catch {
            guard error is ConsensusWireError else { fatalError("wire decoding threw \(error)") }
        }
    }

    if let m = try? ConsensusMessage(decoding: body), (try? ConsensusMessage(decoding: m.encoded)) != m {
        fatalError("consensus message does not round-trip")
    }
    if let c = try? CommitCertificate(decoding: body), (try? CommitCertificate(decoding: c.encoded)) != c {
        fatalError("certificate does not round-trip")
    }
    if let e = try? DuplicateVoteEvidence(decoding: body), (try? DuplicateVoteEvidence(decoding: e.encoded)) != e {
        fatalError("evidence does not round-trip")
    }

    if body.count > Envelope.maximumBodyLength, body.count <= MessagePart.maximumTotalBytes {
        var assembler = PartAssembler()
        var whole: (kind: UInt16, body: [UInt8])?
        for part in try! MessagePart.split(kind: .message, body: body) {
            guard let decoded = try? MessagePart(decoding: part.encoded) else { fatalError("a split part does not decode") }
            whole = try! assembler.add(decoded)
        }
        guard whole?.body == body else { fatalError("parts do not reassemble to the message") }
    }
    return 0
}
