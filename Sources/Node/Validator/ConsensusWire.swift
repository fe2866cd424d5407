import Consensus
import Network
import Primitives

/// What travels on the consensus channel (docs/consensus.md, "On the wire"). Each message is
/// one envelope whose message type says which; one too large for an envelope (a proposal or a
/// decision carrying a big block) travels as ``MessagePart``s.
enum ConsensusWireMessage: Equatable {
    /// A signed proposal or vote (the engine's own encoding).
    case message(ConsensusMessage)
    /// "Send me the block you decided at this height, with its certificate" (a node that is behind).
    case decisionRequest(height: UInt64)
    /// A decided block with its commit certificate.
    case decision(value: ProposalValue, certificate: CommitCertificate)

    /// Envelope message types of the consensus channel.
    enum Kind: UInt16 {
        /// A ``ConsensusMessage``.
        case message = 1
        /// A part of a message too large for one envelope.
        case part = 2
        /// A decision request: height(8).
        case decisionRequest = 3
        /// A decision: certificate length(4) ‖ certificate ‖ payload.
        case decision = 4
    }

    var kind: Kind {
        switch self {
        case .message: return .message
        case .decisionRequest: return .decisionRequest
        case .decision: return .decision
        }
    }

    /// The body of the message's envelope (or of the parts it is split into).
    var body: [UInt8] {
        switch self {
        case .message(let m): return m.encoded
        case .decisionRequest(let h): return WireBytes.u64(h)
        case .decision(let value, let certificate):
            let c = certificate.encoded
            return WireBytes.u32(UInt32(c.count)) + c + value.payload
        }
    }

    /// The envelopes that carry this message: one, or its parts.
    func envelopes() throws -> [Envelope] {
        let body = self.body
        if body.count <= Envelope.maximumBodyLength { return [try Envelope(channel: .consensus, messageType: kind.rawValue, body: body)] }
        return try MessagePart.split(kind: kind, body: body).map {
            try Envelope(channel: .consensus, messageType: Kind.part.rawValue, body: $0.encoded)
        }
    }

    /// Decodes a whole message of `kind` (not a part); throws ``ConsensusWireError``.
    init(kind rawKind: UInt16, body: [UInt8]) throws {
        guard let kind = Kind(rawValue: rawKind), kind != .part else { throw ConsensusWireError.unknownMessageType(rawKind) }
        switch kind {
        case .message:
            do { self = .message(try ConsensusMessage(decoding: body)) } catch { throw ConsensusWireError.malformed("\(error)") }
        case .decisionRequest:
            guard body.count == 8 else { throw ConsensusWireError.malformed("decision request of \(body.count) bytes, expected 8") }
            self = .decisionRequest(height: WireBytes.readU64(body, at: 0))
        case .decision:
            guard body.count >= 4 else { throw ConsensusWireError.malformed("decision of \(body.count) bytes") }
            let length = Int(WireBytes.readU32(body, at: 0))
            guard length <= body.count - 4 else { throw ConsensusWireError.malformed("certificate of \(length) bytes in a \(body.count)-byte decision") }
            let certificate: CommitCertificate
            do { certificate = try CommitCertificate(decoding: Array(body[4..<4 + length])) } catch {
                throw ConsensusWireError.malformed("certificate: \(error)")
            }
            self = .decision(value: ProposalValue(blockHash: certificate.blockHash, payload: Array(body[(4 + length)...])), certificate: certificate)
        case .part:
            throw ConsensusWireError.unknownMessageType(rawKind)
        }
    }
}

/// One part of a consensus-channel message too large for an envelope.
///
///     digest(32) ‖ kind(2) ‖ total length(4) ‖ index(2) ‖ count(2) ‖ data
///
/// `digest` is keccak256 of the whole message body, `kind` its message type, `count` =
/// ⌈total / ``dataBytes``⌉, every part but the last carries exactly ``dataBytes`` bytes.
struct MessagePart: Equatable {
    /// The fixed header's length.
    static let headerBytes = 42
    /// Data bytes per part: an envelope body less the header.
    static let dataBytes = Envelope.maximumBodyLength - headerBytes
    /// The largest message accepted in parts: a proposal with the largest payload, plus room for a certificate.
    static let maximumTotalBytes = ConsensusMessage.maxPayloadBytes + (1 << 20)

