import Foundation
import XCTest
@testable import HTTPServer

/// A client frame: masked, as RFC 6455 requires of clients.
private func clientFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, masked: Bool = true, rsv: UInt8 = 0) -> [UInt8] {
    var out: [UInt8] = [(fin ? 0x80 : 0) | rsv | opcode]
    let maskBit: UInt8 = masked ? 0x80 : 0
    switch payload.count {
    case ..<126: out.append(maskBit | UInt8(payload.count))
    case ...0xFFFF: out += [maskBit | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
    default: out.append(maskBit | 127); out += (0..<8).reversed().map { UInt8((payload.count >> (8 * $0)) & 0xFF) }
    }
    guard masked else { return out + payload }
    let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
    return out + mask + payload.enumerated().map { $0.element ^ mask[$0.offset & 3] }
}

final class WebSocketReaderTests: XCTestCase {
    private func read(_ bytes: [UInt8], max: Int = 1 << 20) throws -> [WebSocketFrame] {
        var reader = WebSocketReader(maxMessageBytes: max)
        reader.append(bytes)
        var frames: [WebSocketFrame] = []
        while let frame = try reader.next() { frames.append(frame) }
        return frames
    }

    private func assertRefused(_ bytes: [UInt8], _ expected: WebSocketProtocolError, max: Int = 1 << 20, line: UInt = #line) {
        XCTAssertThrowsError(try read(bytes, max: max), line: line) { XCTAssertEqual($0 as? WebSocketProtocolError, expected, line: line) }
    }

    func testMaskedFramesAndFragmentsByteByByte() throws {
        let bytes = clientFrame(1, Array("hel".utf8), fin: false) + clientFrame(9, [7]) + clientFrame(0, Array("lo".utf8))
            + clientFrame(2, Array(repeating: 5, count: 70_000))
        var reader = WebSocketReader(maxMessageBytes: 1 << 20)
        var frames: [WebSocketFrame] = []
        for byte in bytes {
            reader.append([byte])
            while let frame = try reader.next() { frames.append(frame) }
        }
        XCTAssertEqual(frames, [WebSocketFrame(fin: true, opcode: .ping, payload: [7]),
                                WebSocketFrame(fin: true, opcode: .text, payload: Array("hello".utf8)),
                                WebSocketFrame(fin: true, opcode: .binary, payload: Array(repeating: 5, count: 70_000))])
    }

    func testEveryRuleHasItsNamedError() {
        assertRefused(clientFrame(1, [0x41], masked: false), .unmaskedClientFrame)
        assertRefused(clientFrame(1, [0x41], rsv: 0x40), .reservedBitsSet)
        assertRefused(clientFrame(3, []), .unknownOpcode(3))
        assertRefused(clientFrame(9, [], fin: false), .fragmentedControlFrame)
        assertRefused([0x89, 0x80 | 126, 0, 126, 0, 0, 0, 0] + Array(repeating: 0, count: 126), .controlFrameTooLong(126))
        assertRefused([0x81, 0x80 | 126, 0, 5, 0, 0, 0, 0, 1, 2, 3, 4, 5], .invalidLength)
        assertRefused([0x81, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0], .invalidLength)
        assertRefused(clientFrame(1, Array(repeating: 0x41, count: 101)), .messageTooLarge(limit: 100), max: 100)
        assertRefused(clientFrame(1, Array(repeating: 0x41, count: 60), fin: false) + clientFrame(0, Array(repeating: 0x41, count: 60)),
                      .messageTooLarge(limit: 100), max: 100)
        assertRefused(clientFrame(0, [0x41]), .unexpectedContinuation)
        assertRefused(clientFrame(1, [0x41], fin: false) + clientFrame(1, [0x41]), .interleavedMessage)
        assertRefused(clientFrame(1, [0xFF, 0xFE]), .invalidUTF8)
        assertRefused(clientFrame(8, [3]), .invalidClosePayload)
        XCTAssertEqual(WebSocketProtocolError.invalidUTF8.closeCode, 1007)
        XCTAssertEqual(WebSocketProtocolError.messageTooLarge(limit: 1).closeCode, 1009)
        XCTAssertEqual(WebSocketProtocolError.unmaskedClientFrame.closeCode, 1002)
    }

    func testServerFramesAndAcceptKey() {
        XCTAssertEqual(WebSocketReader.encode(.text, [1, 2]), [0x81, 2, 1, 2])
        XCTAssertEqual(Array(WebSocketReader.encode(.text, Array(repeating: 0, count: 126)).prefix(4)), [0x81, 126, 0, 126])
        XCTAssertEqual(Array(WebSocketReader.encode(.binary, Array(repeating: 0, count: 65536)).prefix(10)), [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0])
        XCTAssertEqual(WebSocketReader.closePayload(1008, "slow"), [0x03, 0xF0] + Array("slow".utf8))
        // RFC 6455 §1.3's example.
        XCTAssertEqual(WebSocketConnection.acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }
}

/// A socket connected to `127.0.0.1:port` with a 4 KiB receive buffer (a client that
/// reads slowly fills it soon) and a 20 s receive timeout; nil if it cannot connect.
private func slowReader(_ port: Int) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var size: Int32 = 4096
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    var timeout = timeval(tv_sec: 20, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { close(fd); return nil }
    return fd
}

/// WebSocket connections over a real server.
final class WebSocketServerTests: XCTestCase {
    private func connect(_ port: Int) throws -> Int32 {
        let fd = try XCTUnwrap(slowReader(port))
        let request = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        _ = Array(request.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        var head: [UInt8] = []
        var byte: UInt8 = 0
        while !head.ends(with: Array("\r\n\r\n".utf8)), recv(fd, &byte, 1, 0) == 1 { head.append(byte) }
        let text = String(decoding: head, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 101"), text)
        XCTAssertTrue(text.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), text)
        return fd
    }

    private func readExactly(_ fd: Int32, _ count: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, count - got, 0) }
            guard n > 0 else { return nil }
            got += n
        }
        return out
    }

    /// The next server frame's opcode and payload; nil at end of stream.
    private func readFrame(_ fd: Int32) -> (UInt8, [UInt8])? {
        guard let head = readExactly(fd, 2) else { return nil }
        var length = Int(head[1] & 0x7F)
        if length == 126 { length = readExactly(fd, 2).map { Int($0[0]) << 8 | Int($0[1]) } ?? 0 }
        if length == 127 { length = readExactly(fd, 8).map { $0.reduce(0) { $0 << 8 | Int($1) } } ?? 0 }
        guard let payload = readExactly(fd, length) else { return nil }
        return (head[0] & 0x0F, payload)
    }

    func testEchoAndASlowConsumerIsClosedWithoutStallingTheSender() throws {
        var configuration = HTTPServerConfiguration(port: 0)
        configuration.webSocketQueueMessages = 4
        let router = HTTPRouter { _ in .answer(HTTPResponse(status: 405)) }
        let flooded = DispatchSemaphore(value: 0)
        let sendSeconds = NSLock()
        var floodTime = 0.0
        router.webSocket("/ws") { connection in
            connection.onMessage = { connection, message in
                guard message == Array("flood".utf8) else { connection.send(message); return }
                let start = Date()
                for _ in 0..<200 { connection.send(Array(repeating: 0x61, count: 65536)) }
                sendSeconds.withLock { floodTime = Date().timeIntervalSince(start) }
                flooded.signal()
            }
        }
        let server = HTTPServer(configuration: configuration, router: router.route)
        try server.start()
        defer { server.stop() }

        let fd = try connect(server.port)
        defer { close(fd) }
        let echo = clientFrame(1, Array("hello".utf8))
        _ = echo.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        XCTAssertEqual(readFrame(fd)?.1, Array("hello".utf8))
        XCTAssertEqual(server.webSocketCount, 1)

        let flood = clientFrame(1, Array("flood".utf8))
        _ = flood.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        XCTAssertEqual(flooded.wait(timeout: .now() + 20), .success)
        XCTAssertLessThan(sendSeconds.withLock { floodTime }, 5, "queueing never waits for the client")
        var last: (UInt8, [UInt8])?
        while let frame = readFrame(fd) {
            last = frame
            if frame.0 == 8 { break }
        }
        XCTAssertEqual(last?.0, 8)
        XCTAssertEqual(last.map { Array($0.1.prefix(2)) }, [0x03, 0xF0], "1008")
        XCTAssertEqual(last.map { String(decoding: $0.1.dropFirst(2), as: UTF8.self) }, "subscriber too slow: 4 messages queued, dropped")
    }

    func testHandshakeErrorsAndTheCap() throws {
        var configuration = HTTPServerConfiguration(port: 0)
        configuration.maxWebSocketConnections = 1
        let router = HTTPRouter { _ in .answer(HTTPResponse(status: 405)) }
        router.webSocket("/ws") { _ in }
        let server = HTTPServer(configuration: configuration, router: router.route)
        try server.start()
        defer { server.stop() }
        let client = try HTTPClient(url: "http://127.0.0.1:\(server.port)/ws")
        let bad = try client.send(method: "GET", body: [], headers: [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                                                     ("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Key", "short")])
        XCTAssertEqual(bad.status, 400)
        XCTAssertEqual(String(decoding: bad.body, as: UTF8.self), "Sec-WebSocket-Key must be 16 bytes in base64\n")
        let foreign = try client.send(method: "GET", body: [], headers: [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                                                         ("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                                                                         ("Origin", "https://evil.example")])
        XCTAssertEqual(foreign.status, 403)
        XCTAssertEqual(String(decoding: foreign.body, as: UTF8.self), "websocket origin https://evil.example not allowed\n")
        let first = try connect(server.port)
        defer { close(first) }
        let over = try client.send(method: "GET", body: [], headers: [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                                                      ("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")])
        XCTAssertEqual(over.status, 503)
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}

/// Server-sent event streams over a real server.
final class EventStreamTests: XCTestCase {
    private func openStream(_ port: Int) -> Int32 {
        let fd = slowReader(port) ?? -1
        let request = Array("GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        return fd
    }

    /// Everything the server sends until it closes or `stop` is seen.
    private func readUntil(_ fd: Int32, _ stop: String) -> String {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            received += chunk[..<n]
            if String(decoding: received.suffix(4096), as: UTF8.self).contains(stop) { break }
        }
        return String(decoding: received, as: UTF8.self)
    }

    func testEventsFlowAndASlowClientIsDroppedWithoutStallingTheSender() throws {
        let router = HTTPRouter { _ in .answer(HTTPResponse(status: 405)) }
        let opened = DispatchSemaphore(value: 0)
        let lock = NSLock()
        var streams: [EventStream] = []
        router.get("/events") { _ in
            let stream = EventStream(maxBufferedBytes: 65536)
            lock.withLock { streams.append(stream) }
            opened.signal()
            return .events(stream)
        }
        let server = HTTPServer(configuration: HTTPServerConfiguration(port: 0), router: router.route)
        try server.start()
        defer { server.stop() }

        let reader = openStream(server.port)
        defer { close(reader) }
        XCTAssertEqual(opened.wait(timeout: .now() + 10), .success)
        let first = try XCTUnwrap(lock.withLock { streams.first })
        XCTAssertTrue(first.send(event: "block", data: "{\"number\":1}\n{\"more\":2}"))
        let head = readUntil(reader, "{\"more\":2}\n")
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 200"), head)
        XCTAssertTrue(head.contains("Content-Type: text/event-stream"), head)
        XCTAssertTrue(head.contains("event: block\ndata: {\"number\":1}\ndata: {\"more\":2}\n"), head)

        let slow = openStream(server.port)
        defer { close(slow) }
        XCTAssertEqual(opened.wait(timeout: .now() + 10), .success)
        let second = try XCTUnwrap(lock.withLock { streams.last })
        let start = Date()
        var accepted = 0
        for _ in 0..<2000 where second.send(event: "big", data: String(repeating: "x", count: 4096)) { accepted += 1 }
        XCTAssertLessThan(Date().timeIntervalSince(start), 5, "sending never waits for the client")
        XCTAssertLessThan(accepted, 2000)
        XCTAssertFalse(second.send(event: "late", data: "1"))
        // Read to the notice's end (a read can stop inside it); every event before it is whole.
        let tail = readUntil(slow, "bytes waiting\"}\n\n")
        XCTAssertTrue(tail.contains("\nevent: dropped\ndata: {\"reason\":\"client too slow: 65536 bytes waiting\"}\n\n"), String(tail.suffix(300)))
        XCTAssertTrue(first.send(event: "block", data: "2"), "the other stream goes on")
        XCTAssertTrue(readUntil(reader, "data: 2").contains("data: 2"))
    }
}
