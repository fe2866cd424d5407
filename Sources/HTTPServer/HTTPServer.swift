import CMicroHTTPD
import Foundation

/// An embedded HTTP/1.1 server on libmicrohttpd, epoll with `threads` I/O threads. For
/// each complete request a router decides: answer at once on the I/O thread (cheap
/// work), or run the work on a worker pool while the connection is suspended, so that a
/// slow answer never stalls the I/O thread's other connections. Before the router sees
/// a request the server enforces the body limit (413), the header limit (431) and the
/// Host allowlist (403) and answers CORS preflights; `ConnectionGuard` closes connections
/// that do not deliver a whole request in time. Owns the `MHD_Daemon` and stops it in
/// `stop()` or `deinit`.
public final class HTTPServer {
    /// The bound port (the configured one, or the one picked for port 0).
    public private(set) var port: Int = 0

    let configuration: HTTPServerConfiguration
    let router: (HTTPRequest) -> HTTPRoute
    private var daemon: OpaquePointer?
    let connections: ConnectionGuard
    private let inFlight = NSCondition()
    private var inFlightCount = 0
    private var stopping = false
    private let bodies = NSLock()
    private var bufferedBodyBytes = 0
    private let allowsAnyHost: Bool
    /// `virtualHosts`, lower-cased, as bytes.
    private let allowedHosts: Set<[UInt8]>
    /// Live WebSocket connections, and the deadlines of upgrades answered but not yet
    /// live (an upgrade whose 101 never reached the client is forgotten at its deadline).
    private let sockets = NSCondition()
    private var webSockets: [ObjectIdentifier: WebSocketConnection] = [:]
    private var upgrading: [UInt64] = []
    /// Open server-sent event streams.
    private var eventStreams: [ObjectIdentifier: EventStream] = [:]
    /// Set when `stop()` begins: no WebSocket or event stream may start after it.
    private var closingLongLived = false

    /// Creates a server whose `router` is called on an I/O thread with each complete
    /// request; it must return quickly (deferring slow work).
    public init(configuration: HTTPServerConfiguration, router: @escaping (HTTPRequest) -> HTTPRoute) {
        self.configuration = configuration
        self.router = router
        allowsAnyHost = configuration.virtualHosts.contains("*")
        allowedHosts = Set(configuration.virtualHosts.map { Array($0.lowercased().utf8) })
        connections = ConnectionGuard(requestTimeoutSeconds: configuration.requestTimeoutSeconds,
                                      maxPendingPerIP: configuration.maxPendingPerIP)
    }

    /// Creates a server that answers every request with `handler` on the I/O thread.
    public convenience init(configuration: HTTPServerConfiguration, handler: @escaping (HTTPRequest) -> HTTPResponse) {
        self.init(configuration: configuration) { .answer(handler($0)) }
    }

    deinit { stop() }

    /// Open connections (for tests).
    public var openConnections: Int { connections.count }

    /// Binds and starts serving (`MHD_start_daemon` through `opg_mhd_start`).
    public func start() throws {
        guard daemon == nil else { return }
        guard (0...65535).contains(configuration.port) else {
            throw HTTPServerError(message: "port \(configuration.port) is outside 0…65535")
        }
        inFlight.withLock { stopping = false }
        sockets.withLock { closingLongLived = false }
        let context = Unmanaged.passUnretained(self).toOpaque()
        // The pool holds the request line and headers; MHD answers 431 itself when they
        // overflow it. MHD clears the pool for every request, so it stays as small as the
        // header limit allows: 40 KiB instead of 16 cost about half of eth_blockNumber's rate.
        let memory = max(16384, configuration.maxHeaderBytes)
        guard let started = opg_mhd_start(configuration.host, UInt16(configuration.port), UInt32(max(1, configuration.threads)),
                                          UInt32(configuration.connectionLimit), UInt32(max(0, configuration.maxConnectionsPerIP)),
                                          UInt32(configuration.idleTimeoutSeconds), memory,
                                          accessHandler, context, completedHandler, context, connectionHandler, context) else {
            throw HTTPServerError(message: "cannot listen on \(configuration.host):\(configuration.port) (address in use, or not a local IPv4 address)")
        }
        daemon = started
        port = Int(opg_mhd_bound_port(started))
        connections.start()
    }

