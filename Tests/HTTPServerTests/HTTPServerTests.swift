import Foundation
import XCTest
@testable import HTTPServer

final class HTTPServerTests: XCTestCase {
    private func echoServer(maxBody: Int = 1024, cors: [String] = [], configure: (inout HTTPServerConfiguration) -> Void = { _ in }) throws -> HTTPServer {
        var configuration = HTTPServerConfiguration(port: 0, maxBodyBytes: maxBody, corsOrigins: cors, threads: 2)
        configure(&configuration)
        let server = HTTPServer(configuration: configuration) { request in
            HTTPResponse.json(Array("{\"method\":\"\(request.method)\",\"length\":\(request.body.count)}".utf8))
        }
        try server.start()
        XCTAssertGreaterThan(server.port, 0)
        return server
    }

    /// A connected TCP socket to `server` that sends nothing by itself.
    private func rawConnection(_ server: HTTPServer) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(server.port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(fd); throw HTTPClient.Failure(message: "connect failed") }
        return fd
    }

    private func client(_ server: HTTPServer) throws -> HTTPClient { try HTTPClient(url: "http://127.0.0.1:\(server.port)") }

    func testRoundTripOverRealSockets() throws {
        let server = try echoServer()
        let response = try client(server).post(Array(repeating: 0x41, count: 1000))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(String(decoding: response.body, as: UTF8.self), #"{"method":"POST","length":1000}"#)
        XCTAssertTrue(response.headers.contains { $0.0.lowercased() == "content-type" && $0.1 == "application/json" })
    }

    func testOversizedBodyGets413AndTheServerKeepsServing() throws {
        let server = try echoServer(maxBody: 100)
        XCTAssertEqual(try client(server).post(Array(repeating: 1, count: 101)).status, 413)
        XCTAssertEqual(try client(server).post(Array(repeating: 1, count: 100)).status, 200)
    }

    func testCORS() throws {
        let server = try echoServer(cors: ["https://a.example"])
        let c = try client(server)
        let preflight = try c.send(method: "OPTIONS", body: [], headers: [("Origin", "https://a.example"), ("Access-Control-Request-Method", "POST")])
        XCTAssertEqual(preflight.status, 204)
        XCTAssertTrue(preflight.headers.contains { $0 == ("Access-Control-Allow-Origin", "https://a.example") })
        let allowed = try c.send(method: "POST", body: [], headers: [("Origin", "https://a.example")])
        XCTAssertTrue(allowed.headers.contains { $0.0 == "Access-Control-Allow-Origin" })
        let denied = try c.send(method: "POST", body: [], headers: [("Origin", "https://b.example")])
        XCTAssertFalse(denied.headers.contains { $0.0 == "Access-Control-Allow-Origin" })
    }

    func testManyConcurrentClients() throws {
        let server = try echoServer()
        let port = server.port
        let failures = NSLock()
        var failed = 0
        DispatchQueue.concurrentPerform(iterations: 200) { i in
            let ok = (try? HTTPClient(url: "http://127.0.0.1:\(port)").post(Array(repeating: 7, count: i)).status) == 200
            if !ok { failures.withLock { failed += 1 } }
        }
        XCTAssertEqual(failed, 0)
    }

    func testStopReleasesThePortAndBadAddressesFail() throws {
        let server = try echoServer()
        let port = server.port
        server.stop()
        XCTAssertThrowsError(try HTTPClient(url: "http://127.0.0.1:\(port)").post([]))
        let again = HTTPServer(configuration: HTTPServerConfiguration(port: port)) { _ in HTTPResponse(status: 200) }
        try again.start()
        XCTAssertEqual(try HTTPClient(url: "http://127.0.0.1:\(port)").post([]).status, 200)
        XCTAssertThrowsError(try HTTPServer(configuration: HTTPServerConfiguration(host: "not-an-ip", port: 0)) { _ in HTTPResponse(status: 200) }.start())
        XCTAssertThrowsError(try HTTPServer(configuration: HTTPServerConfiguration(port: port)) { _ in HTTPResponse(status: 200) }.start(), "port in use")
        XCTAssertThrowsError(try HTTPClient(url: "ftp://x"))
    }

    func testPreflightNamesOnlyConfiguredHeaders() throws {
        let server = try echoServer(cors: ["https://a.example"]) { $0.corsHeaders = ["Content-Type", "X-Trace"] }
        let preflight = try client(server).send(method: "OPTIONS", body: [], headers: [
            ("Origin", "https://a.example"), ("Access-Control-Request-Method", "POST"), ("Access-Control-Request-Headers", "x-evil, content-type"),
        ])
        XCTAssertTrue(preflight.headers.contains { $0 == ("Access-Control-Allow-Headers", "Content-Type, X-Trace") })
        XCTAssertFalse(preflight.headers.contains { $0.1.lowercased().contains("x-evil") })
    }

    func testHostAllowlist() throws {
        let server = try echoServer()
        let c = try client(server)
        func status(_ host: String) throws -> Int { try c.send(method: "POST", body: [], headers: [("Host", host)]).status }
        XCTAssertEqual(try status("evil.example"), 403)
        XCTAssertEqual(try status("localhost.evil.example:8545"), 403)
        XCTAssertEqual(try status("LocalHost:8545"), 200)
        XCTAssertEqual(try status("192.168.1.9:8545"), 200, "an IP literal cannot be rebound")
        XCTAssertEqual(try status("[::1]:8545"), 200)
        let open = try echoServer { $0.virtualHosts = ["*"] }
        XCTAssertEqual(try client(open).send(method: "POST", body: [], headers: [("Host", "evil.example")]).status, 200)
        XCTAssertTrue(server.hostAllowed(nil), "no Host header: not a browser")
    }

    func testOversizedHeadersGet431() throws {
        let server = try echoServer()
        for size in [20_000, 120_000] {
            XCTAssertEqual(try client(server).send(method: "POST", body: [], headers: [("X-Big", String(repeating: "x", count: size))]).status, 431)
        }
        XCTAssertEqual(try client(server).post([1]).status, 200)
    }

    func testRequestDeadlineClosesATrickler() throws {
        let server = try echoServer { $0.requestTimeoutSeconds = 1 }
        let fd = try rawConnection(server)
        defer { close(fd) }
        let started = Date()
        var closed = false
        for byte in Array("POST / HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".utf8) {
            if send(fd, [byte], 1, Int32(MSG_NOSIGNAL)) <= 0 { closed = true; break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTAssertTrue(closed, "a byte every 0.1 s keeps MHD's idle timer alive, but not the whole-request deadline")
        XCTAssertLessThan(Date().timeIntervalSince(started), 4)
        XCTAssertEqual(server.openConnections, 0)
    }

    func testPendingCapClosesTheOldestFromOneAddress() throws {
        let server = try echoServer { $0.maxPendingPerIP = 4 }
        var idle: [Int32] = []
        defer { idle.forEach { close($0) } }
        for _ in 0..<12 {
            idle.append(try rawConnection(server))
        }
        let deadline = Date().addingTimeInterval(3)
        while server.openConnections > 4 && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertLessThanOrEqual(server.openConnections, 4)
        XCTAssertEqual(try client(server).post([1]).status, 200, "a client that sends its request at once is served")
    }

    func testBodiesInFlightHaveABudget() throws {
        let server = try echoServer(maxBody: 4096) { $0.maxBufferedBodyBytes = 6000 }
        let slow = try rawConnection(server)
        defer { close(slow) }
        let head = "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4000\r\n\r\n"
        let partial = Array(head.utf8) + [UInt8](repeating: 0x41, count: 3000)
        XCTAssertEqual(send(slow, partial, partial.count, Int32(MSG_NOSIGNAL)), partial.count)
        Thread.sleep(forTimeInterval: 0.3)
        let refused = try client(server).post([UInt8](repeating: 0x42, count: 4000))
        XCTAssertEqual(refused.status, 503, "3000 held plus 4000 passes 6000")
        XCTAssertTrue(String(decoding: refused.body, as: UTF8.self).contains("6000 bytes"))
        XCTAssertEqual(try client(server).post([UInt8](repeating: 0x42, count: 2000)).status, 200)
        close(slow)
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertEqual(try client(server).post([UInt8](repeating: 0x42, count: 4000)).status, 200, "the slow body's bytes were given back")
    }
}