    let digest: Hash32
    let kind: UInt16
    let totalLength: UInt32
    let index: UInt16
    let count: UInt16
    let data: [UInt8]

    var encoded: [UInt8] {
        digest.bytes + WireBytes.u16(kind) + WireBytes.u32(totalLength) + WireBytes.u16(index) + WireBytes.u16(count) + data
    }

    /// Splits a message body into parts.
    static func split(kind: ConsensusWireMessage.Kind, body: [UInt8]) throws -> [MessagePart] {
        guard body.count <= maximumTotalBytes else { throw ConsensusWireError.messageTooLarge(got: body.count, max: maximumTotalBytes) }
        let digest = Keccak256.hash(body)
        let count = (body.count + dataBytes - 1) / dataBytes
        return (0..<count).map { i in
            MessagePart(digest: digest, kind: kind.rawValue, totalLength: UInt32(body.count), index: UInt16(i), count: UInt16(count),
                        data: Array(body[i * dataBytes..<min(body.count, (i + 1) * dataBytes)]))
        }
    }

    /// Decodes a part's envelope body and checks it on its own (the assembler checks it against its siblings).
    init(decoding bytes: [UInt8]) throws {
        guard bytes.count > Self.headerBytes else { throw ConsensusWireError.partTruncated(bytes.count) }
        let digest = try! Hash32(Array(bytes[0..<32]))
        let kind = WireBytes.readU16(bytes, at: 32)
        let total = WireBytes.readU32(bytes, at: 34)
        let index = WireBytes.readU16(bytes, at: 38), count = WireBytes.readU16(bytes, at: 40)
        let data = Array(bytes[Self.headerBytes...])
        guard let inner = ConsensusWireMessage.Kind(rawValue: kind), inner != .part, inner != .decisionRequest else {
            throw ConsensusWireError.partOfUnsplittableType(kind)
        }
        guard Int(total) <= Self.maximumTotalBytes else { throw ConsensusWireError.messageTooLarge(got: Int(total), max: Self.maximumTotalBytes) }
        guard Int(total) > Envelope.maximumBodyLength else { throw ConsensusWireError.needlessSplit(total: Int(total)) }
        let expectedCount = (Int(total) + Self.dataBytes - 1) / Self.dataBytes
        guard Int(count) == expectedCount else { throw ConsensusWireError.partCountMismatch(got: Int(count), expected: expectedCount) }
        guard index < count else { throw ConsensusWireError.partIndexOutOfRange(index: Int(index), count: Int(count)) }
        let expectedLength = Int(index) + 1 < Int(count) ? Self.dataBytes : Int(total) - Int(index) * Self.dataBytes
        guard data.count == expectedLength else {
            throw ConsensusWireError.partLengthMismatch(index: Int(index), got: data.count, expected: expectedLength)
        }
        self.init(digest: digest, kind: kind, totalLength: total, index: index, count: count, data: data)
    }

    init(digest: Hash32, kind: UInt16, totalLength: UInt32, index: UInt16, count: UInt16, data: [UInt8]) {
        self.digest = digest
        self.kind = kind
        self.totalLength = totalLength
        self.index = index
        self.count = count
        self.data = data
    }
}

/// Reassembles one peer's parts. At most ``maximumAssemblies`` messages are in progress per peer;
/// a part of a further one drops the oldest (a peer cannot make us hold more than that many
/// messages' bytes). A complete message must hash to its digest.
struct PartAssembler {
    /// Messages assembled at once per peer.
    static let maximumAssemblies = 2

    private struct Assembly {
        let first: MessagePart
        var parts: [[UInt8]?]
        var received = 0
    }

    private var order: [Hash32] = []
    private var assemblies: [Hash32: Assembly] = [:]