    /// Waits for the deferred answers in progress (requests deferred meanwhile get 503),
    /// closes WebSockets (1001) and ends event streams (new ones get 503), then stops
    /// serving and closes every connection (`MHD_stop_daemon`; MHD must not hold
    /// suspended or upgraded connections then).
    public func stop() {
        guard let d = daemon else { return }
        inFlight.withLock {
            stopping = true
            while inFlightCount > 0 { inFlight.wait() }
        }
        closeWebSockets()
        endEventStreams()
        MHD_stop_daemon(d)
        daemon = nil
        connections.stop()
    }

    /// Open WebSocket connections.
    public var webSocketCount: Int { sockets.withLock { webSockets.count } }

    /// Closes every WebSocket connection (1001, going away) and waits until they are gone:
    /// MHD must not hold upgraded connections when it stops.
    private func closeWebSockets() {
        sockets.withLock {
            closingLongLived = true
            for connection in webSockets.values { connection.close(code: 1001, reason: "server is shutting down") }
            let deadline = Date().addingTimeInterval(15)
            while !webSockets.isEmpty || !liveUpgrades().isEmpty, sockets.wait(until: deadline) {}
        }
    }

    /// Ends every event stream and waits until MHD has released them.
    private func endEventStreams() {
        let streams = sockets.withLock { Array(eventStreams.values) }
        streams.forEach { $0.end() }
        sockets.withLock {
            let deadline = Date().addingTimeInterval(15)
            while !eventStreams.isEmpty, sockets.wait(until: deadline) {}
        }
    }

    /// Answers with `stream`: 200 `text/event-stream`, no request deadline while it lasts.
    func startEventStream(_ stream: EventStream, origin: String?, on connection: OpaquePointer) -> MHD_Result {
        let admitted = sockets.withLock { () -> Bool in
            guard !closingLongLived, eventStreams.count < configuration.maxEventStreams else { return false }
            eventStreams[ObjectIdentifier(stream)] = stream
            return true
        }
        guard admitted else { return queue(.text("too many event streams: limit \(configuration.maxEventStreams)\n", status: 503), on: connection) }
        stream.onFinished { [weak self] in
            guard let self else { return }
            self.sockets.withLock {
                self.eventStreams[ObjectIdentifier(stream)] = nil
                self.sockets.broadcast()
            }
        }
        stream.attach(connection)
        connections.requestRead(key(connection))
        let context = Unmanaged.passRetained(stream).toOpaque()
        guard let native = MHD_create_response_from_callback(UInt64.max, 16384, eventReader, context, eventReaderFree) else {
            Unmanaged<EventStream>.fromOpaque(context).takeRetainedValue().finished()
            return .NO
        }
        defer { MHD_destroy_response(native) }
        for (name, value) in [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")] + corsHeaders(origin: origin) {
            MHD_add_response_header(native, name, value)
        }
        return MHD_queue_response(connection, 200, native)
    }

    /// The deadlines of upgrades still expected; call under `sockets`.
    private func liveUpgrades() -> [UInt64] {
        let now = DispatchTime.now().uptimeNanoseconds
        return upgrading.filter { $0 > now }
    }

    /// Reserves a place for one more WebSocket connection; false at the cap.
    func reserveWebSocket() -> Bool {
        sockets.withLock {
            upgrading = liveUpgrades()
            guard !closingLongLived, webSockets.count + upgrading.count < configuration.maxWebSocketConnections else { return false }
            upgrading.append(DispatchTime.now().uptimeNanoseconds + 10_000_000_000)
            return true
        }
    }

    /// The upgrade reserved by `reserveWebSocket` happened: `connection` is live.
    func webSocketOpened(_ connection: WebSocketConnection) {
        sockets.withLock {
            if !upgrading.isEmpty { upgrading.removeFirst() }
            webSockets[ObjectIdentifier(connection)] = connection
        }
    }

