import CMicroHTTPD
import Foundation

/// An embedded HTTP/1.1 server on libmicrohttpd: epoll with a thread pool, keep-alive,
/// a request-body limit (413 beyond it) and CORS. The handler runs on the pool's
/// threads, concurrently, so it must be thread-safe. Owns the `MHD_Daemon` and stops it
/// in `stop()` or `deinit`.
public final class HTTPServer {
    /// The bound port (the configured one, or the one picked for port 0).
    public private(set) var port: Int = 0

    let configuration: HTTPServerConfiguration
    let handler: (HTTPRequest) -> HTTPResponse
    private var daemon: OpaquePointer?

    /// Creates a server; nothing is bound until `start()`.
    public init(configuration: HTTPServerConfiguration, handler: @escaping (HTTPRequest) -> HTTPResponse) {
        self.configuration = configuration
        self.handler = handler
    }

    deinit { stop() }

    /// Binds and starts serving (`MHD_start_daemon` through `opg_mhd_start`).
    public func start() throws {
        guard daemon == nil else { return }
        guard (0...65535).contains(configuration.port) else {
            throw HTTPServerError(message: "port \(configuration.port) is outside 0…65535")
        }
        let context = Unmanaged.passUnretained(self).toOpaque()
        guard let started = opg_mhd_start(configuration.host, UInt16(configuration.port), UInt32(max(1, configuration.threads)),
                                          UInt32(configuration.connectionLimit), UInt32(configuration.idleTimeoutSeconds),
                                          accessHandler, context, completedHandler, nil) else {
            throw HTTPServerError(message: "cannot listen on \(configuration.host):\(configuration.port) (address in use, or not a local IPv4 address)")
        }
        daemon = started
        port = Int(opg_mhd_bound_port(started))
    }

    /// Stops serving and closes every connection (`MHD_stop_daemon`).
    public func stop() {
        if let d = daemon {
            MHD_stop_daemon(d)
            daemon = nil
        }
    }

    /// CORS headers for a request from `origin`, if that origin is allowed.
    func corsHeaders(origin: String?) -> [(String, String)] {
        guard let origin, !configuration.corsOrigins.isEmpty else { return [] }
        if configuration.corsOrigins.contains("*") { return [("Access-Control-Allow-Origin", "*")] }
        guard configuration.corsOrigins.contains(origin) else { return [] }
        return [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
    }

    /// Answers a fully read request: preflight, body limit, then the handler.
    func respond(to request: PendingRequest) -> HTTPResponse {
        let origin = request.headers["origin"]
        var response: HTTPResponse
        if request.tooLarge {
            response = .text("request body exceeds \(configuration.maxBodyBytes) bytes\n", status: 413)
        } else if request.method == "OPTIONS" {
            response = HTTPResponse(status: 204)
            if !corsHeaders(origin: origin).isEmpty {
                response.headers += [
                    ("Access-Control-Allow-Methods", "POST, GET, OPTIONS"),
                    ("Access-Control-Allow-Headers", request.headers["access-control-request-headers"] ?? "Content-Type"),
                    ("Access-Control-Max-Age", "600"),
                ]
            }
        } else {
            response = handler(HTTPRequest(method: request.method, path: request.path, headers: request.headers, body: request.body))
        }
        response.headers += corsHeaders(origin: origin)
        return response
    }
}

/// A request being read: created on MHD's first callback for it, released when MHD
/// reports it completed.
final class PendingRequest {
    let method: String
    let path: String
    var headers: [String: String] = [:]
    var body: [UInt8] = []
    var tooLarge = false

    init(method: String, path: String) {
        self.method = method
        self.path = path
    }
}

/// Collects one header into the `PendingRequest` passed as `cls`.
private let headerCollector: MHD_KeyValueIterator = { cls, kind, key, value in
    guard let cls, let key else { return .YES }
    let request = Unmanaged<PendingRequest>.fromOpaque(cls).takeUnretainedValue()
    request.headers[String(cString: key).lowercased()] = value.map { String(cString: $0) } ?? ""
    return .YES
}

/// MHD's access handler: called once with headers, then with each chunk of body, then
/// with an empty chunk when the body is complete; the response is queued then.
private let accessHandler: MHD_AccessHandlerCallback = { cls, connection, url, method, _, uploadData, uploadSize, connectionContext in
    guard let cls, let connection, let uploadSize, let connectionContext else { return .NO }
    let server = Unmanaged<HTTPServer>.fromOpaque(cls).takeUnretainedValue()
    guard let existing = connectionContext.pointee else {
        let request = PendingRequest(method: method.map { String(cString: $0) } ?? "", path: url.map { String(cString: $0) } ?? "/")
        let unmanaged = Unmanaged.passRetained(request)
        MHD_get_connection_values(connection, .HEADER_KIND, headerCollector, unmanaged.toOpaque())
        if let declared = request.headers["content-length"].flatMap(Int.init), declared > server.configuration.maxBodyBytes {
            request.tooLarge = true
        }
        connectionContext.pointee = unmanaged.toOpaque()
        return .YES
    }
    let request = Unmanaged<PendingRequest>.fromOpaque(existing).takeUnretainedValue()
    if uploadSize.pointee > 0 {
        if !request.tooLarge, let uploadData {
            if request.body.count + uploadSize.pointee > server.configuration.maxBodyBytes {
                request.tooLarge = true
                request.body = []
            } else {
                uploadData.withMemoryRebound(to: UInt8.self, capacity: uploadSize.pointee) {
                    request.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: uploadSize.pointee))
                }
            }
        }
        uploadSize.pointee = 0
        return .YES
    }
    let response = server.respond(to: request)
    return queue(response, on: connection)
}

/// Releases the `PendingRequest` of a finished request.
private let completedHandler: MHD_RequestCompletedCallback = { _, _, connectionContext, _ in
    guard let connectionContext, let context = connectionContext.pointee else { return }
    Unmanaged<PendingRequest>.fromOpaque(context).release()
    connectionContext.pointee = nil
}

/// Hands `response` to MHD (`MHD_create_response_from_buffer` with a copy, then `MHD_queue_response`).
private func queue(_ response: HTTPResponse, on connection: OpaquePointer) -> MHD_Result {
    let native = response.body.withUnsafeBytes { bytes in
        MHD_create_response_from_buffer(bytes.count, UnsafeMutableRawPointer(mutating: bytes.baseAddress), .RESPMEM_MUST_COPY)
    }
    guard let native else { return .NO }
    defer { MHD_destroy_response(native) }
    for (name, value) in response.headers { MHD_add_response_header(native, name, value) }
    return MHD_queue_response(connection, UInt32(response.status), native)
}
