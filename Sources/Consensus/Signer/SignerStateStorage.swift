#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Primitives

/// Where a signer keeps its state. `store` is atomic: after a crash, `load` returns a state that
/// was stored, never a mix of two. It is durable once `sync` returns: a crash may lose stores made
/// since the last `sync` (``DurableSigner`` says who keeps those signatures durable meanwhile).
public protocol SignerStateStorage: AnyObject {
    /// The stored bytes, or nil when nothing was ever stored.
    func load() throws -> [UInt8]?
    /// Stores `bytes` atomically (durable at the next ``sync()``).
    func store(_ bytes: [UInt8]) throws
    /// Makes the last store durable; a no-op when nothing was stored since the last sync.
    func sync() throws
}

/// Signer state in a file of two slots (docs/consensus.md, "The signer"): a store is one `pwrite`
/// in place of a file whose size never changes, and a sync one `fdatasync` of it.
///
/// The file is two ``slotBytes`` slots; each holds `"opgslot1" ‖ sequence(8) ‖ length(4) ‖ state ‖
/// CRC32C(4) of all before`, then zeros, or only zeros while unused. A store writes the slot the
/// newest state is not in, with the next sequence, in place; `load` returns the state of the higher
/// sequence. Even sequences live in slot 0 and odd ones in slot 1, and a record (about 250 bytes)
/// sits in the first sector of its slot, written whole (sector writes are atomic): whatever a crash
/// keeps of unsynced stores, each slot holds some state that was stored, and the higher sequence is
/// at least the state of the last sync. A slot that is neither zeros nor a valid record is
/// corruption and `load` throws: it never falls back to the older slot.
///
/// A file from before the slots (a bare state, `"opgsign1" ‖ …`) loads as it is; the first store
/// then writes the whole two-slot file by write-temp, fsync, rename, fsync-directory, as it does
/// when the file does not exist yet.
public final class FileSignerStateStorage: SignerStateStorage {
    /// The state file's path.
    public let path: String
    /// The size of each of the two slots.
    public static let slotBytes = 4096
    private static let slotMagic = Array("opgslot1".utf8)
    private static let slotHeaderBytes = 20

    /// The sequence of the newest slot; nil while the file is absent or a bare state of old.
    private var newestSequence: UInt64?
    private var descriptor: Int32 = -1
    /// A store was written in place since the last sync.
    private var dirty = false

    /// Uses the file at `path`.
    public init(path: String) { self.path = path }

    deinit { if descriptor >= 0 { close(descriptor) } }

    public func load() throws -> [UInt8]? {
        newestSequence = nil
        guard let bytes = try io({ try DurableFiles.read(path) }) else { return nil }
        guard bytes.starts(with: Self.slotMagic) else { return bytes }
        var newest: (sequence: UInt64, state: [UInt8])?
        for slot in 0..<2 {
            let start = Swift.min(bytes.count, slot * Self.slotBytes)
            let contents = bytes[start..<Swift.min(bytes.count, start + Self.slotBytes)]
            if contents.allSatisfy({ $0 == 0 }) { continue }
            let record = try decodeSlot(contents, slot: slot)
            if newest.map({ record.sequence > $0.sequence }) ?? true { newest = record }
        }
        guard let newest else { throw SignerError.corruptState("\(path): neither slot holds a state") }
        newestSequence = newest.sequence
        return newest.state
    }

    public func store(_ bytes: [UInt8]) throws {
        let sequence = newestSequence.map { $0 + 1 } ?? 0
        let record = Self.slotRecord(sequence: sequence, state: bytes)
        guard record.count <= Self.slotBytes else {
            throw SignerError.malformedRequest("a signer state of \(bytes.count) bytes does not fit a \(Self.slotBytes)-byte slot")
        }
        let offset = Int(sequence % 2) * Self.slotBytes
        if newestSequence == nil {
            var file = [UInt8](repeating: 0, count: 2 * Self.slotBytes)
            file.replaceSubrange(offset..<offset + record.count, with: record)
            try io { try DurableFiles.replaceAtomically(path, with: file) }
            if descriptor >= 0 { close(descriptor) }
            descriptor = -1
        }
        if descriptor < 0 {
            descriptor = open(path, O_WRONLY)
            guard descriptor >= 0 else { throw SignerError.io(operation: "open", path: path, errno: errno) }
        }
        if newestSequence != nil {
            try io { try DurableFiles.writeAll(descriptor, record, at: offset, path: path) }
            dirty = true
        }
        newestSequence = sequence
    }

    public func sync() throws {
        guard dirty else { return }
        try io { try DurableFiles.dataSync(descriptor, path: path) }
        dirty = false
    }

    private static func slotRecord(sequence: UInt64, state: [UInt8]) -> [UInt8] {
        var w = ByteWriter(capacity: slotHeaderBytes + state.count + 4)
        w.raw(slotMagic)
        w.u64(sequence)
        w.u32(UInt32(state.count))
        w.raw(state)
        w.u32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    private func decodeSlot(_ contents: ArraySlice<UInt8>, slot: Int) throws -> (sequence: UInt64, state: [UInt8]) {
        let bytes = Array(contents)
        func corrupt(_ why: String) -> SignerError { .corruptState("\(path) slot \(slot): \(why)") }
        guard bytes.count >= Self.slotHeaderBytes + 4, bytes.starts(with: Self.slotMagic) else { throw corrupt("bad magic") }
        var header = ByteReader(Array(bytes[8..<Self.slotHeaderBytes]))
        let sequence = try header.u64(), length = Int(try header.u32())
        let end = Self.slotHeaderBytes + length
        guard end + 4 <= bytes.count else { throw corrupt("a state of \(length) bytes runs past the slot") }
        var crcReader = ByteReader(Array(bytes[end..<end + 4]))
        let stored = try crcReader.u32(), computed = CRC32C.checksum(bytes[0..<end])
        guard stored == computed else { throw corrupt("CRC32C \(computed), slot says \(stored)") }
        return (sequence, Array(bytes[Self.slotHeaderBytes..<end]))
    }

    private func io<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let f as POSIXFailure {
            throw SignerError.io(operation: f.operation, path: f.path, errno: f.errno)
        }
    }
}