    /// `connection` closed (its socket is given back to MHD).
    func webSocketClosed(_ connection: WebSocketConnection) {
        sockets.withLock {
            webSockets[ObjectIdentifier(connection)] = nil
            sockets.broadcast()
        }
    }

    /// The answer to a request the router upgrades: 101 with the upgrade callback, or why not.
    func upgradeResponse(_ request: HTTPRequest, accept: @escaping (WebSocketConnection) -> Void, on connection: OpaquePointer) -> MHD_Result? {
        if let problem = WebSocketConnection.handshakeError(request) { return queue(.text(problem + "\n", status: 400), on: connection) }
        // Browsers open WebSockets across origins without CORS: a page's origin must be allowed.
        if let origin = request.headers["origin"], corsHeaders(origin: origin).isEmpty {
            return queue(.text("websocket origin \(origin) not allowed\n", status: 403), on: connection)
        }
        guard reserveWebSocket() else {
            return queue(.text("too many websocket connections: limit \(configuration.maxWebSocketConnections)\n", status: 503), on: connection)
        }
        let context = Unmanaged.passRetained(UpgradeContext(server: self, accept: accept)).toOpaque()
        guard let native = MHD_create_response_for_upgrade(upgradeHandler, context) else {
            Unmanaged<UpgradeContext>.fromOpaque(context).release()
            sockets.withLock {
                if !upgrading.isEmpty { upgrading.removeLast() }
                sockets.broadcast()
            }
            return .NO
        }
        defer { MHD_destroy_response(native) }
        MHD_add_response_header(native, "Upgrade", "websocket")
        MHD_add_response_header(native, "Sec-WebSocket-Accept", WebSocketConnection.acceptKey(request.headers["sec-websocket-key"] ?? ""))
        for (name, value) in corsHeaders(origin: request.headers["origin"]) { MHD_add_response_header(native, name, value) }
        return MHD_queue_response(connection, 101, native)
    }

    /// CORS headers for a request from `origin`, if that origin is allowed.
    func corsHeaders(origin: String?) -> [(String, String)] {
        guard let origin, !configuration.corsOrigins.isEmpty else { return [] }
        if configuration.corsOrigins.contains("*") { return [("Access-Control-Allow-Origin", "*")] }
        guard configuration.corsOrigins.contains(origin) else { return [] }
        return [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
    }

    /// Counts `count` more body bytes held in memory; false, counting nothing, when that
    /// would pass `maxBufferedBodyBytes`.
    func reserveBody(_ count: Int) -> Bool {
        bodies.withLock {
            guard bufferedBodyBytes + count <= configuration.maxBufferedBodyBytes else { return false }
            bufferedBodyBytes += count
            return true
        }
    }

    /// Body bytes no longer held.
    func releaseBody(_ count: Int) {
        guard count > 0 else { return }
        bodies.withLock { bufferedBodyBytes -= count }
    }

    /// True when the `Host` header names an allowed virtual host, is an IP literal, or is
    /// absent. Byte by byte: it runs for every request.
    func hostAllowed(_ host: String?) -> Bool {
        guard let host, !host.isEmpty, !allowsAnyHost else { return true }
        let bytes = Array(host.utf8)
        if bytes[0] == UInt8(ascii: "[") { return true }  // an IPv6 literal
        let name = bytes.lastIndex(of: UInt8(ascii: ":")).map { bytes[..<$0] } ?? bytes[...]
        let dots = name.filter { $0 == UInt8(ascii: ".") }.count
        if dots == 3 && name.allSatisfy({ $0 == UInt8(ascii: ".") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) { return true }
        let lowered = name.map { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) ? $0 | 0x20 : $0 }
        return allowedHosts.contains(lowered)
    }

    /// The answer the server gives itself, before any handler: limits, Host, preflight.
    func immediateResponse(to request: PendingRequest) -> HTTPResponse? {
        if request.headerBytes > configuration.maxHeaderBytes {
            return .text("request header fields exceed \(configuration.maxHeaderBytes) bytes\n", status: 431)
        }
        if request.tooLarge { return .text("request body exceeds \(configuration.maxBodyBytes) bytes\n", status: 413) }
        if request.overBudget {
            return .text("server busy: request bodies being read exceed \(configuration.maxBufferedBodyBytes) bytes in all\n", status: 503)
        }
        if !hostAllowed(request.headers["host"]) { return .text("invalid host specified\n", status: 403) }
        guard request.method == "OPTIONS" else { return nil }
        var response = HTTPResponse(status: 204)
        if !corsHeaders(origin: request.headers["origin"]).isEmpty {
            response.headers += [
                ("Access-Control-Allow-Methods", "POST, GET, OPTIONS"),
                ("Access-Control-Allow-Headers", configuration.corsHeaders.joined(separator: ", ")),
                ("Access-Control-Max-Age", "600"),
            ]
        }
        return response
    }

    /// Suspends the connection and runs `work` on `pool`; the answer is stored and the
    /// connection resumed, and MHD's next callback for it queues the answer. Returns
    /// false, without suspending, once `stop()` has begun.
    func runDeferred(_ request: PendingRequest, on connection: OpaquePointer, to pool: WorkerPool, work: @escaping () -> HTTPResponse) -> Bool {
        let accepted = inFlight.withLock { () -> Bool in
            guard !stopping else { return false }
            inFlightCount += 1
            return true
        }
        guard accepted else { return false }
        connections.requestRead(key(connection))
        MHD_suspend_connection(connection)
        pool.submit { [self] in
            var response = work()
            response.headers += corsHeaders(origin: request.headers["origin"])
            request.finish(response)
            MHD_resume_connection(connection)
            inFlight.withLock {
                inFlightCount -= 1
                inFlight.broadcast()
            }
        }
        return true
    }
}

/// A request being read: created on MHD's first callback for it, released when MHD
/// reports it completed. `response` of a deferred request is written by a pool thread
/// and read on the I/O thread after the connection is resumed, under `lock`.
final class PendingRequest {
    let method: String
    let path: String
    var headers: [String: String] = [:]
    var headerBytes = 0
    var body: [UInt8] = []
    var tooLarge = false
    /// The bodies of all requests together passed `maxBufferedBodyBytes`.
    var overBudget = false
    /// Body bytes counted against the server's budget, given back at completion.
    var charged = 0
    var routed = false
    private let lock = NSLock()
    private var response: HTTPResponse?

