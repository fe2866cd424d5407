/// An HTTP request as the handler sees it: the whole body has been read.
public struct HTTPRequest: Sendable {
    /// The method, upper case (`POST`).
    public let method: String
    /// The request target's path (`/`).
    public let path: String
    /// Header fields with lower-cased names; the last occurrence wins.
    public let headers: [String: String]
    /// The body bytes.
    public let body: [UInt8]

    /// Creates a request.
    public init(method: String, path: String, headers: [String: String], body: [UInt8]) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }
}

/// How the server answers a complete request: at once on the I/O thread that read it
/// (cheap work), or later, from a worker pool, while the connection is suspended so that
/// the I/O thread goes on serving its other connections.
public enum HTTPRoute {
    /// Send this response now.
    case answer(HTTPResponse)
    /// Run `work` on `pool` and send what it returns.
    case deferred(to: WorkerPool, work: () -> HTTPResponse)
    /// Upgrade to WebSocket (the server checks the handshake: 400 if invalid, 503 over
    /// `maxWebSocketConnections`) and hand the live connection to `accept`, which sets
    /// its callbacks.
    case webSocket(accept: (WebSocketConnection) -> Void)
    /// Answer 200 `text/event-stream` and keep sending what `stream` is given until it
    /// ends (503 over `maxEventStreams`).
    case events(EventStream)
}

/// An HTTP response.
public struct HTTPResponse: Sendable {
    /// The status code.
    public var status: Int
    /// Header fields to send, in order.
    public var headers: [(String, String)]
    /// The body bytes.
    public var body: [UInt8]
    /// For a response read by `HTTPClient`: the whole body its Content-Length announced arrived.
    public var isComplete: Bool

    /// Creates a response.
    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = [], isComplete: Bool = true) {
        self.status = status
        self.headers = headers
        self.body = body
        self.isComplete = isComplete
    }

    /// A response with a JSON body.
    public static func json(_ body: [UInt8], status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: body)
    }

    /// A plain-text response.
    public static func text(_ text: String, status: Int) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")], body: Array(text.utf8))
    }
}

/// How the server binds, what it accepts and how it defends itself against slow or
/// hostile clients (docs/rpc.md, "Limits").
public struct HTTPServerConfiguration: Sendable {
    /// IPv4 address to bind; loopback unless the operator says otherwise.
    public var host: String
    /// Port to bind; 0 picks a free one (read it back from `HTTPServer.port`).
    public var port: Int
    /// Largest request body accepted; larger gets 413.
    public var maxBodyBytes: Int
    /// Origins allowed by CORS; `["*"]` allows any; empty sends no CORS headers.
    public var corsOrigins: [String]
    /// Request headers a CORS preflight is told it may send (never the ones it asked for).
    public var corsHeaders: [String]
    /// Host names accepted in the `Host` header (geth's `--http.vhosts`); `["*"]` accepts
    /// any. Requests addressed to an IP literal or without a `Host` are always accepted:
    /// DNS rebinding needs a name.
    public var virtualHosts: [String]
    /// libmicrohttpd's epoll threads: they move bytes and answer the requests the
    /// router answers at once (the light lane).
    public var threads: Int
    /// Simultaneous connections, all clients together.
    public var connectionLimit: Int
    /// Simultaneous connections from one IP address; 0 for no limit.
    public var maxConnectionsPerIP: Int
    /// Connections from one IP address that have not yet delivered a whole request;
    /// opening one more closes the oldest of them.
    public var maxPendingPerIP: Int
    /// Idle connection timeout in seconds (restarts on every byte).
    public var idleTimeoutSeconds: Int
    /// Whole-request deadline: a connection must deliver a complete request (headers and
    /// body) within this many seconds of opening or of its previous response, however
    /// slowly it trickles bytes; otherwise it is closed.
    public var requestTimeoutSeconds: Int
    /// Largest request line plus headers; larger gets 431.
    public var maxHeaderBytes: Int
    /// Request bodies held in memory, all connections together (being read or being
    /// answered); a body that would pass it gets 503. With the per-IP pending cap this
    /// bounds what slow uploads can make the server hold.
    public var maxBufferedBodyBytes: Int
    /// Simultaneous WebSocket connections; one more gets 503.
    public var maxWebSocketConnections = 256
    /// Messages queued for one WebSocket client before it is closed as too slow (1008).
    public var webSocketQueueMessages = 1024
    /// Simultaneous server-sent event streams; one more gets 503.
    public var maxEventStreams = 256

    /// Creates a configuration with safe defaults.
    public init(host: String = "127.0.0.1", port: Int = 8545, maxBodyBytes: Int = 5 << 20, corsOrigins: [String] = [],
                corsHeaders: [String] = ["Content-Type"], virtualHosts: [String] = ["localhost"], threads: Int = 2,
                connectionLimit: Int = 10_000, maxConnectionsPerIP: Int = 0, maxPendingPerIP: Int = 256,
                idleTimeoutSeconds: Int = 60, requestTimeoutSeconds: Int = 30, maxHeaderBytes: Int = 16384,
                maxBufferedBodyBytes: Int = 256 << 20) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.corsOrigins = corsOrigins
        self.corsHeaders = corsHeaders
        self.virtualHosts = virtualHosts
        self.threads = threads
        self.connectionLimit = connectionLimit
        self.maxConnectionsPerIP = maxConnectionsPerIP
        self.maxPendingPerIP = maxPendingPerIP
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.requestTimeoutSeconds = requestTimeoutSeconds
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBufferedBodyBytes = maxBufferedBodyBytes
    }
}

/// Why the server could not start.
public struct HTTPServerError: Error, Equatable, CustomStringConvertible {
    /// What went wrong.
    public let message: String
    public var description: String { message }
}
