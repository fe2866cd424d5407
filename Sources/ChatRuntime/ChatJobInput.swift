import Chat
import JSON

/// A chat job's input (docs/chat.md, "The chat job"): the conversation so far and the token
/// cap, carried as UTF-8 JSON in canonical form —
/// `{"maxTokens":N,"messages":[{"content":C,"role":R},…]}`, keys sorted, no white space,
/// strings escaped only where JSON requires (`"`, `\`, `\n`, `\r`, `\t`, other controls as
/// `\u00xx` lowercase), integers in plain decimal. `maxTokens` may be left out (64).
public struct ChatJobInput: Equatable, Sendable {
    /// The cap when the input names none.
    public static let defaultTokenCap = 64
    /// The largest cap a job may name.
    public static let maxTokenCap = 256

    /// The conversation: at least one message, the last from the user.
    public let messages: [ChatMessage]
    /// How many tokens to generate at most, the stop token included (1…256).
    public let maxTokens: Int

    /// Checks the conversation and the cap (each refusal names the rule); contents are
    /// checked against the special tokens when the input is rendered (`ChatModel.prompt`).
    public init(messages: [ChatMessage], maxTokens: Int = ChatJobInput.defaultTokenCap) throws {
        guard (1...Self.maxTokenCap).contains(maxTokens) else { throw ChatJobError.tokenCapOutOfRange(maxTokens) }
        guard let last = messages.last else { throw ChatJobError.malformedInput("messages is empty: a conversation has at least one message") }
        guard last.role == .user else {
            throw ChatJobError.malformedInput("the last message is from \(last.role.rawValue): a chat job answers the user's last message")
        }
        self.messages = messages
        self.maxTokens = maxTokens
    }

    /// Parses input bytes; refuses anything but the canonical encoding of a valid input.
    public init(bytes: [UInt8]) throws {
        let root: JSONValue
        do { root = try JSONParser.parse(bytes) } catch { throw ChatJobError.malformedInput("\(error)") }
        guard let object = root.objectValue else { throw ChatJobError.malformedInput("the input is not a JSON object") }
        for key in object.keys where key != "maxTokens" && key != "messages" {
            throw ChatJobError.malformedInput("unknown field \"\(key)\" (the fields are maxTokens and messages)")
        }
        var cap = Self.defaultTokenCap
        if let value = object["maxTokens"] {
            guard let number = value.numberValue, number.isInteger, let n = number.int64, let small = Int(exactly: n) else {
                throw ChatJobError.malformedInput("maxTokens is not an integer")
            }
            cap = small
        }
        guard let list = object["messages"]?.arrayValue else { throw ChatJobError.malformedInput("messages is missing or not an array") }
        let messages = try list.enumerated().map { i, item -> ChatMessage in
            guard let message = item.objectValue else { throw ChatJobError.malformedInput("message \(i) is not an object") }
            for key in message.keys where key != "role" && key != "content" {
                throw ChatJobError.malformedInput("message \(i) has unknown field \"\(key)\" (the fields are content and role)")
            }
            guard let role = message["role"]?.stringValue else { throw ChatJobError.malformedInput("message \(i)'s role is missing or not a string") }
            guard let content = message["content"]?.stringValue else {
                throw ChatJobError.malformedInput("message \(i)'s content is missing or not a string")
            }
            do { return try ChatMessage(roleName: role, content: content) } catch { throw ChatJobError.malformedInput("message \(i): \(error)") }
        }
        try self.init(messages: messages, maxTokens: cap)
        let canonical = encoded(omittingDefaultCap: object["maxTokens"] == nil)
        guard canonical == bytes else { throw ChatJobError.notCanonical(expected: String(decoding: canonical, as: UTF8.self)) }
    }

    /// The canonical bytes, `maxTokens` always written.
    public func encoded() -> [UInt8] { encoded(omittingDefaultCap: false) }

    private func encoded(omittingDefaultCap: Bool) -> [UInt8] {
        let messages = JSONValue.array(self.messages.map { .object(["content": .string($0.content), "role": .string($0.role.rawValue)]) })
        let fields: [(String, JSONValue)] = omittingDefaultCap ? [("messages", messages)] : [("maxTokens", .int(maxTokens)), ("messages", messages)]
        return JSONValue.object(JSONObject(fields)).serializedBytes()
    }
}
