import CMicroHTTPD
import COpenSSL
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A WebSocket connection after the HTTP upgrade (RFC 6455), on the socket libmicrohttpd
/// handed over. A reader thread reads frames (answering pings, echoing a close) and hands
/// each message to `onMessage`; a writer thread sends what `send` queued. The queue is
/// bounded: a client that does not read fast enough is never waited for; when its
/// queue is full the connection is closed with code 1008 and a reason saying so, and
/// what was queued is dropped.
public final class WebSocketConnection: @unchecked Sendable {
    /// Called on the reader thread with each text or binary message (web3.py sends its
    /// JSON as binary); set before the connection is live.
    public var onMessage: ((WebSocketConnection, [UInt8]) -> Void)?
    /// Called once when the connection has closed, from either thread.
    public var onClose: ((WebSocketConnection) -> Void)?
    /// Messages waiting to be sent that make the connection be closed as too slow.
    public let maxQueuedMessages: Int

    private let fd: Int32
    private let upgrade: OpaquePointer
    private var reader: WebSocketReader
    private let lock = NSCondition()
    private var queue: [[UInt8]] = []
    private var closeFrame: [UInt8]?
    private var closed = false
    private var threadsLeft = 2
    private let finished: (WebSocketConnection) -> Void

    init(fd: Int32, upgrade: OpaquePointer, extra: [UInt8], maxMessageBytes: Int, maxQueuedMessages: Int,
         finished: @escaping (WebSocketConnection) -> Void) {
        self.fd = fd
        self.upgrade = upgrade
        self.maxQueuedMessages = maxQueuedMessages
        self.finished = finished
        reader = WebSocketReader(maxMessageBytes: maxMessageBytes)
        reader.append(extra)
        // MHD's sockets are non-blocking; these threads block on theirs (sends for at most 10 s).
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Starts the reader and writer threads.
    func run() {
        let readThread = Thread { [self] in readLoop(); threadEnded() }
        readThread.name = "ws-read"
        let writeThread = Thread { [self] in writeLoop(); threadEnded() }
        writeThread.name = "ws-write"
        readThread.start()
        writeThread.start()
    }

    /// Queues a text message; false when the connection is closed or closing. A full
    /// queue closes the connection (code 1008, "subscriber too slow").
    @discardableResult
    public func send(_ text: [UInt8]) -> Bool {
        lock.withLock {
            guard !closed, closeFrame == nil else { return false }
            guard queue.count < maxQueuedMessages else {
                queue.removeAll()
                closeFrame = WebSocketReader.encode(.close, WebSocketReader.closePayload(
                    1008, "subscriber too slow: \(maxQueuedMessages) messages queued, dropped"))
                lock.broadcast()
                return false
            }
            queue.append(WebSocketReader.encode(.text, text))
            lock.broadcast()
            return true
        }
    }

    /// Sends a close frame with `code` and `reason` after what is queued, then closes.
    public func close(code: UInt16, reason: String) {
        lock.withLock {
            guard closeFrame == nil else { return }
            closeFrame = WebSocketReader.encode(.close, WebSocketReader.closePayload(code, reason))
            lock.broadcast()
        }
    }

    private func queueControl(_ frame: [UInt8]) {
        lock.withLock {
            guard closeFrame == nil else { return }
            queue.append(frame)
            lock.broadcast()
        }
    }

    private func readLoop() {
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            do {
                while let frame = try reader.next() {
                    switch frame.opcode {
                    case .text, .binary: onMessage?(self, frame.payload)
                    case .ping: queueControl(WebSocketReader.encode(.pong, frame.payload))
                    case .pong, .continuation: break
                    case .close:
                        let code = frame.payload.count >= 2 ? UInt16(frame.payload[0]) << 8 | UInt16(frame.payload[1]) : 1000
                        close(code: frame.payload.isEmpty ? 1000 : code, reason: "")
                        return
                    }
                }
            } catch let error as WebSocketProtocolError {
                close(code: error.closeCode, reason: error.description)
                return
            } catch {
                close(code: 1011, reason: "\(error)")
                return
            }
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                lock.withLock { closed = true; lock.broadcast() }
                return
            }
            reader.append(chunk[..<count])
        }
    }

    private func writeLoop() {
        while true {
            let (frames, last) = lock.withLock { () -> ([[UInt8]], [UInt8]?) in
                while queue.isEmpty && closeFrame == nil && !closed { lock.wait() }
                let frames = queue
                queue.removeAll()
                return (frames, closed ? nil : closeFrame)
            }
            if lock.withLock({ closed }) { break }
            for frame in frames where !write(frame) { break }
            if let last {
                _ = write(last)
                break
            }
        }
        lock.withLock { closed = true; lock.broadcast() }
        shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Writes all of `bytes`; false when the socket failed or the send timed out.
    private func write(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else {
                lock.withLock { closed = true; lock.broadcast() }
                return false
            }
            sent += n
        }
        return true
    }

    private func threadEnded() {
        let last = lock.withLock { () -> Bool in
            threadsLeft -= 1
            return threadsLeft == 0
        }
        guard last else { return }
        onClose?(self)
        onMessage = nil
        onClose = nil
        opg_mhd_upgrade_close(upgrade)
        finished(self)
    }

    /// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key` (§4.2.2): base64 of the
    /// SHA-1 of the key and the protocol's GUID.
    static func acceptKey(_ key: String) -> String {
        let input = Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8)
        var digest = [UInt8](repeating: 0, count: 20)
        var size: UInt32 = 0
        _ = EVP_Digest(input, input.count, &digest, &size, EVP_sha1(), nil)
        return Data(digest).base64EncodedString()
    }

    /// Why a request cannot be upgraded, or nil when it is a valid WebSocket handshake
    /// (§4.2.1: GET, `Upgrade: websocket`, `Connection: upgrade`, version 13, a key of 16
    /// bytes in base64).
    static func handshakeError(_ request: HTTPRequest) -> String? {
        guard request.method == "GET" else { return "websocket handshake must be GET" }
        guard request.headers["upgrade"]?.lowercased() == "websocket" else { return "Upgrade header must be websocket" }
        let tokens = (request.headers["connection"] ?? "").lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard tokens.contains("upgrade") else { return "Connection header must include upgrade" }
        guard request.headers["sec-websocket-version"] == "13" else { return "Sec-WebSocket-Version must be 13" }
        guard let key = request.headers["sec-websocket-key"], Data(base64Encoded: key)?.count == 16 else {
            return "Sec-WebSocket-Key must be 16 bytes in base64"
        }
        return nil
    }
}