    init(method: String, path: String) {
        self.method = method
        self.path = path
        headerBytes = method.utf8.count + path.utf8.count + 12
    }

    func finish(_ answer: HTTPResponse) { lock.withLock { response = answer } }

    var answer: HTTPResponse? { lock.withLock { response } }
}

/// A connection's key in `ConnectionGuard`: its MHD handle's address.
private func key(_ connection: OpaquePointer) -> UInt { UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(connection))) }

/// Collects one header into the `PendingRequest` passed as `cls`.
private let headerCollector: MHD_KeyValueIterator = { cls, kind, key, value in
    guard let cls, let key else { return .YES }
    let request = Unmanaged<PendingRequest>.fromOpaque(cls).takeUnretainedValue()
    let name = String(cString: key)
    let text = value.map { String(cString: $0) } ?? ""
    request.headerBytes += name.utf8.count + text.utf8.count + 4
    request.headers[name.lowercased()] = text
    return .YES
}

/// MHD's access handler: called once with headers, then with each chunk of body, then
/// with an empty chunk when the body is complete (the request is routed then), and, for
/// a deferred request, once more after its answer resumed the connection.
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
        if !request.tooLarge && !request.overBudget, let uploadData {
            if request.body.count + uploadSize.pointee > server.configuration.maxBodyBytes {
                request.tooLarge = true
                request.body = []
            } else if !server.reserveBody(uploadSize.pointee) {
                request.overBudget = true
                request.body = []
            } else {
                request.charged += uploadSize.pointee
                uploadData.withMemoryRebound(to: UInt8.self, capacity: uploadSize.pointee) {
                    request.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: uploadSize.pointee))
                }
            }
        }
        uploadSize.pointee = 0
        return .YES
    }
    if request.routed {
        guard let answer = request.answer else { return .NO }
        return queue(answer, on: connection)
    }
    request.routed = true
    var answer: HTTPResponse
    if let refused = server.immediateResponse(to: request) {
        answer = refused
    } else {
        let message = HTTPRequest(method: request.method, path: request.path, headers: request.headers, body: request.body)
        request.body = []
        switch server.router(message) {
        case .answer(let response):
            answer = response
        case .deferred(let pool, let work):
            if server.runDeferred(request, on: connection, to: pool, work: work) { return .YES }
            answer = .text("server is shutting down\n", status: 503)
        case .events(let stream):
            return server.startEventStream(stream, origin: request.headers["origin"], on: connection)
        case .webSocket(let accept):
            if let result = server.upgradeResponse(message, accept: accept, on: connection) { return result }
            answer = .text("server is shutting down\n", status: 503)
        }
    }
    answer.headers += server.corsHeaders(origin: request.headers["origin"])
    return queue(answer, on: connection)
}

