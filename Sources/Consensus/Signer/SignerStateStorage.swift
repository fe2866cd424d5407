/// Where a signer keeps its state. `store` must be durable and atomic before it returns:
/// after a crash, `load` returns either the previous state or the new one, never a mix.
public protocol SignerStateStorage: AnyObject {
    /// The stored bytes, or nil when nothing was ever stored.
    func load() throws -> [UInt8]?
    /// Stores `bytes` durably and atomically.
    func store(_ bytes: [UInt8]) throws
}

/// Signer state in a file: write a temporary file, fsync, rename over the state file, fsync the directory.
public final class FileSignerStateStorage: SignerStateStorage {
    /// The state file's path.
    public let path: String

    /// Uses the file at `path`.
    public init(path: String) { self.path = path }

    public func load() throws -> [UInt8]? {
        do { return try DurableFiles.read(path) } catch let f as POSIXFailure {
            throw SignerError.io(operation: f.operation, path: f.path, errno: f.errno)
        }
    }

    public func store(_ bytes: [UInt8]) throws {
        do { try DurableFiles.replaceAtomically(path, with: bytes) } catch let f as POSIXFailure {
            throw SignerError.io(operation: f.operation, path: f.path, errno: f.errno)
        }
    }
}
