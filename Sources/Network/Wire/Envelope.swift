/// One application message: the plaintext of one transport frame.
///
///     channel (1 byte) ‖ message type (2 bytes, big-endian) ‖ body (0…65516 bytes)
///
/// The transport routes by channel; the message type and body belong to the channel's owner
/// (consensus, mempool, block sync, evidence), which decodes the body itself.
public struct Envelope: Equatable, Sendable {
    /// Channel byte plus message type.
    public static let headerLength = 3
    /// The largest body: a frame's 65535 bytes less the 16-byte tag and the header.
    public static let maximumBodyLength = Frame.maximumCiphertextLength - NoiseCrypto.tagLength - headerLength

    /// The channel.
    public let channel: Channel
    /// The channel-specific message type.
    public let messageType: UInt16
    /// The channel-specific body.
    public let body: [UInt8]

    /// An envelope; fails when the body does not fit one frame.
    public init(channel: Channel, messageType: UInt16, body: [UInt8]) throws {
        guard body.count <= Self.maximumBodyLength else { throw NetworkError.envelopeTooLarge(body.count) }
        self.channel = channel
        self.messageType = messageType
        self.body = body
    }

    /// Decodes a frame's plaintext; fails on a short header, an unknown channel or an oversize body.
    public init(decoding bytes: [UInt8]) throws {
        guard bytes.count >= Self.headerLength else { throw NetworkError.envelopeTooShort(bytes.count) }
        guard let channel = Channel(rawValue: bytes[0]) else { throw NetworkError.unknownChannel(bytes[0]) }
        try self.init(channel: channel, messageType: UInt16(bytes[1]) << 8 | UInt16(bytes[2]), body: Array(bytes[Self.headerLength...]))
    }

    /// The plaintext bytes.
    public var encoded: [UInt8] {
        [channel.rawValue, UInt8(messageType >> 8), UInt8(truncatingIfNeeded: messageType)] + body
    }
}