/// Releases the `PendingRequest` of a finished request and its body bytes; the
/// connection's next request starts its deadline.
private let completedHandler: MHD_RequestCompletedCallback = { cls, connection, connectionContext, _ in
    guard let cls else { return }
    let server = Unmanaged<HTTPServer>.fromOpaque(cls).takeUnretainedValue()
    if let connection { server.connections.responded(key(connection)) }
    guard let connectionContext, let context = connectionContext.pointee else { return }
    let request = Unmanaged<PendingRequest>.fromOpaque(context)
    server.releaseBody(request.takeUnretainedValue().charged)
    request.release()
    connectionContext.pointee = nil
}

/// What the upgrade callback needs: the server and the route's `accept`.
private final class UpgradeContext {
    let server: HTTPServer
    let accept: (WebSocketConnection) -> Void
    init(server: HTTPServer, accept: @escaping (WebSocketConnection) -> Void) {
        self.server = server
        self.accept = accept
    }
}

/// MHD hands over the socket after sending 101: the connection leaves `ConnectionGuard`'s
/// request deadlines and becomes a `WebSocketConnection` with threads of its own.
private let upgradeHandler: MHD_UpgradeHandler = { cls, connection, _, extraIn, extraSize, socket, handle in
    guard let cls else { return }
    let context = Unmanaged<UpgradeContext>.fromOpaque(cls).takeRetainedValue()
    let server = context.server
    guard let handle else { return }
    if let connection { server.connections.upgraded(key(connection)) }
    let extra = extraIn.map { pointer in
        pointer.withMemoryRebound(to: UInt8.self, capacity: extraSize) { Array(UnsafeBufferPointer(start: $0, count: extraSize)) }
    } ?? []
    let webSocket = WebSocketConnection(fd: socket, upgrade: handle, extra: extra, maxMessageBytes: server.configuration.maxBodyBytes,
                                        maxQueuedMessages: server.configuration.webSocketQueueMessages) { [weak server] in
        server?.webSocketClosed($0)
    }
    server.webSocketOpened(webSocket)
    context.accept(webSocket)
    webSocket.run()
}

/// MHD pulls an event stream's bytes (`MHD_ContentReaderCallback`).
private let eventReader: MHD_ContentReaderCallback = { cls, _, buffer, max in
    guard let cls, let buffer else { return -2 }
    return Unmanaged<EventStream>.fromOpaque(cls).takeUnretainedValue().read(into: buffer, max: max)
}

/// MHD released an event stream's response.
private let eventReaderFree: MHD_ContentReaderFreeCallback = { cls in
    guard let cls else { return }
    Unmanaged<EventStream>.fromOpaque(cls).takeRetainedValue().finished()
}

/// Tells `ConnectionGuard` about every connection opened and closed.
private let connectionHandler: MHD_NotifyConnectionCallback = { cls, connection, _, event in
    guard let cls, let connection else { return }
    let guardian = Unmanaged<HTTPServer>.fromOpaque(cls).takeUnretainedValue().connections
    if event == MHD_ConnectionNotificationCode(rawValue: 0) {  // MHD_CONNECTION_NOTIFY_STARTED
        guardian.opened(key(connection), fd: opg_mhd_connection_fd(connection), ip: opg_mhd_connection_ipv4(connection))
    } else {
        guardian.closed(key(connection))
    }
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
