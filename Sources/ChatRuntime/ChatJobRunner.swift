import Inference
import Primitives

/// The seam a provider or verifier calls for a job on the chat model (docs/chat.md, "Running
/// a chat job"): input bytes in, output bytes and trace root out, bit for bit what every
/// other honest operator computes.
public enum ChatJobRunner {
    /// What one chat job produced.
    public struct Result: Sendable {
        /// The output bytes to commit (`ChatJobOutput.encoded()`); the job's output hash is their Keccak-256.
        public let output: [UInt8]
        /// The chat trace root to commit with them.
        public let traceRoot: Hash32
        /// The decoded output and each step's trace root, for disputes and display.
        public let generation: ChatGeneration
    }

    /// Runs the chat job spec on `input` (the job's input bytes) with `model`. Throws a
    /// `ChatJobError` for input the spec refuses (no output exists for it; a verifier replaying
    /// such a job answers `invalid` to any committed result), or the kernel's error.
    /// `threads` never changes the result; `onToken` sees each token id as it is chosen.
    public static func run(model: ChatModel, input: [UInt8], threads: Int = 1, onToken: (Int) throws -> Void = { _ in }) throws -> Result {
        let generation = try model.generate(try ChatJobInput(bytes: input), options: RunOptions(threads: threads), traced: true, onToken: onToken)
        return Result(output: generation.output.encoded(), traceRoot: generation.traceRoot ?? .zero, generation: generation)
    }
}
