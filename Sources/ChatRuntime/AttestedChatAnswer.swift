import JSON

/// The output of an attested-only chat job answered by an external backend (docs/chat.md,
/// "The OpenAI-compatible backend"): the answer's text, why it ended and the backend's model
/// name, as the canonical JSON `{"backend":"openai-compatible","finish":F,"model":M,"text":T}`.
/// Nothing in it can be re-executed: it is what the provider says the endpoint answered, and
/// the job's class (attestedOnly) says so. Its Keccak-256 is the job's output hash.
public struct AttestedChatAnswer: Equatable, Sendable {
    /// The `backend` field's one value.
    public static let backend = "openai-compatible"

    /// The answer's text.
    public let text: String
    /// Why the answer ended: `stop` (the backend finished) or `length` (the token cap).
    public let finish: ChatJobOutput.Finish
    /// The model that answered, as the endpoint named it.
    public let model: String

    /// An answer of `model`.
    public init(text: String, finish: ChatJobOutput.Finish, model: String) {
        self.text = text
        self.finish = finish
        self.model = model
    }

    /// The output bytes a provider commits.
    public func encoded() -> [UInt8] {
        JSONValue.object(["backend": .string(Self.backend), "finish": .string(finish.rawValue), "model": .string(model), "text": .string(text)])
            .serializedBytes()
    }

    /// Parses output bytes; refuses anything but the canonical encoding, naming the rule.
    public init(bytes: [UInt8]) throws {
        let root: JSONValue
        do { root = try JSONParser.parse(bytes) } catch { throw ChatJobError.malformedOutput("\(error)") }
        guard root["backend"]?.stringValue == Self.backend else {
            throw ChatJobError.malformedOutput("backend is missing or not \"\(Self.backend)\"")
        }
        guard let finishName = root["finish"]?.stringValue, let finish = ChatJobOutput.Finish(rawValue: finishName) else {
            throw ChatJobError.malformedOutput("finish is missing or not \"stop\" or \"length\"")
        }
        guard let model = root["model"]?.stringValue else { throw ChatJobError.malformedOutput("model is missing or not a string") }
        guard let text = root["text"]?.stringValue else { throw ChatJobError.malformedOutput("text is missing or not a string") }
        self.init(text: text, finish: finish, model: model)
        guard encoded() == bytes else { throw ChatJobError.malformedOutput("the bytes are not the canonical encoding of what they say") }
    }
}
