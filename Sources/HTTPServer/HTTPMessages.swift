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

/// An HTTP response.
public struct HTTPResponse: Sendable {
    /// The status code.
    public var status: Int
    /// Header fields to send, in order.
    public var headers: [(String, String)]
    /// The body bytes.
    public var body: [UInt8]

    /// Creates a response.
    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
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

/// How the server binds and what it accepts.
public struct HTTPServerConfiguration: Sendable {
    /// IPv4 address to bind; loopback unless the operator says otherwise.
    public var host: String
    /// Port to bind; 0 picks a free one (read it back from `HTTPServer.port`).
    public var port: Int
    /// Largest request body accepted; larger gets 413.
    public var maxBodyBytes: Int
    /// Origins allowed by CORS; `["*"]` allows any; empty sends no CORS headers.
    public var corsOrigins: [String]
    /// Worker threads.
    public var threads: Int
    /// Simultaneous connections.
    public var connectionLimit: Int
    /// Idle connection timeout in seconds.
    public var idleTimeoutSeconds: Int

    /// Creates a configuration with safe defaults.
    public init(host: String = "127.0.0.1", port: Int = 8545, maxBodyBytes: Int = 5 << 20, corsOrigins: [String] = [],
                threads: Int = 2, connectionLimit: Int = 1024, idleTimeoutSeconds: Int = 60) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.corsOrigins = corsOrigins
        self.threads = threads
        self.connectionLimit = connectionLimit
        self.idleTimeoutSeconds = idleTimeoutSeconds
    }
}

/// Why the server could not start.
public struct HTTPServerError: Error, Equatable, CustomStringConvertible {
    /// What went wrong.
    public let message: String
    public var description: String { message }
}
