import Primitives

/// One entry of the write-ahead log: every input the engine took at the current height, in order,
/// and the end-of-height marker. Replaying the inputs of a height rebuilds the engine's state.
public enum WALRecord: Hashable, Sendable {
    /// A message received from the network.
    case received(ConsensusMessage)
    /// A message we signed, logged before it is broadcast.
    case own(ConsensusMessage)
    /// A timeout fired.
    case timeout(Timeout)
    /// The application's validity answer for a proposed value.
    case validity(height: UInt64, value: ValueKey, valid: Bool)
    /// The value the application built for our proposal.
    case proposalValue(height: UInt64, round: UInt32, value: ProposalValue)
    /// A decision learned with its certificate (block sync).
    case certifiedDecision(value: ProposalValue, certificate: CommitCertificate)
    /// The height is committed by the application; its records are no longer needed.
    case endOfHeight(UInt64)

    /// The height the record belongs to.
    public var height: UInt64 {
        switch self {
        case .received(let m), .own(let m): return m.height
        case .timeout(let t): return t.height
        case .validity(let h, _, _), .proposalValue(let h, _, _), .endOfHeight(let h): return h
        case .certifiedDecision(_, let c): return c.height
        }
    }

    /// The engine input this record replays as (nil for the end-of-height marker).
    public var engineInput: EngineInput? {
        switch self {
        case .received(let m), .own(let m): return .message(m)
        case .timeout(let t): return .timeout(t)
        case .validity(let h, let k, let v): return .validity(height: h, value: k, valid: v)
        case .proposalValue(let h, let r, let v): return .proposalValue(height: h, round: r, value: v)
        case .certifiedDecision(let v, let c): return .certifiedDecision(value: v, certificate: c)
        case .endOfHeight: return nil
        }
    }

    /// The record body: a kind byte and the fields (docs/consensus.md, "WAL").
    public var encoded: [UInt8] {
        var w = ByteWriter()
        switch self {
        case .received(let m):
            w.u8(1); m.encode(into: &w)
        case .own(let m):
            w.u8(2); m.encode(into: &w)
        case .timeout(let t):
            w.u8(3); w.u8(t.kind.rawValue); w.u64(t.height); w.u32(t.round)
        case .validity(let h, let k, let v):
            w.u8(4); w.u64(h); w.raw(k.blockHash.bytes); w.raw(k.payloadDigest.bytes); w.u8(v ? 1 : 0)
        case .proposalValue(let h, let r, let v):
            w.u8(5); w.u64(h); w.u32(r); w.raw(v.blockHash.bytes); w.blob(v.payload)
        case .certifiedDecision(let v, let c):
            w.u8(6); w.raw(v.blockHash.bytes); w.blob(v.payload); w.blob(c.encoded)
        case .endOfHeight(let h):
            w.u8(7); w.u64(h)
        }
        return w.bytes
    }

    /// Decodes ``encoded``.
    public init(decoding bytes: [UInt8]) throws {
        var r = ByteReader(bytes)
        let kind = try r.u8()
        switch kind {
        case 1: self = .received(try ConsensusMessage(from: &r))
        case 2: self = .own(try ConsensusMessage(from: &r))
        case 3:
            guard let k = Timeout.Kind(rawValue: try r.u8()) else { throw ConsensusMessageError.unknownKind(kind) }
            self = .timeout(Timeout(kind: k, height: try r.u64(), round: try r.round()))
        case 4:
            let h = try r.u64(), key = ValueKey(blockHash: try r.hash(), payloadDigest: try r.hash())
            self = .validity(height: h, value: key, valid: try r.u8() == 1)
        case 5:
            let h = try r.u64(), round = try r.round(), hash = try r.hash()
            self = .proposalValue(height: h, round: round, value: ProposalValue(blockHash: hash, payload: try r.blob(max: ConsensusMessage.maxPayloadBytes)))
        case 6:
            let hash = try r.hash(), payload = try r.blob(max: ConsensusMessage.maxPayloadBytes)
            let certificate = try CommitCertificate(decoding: try r.blob(max: 1 << 24))
            self = .certifiedDecision(value: ProposalValue(blockHash: hash, payload: payload), certificate: certificate)
        case 7: self = .endOfHeight(try r.u64())
        default: throw ConsensusMessageError.unknownKind(kind)
        }
        try r.finish()
    }
}
