import ChatRuntime
import Modules
import Primitives

/// Runs chat-model jobs (docs/chat.md, "The chat job") for the daemons: it serves the chat
/// model's id when the config names the model's files (`chat`), loads the model once, on
/// the first job, and gives the spec's output bytes and (exact jobs) its trace root.
public final class ChatRunner: TokenStreamingRunner {
    /// The chat model's CIDv0, the id jobs store for it: the CID of the file whose SHA-256 is
    /// `ChatModel.modelSHA256` (docs/chat.md, "On the devnet").
    public static let modelCID = "QmRKDnhryJNa55zSzdVGS6djodxMjULCekyAC7gkKZ4mCt"

    private let files: OperatorConfig.ChatFiles
    private let threads: Int
    private var model: ChatModel?

    /// A runner for the chat model in `files`, decoding on `threads` threads.
    public init(files: OperatorConfig.ChatFiles, threads: Int) {
        self.files = files
        self.threads = threads
    }

    public func serves(modelId: String, verificationClass: VerificationClass) -> Bool { modelId == Self.modelCID }

    public func run(modelId: String, input: [UInt8], verificationClass: VerificationClass) throws -> JobOutcome {
        try run(modelId: modelId, input: input, verificationClass: verificationClass) { _, _ in }
    }

    public func run(modelId: String, input: [UInt8], verificationClass: VerificationClass,
                    onToken: (_ token: Int, _ textSoFar: String) -> Void) throws -> JobOutcome {
        let model = try loaded()
        let stops = Set(ChatModel.stopTokens.compactMap(model.tokenizer.specialTokenId))
        var answer: [Int] = []
        let result: ChatJobRunner.Result
        do {
            result = try ChatJobRunner.run(model: model, input: input, threads: threads) { token in
                if !stops.contains(token) { answer.append(token) }
                onToken(token, try model.tokenizer.decode(answer))
            }
        } catch {
            throw JobRunError("chat job: \(error)")
        }
        return JobOutcome(output: result.output, traceRoot: verificationClass == .exact ? result.traceRoot : .zero)
    }

    private func loaded() throws -> ChatModel {
        if let model { return model }
        do {
            let loaded = try ChatModel(modelPath: files.modelFile, tokenizerPath: files.tokenizerFile)
            model = loaded
            return loaded
        } catch {
            throw JobRunError("chat model \(files.modelFile): \(error)")
        }
    }
}
