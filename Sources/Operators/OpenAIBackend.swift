import ChatRuntime
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import JSON
import Modules
import Node

/// An OpenAI-compatible chat endpoint named in a provider's config (`openai`, docs/daemons.md):
/// the provider answers attested-only chat jobs by POSTing the conversation to
/// `{baseURL}/v1/chat/completions`. The API key is read from a file or an environment
/// variable and never logged.
public struct OpenAIEndpoint: Equatable, Sendable {
    /// The endpoint's base URL (`https://api.example.com`, no `/v1`).
    public var baseURL: String
    /// The model name sent in each request (`"model"`).
    public var model: String
    /// A file whose first line is the API key.
    public var apiKeyFile: String?
    /// An environment variable holding the API key.
    public var apiKeyEnv: String?
    /// Seconds a request may take, connection to last byte.
    public var timeoutSeconds: Int = 60
    /// The model id (as jobs store it) whose attested-only jobs this endpoint answers.
    public var modelId: String = ChatRunner.modelCID

    /// The URL requests go to.
    public var completionsURL: String { baseURL + "/v1/chat/completions" }

    /// An endpoint for `model` at `baseURL`.
    public init(baseURL: String, model: String) {
        self.baseURL = baseURL
        self.model = model
    }

    /// The config's `openai` object, checked field by field.
    static func parse(_ r: FieldReader) throws -> OpenAIEndpoint {
        try r.rejectUnknown(["baseURL", "model", "apiKeyFile", "apiKeyEnv", "timeoutSeconds", "modelId"])
        let base = try r.string("baseURL", required: true)!
        guard base.hasPrefix("http://") || base.hasPrefix("https://") else { throw ConfigError("\(r.name("baseURL")): \"\(base)\" is not an http:// or https:// URL") }
        let model = try r.string("model", required: true)!
        guard !model.isEmpty else { throw ConfigError("\(r.name("model")): must name the endpoint's model") }
        var endpoint = OpenAIEndpoint(baseURL: base.hasSuffix("/") ? String(base.dropLast()) : base, model: model)
        endpoint.apiKeyFile = try r.string("apiKeyFile")
        endpoint.apiKeyEnv = try r.string("apiKeyEnv")
        if endpoint.apiKeyFile != nil, endpoint.apiKeyEnv != nil { throw ConfigError("\(r.name("apiKeyFile")): give apiKeyFile or apiKeyEnv, not both") }
        if let v = try r.integer("timeoutSeconds", in: 1...600) { endpoint.timeoutSeconds = Int(v) }
        if let id = try r.string("modelId") {
            guard !id.isEmpty else { throw ConfigError("\(r.name("modelId")): must be a model id as jobs name it") }
            endpoint.modelId = id
        }
        return endpoint
    }

    /// The API key: `apiKeyFile`'s first line or `apiKeyEnv`'s value; nil when neither is
    /// given (an endpoint that needs no key). Errors name the field, never the key.
    public func apiKey(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String? {
        if let apiKeyFile {
            guard let data = FileManager.default.contents(atPath: apiKeyFile) else { throw ConfigError("openai.apiKeyFile \(apiKeyFile): cannot read file") }
            let line = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).first ?? ""
            let key = line.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !key.isEmpty else { throw ConfigError("openai.apiKeyFile \(apiKeyFile): the first line is empty") }
            return key
        }
        if let apiKeyEnv {
            guard let key = environment[apiKeyEnv]?.trimmingCharacters(in: .whitespacesAndNewlines), !key.isEmpty else {
                throw ConfigError("openai.apiKeyEnv: the environment variable \(apiKeyEnv) is not set or empty")
            }
            return key
        }
        return nil
    }
}

/// Reads an OpenAI-compatible `/v1/chat/completions` answer (non-streaming) into the answer
/// a provider commits. Every refusal names what is wrong with the answer.
public enum OpenAIChatResponse {
    /// Answers larger than this are refused unread.
    public static let maxBodyBytes = 4 << 20

