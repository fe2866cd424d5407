import CMicroHTTPD
import Foundation

/// A server-sent events response (`text/event-stream`, HTML's EventSource) that stays
/// open: `send` appends an event and returns at once. libmicrohttpd pulls the bytes on
/// its I/O thread; with nothing to send the connection is suspended, and the next event
/// resumes it. What waits is bounded by `maxBufferedBytes`: a client that reads too
/// slowly gets a last `dropped` event and the stream ends, so a sender never waits.
public final class EventStream: @unchecked Sendable {
    /// Bytes waiting for the client that end the stream as too slow.
    public let maxBufferedBytes: Int
    private let lock = NSLock()
    private var buffer: [UInt8] = []
    private var sent = 0
    private var ending = false
    private var suspended = false
    private var connection: OpaquePointer?
    private var finishedHandlers: [() -> Void] = []

    /// A stream ending when more than `maxBufferedBytes` wait for the client.
    public init(maxBufferedBytes: Int = 1 << 20) { self.maxBufferedBytes = maxBufferedBytes }

    /// Queues one event (`event: NAME`, then each line of `data` as `data: …`); false once
    /// the stream is ending.
    @discardableResult
    public func send(event: String, data: String) -> Bool {
        var text = "event: \(event)\n"
        for line in data.split(separator: "\n", omittingEmptySubsequences: false) { text += "data: \(line)\n" }
        return append(Array((text + "\n").utf8))
    }

    /// Queues a comment line (`: text`), which clients ignore: a heartbeat that finds
    /// clients gone.
    @discardableResult
    public func comment(_ text: String) -> Bool { append(Array(": \(text)\n\n".utf8)) }

    /// Ends the stream after what is queued.
    public func end() {
        lock.withLock {
            ending = true
            wake()
        }
    }

    /// Runs `body` once the response is gone (client closed, stream ended, server stopped).
    public func onFinished(_ body: @escaping () -> Void) { lock.withLock { finishedHandlers.append(body) } }

    private func append(_ bytes: [UInt8]) -> Bool {
        lock.withLock {
            guard !ending else { return false }
            if buffer.count - sent + bytes.count > maxBufferedBytes {
                buffer = unsentRestOfCurrentEvent()
                    + Array("event: dropped\ndata: {\"reason\":\"client too slow: \(maxBufferedBytes) bytes waiting\"}\n\n".utf8)
                sent = 0
                ending = true
            } else {
                if sent > 0 && sent == buffer.count {
                    buffer.removeAll(keepingCapacity: true)
                    sent = 0
                }
                buffer += bytes
            }
            wake()
            return !ending
        }
    }

    /// The bytes not yet handed to the connection of the event it is in the middle of (none
    /// at an event boundary), so that the `dropped` notice after them arrives as an event of
    /// its own. Events end with a blank line ("\n\n"), which no event holds inside; call under `lock`.
    private func unsentRestOfCurrentEvent() -> [UInt8] {
        guard sent > 0, sent < buffer.count else { return [] }
        if sent >= 2 && buffer[sent - 2] == 0x0A && buffer[sent - 1] == 0x0A { return [] }
        var end = sent
        while end < buffer.count && !(buffer[end - 1] == 0x0A && buffer[end] == 0x0A) { end += 1 }
        return Array(buffer[sent..<min(end + 1, buffer.count)])
    }

    /// Resumes the connection if it waits for bytes; call under `lock`.
    private func wake() {
        guard suspended, let connection else { return }
        suspended = false
        MHD_resume_connection(connection)
    }

    /// The connection the stream is answered on (set before the response is queued).
    func attach(_ connection: OpaquePointer) { lock.withLock { self.connection = connection } }

    /// MHD's pull: copies up to `max` waiting bytes; -1 at the end; with nothing waiting,
    /// suspends the connection (allowed from this callback) and returns 0.
    func read(into destination: UnsafeMutablePointer<CChar>, max: Int) -> Int {
        lock.withLock {
            let waiting = buffer.count - sent
            if waiting > 0 {
                let count = min(waiting, max)
                buffer.withUnsafeBytes { source in
                    UnsafeMutableRawPointer(destination).copyMemory(from: source.baseAddress! + sent, byteCount: count)
                }
                sent += count
                return count
            }
            if ending { return -1 }
            if let connection {
                suspended = true
                MHD_suspend_connection(connection)
            }
            return 0
        }
    }

    /// MHD released the response.
    func finished() {
        let handlers = lock.withLock { () -> [() -> Void] in
            ending = true
            connection = nil
            defer { finishedHandlers = [] }
            return finishedHandlers
        }
        handlers.forEach { $0() }
    }
}