    /// Adds a part; returns the message kind and body when it completes one.
    mutating func add(_ part: MessagePart) throws -> (kind: UInt16, body: [UInt8])? {
        if var a = assemblies[part.digest] {
            guard a.first.kind == part.kind, a.first.totalLength == part.totalLength, a.first.count == part.count else {
                throw ConsensusWireError.partHeaderMismatch(index: Int(part.index))
            }
            if let existing = a.parts[Int(part.index)] {
                guard existing == part.data else { throw ConsensusWireError.conflictingPart(index: Int(part.index)) }
                return nil
            }
            a.parts[Int(part.index)] = part.data
            a.received += 1
            assemblies[part.digest] = a
        } else {
            if order.count >= Self.maximumAssemblies { assemblies[order.removeFirst()] = nil }
            var parts = [[UInt8]?](repeating: nil, count: Int(part.count))
            parts[Int(part.index)] = part.data
            assemblies[part.digest] = Assembly(first: part, parts: parts, received: 1)
            order.append(part.digest)
        }
        guard let done = assemblies[part.digest], done.received == Int(part.count) else { return nil }
        assemblies[part.digest] = nil
        order.removeAll { $0 == part.digest }
        let body = done.parts.flatMap { $0! }
        guard Keccak256.hash(body) == part.digest else { throw ConsensusWireError.partDigestMismatch }
        return (part.kind, body)
    }
}

/// A consensus-channel message that breaks the wire rules; the peer that sent it is disconnected.
enum ConsensusWireError: Error, Equatable, CustomStringConvertible {
    /// A message type the consensus channel does not define.
    case unknownMessageType(UInt16)
    /// A body that does not decode as its type.
    case malformed(String)
    /// A part shorter than its header plus one byte.
    case partTruncated(Int)
    /// A part that claims to carry a message type that is never split.
    case partOfUnsplittableType(UInt16)
    /// A message above the size limit.
    case messageTooLarge(got: Int, max: Int)
    /// A message split although it fits one envelope.
    case needlessSplit(total: Int)
    /// A part count that does not follow from the total length.
    case partCountMismatch(got: Int, expected: Int)
    /// A part index at or above the count.
    case partIndexOutOfRange(index: Int, count: Int)
    /// A part whose data is not the length its index requires.
    case partLengthMismatch(index: Int, got: Int, expected: Int)
    /// A part whose header disagrees with its siblings'.
    case partHeaderMismatch(index: Int)
    /// A part received twice with different data.
    case conflictingPart(index: Int)
    /// The assembled message does not hash to its digest.
    case partDigestMismatch

    var description: String {
        switch self {
        case .unknownMessageType(let t): return "consensus wire: unknown message type \(t)"
        case .malformed(let m): return "consensus wire: \(m)"
        case .partTruncated(let n): return "consensus wire: part of \(n) bytes, shorter than its \(MessagePart.headerBytes)-byte header and data"
        case .partOfUnsplittableType(let t): return "consensus wire: part of message type \(t), which is never split"
        case .messageTooLarge(let g, let m): return "consensus wire: message of \(g) bytes exceeds \(m)"
        case .needlessSplit(let t): return "consensus wire: a \(t)-byte message fits one envelope and must not be split"
        case .partCountMismatch(let g, let e): return "consensus wire: part count \(g), the total length needs \(e)"
        case .partIndexOutOfRange(let i, let c): return "consensus wire: part index \(i) out of range for \(c) parts"
        case .partLengthMismatch(let i, let g, let e): return "consensus wire: part \(i) carries \(g) bytes, expected \(e)"
        case .partHeaderMismatch(let i): return "consensus wire: part \(i) disagrees with its message's other parts"
        case .conflictingPart(let i): return "consensus wire: part \(i) received twice with different data"
        case .partDigestMismatch: return "consensus wire: assembled parts do not hash to their digest"
        }
    }
}

/// Big-endian integers of the consensus and evidence wire formats.
enum WireBytes {
    static func u16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(truncatingIfNeeded: v)] }
    static func u32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * UInt32($0))) } }
    static func u64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64($0))) } }
    static func readU16(_ b: [UInt8], at i: Int) -> UInt16 { UInt16(b[i]) << 8 | UInt16(b[i + 1]) }
    static func readU32(_ b: [UInt8], at i: Int) -> UInt32 { b[i..<i + 4].reduce(0) { $0 << 8 | UInt32($1) } }
    static func readU64(_ b: [UInt8], at i: Int) -> UInt64 { b[i..<i + 8].reduce(0) { $0 << 8 | UInt64($1) } }
}
