import Chat
import Crypto
import Foundation
import Inference
import Primitives

/// The chat model loaded for running chat jobs: SmolLM2-135M-Instruct's ONNX graph with its
/// key/value cache, its tokenizer and chat template (docs/chat.md). `generate` is the chat
/// job's deterministic spec: the same input gives the same output bytes and trace root on
/// every machine and any number of threads.
public final class ChatModel: @unchecked Sendable {
    /// SHA-256 of the converted model file the spec runs (tools/chat/convert_model.py pins it).
    public static let modelSHA256 = "ed4449e30448fa27e3e2afac2a93e9b815eb05ff079422f85e24ade09d18b2ca"
    /// SHA-256 of the tokenizer file (tools/chat/extract_tokenizer.py pins it).
    public static let tokenizerSHA256 = "88be7da29d176458eb0820bd8ff8a640815c360a02a36d994ca385f38f398fac"
    /// The most tokens a rendered conversation may have: the first step's logits for all
    /// positions (positions × 49,152 floats) stay near 200 MB.
    public static let maxPromptTokens = 1024
    /// The tokens that end an answer: `<|im_end|>` and `<|endoftext|>`.
    public static let stopTokens = ["<|im_end|>", "<|endoftext|>"]

    /// The compiled graph.
    public let session: InferenceSession
    /// The tokenizer the spec pins.
    public let tokenizer: ByteLevelBPETokenizer
    let template: ChatTemplate
    let stopIds: [Int]
    let layers: Int

    /// Loads the model file and the tokenizer file, each checked against its pinned SHA-256
    /// (the spec is for these bytes only).
    public convenience init(modelPath: String, tokenizerPath: String) throws {
        let tokenizerFile = try Self.pinnedFile(tokenizerPath, what: "tokenizer", sha256: Self.tokenizerSHA256)
        let data = try TokenizerData(json: tokenizerFile)
        let modelFile = try Self.pinnedFile(modelPath, what: "model", sha256: Self.modelSHA256)
        try self.init(session: try InferenceSession(model: try ModelReader.read(modelFile)),
                      tokenizer: try ByteLevelBPETokenizer(data), template: try ChatTemplate(source: data.chatTemplate))
    }

