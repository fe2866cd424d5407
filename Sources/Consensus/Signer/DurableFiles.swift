#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed POSIX call: which operation, on which path, with which errno.
struct POSIXFailure: Error {
    let operation: String
    let path: String
    let errno: Int32
}

/// The few POSIX file operations the signer and the WAL need, each durable where it says so.
enum DurableFiles {
    /// The whole file, or nil when it does not exist.
    static func read(_ path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw POSIXFailure(operation: "open", path: path, errno: errno)
        }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw POSIXFailure(operation: "read", path: path, errno: errno)
            }
            if n == 0 { return out }
            out += chunk[0..<n]
        }
    }

    /// Writes all of `bytes` to `fd`.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw POSIXFailure(operation: "write", path: path, errno: errno)
            }
            offset += n
        }
    }

    /// Writes all of `bytes` to `fd` at `offset` (pwrite(2), the file offset untouched).
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw POSIXFailure(operation: "pwrite", path: path, errno: errno)
            }
            done += n
        }
    }

    /// fdatasync(2): the data, and the metadata needed to read it back (not the modification time).
    static func dataSync(_ fd: Int32, path: String) throws {
        guard fdatasync(fd) == 0 else { throw POSIXFailure(operation: "fdatasync", path: path, errno: errno) }
    }

    /// fsync(2).
    static func sync(_ fd: Int32, path: String) throws {
        guard fsync(fd) == 0 else { throw POSIXFailure(operation: "fsync", path: path, errno: errno) }
    }

    /// Replaces `path` with `bytes` so that a crash leaves either the old or the new content:
    /// write a temporary file, fsync it, rename it over `path`, fsync the directory.
    static func replaceAtomically(_ path: String, with bytes: [UInt8], mode: mode_t = 0o600) throws {
        let temp = path + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, mode)
        guard fd >= 0 else { throw POSIXFailure(operation: "open", path: temp, errno: errno) }
        do {
            try writeAll(fd, bytes, path: temp)
            try sync(fd, path: temp)
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        guard rename(temp, path) == 0 else { throw POSIXFailure(operation: "rename", path: temp, errno: errno) }
        try syncDirectory(of: path)
    }

    /// fsyncs the directory holding `path`, so that a rename or a creation in it is durable.
    static func syncDirectory(of path: String) throws {
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let fd = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { throw POSIXFailure(operation: "open", path: directory, errno: errno) }
        defer { close(fd) }
        try sync(fd, path: directory)
    }
}
