/// Why tokenizer data, a token id sequence or a conversation was refused.
public enum ChatError: Error, Equatable, CustomStringConvertible {
    /// The tokenizer file is not valid JSON or lacks a field; names the field and the rule.
    case invalidTokenizerData(String)
    /// A token id outside the vocabulary was given to decode.
    case tokenIdOutOfRange(id: Int, vocabularySize: Int)
    /// The tokenizer data carries a chat template other than the one this code implements.
    case unsupportedChatTemplate
    /// A message's role is not system, user or assistant.
    case unknownRole(String)

    public var description: String {
        switch self {
        case .invalidTokenizerData(let why): return "invalid tokenizer data: \(why)"
        case .tokenIdOutOfRange(let id, let size): return "token id \(id) out of range (vocabulary has \(size) tokens)"
        case .unsupportedChatTemplate: return "unsupported chat template (only SmolLM2's ChatML template is implemented)"
        case .unknownRole(let role): return "unknown role \"\(role)\" (system, user or assistant)"
        }
    }
}
