/// Why a peer's message on the mempool or blocks channel is malformed. Each names the rule
/// broken; the handler throws it from `receive`, and the dispatcher disconnects the peer.
public struct SyncMessageError: Error, Equatable, CustomStringConvertible {
    /// The rule broken, prefixed by the channel (`mempool:` or `blocks:`).
    public let message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    public var description: String { message }

    /// A body that ends before a field it must hold.
    static func truncated(_ channel: String, field: String, needed: Int, available: Int) -> SyncMessageError {
        SyncMessageError("\(channel): \(field) needs \(needed) bytes, \(available) left")
    }
    /// Bytes after the last field.
    static func trailingBytes(_ channel: String, count: Int) -> SyncMessageError {
        SyncMessageError("\(channel): \(count) bytes after the message's last field")
    }
    /// A message type the channel does not define.
    static func unknownMessageType(_ channel: String, _ type: UInt16) -> SyncMessageError {
        SyncMessageError("\(channel): unknown message type 0x\(String(type, radix: 16))")
    }
    /// A length or count field above its cap.
    static func tooLarge(_ channel: String, field: String, got: Int, max: Int) -> SyncMessageError {
        SyncMessageError("\(channel): \(field) is \(got), above the limit of \(max)")
    }
    /// A count field of zero where at least one item is required.
    static func empty(_ channel: String, field: String) -> SyncMessageError {
        SyncMessageError("\(channel): \(field) must not be empty")
    }
    /// A part header that cannot belong to a split message.
    static func invalidPart(_ channel: String, _ detail: String) -> SyncMessageError {
        SyncMessageError("\(channel): invalid message part: \(detail)")
    }
    /// A field whose bytes do not decode (a header's RLP, a certificate).
    static func invalidField(_ channel: String, field: String, _ error: Error) -> SyncMessageError {
        SyncMessageError("\(channel): invalid \(field): \(error)")
    }
    /// A block request that cannot be served by any node.
    static func invalidRequest(_ detail: String) -> SyncMessageError {
        SyncMessageError("blocks: invalid block request: \(detail)")
    }
    /// A message from a peer this node dropped for serving an invalid block.
    static func droppedPeer(_ reason: String) -> SyncMessageError {
        SyncMessageError("blocks: peer was dropped: \(reason)")
    }
}
