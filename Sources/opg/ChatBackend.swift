import ChatRuntime
import CLIKit

/// The verification class `opg chat` asks for: `--class`, or what `--backend` implies.
/// `--backend local` (the default) is the chat model run by the network; `--backend openai`
/// is a provider's OpenAI-compatible endpoint (docs/chat.md, "The OpenAI-compatible
/// backend"), whose answers are attested-only: nobody can re-execute them.
func chatClassName(_ args: Arguments) throws -> String {
    switch args.option("--backend") ?? "local" {
    case "local": return args.option("--class") ?? "exact"
    case "openai":
        if let given = args.option("--class"), given != "attestedOnly" {
            throw UsageError("--class \(given): --backend openai answers are attested-only (the network cannot re-execute them)")
        }
        return "attestedOnly"
    case let other: throw UsageError("--backend: \"\(other)\" is not local or openai")
    }
}

/// Prints an answer from an OpenAI-compatible endpoint with its label, and returns its text.
func printRemoteAnswer(_ answer: AttestedChatAnswer, maxTokens: Int) -> String {
    print("\n\(answer.text)\(answer.finish == .length ? " …(cut at \(maxTokens) tokens)" : "")\n")
    print("(from \(answer.model) through the provider's OpenAI-compatible endpoint: attested-only, the network cannot re-execute it)")
    return answer.text
}

/// What `opg chat` says before the first message about the answers it will get.
func chatNotice(_ args: Arguments) -> String {
    guard args.option("--backend") == "openai" else { return chatModelNotice }
    return "Answers come from a provider's OpenAI-compatible endpoint: attested-only: nobody can re-execute them, so they are never "
        + "called verified; the provider's stake stands behind its word that the endpoint gave this answer."
}
