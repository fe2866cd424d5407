/// Who wrote a message of a conversation.
public enum ChatRole: String, Sendable, CaseIterable {
    case system, user, assistant
}

/// One message of a conversation.
public struct ChatMessage: Sendable, Equatable {
    /// Who wrote it.
    public let role: ChatRole
    /// Its text, inserted into the template verbatim.
    public let content: String

    /// A message from `role`.
    public init(role: ChatRole, content: String) {
        self.role = role
        self.content = content
    }

    /// A message whose role is given by name; an unknown role is an `unknownRole` error.
    public init(roleName: String, content: String) throws {
        guard let role = ChatRole(rawValue: roleName) else { throw ChatError.unknownRole(roleName) }
        self.init(role: role, content: content)
    }
}

/// The chat model's template (ChatML with SmolLM2's default system prompt), written as a
/// plain function: it renders exactly what the GGUF's Jinja template renders (docs/chat.md,
/// "Chat template"). A template other than this one is refused rather than guessed at.
public struct ChatTemplate: Sendable {
    /// The Jinja source this type implements, as SmolLM2-135M-Instruct's GGUF file holds it.
    public static let smolLM2Source = """
        {% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}\
        {{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}\
        {% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}\
        {% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}
        """

    /// The system message the template puts first when the conversation does not start with one.
    public static let defaultSystemPrompt = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"

    /// Accepts `source` only when it is `smolLM2Source`, character for character.
    public init(source: String) throws {
        guard source == Self.smolLM2Source else { throw ChatError.unsupportedChatTemplate }
    }

    /// The text of the conversation: each message as `<|im_start|>ROLE\nCONTENT<|im_end|>\n`,
    /// preceded by the default system message when there are messages and the first is not a
    /// system message, followed by `<|im_start|>assistant\n` when `addGenerationPrompt`.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        var text = ""
        if let first = messages.first, first.role != .system {
            text += Self.block(role: "system", content: Self.defaultSystemPrompt)
        }
        for message in messages {
            text += Self.block(role: message.role.rawValue, content: message.content)
        }
        if addGenerationPrompt { text += "<|im_start|>assistant\n" }
        return text
    }

    private static func block(role: String, content: String) -> String {
        "<|im_start|>\(role)\n\(content)<|im_end|>\n"
    }
}
