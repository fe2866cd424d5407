#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes under a write-ahead log. Appends become durable only at `sync`; a crash keeps what
/// was synced and possibly a prefix of what was not (a torn tail).
public protocol WALStorage: AnyObject {
    /// Everything stored.
    func readAll() throws -> [UInt8]
    /// Appends bytes (not yet durable).
    func append(_ bytes: [UInt8]) throws
    /// Makes every append durable (fsync).
    func sync() throws
    /// Cuts the log to its first `length` bytes, durably.
    func truncate(to length: Int) throws
    /// Replaces the whole log with `bytes`, atomically and durably.
    func replace(with bytes: [UInt8]) throws
}

/// A WAL in one file, appended through an `O_APPEND` descriptor.
public final class FileWALStorage: WALStorage {
    /// The file's path.
    public let path: String
    private var fd: Int32

    /// Opens (creating if needed) the WAL file at `path`.
    public init(path: String) throws {
        self.path = path
        fd = -1
        try reopen()
        // The file may have just been created: make its directory entry durable too.
        try io { try DurableFiles.syncDirectory(of: path) }
    }

    deinit { close(fd) }

    private func reopen() throws {
        if fd >= 0 { close(fd) }
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard fd >= 0 else { throw WALError.io(operation: "open", path: path, errno: errno) }
    }

    private func io<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let f as POSIXFailure {
            throw WALError.io(operation: f.operation, path: f.path, errno: f.errno)
        }
    }

    public func readAll() throws -> [UInt8] { try io { try DurableFiles.read(path) ?? [] } }

    public func append(_ bytes: [UInt8]) throws { try io { try DurableFiles.writeAll(fd, bytes, path: path) } }

    public func sync() throws { try io { try DurableFiles.sync(fd, path: path) } }

    public func truncate(to length: Int) throws {
        guard ftruncate(fd, off_t(length)) == 0 else { throw WALError.io(operation: "ftruncate", path: path, errno: errno) }
        try sync()
    }

    public func replace(with bytes: [UInt8]) throws {
        try io { try DurableFiles.replaceAtomically(path, with: bytes) }
        try reopen()
    }
}
