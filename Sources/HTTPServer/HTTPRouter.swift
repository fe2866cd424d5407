import Foundation

/// Routing on the node's one port. A WebSocket handshake (GET with `Upgrade`) for a
/// registered path is upgraded; GET (and HEAD) requests for a registered path go to
/// that path's handler or static asset; GET or HEAD for any other path but `/` gets 404;
/// everything else (POST to `/`, OPTIONS, GET `/` and other methods) goes to `fallback`,
/// the JSON-RPC side, which answers exactly as it did before any route existed.
public final class HTTPRouter {
    private var handlers: [String: (HTTPRequest) -> HTTPRoute] = [:]
    private var webSockets: [String: (WebSocketConnection) -> Void] = [:]
    private let fallback: (HTTPRequest) -> HTTPRoute

    /// A router whose requests that no GET route takes go to `fallback`.
    public init(fallback: @escaping (HTTPRequest) -> HTTPRoute) { self.fallback = fallback }

    /// Answers GET and HEAD for `path` with `handler` (called on the I/O thread: return
    /// quickly or defer). Routes are registered before the server starts.
    public func get(_ path: String, _ handler: @escaping (HTTPRequest) -> HTTPRoute) { handlers[path] = handler }

    /// Serves `asset` at `path` for GET and HEAD, with its ETag, and 304 Not Modified when
    /// the request's `If-None-Match` names it.
    public func asset(_ path: String, _ asset: StaticAsset) { get(path) { .answer(asset.response(to: $0)) } }

    /// Accepts WebSocket upgrades (a GET with an `Upgrade` header) at `path` and hands
    /// each live connection to `accept`.
    public func webSocket(_ path: String, _ accept: @escaping (WebSocketConnection) -> Void) { webSockets[path] = accept }

    /// The route for `request` (`HTTPServer`'s router).
    public func route(_ request: HTTPRequest) -> HTTPRoute {
        guard request.method == "GET" || request.method == "HEAD" else { return fallback(request) }
        if request.headers["upgrade"] != nil, let accept = webSockets[request.path] { return .webSocket(accept: accept) }
        if let handler = handlers[request.path] { return handler(request) }
        guard request.path != "/" else { return fallback(request) }
        return .answer(.text("404 page not found: no route for \(request.path)\n", status: 404))
    }
}

/// A file served from memory: its bytes, media type and entity tag (a 64-bit FNV-1a
/// digest of the bytes, so it changes whenever the bytes do), and optionally the same
/// file gzip-compressed ahead of time (the node links no zlib: `make` writes the `.gz`
/// beside each explorer file). Responses carry `Cache-Control: no-cache`: browsers keep
/// the file but ask again with `If-None-Match`, and get 304 without a body while it is
/// unchanged. An asset with a gzip variant answers with `Vary: Accept-Encoding`, and the
/// compressed bytes (`Content-Encoding: gzip`, their own tag) to a request whose
/// `Accept-Encoding` allows gzip.
public struct StaticAsset: Sendable {
    /// The bytes.
    public let body: [UInt8]
    /// The `Content-Type`.
    public let contentType: String
    /// The strong entity tag, quoted (`"9a3c…"`).
    public let etag: String
    /// The gzip-compressed bytes, when the asset has them.
    public let gzipBody: [UInt8]?
    /// The strong entity tag of `gzipBody` (a representation of its own, RFC 9110 §8.8.3).
    public let gzipETag: String?

    /// An asset of `body` served as `contentType`, and as `gzipBody` (the same file
    /// compressed) to clients that accept gzip.
    public init(body: [UInt8], contentType: String, gzipBody: [UInt8]? = nil) {
        self.body = body
        self.contentType = contentType
        self.gzipBody = gzipBody
        etag = Self.tag(body)
        gzipETag = gzipBody.map(Self.tag)
    }

    /// The quoted 64-bit FNV-1a digest of `bytes` in hex.
    static func tag(_ bytes: [UInt8]) -> String {
        var digest: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { digest = (digest ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let hex = String(digest, radix: 16)
        return "\"" + String(repeating: "0", count: 16 - hex.count) + hex + "\""
    }

    /// 304 when `request`'s `If-None-Match` lists the tag of the representation it would
    /// get (or is `*`), else 200 with that representation's bytes.
    public func response(to request: HTTPRequest) -> HTTPResponse {
        let compressed = gzipBody.flatMap { gzip in Self.acceptsGzip(request.headers["accept-encoding"]) ? gzip : nil }
        let tag = compressed == nil ? etag : gzipETag ?? etag
        var headers = [("ETag", tag), ("Cache-Control", "no-cache")]
        if gzipBody != nil { headers.append(("Vary", "Accept-Encoding")) }
        if let tags = request.headers["if-none-match"], Self.matches(tags, tag) {
            return HTTPResponse(status: 304, headers: headers)
        }
        if compressed != nil { headers.append(("Content-Encoding", "gzip")) }
        return HTTPResponse(status: 200, headers: [("Content-Type", contentType)] + headers, body: compressed ?? body)
    }

    /// True when the `Accept-Encoding` value `list` names `gzip`, `x-gzip` or `*` with a
    /// non-zero quality (RFC 9110 §12.5.3).
    static func acceptsGzip(_ list: String?) -> Bool {
        guard let list else { return false }
        return list.split(separator: ",").contains { item in
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let coding = parts.first, ["gzip", "x-gzip", "*"].contains(coding) else { return false }
            let quality = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return quality > 0
        }
    }

    /// True when the `If-None-Match` value `list` names `etag` by weak comparison
    /// (RFC 9110 §13.1.2: a `W/` prefix is ignored) or is `*`.
    static func matches(_ list: String, _ etag: String) -> Bool {
        list.split(separator: ",").contains { candidate in
            var tag = candidate.trimmingCharacters(in: .whitespaces)
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            return tag == etag
        }
    }
}
