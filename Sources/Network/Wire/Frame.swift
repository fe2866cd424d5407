/// The length prefix of everything on a connection, handshake messages and transport
/// ciphertexts alike:
///
///     length (2 bytes, big-endian) ‖ bytes (length)
///
/// A transport frame carries one encrypted envelope: 16…65535 bytes of ciphertext including the
/// 16-byte Poly1305 tag (Noise's message limit, under 64 KiB).
public enum Frame {
    /// Bytes of the length prefix.
    public static let prefixLength = 2
    /// The longest frame body (Noise's 65535-byte message limit).
    public static let maximumCiphertextLength = 65535
    /// The shortest transport frame body: an empty plaintext's tag.
    public static let minimumCiphertextLength = NoiseCrypto.tagLength

    /// `bytes` with its length prefix; the caller guarantees `bytes.count` ≤ 65535.
    public static func encode(_ bytes: [UInt8]) -> [UInt8] {
        precondition(bytes.count <= maximumCiphertextLength, "frame longer than 65535 bytes")
        return [UInt8(bytes.count >> 8), UInt8(truncatingIfNeeded: bytes.count)] + bytes
    }
}

/// Cuts a byte stream into frames. Bytes arrive in any pieces (`append`); `next(minimumLength:)`
/// returns each complete frame body once, and rejects a length prefix below the minimum, so a
/// peer cannot make the reader wait for or buffer more than one 65535-byte frame.
public struct FrameReader {
    private var buffer: [UInt8] = []
    private var start = 0

    /// An empty reader.
    public init() {}

    /// Adds received bytes.
    public mutating func append(_ bytes: some Collection<UInt8>) {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Bytes received but not yet returned in a frame.
    public var pendingCount: Int { buffer.count - start }

    /// The next complete frame body, nil when more bytes are needed; fails when the length
    /// prefix is below `minimumLength`.
    public mutating func next(minimumLength: Int) throws -> [UInt8]? {
        guard pendingCount >= Frame.prefixLength else { return nil }
        let length = Int(buffer[start]) << 8 | Int(buffer[start + 1])
        guard length >= minimumLength else { throw NetworkError.invalidFrameLength(length) }
        guard pendingCount >= Frame.prefixLength + length else { return nil }
        let bodyStart = start + Frame.prefixLength
        let body = Array(buffer[bodyStart..<bodyStart + length])
        start = bodyStart + length
        if start > 1 << 17 {
            buffer.removeFirst(start)
            start = 0
        }
        return body
    }
}
