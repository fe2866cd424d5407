import JSON

/// A chat job's output (docs/chat.md, "The chat job"): the generated token ids and their
/// text, as the canonical JSON `{"finish":F,"text":T,"tokens":[…]}`. Its Keccak-256 is the
/// job's output hash.
public struct ChatJobOutput: Equatable, Sendable {
    /// Why generation ended.
    public enum Finish: String, Sendable {
        /// The model produced a stop token (the last of `tokens`).
        case stop
        /// `maxTokens` tokens were generated without a stop token.
        case length
    }

    /// Every generated token id in order, a final stop token included.
    public let tokens: [Int]
    /// The tokens' text without a final stop token, UTF-8 decoded with replacement.
    public let text: String
    /// Why generation ended.
    public let finish: Finish

    /// The output bytes a provider commits and a verifier compares.
    public func encoded() -> [UInt8] {
        JSONValue.object(["finish": .string(finish.rawValue), "text": .string(text), "tokens": .array(tokens.map { .int($0) })]).serializedBytes()
    }
}

extension ChatJobOutput {
    /// Parses output bytes (what a requester reads back from a job); refuses anything but the
    /// canonical encoding, naming the rule.
    public init(bytes: [UInt8]) throws {
        let root: JSONValue
        do { root = try JSONParser.parse(bytes) } catch { throw ChatJobError.malformedOutput("\(error)") }
        guard let finishName = root["finish"]?.stringValue, let finish = Finish(rawValue: finishName) else {
            throw ChatJobError.malformedOutput("finish is missing or not \"stop\" or \"length\"")
        }
        guard let text = root["text"]?.stringValue else { throw ChatJobError.malformedOutput("text is missing or not a string") }
        guard let tokens = root["tokens"]?.arrayValue?.compactMap({ $0.numberValue?.int64.flatMap { Int(exactly: $0) } }),
              tokens.count == root["tokens"]?.arrayValue?.count else {
            throw ChatJobError.malformedOutput("tokens is missing or not an array of integers")
        }
        self.init(tokens: tokens, text: text, finish: finish)
        guard encoded() == bytes else { throw ChatJobError.malformedOutput("the bytes are not the canonical encoding of what they say") }
    }
}
