import Chat
import ChatRuntime
import CLIKit
import Foundation

let chatUsage = """
usage: opg chat [--rpc URL] [--keystore DIR] [--password-file FILE] --from ADDRESS [--model ID] [--message TEXT]
                [--system TEXT] [--max-tokens N] [--max-fee OPG] [--verification-fee OPG] [--class exact|attestedOnly]
                [--backend local|openai] [--deadline-blocks N] [--until answered|attested|final]
       opg chat generate [--model-file FILE] [--tokenizer FILE] [--threads N] [--json] [--output-file FILE]
                         (--input-file FILE | [--max-tokens N] --message ROLE=CONTENT …)
       opg chat input    [--max-tokens N] --message ROLE=CONTENT …
       opg chat tokenize [--tokenizer FILE] TEXT
       opg chat decode   [--tokenizer FILE] ID …
       opg chat template [--tokenizer FILE] [--no-generation-prompt] [--ids] --message ROLE=CONTENT …

The chat model is SmolLM2-135M-Instruct, a small model: its answers are fluent but often wrong
on facts and arithmetic. Verification proves the network ran this model on this conversation
bit for bit, not that the answer is true. docs/chat.md has the spec.

(no subcommand)  a conversation on the chain: each message becomes a job of the jobs module
          (the chat model, the conversation so far as input, class exact unless --class), with
          its progress (submitted, answered, attested k/n, final), the answer and a badge with
          the job id. Interactive unless --message TEXT, which sends one message and exits.
          Messages and answers are public on chain. --model defaults to the chat model as
          0x + its SHA-256 (0x\(ChatModel.modelSHA256));
          --max-fee 1 and --verification-fee 0.1 OPG per message;
          --until (default final) is the state each answer waits for. --backend openai asks
          for an answer from a provider's OpenAI-compatible endpoint: class attestedOnly, never
          verified (docs/chat.md, "The OpenAI-compatible backend").
generate  runs a chat job locally on the model file (default .build/chat/smollm2-135m.onnx) as a
          provider or verifier does: prints the answer as it streams, then its token ids, why it
          stopped, the output hash (Keccak-256 of the output bytes) and the trace root. --json
          prints one JSON object instead; --output-file writes the exact output bytes.
          --threads never changes the result.
input     prints a chat job's input bytes (canonical JSON) for the conversation, for
          `opg job submit --input-file`.

tokenize  prints the token ids of TEXT as a JSON array (TEXT "-" reads standard input);
          special tokens such as <|im_start|> in TEXT become their ids.
decode    prints the text of the token ids; bytes that are not valid UTF-8 (a character cut
          between tokens) print as U+FFFD.
template  prints the conversation as the model sees it: each --message (ROLE is system, user
          or assistant) in order, the default system prompt first when the first is not a
          system message, and the generation prompt unless --no-generation-prompt;
          --ids prints its token ids instead.

--tokenizer FILE  the tokenizer data (default .build/chat/smollm2-tokenizer.json, which
                  `make chat-data` writes with tools/chat/extract_tokenizer.py).
Exit status: 0 done, 1 unreadable tokenizer or model data, a token id out of range, input the chat
spec refuses or a job not answered, 2 usage.
"""

let defaultTokenizerPath = ".build/chat/smollm2-tokenizer.json"

func chatCommand(_ argv: [String]) throws -> Int32 {
    guard let sub = argv.first, !sub.hasPrefix("-") else {
        if argv.contains("--help") || argv.contains("-h") { print(chatUsage); return 0 }
        guard !argv.isEmpty else {
            throw UsageError("chat: missing subcommand (generate, input, tokenize, decode, template), or --from ADDRESS for a conversation")
        }
        return try chatConversation(argv)
    }
    if sub == "generate" { return try chatGenerate(Array(argv.dropFirst())) }
    if sub == "input" { return try chatInput(Array(argv.dropFirst())) }
    let args = try Arguments(Array(argv.dropFirst()), options: ["--tokenizer"], flags: ["--no-generation-prompt", "--ids"],
                             repeatable: ["--message"])
    if args.wantsHelp { print(chatUsage); return 0 }
    switch sub {
    case "tokenize":
        try args.expectPositionals(["TEXT"])
        let text: String
        if args.positionals[0] == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            text = args.positionals[0]
        }
        print(jsonArray(try loadTokenizer(args).tokenizer.encode(text)))
    case "decode":
        guard !args.positionals.isEmpty else { throw UsageError("missing argument ID") }
        let ids = try args.positionals.map { word in
            guard let id = Int(word) else { throw UsageError("ID: \"\(word)\" is not a token id (a decimal integer)") }
            return id
        }
        let tokenizer = try loadTokenizer(args).tokenizer
        do { print(try tokenizer.decode(ids)) } catch { throw CommandFailure("\(error)") }
    case "template":
        try args.expectPositionals([])
        let messages = try parseMessages(args)
        let (tokenizer, data) = try loadTokenizer(args)
        let template: ChatTemplate
        do { template = try ChatTemplate(source: data.chatTemplate) } catch { throw CommandFailure("\(args.option("--tokenizer") ?? defaultTokenizerPath): \(error)") }
        let text = template.render(messages, addGenerationPrompt: !args.flag("--no-generation-prompt"))
        if args.flag("--ids") { print(jsonArray(tokenizer.encode(text))) } else { print(text, terminator: "") }
    default:
        throw UsageError("chat: unknown subcommand \"\(sub)\" (generate, input, tokenize, decode, template)")
    }
    return 0
}

/// The `--message ROLE=CONTENT` options, in order.
func parseMessages(_ args: Arguments) throws -> [ChatMessage] {
    try args.values("--message").map { spec in
        guard let equals = spec.firstIndex(of: "=") else { throw UsageError("--message: \"\(spec)\" is not ROLE=CONTENT") }
        do { return try ChatMessage(roleName: String(spec[..<equals]), content: String(spec[spec.index(after: equals)...])) } catch {
            throw UsageError("--message: \(error)")
        }
    }
}

private func loadTokenizer(_ args: Arguments) throws -> (tokenizer: ByteLevelBPETokenizer, data: TokenizerData) {
    let path = args.option("--tokenizer") ?? defaultTokenizerPath
    guard FileManager.default.isReadableFile(atPath: path) else {
        if args.option("--tokenizer") != nil { throw UsageError("--tokenizer: cannot read \(path)") }
        throw CommandFailure("cannot read \(path): run `make chat-data` (tools/chat/extract_tokenizer.py) or pass --tokenizer FILE")
    }
    do {
        let data = try TokenizerData(contentsOf: path)
        return (try ByteLevelBPETokenizer(data), data)
    } catch {
        throw CommandFailure("\(path): \(error)")
    }
}

private func jsonArray(_ ids: [Int]) -> String {
    "[" + ids.map(String.init).joined(separator: ",") + "]"
}
