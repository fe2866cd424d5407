import Network

/// The one message of the endpoints channel: signed provider endpoint announcements
/// (docs/p2p.md, "Provider endpoint gossip").
///
///     type 0x0001 announcements: count (2) ‖ count × (chain id (8) ‖ issuedAt (8) ‖ url length (4) ‖ url ‖ signature (65))
///
/// 1…`maximumCount` announcements with URLs of 1…256 bytes; one message always fits an envelope.
struct ProviderEndpointMessage: Equatable {
    /// The message type of `announcements`.
    static let announcementsType: UInt16 = 0x0001
    /// The most announcements in one message.
    static let maximumCount = 128
    /// The longest URL an announcement may carry.
    static let maximumURLBytes = 256
    static let signatureBytes = 65
    static let channelName = "endpoints"

    /// The announcements, in order.
    let announcements: [ProviderEndpoints.Announcement]

    init(announcements: [ProviderEndpoints.Announcement]) { self.announcements = announcements }

    /// The body of `announcements`.
    var encoded: [UInt8] {
        var w = SyncWriter(capacity: 2 + announcements.reduce(0) { $0 + 85 + $1.url.utf8.count })
        w.u16(UInt16(announcements.count))
        for a in announcements {
            w.u64(a.chainId)
            w.u64(a.issuedAt)
            w.lengthPrefixed(Array(a.url.utf8))
            w.raw(a.signature)
        }
        return w.bytes
    }

    /// Decodes an `announcements` body (the framing only: the URL, chain and signature rules are the handler's).
    init(decoding body: [UInt8]) throws {
        var r = SyncReader(body, channel: Self.channelName)
        let count = Int(try r.u16("announcement count"))
        guard count > 0 else { throw SyncMessageError.empty(Self.channelName, field: "announcement count") }
        guard count <= Self.maximumCount else {
            throw SyncMessageError.tooLarge(Self.channelName, field: "announcement count", got: count, max: Self.maximumCount)
        }
        var announcements: [ProviderEndpoints.Announcement] = []
        for _ in 0..<count {
            let chainId = try r.u64("chain id"), issuedAt = try r.u64("issuedAt")
            let url = try r.lengthPrefixed("url", max: Self.maximumURLBytes)
            guard !url.isEmpty else { throw SyncMessageError.empty(Self.channelName, field: "url") }
            guard let text = String(validating: url, as: UTF8.self) else {
                throw SyncMessageError("\(Self.channelName): url is not UTF-8")
            }
            let signature = try r.take(Self.signatureBytes, "signature")
            announcements.append(.init(chainId: chainId, url: text, issuedAt: issuedAt, signature: signature))
        }
        try r.finish()
        self.announcements = announcements
    }

    /// `announcements` in as few envelopes as `maximumCount` allows, in order.
    static func envelopes(for announcements: [ProviderEndpoints.Announcement]) -> [Envelope] {
        stride(from: 0, to: announcements.count, by: maximumCount).map { start in
            let batch = Array(announcements[start..<min(announcements.count, start + maximumCount)])
            // 128 announcements of at most 341 bytes each fit an envelope's 65,516 bytes.
            return try! Envelope(channel: .endpoints, messageType: announcementsType, body: ProviderEndpointMessage(announcements: batch).encoded)
        }
    }
}
