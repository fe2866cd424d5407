import XCTest
@testable import HTTPServer

/// The router over a real server: GET routes, 404 for unknown GET paths, everything else
/// to the fallback, static assets with ETag and 304.
final class HTTPRouterTests: XCTestCase {
    private var server: HTTPServer!
    private let page = StaticAsset(body: Array("<h1>hello</h1>".utf8), contentType: "text/html; charset=utf-8")

    override func setUpWithError() throws {
        let router = HTTPRouter { request in .answer(.text("fallback \(request.method) \(request.path)", status: 200)) }
        router.get("/health") { _ in .answer(.json(Array(#"{"status":"ok"}"#.utf8))) }
        router.asset("/page", page)
        server = HTTPServer(configuration: HTTPServerConfiguration(port: 0), router: router.route)
        try server.start()
    }

    override func tearDown() { server.stop() }

    private func send(_ method: String, _ path: String, _ headers: [(String, String)] = []) throws -> HTTPResponse {
        try HTTPClient(url: "http://127.0.0.1:\(server.port)\(path)").send(method: method, body: [], headers: headers)
    }

    private func header(_ response: HTTPResponse, _ name: String) -> String? {
        response.headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    func testGetRoutesAnd404AndFallback() throws {
        let health = try send("GET", "/health")
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(String(decoding: health.body, as: UTF8.self), #"{"status":"ok"}"#)
        let missing = try send("GET", "/nothing/here")
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(String(decoding: missing.body, as: UTF8.self), "404 page not found: no route for /nothing/here\n")
        XCTAssertEqual(String(decoding: try send("GET", "/").body, as: UTF8.self), "fallback GET /", "GET / stays with JSON-RPC")
        XCTAssertEqual(String(decoding: try send("POST", "/").body, as: UTF8.self), "fallback POST /")
        XCTAssertEqual(String(decoding: try send("POST", "/health").body, as: UTF8.self), "fallback POST /health",
                       "only GET and HEAD are routed by path")
        XCTAssertEqual(try send("HEAD", "/health").status, 200)
    }

    func testAssetETagAndNotModified() throws {
        let first = try send("GET", "/page")
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(first.body, page.body)
        XCTAssertEqual(header(first, "content-type"), "text/html; charset=utf-8")
        let tag = try XCTUnwrap(header(first, "etag"))
        XCTAssertEqual(tag, page.etag)
        let cached = try send("GET", "/page", [("If-None-Match", tag)])
        XCTAssertEqual(cached.status, 304)
        XCTAssertTrue(cached.body.isEmpty)
        XCTAssertEqual(try send("GET", "/page", [("If-None-Match", "\"other\", W/\(tag)")]).status, 304)
        XCTAssertEqual(try send("GET", "/page", [("If-None-Match", "*")]).status, 304)
        XCTAssertEqual(try send("GET", "/page", [("If-None-Match", "\"other\"")]).status, 200)
    }

    func testGzipVariantWhenAcceptedWithItsOwnTagAndVary() throws {
        let asset = StaticAsset(body: Array("plain".utf8), contentType: "text/plain", gzipBody: [0x1f, 0x8b, 1, 2])
        func get(_ headers: [String: String]) -> HTTPResponse { asset.response(to: HTTPRequest(method: "GET", path: "/", headers: headers, body: [])) }
        func header(_ r: HTTPResponse, _ name: String) -> String? { r.headers.first { $0.0 == name }?.1 }
        let packed = get(["accept-encoding": "deflate, gzip"])
        XCTAssertEqual(packed.body, [0x1f, 0x8b, 1, 2])
        XCTAssertEqual(header(packed, "Content-Encoding"), "gzip")
        XCTAssertEqual(header(packed, "ETag"), asset.gzipETag)
        XCTAssertNotEqual(asset.gzipETag, asset.etag)
        for refused in [[:], ["accept-encoding": "identity"], ["accept-encoding": "gzip;q=0"], ["accept-encoding": "br, GZIP ; q=0.0"]] {
            let plain = get(refused)
            XCTAssertEqual(plain.body, Array("plain".utf8), "\(refused)")
            XCTAssertNil(header(plain, "Content-Encoding"))
            XCTAssertEqual(header(plain, "Vary"), "Accept-Encoding")
        }
        for accepted in ["x-gzip", "*", "GZip;q=0.5", "br;q=1, gzip;q=0.001"] {
            XCTAssertEqual(header(get(["accept-encoding": accepted]), "Content-Encoding"), "gzip", accepted)
        }
        XCTAssertEqual(get(["accept-encoding": "gzip", "if-none-match": asset.gzipETag!]).status, 304)
        XCTAssertEqual(get(["accept-encoding": "gzip", "if-none-match": asset.etag]).status, 200, "the other representation's tag")
        XCTAssertEqual(get(["if-none-match": asset.etag]).status, 304)
        XCTAssertNil(header(StaticAsset(body: [1], contentType: "x").response(to: HTTPRequest(method: "GET", path: "/", headers: [:], body: [])), "Vary"),
                     "an asset without a gzip variant does not vary")
    }

    func testETagFollowsTheBytes() {
        XCTAssertEqual(StaticAsset(body: [1, 2, 3], contentType: "x").etag, StaticAsset(body: [1, 2, 3], contentType: "y").etag)
        XCTAssertNotEqual(StaticAsset(body: [1, 2, 3], contentType: "x").etag, StaticAsset(body: [1, 2, 4], contentType: "x").etag)
        XCTAssertEqual(StaticAsset(body: [], contentType: "x").etag, "\"cbf29ce484222325\"")
    }
}

final class PrometheusTextTests: XCTestCase {
    func testFamiliesSamplesAndEscaping() {
        var page = PrometheusText()
        page.gauge("opg_height", help: "Head \\ number\nsecond line", 7)
        page.family("opg_calls_total", type: "counter", help: "Calls.")
        page.sample("opg_calls_total", labels: [("method", "a\"b\\c\nd"), ("x", "y")], "3")
        XCTAssertEqual(page.text, """
            # HELP opg_height Head \\\\ number\\nsecond line
            # TYPE opg_height gauge
            opg_height 7
            # HELP opg_calls_total Calls.
            # TYPE opg_calls_total counter
            opg_calls_total{method="a\\"b\\\\c\\nd",x="y"} 3

            """)
        XCTAssertEqual(page.response.headers.first?.1, "text/plain; version=0.0.4; charset=utf-8")
    }

    func testSecondsFromNanoseconds() {
        XCTAssertEqual(PrometheusText.seconds(nanoseconds: 0), "0")
        XCTAssertEqual(PrometheusText.seconds(nanoseconds: 1_500_000), "0.0015")
        XCTAssertEqual(PrometheusText.seconds(nanoseconds: 2_000_000_000), "2")
        XCTAssertEqual(PrometheusText.seconds(nanoseconds: 10_000_000_001), "10.000000001")
    }
}
