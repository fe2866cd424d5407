import Primitives

/// The chain a signature belongs to: sign bytes carry both fields, so a signature made for one
/// chain (or one genesis of the same chain id) is worthless on another.
public struct SignDomain: Hashable, Sendable {
    /// The EIP-155 chain id.
    public let chainID: UInt64
    /// The genesis block's hash.
    public let genesisHash: Hash32

    /// Creates a domain.
    public init(chainID: UInt64, genesisHash: Hash32) {
        self.chainID = chainID
        self.genesisHash = genesisHash
    }
}

/// The signed message types of sign bytes (byte 56).
public enum SignedMessageType: UInt8, Sendable {
    /// A proposal.
    case proposal = 0x01
    /// A prevote.
    case prevote = 0x02
    /// A precommit.
    case precommit = 0x03
}

/// The fixed-width, domain-separated bytes a consensus key signs (docs/consensus.md has the table).
///
/// `tag(16) ‖ chainID(8) ‖ genesisHash(32) ‖ type(1) ‖ height(8) ‖ round(4) ‖ polRound(4) ‖
/// blockFlag(1) ‖ blockHash(32)` = 106 bytes, integers big-endian, absent POL round `0xFFFFFFFF`,
/// nil block = flag 0 and 32 zero bytes. No timestamp: two honest signatures at one position
/// always have identical bytes. The key signs keccak256 of these bytes.
public enum SignBytes {
    /// The constant tag: 16 ASCII bytes, versioned, that no transaction or other signed object starts with.
    public static let tag: [UInt8] = Array("opg-consensus-v1".utf8)
    /// The length of every sign-bytes string.
    public static let length = 106

    /// The sign bytes of one message.
    public static func encode(domain: SignDomain, type: SignedMessageType, height: UInt64, round: UInt32,
                              polRound: UInt32?, blockHash: Hash32?) -> [UInt8] {
        var w = ByteWriter(capacity: length)
        w.raw(tag)
        w.u64(domain.chainID)
        w.raw(domain.genesisHash.bytes)
        w.u8(type.rawValue)
        w.u64(height)
        w.u32(round)
        w.optionalRound(polRound)
        w.optionalHash(blockHash)
        return w.bytes
    }

    /// The position (height, round, step) encoded in sign bytes, or nil when they are not sign bytes of `domain`.
    public static func position(of bytes: [UInt8], domain: SignDomain) -> SignPosition? {
        guard bytes.count == length, Array(bytes[0..<16]) == tag else { return nil }
        var r = ByteReader(bytes, offset: 16)
        guard let chain = try? r.u64(), chain == domain.chainID,
              let genesis = try? r.hash(), genesis == domain.genesisHash,
              let type = (try? r.u8()).flatMap(SignedMessageType.init(rawValue:)),
              let height = try? r.u64(), let round = try? r.round() else { return nil }
        let step: Step = type == .proposal ? .propose : type == .prevote ? .prevote : .precommit
        return SignPosition(height: height, round: round, step: step)
    }
}
