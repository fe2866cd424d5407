import Foundation
import Inference
import Modules
import Primitives

/// What running a job gives: the output bytes to commit and, for an exact job, the trace root.
public struct JobOutcome: Equatable, Sendable {
    /// The output as committed (its keccak256 is the job's `outputHash`).
    public var output: [UInt8]
    /// The trace root (docs/traces.md); zero for attested-only results.
    public var traceRoot: Hash32
    /// The trace's leaves (each node's output hash, in execution order) when the runner
    /// has them (our kernel's exact runs): what a provider reveals in a dispute. Empty
    /// otherwise.
    public var leaves: [Hash32]

    /// Describes an outcome.
    public init(output: [UInt8], traceRoot: Hash32, leaves: [Hash32] = []) {
        self.output = output
        self.traceRoot = traceRoot
        self.leaves = leaves
    }
}

/// The seam between the daemons and whatever runs a model: the provider asks the first
/// runner that `serves` a job's model and class for the job's result, the verifier and
/// `opg job verify` ask the same runner to re-run exact jobs. `KernelRunner` runs ONNX models
/// with our kernel; another backend (the chat model's) adds its own runner.
public protocol JobRunner: AnyObject {
    /// True when this runner can produce results for `modelId` in `verificationClass`.
    func serves(modelId: String, verificationClass: VerificationClass) -> Bool
    /// Runs the job's input through the model: the output bytes and (exact) the trace root.
    func run(modelId: String, input: [UInt8], verificationClass: VerificationClass) throws -> JobOutcome
}

/// A failure to run a job: the message names the model, the input or the rule broken.
public struct JobRunError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The input of a job for an ONNX model (docs/daemons.md, "Job input and output"): the
/// canonical tensor list (docs/traces.md, "Canonical tensor encoding") of the model's inputs
/// in the order the model declares them. It is what the jobs module decodes when it
/// re-executes a disputed job (docs/verification.md, "Disputes"), so the provider, the
/// verifiers and the chain read one input the same way.
public enum JobInputEncoding {
    /// The bytes of `tensors` (the model's inputs, in its order) in this encoding.
    public static func encode(_ tensors: [Tensor]) -> [UInt8] { TensorEncoding.canonical(tensors) }

    /// The feeds of `bytes` for `session`: one tensor per model input, in its order, each of
    /// the declared element type and shape.
    public static func feeds(_ bytes: [UInt8], for session: InferenceSession) throws -> [String: Tensor] {
        let tensors: [Tensor]
        do { tensors = try TensorEncoding.tensors(canonical: bytes, maxElements: session.limits.maxTensorElements) } catch {
            throw JobRunError("the job's input: \(error)")
        }
        let declared = session.inputs
        guard tensors.count == declared.count else {
            throw JobRunError("the job's input holds \(tensors.count) tensors, the model takes \(declared.count) (\(declared.map(\.name).joined(separator: ", ")))")
        }
        var feeds: [String: Tensor] = [:]
        for (info, tensor) in zip(declared, tensors) {
            var named = tensor
            named.name = info.name
            do { try InferenceSession.check(named, against: info) } catch { throw JobRunError("input \"\(info.name)\": \(error)") }
            feeds[info.name] = named
        }
        return feeds
    }
}

/// Runs jobs with our kernel: the model's bytes from `models` (a local file or the
/// registry), the input decoded by `JobInputEncoding`, the output the canonical encoding of
/// the model's outputs (so `outputHash` is the `hash` `opg model run` prints) and the trace
/// root `opg model trace` prints (docs/traces.md). Compiled models are kept.
public final class KernelRunner: JobRunner {
    /// Where a model's bytes come from: its id → the file's bytes.
    public typealias ModelSource = (String) throws -> [UInt8]

    private let source: ModelSource
    private let options: RunOptions
    private var sessions: [String: InferenceSession] = [:]

    /// A runner reading models from `source`, running on `threads` threads.
    public init(threads: Int = 1, source: @escaping ModelSource) {
        self.source = source
        options = RunOptions(threads: threads, path: .fast)
    }

    /// Every model: the kernel is the fallback runner, and `run` says why a model it cannot
    /// load (unknown, not ONNX, bytes unavailable) is not run.
    public func serves(modelId: String, verificationClass: VerificationClass) -> Bool { true }

    public func run(modelId: String, input: [UInt8], verificationClass: VerificationClass) throws -> JobOutcome {
        let session = try session(modelId)
        let feeds = try JobInputEncoding.feeds(input, for: session)
        let trace = try session.trace(feeds, options: options)
        guard verificationClass == .exact else { return JobOutcome(output: TensorEncoding.canonical(trace.outputs), traceRoot: .zero) }
        return JobOutcome(output: TensorEncoding.canonical(trace.outputs), traceRoot: trace.root, leaves: trace.steps.map(\.outputHash))
    }

    /// The trace of a run (for `opg job verify`'s report and a verifier's dispute proofs);
    /// `observe` sees each node's index and named outputs, as `InferenceSession.trace` gives them.
    public func trace(modelId: String, input: [UInt8],
                      observe: ((Int, [Tensor]) throws -> Void)? = nil) throws -> (trace: ExecutionTrace, session: InferenceSession) {
        let session = try session(modelId)
        return (try session.trace(try JobInputEncoding.feeds(input, for: session), options: options, observe: observe), session)
    }

    /// The bytes of model `modelId`'s file (what a dispute over a model registered by
    /// reference proves its pieces from).
    public func modelFile(_ modelId: String) throws -> [UInt8] { try source(modelId) }

    private func session(_ modelId: String) throws -> InferenceSession {
        if let s = sessions[modelId] { return s }
        let bytes = try source(modelId)
        let session: InferenceSession
        do { session = try InferenceSession(bytes: bytes) } catch { throw JobRunError("model \(modelId): \(error)") }
        sessions[modelId] = session
        return session
    }
}
