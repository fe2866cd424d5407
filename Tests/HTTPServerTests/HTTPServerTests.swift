import Foundation
import XCTest
@testable import HTTPServer

final class HTTPServerTests: XCTestCase {
    private func echoServer(maxBody: Int = 1024, cors: [String] = []) throws -> HTTPServer {
        let server = HTTPServer(configuration: HTTPServerConfiguration(port: 0, maxBodyBytes: maxBody, corsOrigins: cors, threads: 2)) { request in
            HTTPResponse.json(Array("{\"method\":\"\(request.method)\",\"length\":\(request.body.count)}".utf8))
        }
        try server.start()
        XCTAssertGreaterThan(server.port, 0)
        return server
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
}