    static func pinnedFile(_ path: String, what: String, sha256 pin: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw ChatJobError.wrongModelData("cannot read the \(what) file \(path)") }
        let bytes = [UInt8](data)
        let hash = Hex.encode(SHA256.hash(bytes), prefix: false)
        guard hash == pin else { throw ChatJobError.wrongModelData("the \(what) file \(path) has sha256 \(hash), the chat spec pins \(pin)") }
        return bytes
    }

    /// A chat model from parts already loaded; refuses a graph without the cache interface.
    public init(session: InferenceSession, tokenizer: ByteLevelBPETokenizer, template: ChatTemplate) throws {
        let names = session.inputs.map(\.name)
        let layers = (names.count - 1) / 2
        guard names.first == "input_ids", layers > 0,
              names.dropFirst().elementsEqual((0..<layers).flatMap { ["past_key.\($0)", "past_value.\($0)"] }) else {
            throw ChatJobError.wrongModelData("the graph's inputs are not input_ids then past_key.L, past_value.L per layer")
        }
        self.session = session
        self.tokenizer = tokenizer
        self.template = template
        self.layers = layers
        stopIds = Self.stopTokens.compactMap(tokenizer.specialTokenId)
    }

    /// The token ids the model is fed first: the conversation rendered by the chat template
    /// with the generation prompt, encoded. Refuses contents holding a special token's text
    /// and conversations over `maxPromptTokens`.
    public func prompt(_ input: ChatJobInput) throws -> [Int] {
        for (i, message) in input.messages.enumerated() {
            let content = Array(message.content.utf8)
            if let token = tokenizer.specialTokens.first(where: { Self.contains(content, Array($0.content.utf8)) }) {
                throw ChatJobError.specialTokenInContent(message: i, token: token.content)
            }
        }
        let ids = tokenizer.encode(template.render(input.messages, addGenerationPrompt: true))
        guard ids.count <= Self.maxPromptTokens else { throw ChatJobError.promptTooLong(tokens: ids.count, limit: Self.maxPromptTokens) }
        return ids
    }

    /// Greedy decoding of the answer to `input`: the prompt runs with an empty cache, then one
    /// token per step with the cache the previous step returned; each step's token is the
    /// argmax of the last position's logits (the lowest id among equal maxima, NaN never
    /// chosen), until a stop token or `input.maxTokens` tokens. `onToken` sees each token id
    /// as it is chosen (the stop token too). With `traced`, each step is run with its
    /// execution trace and the result carries the chat trace root.
    public func generate(_ input: ChatJobInput, options: RunOptions = RunOptions(), traced: Bool = true,
                         onToken: (Int) throws -> Void = { _ in }) throws -> ChatGeneration {
        var feed = try prompt(input)
        var cache = (0..<layers).flatMap { _ in [Tensor.float([], shape: [1, 3, 0, 64]), Tensor.float([], shape: [1, 3, 0, 64])] }
        var tokens: [Int] = []
        var stepRoots: [Hash32] = []
        while tokens.count < input.maxTokens {
            var feeds = ["input_ids": Tensor.int64(feed.map(Int64.init), shape: [1, feed.count])]
            for layer in 0..<layers {
                feeds["past_key.\(layer)"] = cache[2 * layer]
                feeds["past_value.\(layer)"] = cache[2 * layer + 1]
            }
            let outputs: [Tensor]
            if traced {
                let trace = try session.trace(feeds, options: options)
                stepRoots.append(trace.root)
                outputs = trace.outputs
            } else {
                outputs = try session.run(feeds, options: options)
            }
            guard outputs.count == 1 + 2 * layers, case .float(let logits) = outputs[0].storage,
                  logits.count % tokenizer.vocabularySize == 0, logits.count >= tokenizer.vocabularySize else {
                throw ChatJobError.wrongModelData("the graph's outputs are not logits then present_key.L, present_value.L per layer")
            }
            let token = try Self.argmax(logits[(logits.count - tokenizer.vocabularySize)...], step: tokens.count)
            tokens.append(token)
            try onToken(token)
            if stopIds.contains(token) { break }
            cache = Array(outputs.dropFirst())
            feed = [token]
        }
        let stopped = tokens.last.map(stopIds.contains) ?? false
        let output = ChatJobOutput(tokens: tokens, text: try tokenizer.decode(stopped ? Array(tokens.dropLast()) : tokens),
                                   finish: stopped ? .stop : .length)
        return ChatGeneration(output: output, stepRoots: traced ? stepRoots : nil)
    }

    /// Whether `needle` occurs in `haystack` as bytes (so as scalars, UTF-8 being
    /// self-synchronizing; `String.contains` compares characters and would miss a token
    /// followed by a combining mark, which the tokenizer still finds).
    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return needle.isEmpty }
        return (0...(haystack.count - needle.count)).contains { start in haystack[start..<(start + needle.count)].elementsEqual(needle) }
    }

    /// The index of the largest value, the lowest among equal maxima; NaN is never chosen.
    static func argmax(_ logits: ArraySlice<Float>, step: Int) throws -> Int {
        var best: Int? = nil
        var bestValue = -Float.infinity
        for (offset, value) in logits.enumerated() where !value.isNaN && (best == nil || value > bestValue) {
            best = offset
            bestValue = value
        }
        guard let best else { throw ChatJobError.noNumericLogit(step: step) }
        return best
    }
}

/// One chat job's result: the output, and with a traced run each decode step's trace root.
public struct ChatGeneration: Sendable {
    /// The output.
    public let output: ChatJobOutput
    /// Per decode step, the root of that step's kernel execution trace (docs/traces.md);
    /// nil for an untraced run.
    public let stepRoots: [Hash32]?

    /// The chat trace root (docs/chat.md, "Trace root"): the Merkle root over one leaf per
    /// decode step, `stepRoot ‖ token id as 4 bytes big-endian`; nil for an untraced run.
    public var traceRoot: Hash32? { traceTree?.root }

    /// The Merkle tree whose root is `traceRoot`, for proofs of one step.
    public var traceTree: MerkleTree? {
        stepRoots.map { roots in MerkleTree(leaves: zip(roots, output.tokens).map { $0.bytes + Self.bigEndian32($1) }) }
    }

    static func bigEndian32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * $0)) } }
}
