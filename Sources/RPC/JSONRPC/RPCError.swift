import JSON

/// A JSON-RPC error object: the code, geth's message, optional data. Returned with HTTP 200.
public struct RPCError: Error, Equatable, CustomStringConvertible {
    /// The error code.
    public let code: Int
    /// The message.
    public let message: String
    /// Extra data (the ABI-encoded revert reason for code 3).
    public let data: JSONValue?

    /// Creates an error.
    public init(code: Int, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    /// -32700: the body is not JSON.
    public static func parseError(_ detail: String) -> RPCError { RPCError(code: -32700, message: "parse error: \(detail)") }
    /// -32600: the JSON is not a valid request object.
    public static func invalidRequest(_ detail: String) -> RPCError { RPCError(code: -32600, message: "invalid request: \(detail)") }
    /// -32601: no such method.
    public static func methodNotFound(_ name: String) -> RPCError {
        RPCError(code: -32601, message: "the method \(name) does not exist/is not available")
    }
    /// -32602: the parameters are wrong.
    public static func invalidParams(_ detail: String) -> RPCError { RPCError(code: -32602, message: "invalid argument \(detail)") }
    /// -32603: the node failed.
    public static func internalError(_ detail: String) -> RPCError { RPCError(code: -32603, message: "internal error: \(detail)") }
    /// -32003: a batch's answers reached the size limit; the rest of the batch is not run.
    public static func responseTooLarge(limit: Int) -> RPCError {
        RPCError(code: -32003, message: "response too large: a batch's answers are limited to \(limit) bytes")
    }
    /// -32000: the request was understood but refused (transaction admission, missing state).
    public static func server(_ message: String) -> RPCError { RPCError(code: -32000, message: message) }
    /// 3: execution reverted, with the reason and the raw revert data (as geth reports it).
    public static func executionReverted(reason: String?, data: String) -> RPCError {
        RPCError(code: 3, message: reason.map { "execution reverted: \($0)" } ?? "execution reverted", data: .string(data))
    }

    /// The error object.
    public var json: JSONValue {
        var object: JSONObject = ["code": .int(code), "message": .string(message)]
        if let data { object["data"] = data }
        return .object(object)
    }

    public var description: String { "\(code): \(message)" }
}
