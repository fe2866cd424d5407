import Network

/// How the mempool and blocks channels carry a message longer than one envelope body
/// (65,516 bytes): as `count` consecutive `part` envelopes, each
///
///     kind (2) ‖ index (2) ‖ count (2) ‖ chunk
///
/// where `kind` is the message type of the whole message, every chunk but the last is exactly
/// `chunkLength` bytes and the last is 1…`chunkLength`. A sender writes a message's parts one
/// after another to one peer, so they arrive in order; a part lost to a full send queue only
/// makes the receiver discard that message (docs/p2p.md, "Split messages").
enum MessageParts {
    /// The message type of a part on both channels.
    static let partType: UInt16 = 0x00FF
    /// Bytes of a part's header.
    static let headerLength = 6
    /// Bytes of every chunk but the last.
    static let chunkLength = Envelope.maximumBodyLength - headerLength

    /// The envelopes that carry message `kind` with `body` on `channel`: the message itself when
    /// it fits one envelope, its parts otherwise. The caller caps `body` below 65535 chunks.
    static func envelopes(channel: Channel, kind: UInt16, body: [UInt8]) -> [Envelope] {
        if body.count <= Envelope.maximumBodyLength {
            return [try! Envelope(channel: channel, messageType: kind, body: body)]
        }
        let count = (body.count + chunkLength - 1) / chunkLength
        return (0..<count).map { index in
            var w = SyncWriter(capacity: Envelope.maximumBodyLength)
            w.u16(kind)
            w.u16(UInt16(index))
            w.u16(UInt16(count))
            w.raw(Array(body[index * chunkLength..<min(body.count, (index + 1) * chunkLength)]))
            return try! Envelope(channel: channel, messageType: partType, body: w.bytes)
        }
    }
}

/// Reassembles the split messages one peer sends on one channel, holding at most one message of
/// at most `maximumBytes` at a time.
struct SyncPartAssembler {
    private let channel: String
    private let maximumBytes: Int
    private let splittableKinds: [UInt16]
    private var kind: UInt16 = 0
    private var count = 0
    private var nextIndex = 0
    private var bytes: [UInt8] = []

    /// An assembler for messages of `splittableKinds` up to `maximumBytes` on `channel`.
    init(channel: String, maximumBytes: Int, splittableKinds: [UInt16]) {
        self.channel = channel
        self.maximumBytes = maximumBytes
        self.splittableKinds = splittableKinds
    }

    /// The most parts a message may have.
    var maximumCount: Int { (maximumBytes + MessageParts.chunkLength - 1) / MessageParts.chunkLength }

    /// Adds one part's body; returns the whole message once its last part arrived. Throws when the
    /// part cannot belong to any valid message. A part out of sequence (one was dropped on the
    /// way) discards the message in progress and is ignored.
    mutating func add(_ body: [UInt8]) throws -> (kind: UInt16, body: [UInt8])? {
        var r = SyncReader(body, channel: channel)
        let kind = try r.u16("part kind"), index = Int(try r.u16("part index")), count = Int(try r.u16("part count"))
        let chunk = try r.take(r.remaining, "part chunk")
        guard splittableKinds.contains(kind) else { throw SyncMessageError.invalidPart(channel, "message type 0x\(String(kind, radix: 16)) is never split") }
        guard count >= 2 else { throw SyncMessageError.invalidPart(channel, "a message in \(count) part(s) fits one envelope") }
        guard count <= maximumCount else { throw SyncMessageError.tooLarge(channel, field: "part count", got: count, max: maximumCount) }
        guard index < count else { throw SyncMessageError.invalidPart(channel, "index \(index) of \(count) parts") }
        let last = index == count - 1
        guard last ? !chunk.isEmpty : chunk.count == MessageParts.chunkLength else {
            throw SyncMessageError.invalidPart(channel, "part \(index) of \(count) carries \(chunk.count) bytes")
        }
        if index == 0 {
            self.kind = kind
            self.count = count
            bytes = []
        } else if index != nextIndex || kind != self.kind || count != self.count {
            reset()
            return nil
        }
        bytes += chunk
        nextIndex = index + 1
        guard last else { return nil }
        defer { reset() }
        guard bytes.count <= maximumBytes else { throw SyncMessageError.tooLarge(channel, field: "split message", got: bytes.count, max: maximumBytes) }
        return (kind, bytes)
    }

    private mutating func reset() {
        count = 0
        nextIndex = 0
        bytes = []
    }
}
