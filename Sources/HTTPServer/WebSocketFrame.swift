/// A WebSocket frame's opcode (RFC 6455 §5.2).
public enum WebSocketOpcode: UInt8, Sendable {
    case continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA

    /// Close, ping and pong: never fragmented, payload at most 125 bytes.
    var isControl: Bool { rawValue & 0x8 != 0 }
}

/// One frame as read from a client, unmasked.
public struct WebSocketFrame: Equatable, Sendable {
    /// Last frame of its message.
    public let fin: Bool
    /// What the frame carries.
    public let opcode: WebSocketOpcode
    /// The payload, unmasked.
    public let payload: [UInt8]
}

/// Why a client's frames broke RFC 6455; the connection is closed with `closeCode` and
/// the description as the close reason.
public enum WebSocketProtocolError: Error, Equatable, CustomStringConvertible {
    /// §5.1: every frame from a client must be masked.
    case unmaskedClientFrame
    /// §5.2: RSV1–3 must be 0 when no extension was negotiated.
    case reservedBitsSet
    /// §5.2: opcodes 3–7 and B–F are reserved.
    case unknownOpcode(UInt8)
    /// §5.5: control frames must not be fragmented.
    case fragmentedControlFrame
    /// §5.5: control frames carry at most 125 bytes.
    case controlFrameTooLong(Int)
    /// §5.2: a 64-bit length must have its top bit clear and lengths must use the shortest form.
    case invalidLength
    /// A frame or a whole message larger than the server accepts.
    case messageTooLarge(limit: Int)
    /// §5.4: a continuation frame with no message in progress.
    case unexpectedContinuation
    /// §5.4: a new text or binary frame while a fragmented message is in progress.
    case interleavedMessage
    /// §8.1: a text message must be valid UTF-8.
    case invalidUTF8
    /// §5.5.1: a close payload of one byte, or a reserved close code.
    case invalidClosePayload

    /// The close status code sent for this error (§7.4.1).
    public var closeCode: UInt16 {
        switch self {
        case .messageTooLarge: return 1009
        case .invalidUTF8: return 1007
        default: return 1002
        }
    }

    public var description: String {
        switch self {
        case .unmaskedClientFrame: return "client frame is not masked"
        case .reservedBitsSet: return "reserved bits set without an extension"
        case .unknownOpcode(let op): return "unknown opcode \(op)"
        case .fragmentedControlFrame: return "fragmented control frame"
        case .controlFrameTooLong(let n): return "control frame of \(n) bytes exceeds 125"
        case .invalidLength: return "invalid payload length encoding"
        case .messageTooLarge(let limit): return "message exceeds \(limit) bytes"
        case .unexpectedContinuation: return "continuation frame without a message in progress"
        case .interleavedMessage: return "new message before the fragmented one finished"
        case .invalidUTF8: return "text message is not valid UTF-8"
        case .invalidClosePayload: return "invalid close frame payload"
        }
    }
}

/// Reads frames from the bytes a client sends, as they arrive, and joins fragments
/// into messages. Every rule it enforces throws a named `WebSocketProtocolError`.
public struct WebSocketReader {
    /// Largest message (all its fragments together) accepted.
    public let maxMessageBytes: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var fragments: (opcode: WebSocketOpcode, payload: [UInt8])?

    /// A reader accepting messages of at most `maxMessageBytes`.
    public init(maxMessageBytes: Int) { self.maxMessageBytes = maxMessageBytes }

    /// Adds bytes read from the socket.
    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete message or control frame (text and binary messages with their
    /// fragments joined, `fin` true); nil until enough bytes arrived.
    public mutating func next() throws -> WebSocketFrame? {
        while let frame = try nextFrame() {
            if frame.opcode.isControl {
                if frame.opcode == .close, frame.payload.count == 1 { throw WebSocketProtocolError.invalidClosePayload }
                return frame
            }
            if frame.opcode == .continuation {
                guard var partial = fragments else { throw WebSocketProtocolError.unexpectedContinuation }
                guard partial.payload.count + frame.payload.count <= maxMessageBytes else {
                    throw WebSocketProtocolError.messageTooLarge(limit: maxMessageBytes)
                }
                partial.payload += frame.payload
                guard frame.fin else { fragments = partial; continue }
                fragments = nil
                return try complete(partial.opcode, partial.payload)
            }
            guard fragments == nil else { throw WebSocketProtocolError.interleavedMessage }
            guard frame.fin else { fragments = (frame.opcode, frame.payload); continue }
            return try complete(frame.opcode, frame.payload)
        }
        return nil
    }

    private func complete(_ opcode: WebSocketOpcode, _ payload: [UInt8]) throws -> WebSocketFrame {
        if opcode == .text, String(validating: payload, as: UTF8.self) == nil {
            throw WebSocketProtocolError.invalidUTF8
        }
        return WebSocketFrame(fin: true, opcode: opcode, payload: payload)
    }

    /// One frame off the buffer, unmasked; nil until it has arrived whole.
    private mutating func nextFrame() throws -> WebSocketFrame? {
        let available = buffer.count - start
        guard available >= 2 else { return nil }
        let b0 = buffer[start], b1 = buffer[start + 1]
        guard b0 & 0x70 == 0 else { throw WebSocketProtocolError.reservedBitsSet }
        guard let opcode = WebSocketOpcode(rawValue: b0 & 0x0F) else { throw WebSocketProtocolError.unknownOpcode(b0 & 0x0F) }
        let fin = b0 & 0x80 != 0
        guard b1 & 0x80 != 0 else { throw WebSocketProtocolError.unmaskedClientFrame }
        var length = UInt64(b1 & 0x7F)
        var header = 2
        if opcode.isControl {
            guard fin else { throw WebSocketProtocolError.fragmentedControlFrame }
            guard length <= 125 else { throw WebSocketProtocolError.controlFrameTooLong(Int(length)) }
        }
        if length == 126 {
            guard available >= 4 else { return nil }
            length = UInt64(buffer[start + 2]) << 8 | UInt64(buffer[start + 3])
            guard length >= 126 else { throw WebSocketProtocolError.invalidLength }
            header = 4
        } else if length == 127 {
            guard available >= 10 else { return nil }
            length = (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(buffer[start + 2 + $1]) }
            guard length >> 63 == 0, length > 0xFFFF else { throw WebSocketProtocolError.invalidLength }
            header = 10
        }
        guard length <= UInt64(maxMessageBytes) else { throw WebSocketProtocolError.messageTooLarge(limit: maxMessageBytes) }
        let total = header + 4 + Int(length)
        guard available >= total else { return nil }
        let mask = Array(buffer[(start + header)..<(start + header + 4)])
        var payload = Array(buffer[(start + header + 4)..<(start + total)])
        for i in payload.indices { payload[i] ^= mask[i & 3] }
        start += total
        return WebSocketFrame(fin: fin, opcode: opcode, payload: payload)
    }

    /// A server frame (never masked, never fragmented) carrying `payload`.
    public static func encode(_ opcode: WebSocketOpcode, _ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x80 | opcode.rawValue]
        switch payload.count {
        case ..<126: out.append(UInt8(payload.count))
        case ...0xFFFF: out += [126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        default: out.append(127); out += (0..<8).reversed().map { UInt8((UInt64(payload.count) >> (8 * UInt64($0))) & 0xFF) }
        }
        return out + payload
    }

    /// A close frame's payload: the status code, then the reason (cut to fit 125 bytes).
    public static func closePayload(_ code: UInt16, _ reason: String) -> [UInt8] {
        [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8.prefix(123))
    }
}
