import Foundation
import Glibc

/// A blocking TCP socket (POSIX). The instance owns its file descriptor: `close()` (or `deinit`)
/// releases it exactly once; `shutdown()` only wakes threads blocked in it, so the descriptor
/// cannot be reused while another thread still reads or writes.
final class TCPSocket: @unchecked Sendable {
    private let descriptor: Int32
    private let lock = NSLock()
    private var closed = false

    private init(descriptor: Int32) { self.descriptor = descriptor }

    deinit { close() }

    /// Connects to `host:port`, trying each resolved address, each within `timeoutMilliseconds`
    /// (`getaddrinfo`, non-blocking `connect` and `poll`).
    static func connect(host: String, port: UInt16, timeoutMilliseconds: Int32) throws -> TCPSocket {
        var lastError = NetworkError.system("connect", ECONNREFUSED)
        for address in try resolve(host: host, port: port, passive: false) {
            let fd = socket(address.family, Int32(sockStream), 0)
            guard fd >= 0 else { lastError = .system("socket", errno); continue }
            let socket = TCPSocket(descriptor: fd)
            do {
                try socket.connect(to: address, timeoutMilliseconds: timeoutMilliseconds)
                socket.configureConnected()
                return socket
            } catch let error as NetworkError {
                lastError = error
            }
        }
        throw lastError
    }

    /// A socket listening on `host:port` (port 0: any free port; see `localPort`). A port
    /// still held when the bind is tried — by the connections of a process killed a moment
    /// ago, which the kernel closes only once their peers answer — is tried again every
    /// 100 ms for up to `bindRetrySeconds` before the bind fails.
    static func listen(host: String, port: UInt16, backlog: Int32 = 128, bindRetrySeconds: Double = 10) throws -> TCPSocket {
        guard let address = try resolve(host: host, port: port, passive: true).first else {
            throw NetworkError.invalidAddress("\(host):\(port)")
        }
        let fd = socket(address.family, Int32(sockStream), 0)
        guard fd >= 0 else { throw NetworkError.system("socket", errno) }
        let socket = TCPSocket(descriptor: fd)
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var attempts = Int(bindRetrySeconds * 10)
        while address.storage.withUnsafeBytes({ raw in bind(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), address.length) }) != 0 {
            let error = errno
            guard error == EADDRINUSE, attempts > 0 else { throw NetworkError.system("bind \(host):\(port)", error) }
            attempts -= 1
            usleep(100_000)
        }
        guard Glibc.listen(fd, backlog) == 0 else { throw NetworkError.system("listen", errno) }
        return socket
    }

    /// The next inbound connection; nil once the socket has been shut down or closed.
    func accept() -> TCPSocket? {
        while true {
            let fd = Glibc.accept(descriptor, nil, nil)
            if fd >= 0 {
                let socket = TCPSocket(descriptor: fd)
                socket.configureConnected()
                return socket
            }
            switch errno {
            case EINTR, ECONNABORTED: continue
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                // Out of descriptors: wait a little instead of spinning.
                usleep(100_000)
                continue
            default:
                return nil
            }
        }
    }

    /// The local port (`getsockname`).
    var localPort: UInt16 {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        let family = Int32(storage.ss_family)
        return withUnsafePointer(to: &storage) { pointer in
            if family == AF_INET6 {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
    }

    /// Reads up to `buffer.count` bytes; 0 means the peer closed. A receive timeout
    /// (`setReceiveTimeout`) surfaces as an error.
    func read(into buffer: inout [UInt8]) throws -> Int {
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count >= 0 { return count }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { throw NetworkError("read timed out") }
            throw NetworkError.system("recv", errno)
        }
    }

    /// Writes all of `bytes` (`send` with `MSG_NOSIGNAL`: a closed peer is an error, not SIGPIPE).
    func write(_ bytes: [UInt8]) throws {
        _ = try send(bytes, flags: Int32(MSG_NOSIGNAL))
    }

    /// Writes what the socket's send buffer takes now, never blocking (`MSG_DONTWAIT`): the number
    /// of bytes written, fewer than `bytes.count` when the buffer is full.
    func writeAvailable(_ bytes: [UInt8]) throws -> Int {
        try send(bytes, flags: Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
    }

    private func send(_ bytes: [UInt8], flags: Int32) throws -> Int {
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress! + offset, $0.count - offset, flags) }
            if count > 0 { offset += count; continue }
            if count < 0 && errno == EINTR { continue }
            if count < 0 && flags & Int32(MSG_DONTWAIT) != 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return offset }
            throw count < 0 ? NetworkError.system("send", errno) : NetworkError.connectionClosed
        }
        return offset
    }

    /// Sets (0: clears) the receive timeout (`SO_RCVTIMEO`).
    func setReceiveTimeout(milliseconds: Int) {
        var time = timeval(tv_sec: milliseconds / 1000, tv_usec: suseconds_t((milliseconds % 1000) * 1000))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Wakes every thread blocked on this socket (`shutdown(SHUT_RDWR)`); the descriptor stays
    /// open until `close()`.
    func shutdown() {
        lock.lock()
        defer { lock.unlock() }
        if !closed { _ = Glibc.shutdown(descriptor, Int32(SHUT_RDWR)) }
    }

    /// Closes the descriptor (once).
    func close() {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { return }
        closed = true
        _ = Glibc.close(descriptor)
    }

    // MARK: Internals

    private struct ResolvedAddress {
        let family: Int32
        let storage: [UInt8]
        let length: socklen_t
    }

    private static let sockStream = Int32(SOCK_STREAM.rawValue)

    private static func resolve(host: String, port: UInt16, passive: Bool) throws -> [ResolvedAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = sockStream
        hints.ai_flags = passive ? AI_PASSIVE : 0
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host.isEmpty ? nil : host, String(port), &hints, &list)
        guard status == 0, let list else {
            throw NetworkError("cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var result: [ResolvedAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = list
        while let entry = cursor {
            if let address = entry.pointee.ai_addr {
                let bytes = Array(UnsafeRawBufferPointer(start: address, count: Int(entry.pointee.ai_addrlen)))
                result.append(ResolvedAddress(family: entry.pointee.ai_family, storage: bytes, length: entry.pointee.ai_addrlen))
            }
            cursor = entry.pointee.ai_next
        }
        return result
    }

    private func connect(to address: ResolvedAddress, timeoutMilliseconds: Int32) throws {
        let flags = fcntl(descriptor, F_GETFL, 0)
        _ = fcntl(descriptor, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(descriptor, F_SETFL, flags) }
        let result = address.storage.withUnsafeBytes { raw in
            Glibc.connect(descriptor, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), address.length)
        }
        if result == 0 { return }
        guard errno == EINPROGRESS else { throw NetworkError.system("connect", errno) }
        var poller = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
        let ready = poll(&poller, 1, timeoutMilliseconds)
        guard ready > 0 else { throw ready == 0 ? NetworkError("connect timed out") : NetworkError.system("poll", errno) }
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &code, &length)
        guard code == 0 else { throw NetworkError.system("connect", code) }
    }

    /// TCP_NODELAY (consensus messages are small and latency-bound) and keepalive (a silent dead
    /// peer is eventually noticed).
    private func configureConnected() {
        var on: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_KEEPALIVE, &on, socklen_t(MemoryLayout<Int32>.size))
    }
}