    /// The first choice's text and finish, and the model the endpoint says answered
    /// (`fallbackModel` when it names none), from an HTTP status and body.
    public static func decode(status: Int, body: [UInt8], fallbackModel: String) throws -> AttestedChatAnswer {
        guard (200..<300).contains(status) else {
            throw JobRunError("the endpoint answered HTTP \(status): \(errorMessage(body))")
        }
        guard body.count <= maxBodyBytes else { throw JobRunError("the endpoint's answer is \(body.count) bytes, over the limit of \(maxBodyBytes)") }
        let root: JSONValue
        do { root = try JSONParser.parse(body) } catch { throw JobRunError("the endpoint's answer is not JSON: \(error)") }
        guard root.objectValue != nil else { throw JobRunError("the endpoint's answer is not a JSON object") }
        guard let choices = root["choices"]?.arrayValue else { throw JobRunError("the endpoint's answer has no choices array") }
        guard let choice = choices.first else { throw JobRunError("the endpoint's answer has an empty choices array") }
        guard let message = choice["message"], message.objectValue != nil else { throw JobRunError("choice 0 has no message object") }
        guard let text = message["content"]?.stringValue else { throw JobRunError("choice 0's message has no content string") }
        guard !text.isEmpty else { throw JobRunError("choice 0's message content is empty") }
        let finish: ChatJobOutput.Finish
        switch choice["finish_reason"] {
        case nil, .null?: finish = .stop
        case .string("stop")?: finish = .stop
        case .string("length")?: finish = .length
        case let other?: throw JobRunError("choice 0 ended with finish_reason \(other.serialized()), not stop or length")
        }
        let model = root["model"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? fallbackModel
        return AttestedChatAnswer(text: text, finish: finish, model: model)
    }

    /// An error answer's `error.message`, or the start of its body.
    private static func errorMessage(_ body: [UInt8]) -> String {
        if let root = try? JSONParser.parse(body), let message = root["error"]?["message"]?.stringValue ?? root["error"]?.stringValue {
            return String(message.prefix(300))
        }
        let text = String(decoding: body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "(empty body)" : text
    }
}

/// Answers attested-only chat jobs through an OpenAI-compatible endpoint (docs/chat.md,
/// "The OpenAI-compatible backend"): the job's input is a chat job's conversation; the
/// output is an `AttestedChatAnswer`, with no trace root. A failed request, an error status
/// or an answer that does not decode throws, so the provider does not accept the job and the
/// requester is refunded at the accept deadline.
public final class OpenAIRunner: JobRunner {
    /// Sends one POST: (url, headers, body) → (status, body); throws on a transport failure.
    public typealias Transport = (String, [(String, String)], [UInt8]) throws -> (status: Int, body: [UInt8])

    let endpoint: OpenAIEndpoint
    private let apiKey: String?
    private let transport: Transport

    /// A runner for `endpoint` with its API key read now (errors name the config field);
    /// `transport` defaults to `URLSessionTransport`.
    public init(endpoint: OpenAIEndpoint, apiKey: String?, transport: Transport? = nil) {
        self.endpoint = endpoint
        self.apiKey = apiKey
        self.transport = transport ?? URLSessionTransport(timeoutSeconds: endpoint.timeoutSeconds).post
    }

    public func serves(modelId: String, verificationClass: VerificationClass) -> Bool {
        modelId == endpoint.modelId && verificationClass == .attestedOnly
    }

    public func run(modelId: String, input: [UInt8], verificationClass: VerificationClass) throws -> JobOutcome {
        guard verificationClass == .attestedOnly else { throw JobRunError("the OpenAI-compatible backend answers attested-only jobs only") }
        let conversation: ChatJobInput
        do { conversation = try ChatJobInput(bytes: input) } catch { throw JobRunError("chat job: \(error)") }
        do {
            let (status, body) = try transport(endpoint.completionsURL, headers(), requestBody(conversation))
            let answer = try OpenAIChatResponse.decode(status: status, body: body, fallbackModel: endpoint.model)
            return JobOutcome(output: answer.encoded(), traceRoot: .zero)
        } catch {
            throw JobRunError("OpenAI-compatible endpoint \(endpoint.completionsURL): \(redacted("\(error)"))")
        }
    }

    /// The request: the conversation, the token cap and greedy sampling, not streamed.
    func requestBody(_ conversation: ChatJobInput) -> [UInt8] {
        let messages: [JSONValue] = conversation.messages.map { .object(["content": .string($0.content), "role": .string($0.role.rawValue)]) }
        return JSONValue.object(["max_tokens": .int(conversation.maxTokens), "messages": .array(messages), "model": .string(endpoint.model),
                                 "stream": .bool(false), "temperature": .int(0)]).serializedBytes()
    }

    private func headers() -> [(String, String)] {
        [("Content-Type", "application/json"), ("Accept", "application/json")] + (apiKey.map { [("Authorization", "Bearer \($0)")] } ?? [])
    }

    /// `message` with the API key cut out (an endpoint may echo it in an error).
    private func redacted(_ message: String) -> String {
        guard let apiKey, !apiKey.isEmpty else { return message }
        return message.replacingOccurrences(of: apiKey, with: "[API key]")
    }
}

/// A blocking HTTP(S) POST through Foundation's URLSession (the toolchain's), with one
/// deadline for the whole exchange.
public struct URLSessionTransport: Sendable {
    /// Seconds from sending to the last byte of the answer.
    public let timeoutSeconds: Int

    /// A transport giving up after `timeoutSeconds`.
    public init(timeoutSeconds: Int) { self.timeoutSeconds = timeoutSeconds }

    /// POSTs `body` to `url` with `headers`; the status and body, or a `JobRunError` naming
    /// the failure (a timeout, a refused connection, a malformed URL).
    public func post(_ url: String, _ headers: [(String, String)], _ body: [UInt8]) throws -> (status: Int, body: [UInt8]) {
        guard let target = URL(string: url) else { throw JobRunError("\(url) is not a URL") }
        var request = URLRequest(url: target, timeoutInterval: TimeInterval(timeoutSeconds))
        request.httpMethod = "POST"
        request.httpBody = Data(body)
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = TimeInterval(timeoutSeconds)
        configuration.timeoutIntervalForResource = TimeInterval(timeoutSeconds)
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        let box = ExchangeResult()
        let task = session.dataTask(with: request) { data, response, error in
            box.set(data: data, status: (response as? HTTPURLResponse)?.statusCode, error: error)
        }
        task.resume()
        guard box.wait(seconds: timeoutSeconds + 5) else {
            task.cancel()
            throw JobRunError("no answer within \(timeoutSeconds) s")
        }
        if let error = box.error {
            if (error as? URLError)?.code == .timedOut { throw JobRunError("no answer within \(timeoutSeconds) s") }
            throw JobRunError("request failed: \(error.localizedDescription)")
        }
        guard let status = box.status else { throw JobRunError("request failed: no HTTP response") }
        return (status, [UInt8](box.data ?? Data()))
    }
}

/// One exchange's outcome, handed from URLSession's queue to the waiting caller.
private final class ExchangeResult: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private(set) var data: Data?
    private(set) var status: Int?
    private(set) var error: Error?

    func set(data: Data?, status: Int?, error: Error?) {
        self.data = data
        self.status = status
        self.error = error
        done.signal()
    }

    /// True when the exchange ended within `seconds`; its fields are readable then.
    func wait(seconds: Int) -> Bool { done.wait(timeout: .now() + .seconds(seconds)) == .success }
}
