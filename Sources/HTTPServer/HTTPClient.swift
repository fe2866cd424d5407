import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A minimal blocking HTTP/1.1 client over POSIX sockets, for the CLI and tests talking
/// to a node (`http://host:port/path`, IPv4 or `localhost`). One request per connection.
public struct HTTPClient {
    /// Why a request failed before a response arrived.
    public struct Failure: Error, Equatable, CustomStringConvertible {
        /// What went wrong.
        public let message: String
        public var description: String { message }
    }

    let host: String
    let port: UInt16
    let path: String
    let timeoutSeconds: Int

    /// A client for `url` (`http://127.0.0.1:8545` or with a path).
    public init(url: String, timeoutSeconds: Int = 30) throws {
        guard url.hasPrefix("http://") else { throw Failure(message: "URL \(url) must start with http://") }
        let rest = url.dropFirst(7)
        let authority = rest.prefix { $0 != "/" }
        path = rest.count > authority.count ? String(rest.dropFirst(authority.count)) : "/"
        let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, let hostPart = parts.first, !hostPart.isEmpty else { throw Failure(message: "URL \(url) has no host") }
        host = hostPart == "localhost" ? "127.0.0.1" : String(hostPart)
        if parts.count == 2 {
            guard let p = UInt16(parts[1]), p > 0 else { throw Failure(message: "URL \(url) has an invalid port") }
            port = p
        } else {
            port = 80
        }
        self.timeoutSeconds = timeoutSeconds
    }

    /// POSTs `body` with `contentType` and returns the response.
    public func post(_ body: [UInt8], contentType: String = "application/json") throws -> HTTPResponse {
        try send(method: "POST", body: body, headers: [("Content-Type", contentType)])
    }

    /// Sends one request and reads the whole response.
    public func send(method: String, body: [UInt8], headers: [(String, String)]) throws -> HTTPResponse {
        let fd = try connected()
        defer { close(fd) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        try write(Array((head + "\r\n").utf8) + body, to: fd)
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            // A server refusing a request it has not read to the end (431, 413) may reset
            // the connection after its answer: keep an answer that arrived whole.
            if n < 0 && errno == ECONNRESET, let answer = try? Self.parse(response), answer.isComplete { return answer }
            guard n > 0 else { throw Failure(message: "no response from \(host):\(port): \(String(cString: strerror(errno)))") }
            response += chunk[0..<n]
        }
        return try Self.parse(response)
    }

    /// GETs a server-sent event stream (`text/event-stream`) and calls `onEvent` with each
    /// event's name (`message` when it has none) and data (its `data:` lines joined by newlines)
    /// as it arrives, until the server ends the stream or `onEvent` returns false. The request
    /// is HTTP/1.0, so the server sends the stream as it is, unchunked, and closes it at the end.
    /// A status other than 200, or no byte for `timeoutSeconds`, is a `Failure`.
    public func events(_ onEvent: (_ name: String, _ data: String) throws -> Bool) throws {
        let fd = try connected()
        defer { close(fd) }
        try write(Array("GET \(path) HTTP/1.0\r\nHost: \(host):\(port)\r\nAccept: text/event-stream\r\n\r\n".utf8), to: fd)
        var buffer: [UInt8] = []
        var headerRead = false
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return }
            guard n > 0 else { throw Failure(message: "event stream from \(host):\(port): \(String(cString: strerror(errno)))") }
            buffer += chunk[0..<n]
            if !headerRead {
                guard let end = buffer.firstRange(of: [13, 10, 13, 10]) else { continue }
                let status = try Self.parse(Array(buffer[..<end.upperBound])).status
                guard status == 200 else { throw Failure(message: "event stream from \(host):\(port)\(path): HTTP \(status)") }
                buffer.removeSubrange(..<end.upperBound)
                headerRead = true
            }
            while let end = buffer.firstRange(of: [10, 10]) {
                let block = String(decoding: buffer[..<end.lowerBound], as: UTF8.self)
                buffer.removeSubrange(..<end.upperBound)
                var name = "message", data: [String] = []
                for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                    if line.hasPrefix("event:") { name = line.dropFirst(6).trimmingCharacters(in: .whitespaces) }
                    if line.hasPrefix("data:") { data.append(String(line.dropFirst(line.hasPrefix("data: ") ? 6 : 5))) }
                }
                if data.isEmpty { continue }  // a comment
                let more = try onEvent(name, data.joined(separator: "\n"))
                if !more { return }
            }
        }
    }

    /// A socket connected to the server, with the read and write timeouts set.
    private func connected() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(message: "socket: \(String(cString: strerror(errno)))") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            close(fd)
            throw Failure(message: "host \(host) is not an IPv4 address")
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw Failure(message: "cannot connect to \(host):\(port): \(String(cString: strerror(errno)))")
        }
        return fd
    }

    /// Sends all of `bytes` on `fd`.
    private func write(_ bytes: [UInt8], to fd: Int32) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure(message: "send to \(host):\(port) failed: \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    static func parse(_ raw: [UInt8]) throws -> HTTPResponse {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = raw.firstRange(of: separator) else { throw Failure(message: "malformed HTTP response (no header end)") }
        let lines = String(decoding: raw[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw Failure(message: "malformed HTTP status line: \(lines[0])")
        }
        var headers: [(String, String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var body = Array(raw[end.upperBound...])
        let length = headers.first(where: { $0.0.lowercased() == "content-length" }).flatMap({ Int($0.1) })
        if let length, length <= body.count {
            body = Array(body[0..<length])
        }
        return HTTPResponse(status: status, headers: headers, body: body, isComplete: length.map { $0 <= body.count } ?? false)
    }
}
