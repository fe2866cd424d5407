import Foundation
import HTTPServer
import JSON

/// A JSON-RPC method: takes the request's `params` (an array, possibly empty) and
/// returns the result, or throws an `RPCError` (any other error becomes -32603).
public typealias RPCMethod = (RPCParams) throws -> JSONValue

/// JSON-RPC 2.0 over HTTP, exactly as the spec says: single requests and batches,
/// notifications (no `id`) get no response, an empty batch is one -32600 error, every
/// invalid batch element is answered on its own, malformed JSON is -32700 with id null.
/// Errors travel with HTTP 200. Methods are registered once, before serving.
///
/// A batch holds at most `maxBatchSize` requests, and its answers at most
/// `maxBatchResponseBytes` bytes: once they reach that, the remaining requests are not
/// run and each gets error -32003 naming the limit (geth's BatchResponseMaxSize).
public final class RPCDispatcher {
    private var methods: [String: RPCMethod] = [:]
    /// Largest batch accepted.
    public let maxBatchSize: Int
    /// Largest total size of a batch's answers.
    public let maxBatchResponseBytes: Int
    /// Where each call's method and running time are counted (`/metrics`); set before serving.
    public var metrics: RPCMetrics?

    /// Creates a dispatcher with no methods.
    public init(maxBatchSize: Int = 1000, maxBatchResponseBytes: Int = 25_000_000) {
        self.maxBatchSize = maxBatchSize
        self.maxBatchResponseBytes = maxBatchResponseBytes
    }

    /// Registers `method` under `name`.
    public func register(_ name: String, _ method: @escaping RPCMethod) { methods[name] = method }

    /// The registered method names, sorted.
    public var methodNames: [String] { methods.keys.sorted() }

    /// Answers a request body as a JSON value; nil when nothing must be sent (only
    /// notifications). For in-process callers; HTTP goes through `serve`.
    public func handle(body: [UInt8]) -> JSONValue? {
        reply(to: Self.parse(body)).map { try! JSONParser.parse($0) }
    }

    /// The request body parsed, or the -32700 answer when it is not JSON.
    static func parse(_ body: [UInt8]) -> Result<JSONValue, RPCError> {
        do { return .success(try JSONParser.parse(body)) } catch { return .failure(.parseError("\(error)")) }
    }

