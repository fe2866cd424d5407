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
public final class RPCDispatcher {
    private var methods: [String: RPCMethod] = [:]
    /// Largest batch accepted.
    public let maxBatchSize: Int

    /// Creates a dispatcher with no methods.
    public init(maxBatchSize: Int = 1000) { self.maxBatchSize = maxBatchSize }

    /// Registers `method` under `name`.
    public func register(_ name: String, _ method: @escaping RPCMethod) { methods[name] = method }

    /// The registered method names, sorted.
    public var methodNames: [String] { methods.keys.sorted() }

    /// Answers a request body; nil when nothing must be sent (only notifications).
    public func handle(body: [UInt8]) -> JSONValue? {
        let parsed: JSONValue
        do {
            parsed = try JSONParser.parse(body)
        } catch {
            return Self.errorResponse(id: .null, .parseError("\(error)"))
        }
        guard case .array(let batch) = parsed else { return handleOne(parsed) }
        guard !batch.isEmpty else { return Self.errorResponse(id: .null, .invalidRequest("empty batch")) }
        guard batch.count <= maxBatchSize else {
            return Self.errorResponse(id: .null, .invalidRequest("batch of \(batch.count) exceeds the limit of \(maxBatchSize)"))
        }
        let answers = batch.compactMap(handleOne)
        return answers.isEmpty ? nil : .array(answers)
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
        if let method = methods[name] {
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
        guard let id else { return nil }
        switch outcome {
        case .success(let result): return .object(["jsonrpc": "2.0", "id": id, "result": result])
        case .failure(let error): return Self.errorResponse(id: id, error)
        }
    }

    static func errorResponse(id: JSONValue, _ error: RPCError) -> JSONValue {
        .object(["jsonrpc": "2.0", "id": id, "error": error.json])
    }

    /// The HTTP side: POST with a JSON content type, answered with HTTP 200 (JSON-RPC
    /// errors included); other methods get 405 and other content types 415, as geth does.
    public func serve(_ request: HTTPRequest) -> HTTPResponse {
        guard request.method == "POST" else {
            return HTTPResponse(status: 405, headers: [("Allow", "POST, OPTIONS"), ("Content-Type", "text/plain")],
                                body: Array("method not allowed\n".utf8))
        }
        if let type = request.headers["content-type"], !type.lowercased().hasPrefix("application/json") {
            return .text("invalid content type, only application/json is supported\n", status: 415)
        }
        guard let answer = handle(body: request.body) else { return HTTPResponse(status: 200) }
        return .json(answer.serializedBytes())
    }
}
