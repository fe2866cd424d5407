/// The consensus write-ahead log: framed, checksummed records of every engine input.
///
/// Frame: `length(4, big-endian) ‖ CRC32C(length field)(4) ‖ CRC32C(body)(4) ‖ body`. Opening
/// the log reads every frame and classifies what it finds at the end:
/// - fewer bytes than a header, only zero bytes, or a frame that runs past the end: a torn
///   tail (a write the crash cut short) — truncated, and reported in ``truncatedBytes``;
/// - a body checksum that fails on the *last* frame: also a torn tail;
/// - a header checksum that fails, or a body checksum that fails with frames after it, or a
///   body that does not decode: corruption of synced data — ``WALError`` and the node halts.
public final class WriteAheadLog {
    /// The largest record body accepted.
    public static let maxRecordBytes = ConsensusMessage.maxPayloadBytes + 1 << 20
    static let headerBytes = 12

    /// The size past which a decision compacts the log (``compact(committed:)``); below it the
    /// records of committed heights stay, inert, and a height costs no compaction.
    public static let compactionThresholdBytes = 1 << 20

    private let storage: WALStorage
    private var dirty = false
    /// The log's size in bytes (as read by ``open()``, plus appends, or after compaction).
    public private(set) var size = 0
    /// Bytes cut from a torn tail when the log was opened.
    public private(set) var truncatedBytes = 0

    /// Wraps `storage`; call ``open()`` before appending.
    public init(storage: WALStorage) { self.storage = storage }

    /// Reads every record, truncating a torn tail and throwing on corruption.
    public func open() throws -> [WALRecord] {
        let bytes = try storage.readAll()
        var records: [WALRecord] = []
        var offset = 0
        while offset < bytes.count {
            let rest = bytes.count - offset
            if rest < Self.headerBytes || bytes[offset...].allSatisfy({ $0 == 0 }) { break }
            let lengthField = bytes[offset..<offset + 4]
            let length = Int(lengthField.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            guard CRC32C.checksum(lengthField) == Self.u32(bytes, offset + 4) else { throw WALError.corruptHeader(offset: offset) }
            guard length <= Self.maxRecordBytes else { throw WALError.recordTooLarge(offset: offset, length: length, max: Self.maxRecordBytes) }
            let end = offset + Self.headerBytes + length
            if end > bytes.count { break }
            let body = bytes[offset + Self.headerBytes..<end]
            let expected = Self.u32(bytes, offset + 8), got = CRC32C.checksum(body)
            if expected != got {
                if end == bytes.count { break }
                throw WALError.corruptRecord(offset: offset, expectedCRC: expected, gotCRC: got)
            }
            do {
                records.append(try WALRecord(decoding: Array(body)))
            } catch {
                throw WALError.undecodableRecord(offset: offset, reason: "\(error)")
            }
            offset = end
        }
        if offset < bytes.count {
            truncatedBytes = bytes.count - offset
            try storage.truncate(to: offset)
        }
        size = offset
        return records
    }

    /// Appends a record (durable at the next ``sync()``).
    public func append(_ record: WALRecord) throws {
        let frame = Self.frame(record)
        try storage.append(frame)
        size += frame.count
        dirty = true
    }

    /// Makes every appended record durable; a no-op when nothing was appended since the last sync.
    public func sync() throws {
        guard dirty else { return }
        try storage.sync()
        dirty = false
    }

    /// Replaces the log with a single end-of-height marker for `height`, atomically: the records
    /// of a committed height are not needed again.
    public func compact(committed height: UInt64) throws {
        let marker = Self.frame(.endOfHeight(height))
        try storage.replace(with: marker)
        size = marker.count
        dirty = false
    }

    /// The framed bytes of one record.
    public static func frame(_ record: WALRecord) -> [UInt8] {
        let body = record.encoded
        var w = ByteWriter(capacity: body.count + headerBytes)
        w.u32(UInt32(body.count))
        w.u32(CRC32C.checksum(w.bytes))
        w.u32(CRC32C.checksum(body))
        w.raw(body)
        return w.bytes
    }

    private static func u32(_ b: [UInt8], _ at: Int) -> UInt32 { b[at..<at + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } }
}
