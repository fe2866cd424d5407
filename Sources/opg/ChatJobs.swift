import Chat
import ChatRuntime
import CLIKit
import Foundation
import Inference
import JSON
import Modules
import Primitives

let defaultChatModelPath = ".build/chat/smollm2-135m.onnx"

/// What every chat surface says about the model before its first answer.
let chatModelNotice = """
The chat model is SmolLM2-135M-Instruct, a small model: answers are fluent but often wrong on facts and \
arithmetic. A verified answer means the network ran this model on this conversation bit for bit, not that it is true.
"""

/// The `--max-tokens` option (default 64, 1…256).
func tokenCap(_ args: Arguments) throws -> Int {
    guard let text = args.option("--max-tokens") else { return ChatJobInput.defaultTokenCap }
    guard let n = Int(text), (1...ChatJobInput.maxTokenCap).contains(n) else {
        throw UsageError("--max-tokens: \"\(text)\" must be an integer in 1…\(ChatJobInput.maxTokenCap)")
    }
    return n
}

/// The conversation of `--message ROLE=CONTENT` options as a chat job input.
private func messagesInput(_ args: Arguments) throws -> ChatJobInput {
    do { return try ChatJobInput(messages: try parseMessages(args), maxTokens: try tokenCap(args)) } catch let error as ChatJobError {
        throw UsageError("--message: \(error)")
    }
}

/// `opg chat input`: the canonical input bytes of a conversation.
func chatInput(_ argv: [String]) throws -> Int32 {
    let args = try Arguments(argv, options: ["--max-tokens"], repeatable: ["--message"])
    if args.wantsHelp { print(chatUsage); return 0 }
    try args.expectPositionals([])
    FileHandle.standardOutput.write(Data(try messagesInput(args).encoded()))
    return 0
}

/// `opg chat generate`: the chat job spec run locally, as a provider or verifier runs it.
func chatGenerate(_ argv: [String]) throws -> Int32 {
    let args = try Arguments(argv, options: ["--model-file", "--tokenizer", "--threads", "--input-file", "--max-tokens", "--output-file"],
                             flags: ["--json"], repeatable: ["--message"])
    if args.wantsHelp { print(chatUsage); return 0 }
    try args.expectPositionals([])
    let input: [UInt8]
    if let file = args.option("--input-file") {
        guard args.values("--message").isEmpty, args.option("--max-tokens") == nil else {
            throw UsageError("give --input-file, or --message (and --max-tokens), not both")
        }
        guard let data = FileManager.default.contents(atPath: file) else { throw UsageError("--input-file: cannot read \(file)") }
        input = [UInt8](data)
    } else {
        guard !args.values("--message").isEmpty else { throw UsageError("give --input-file FILE or at least one --message ROLE=CONTENT") }
        input = try messagesInput(args).encoded()
    }
    do { _ = try ChatJobInput(bytes: input) } catch { throw CommandFailure("\(error)") }
    let threadsText = args.option("--threads") ?? "1"
    guard let threads = Int(threadsText), (1...256).contains(threads) else { throw UsageError("--threads: \"\(threadsText)\" must be 1…256") }
    InferenceSession.keepFreedMemoryInProcess()
    let model: ChatModel
    do {
        model = try ChatModel(modelPath: args.option("--model-file") ?? defaultChatModelPath, tokenizerPath: args.option("--tokenizer") ?? defaultTokenizerPath)
    } catch {
        throw CommandFailure("\(error) (`make chat-data chat-model` builds the files)")
    }
    let streaming = !args.flag("--json")
    let result: ChatJobRunner.Result
    do {
        result = try ChatJobRunner.run(model: model, input: input, threads: threads) { token in
            guard streaming, !ChatModel.stopTokens.contains(where: { model.tokenizer.specialTokenId($0) == token }) else { return }
            FileHandle.standardOutput.write(Data(try model.tokenizer.decodeBytes([token])))
        }
    } catch {
        throw CommandFailure("\(error)")
    }
    if let path = args.option("--output-file") {
        do { try Data(result.output).write(to: URL(fileURLWithPath: path)) } catch { throw CommandFailure("--output-file \(path): \(error.localizedDescription)") }
    }
    let output = result.generation.output
    let outputHash = Keccak256.hash(result.output).hex
    if streaming {
        print("")
        print("tokens [\(output.tokens.map(String.init).joined(separator: ","))]")
        print("finish \(output.finish.rawValue)")
        print("output hash \(outputHash)")
        print("trace root \(result.traceRoot.hex)")
    } else {
        print(JSONValue.object([
            "text": .string(output.text), "tokens": .array(output.tokens.map { .int($0) }), "finish": .string(output.finish.rawValue),
            "output": .string(String(decoding: result.output, as: UTF8.self)), "outputHash": .string(outputHash),
            "traceRoot": .string(result.traceRoot.hex), "stepRoots": .array((result.generation.stepRoots ?? []).map { .string($0.hex) }),
        ]).serialized())
    }
    return 0
}
