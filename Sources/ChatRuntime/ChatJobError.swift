/// Why a chat job's input was refused or its decoding stopped (docs/chat.md, "The chat job").
/// Every case names the rule broken; a provider answers none of them with an output.
public enum ChatJobError: Error, Equatable, CustomStringConvertible {
    /// The input is not a JSON object of the documented shape; names the field and the rule.
    case malformedInput(String)
    /// A job's output bytes are not a chat output in canonical form; names the rule.
    case malformedOutput(String)
    /// The input parses but its bytes are not the canonical encoding of what it says.
    case notCanonical(expected: String)
    /// `maxTokens` is outside 1…256.
    case tokenCapOutOfRange(Int)
    /// A message's content holds a special token's text, which would forge a turn.
    case specialTokenInContent(message: Int, token: String)
    /// The rendered conversation has more tokens than a chat job may feed the model.
    case promptTooLong(tokens: Int, limit: Int)
    /// Every logit of a step was NaN, so no token is the argmax.
    case noNumericLogit(step: Int)
    /// The model or tokenizer given is not the one the chat spec pins.
    case wrongModelData(String)

    public var description: String {
        switch self {
        case .malformedInput(let why): return "malformed chat input: \(why)"
        case .malformedOutput(let why): return "malformed chat output: \(why)"
        case .notCanonical(let expected):
            return "chat input is not in canonical form (sorted keys, no white space, minimal escapes); its canonical bytes are \(expected)"
        case .tokenCapOutOfRange(let n): return "maxTokens \(n) is out of range: a chat job generates 1…\(ChatJobInput.maxTokenCap) tokens"
        case .specialTokenInContent(let i, let token):
            return "message \(i)'s content holds the special token \(token): contents may not hold the chat template's control tokens"
        case .promptTooLong(let tokens, let limit):
            return "the conversation renders to \(tokens) tokens, over the chat job's limit of \(limit); start a shorter conversation"
        case .noNumericLogit(let step): return "decode step \(step): every logit is NaN, so no token is the argmax"
        case .wrongModelData(let why): return "not the chat model's data: \(why)"
        }
    }
}