    /// The serialized answer to a parsed body; nil when nothing must be sent.
    func reply(to parsed: Result<JSONValue, RPCError>) -> [UInt8]? {
        let value: JSONValue
        switch parsed {
        case .failure(let error): return Self.errorResponse(id: .null, error).serializedBytes()
        case .success(let v): value = v
        }
        guard case .array(let batch) = value else { return handleOne(value)?.serializedBytes() }
        guard !batch.isEmpty else { return Self.errorResponse(id: .null, .invalidRequest("empty batch")).serializedBytes() }
        guard batch.count <= maxBatchSize else {
            return Self.errorResponse(id: .null, .invalidRequest("batch of \(batch.count) exceeds the limit of \(maxBatchSize)")).serializedBytes()
        }
        var out: [UInt8] = [UInt8(ascii: "[")]
        var answered = 0
        for request in batch {
            let answer: JSONValue?
            if out.count < maxBatchResponseBytes {
                answer = handleOne(request)
            } else {
                answer = Self.errorResponse(id: request["id"] ?? .null, .responseTooLarge(limit: maxBatchResponseBytes))
            }
            guard let answer else { continue }
            if answered > 0 { out.append(UInt8(ascii: ",")) }
            answer.write(to: &out)
            answered += 1
        }
        guard answered > 0 else { return nil }
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// Answers one request object; nil for a valid notification.
    func handleOne(_ request: JSONValue) -> JSONValue? {
        guard case .object(let object) = request else {
            return Self.errorResponse(id: .null, .invalidRequest("a request must be an object"))
        }
        let id = object["id"]
        if let id {
            switch id {
            case .null, .string, .number: break
            default: return Self.errorResponse(id: .null, .invalidRequest("id must be a string, number or null"))
            }
        }
        guard object["jsonrpc"] == .string("2.0") else {
            return Self.errorResponse(id: id ?? .null, .invalidRequest("jsonrpc must be \"2.0\""))
        }
        guard case .string(let name)? = object["method"] else {
            return Self.errorResponse(id: id ?? .null, .invalidRequest("method must be a string"))
        }
        let params: [JSONValue]
        switch object["params"] {
        case nil, .null?: params = []
        case .array(let a)?: params = a
        default: return Self.errorResponse(id: id ?? .null, .invalidParams("params must be an array"))
        }
        let outcome: Result<JSONValue, RPCError>
        let started = metrics == nil ? 0 : DispatchTime.now().uptimeNanoseconds
        let method = methods[name]
        if let method {
            do {
                outcome = .success(try method(RPCParams(params)))
            } catch let error as RPCError {
                outcome = .failure(error)
            } catch {
                outcome = .failure(.internalError("\(error)"))
            }
        } else {
            outcome = .failure(.methodNotFound(name))
        }
        metrics?.record(method == nil ? "unknown" : name, nanoseconds: DispatchTime.now().uptimeNanoseconds &- started)
        guard let id else { return nil }
        switch outcome {
        case .success(let result): return .object(["jsonrpc": "2.0", "id": id, "result": result])
        case .failure(let error): return Self.errorResponse(id: id, error)
        }
    }

    static func errorResponse(id: JSONValue, _ error: RPCError) -> JSONValue {
        .object(["jsonrpc": "2.0", "id": id, "error": error.json])
    }

    /// The HTTP checks every request passes before its body is parsed: POST only (405)
    /// with the media type `application/json`, parameters such as a charset allowed
    /// (415 otherwise, a missing Content-Type included, as geth does). Browsers can send
    /// a cross-origin POST without a preflight only with a form or text content type,
    /// so this also keeps web pages from writing to the node behind CORS's back.
    public static func refusal(_ request: HTTPRequest) -> HTTPResponse? {
        guard request.method == "POST" else {
            return HTTPResponse(status: 405, headers: [("Allow", "POST, OPTIONS"), ("Content-Type", "text/plain")],
                                body: Array("method not allowed\n".utf8))
        }
        guard let type = request.headers["content-type"], Self.isJSONMediaType(type) else {
            return .text("invalid content type, only application/json is supported\n", status: 415)
        }
        return nil
    }

    /// True for `application/json` in any case, with optional parameters after `;` and
    /// optional spaces or tabs around it. Byte by byte: it runs for every request.
    static func isJSONMediaType(_ value: String) -> Bool {
        let expected = Array("application/json".utf8)
        var bytes = value.utf8.prefix { $0 != UInt8(ascii: ";") }[...]
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes.removeFirst() }
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes.removeLast() }
        guard bytes.count == expected.count else { return false }
        return zip(bytes, expected).allSatisfy { ((UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) ? $0 | 0x20 : $0) == $1 }
    }

    /// The HTTP side, run on the caller's thread: the checks of `refusal`, then the
    /// answer with HTTP 200 (JSON-RPC errors included).
    public func serve(_ request: HTTPRequest) -> HTTPResponse {
        if let refused = Self.refusal(request) { return refused }
        return Self.httpResponse(reply(to: Self.parse(request.body)))
    }

    /// The HTTP side on execution lanes (`HTTPServer`'s router): refusals and light
    /// requests are answered at once on the I/O thread; a large body, or one `lanes`
    /// classes heavy once parsed, runs on the heavy lane, so heavy requests only ever
    /// wait for each other.
    public func route(_ request: HTTPRequest, lanes: RPCLanes) -> HTTPRoute {
        if let refused = Self.refusal(request) { return .answer(refused) }
        guard request.body.count <= lanes.heavyBodyBytes else {
            return .deferred(to: lanes.heavy) { [self] in Self.httpResponse(reply(to: Self.parse(request.body))) }
        }
        let parsed = Self.parse(request.body)
        if case .success(let value) = parsed, lanes.isHeavy(value) {
            return .deferred(to: lanes.heavy) { [self] in Self.httpResponse(reply(to: parsed)) }
        }
        return .answer(Self.httpResponse(reply(to: parsed)))
    }

    static func httpResponse(_ body: [UInt8]?) -> HTTPResponse {
        guard let body else { return HTTPResponse(status: 200) }
        return .json(body)
    }
}
