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

    /// Describes an outcome.
    public init(output: [UInt8], traceRoot: Hash32) {
        self.output = output
        self.traceRoot = traceRoot
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

/// The input of a job for an ONNX model (docs/daemons.md, "Job input and output"): one or
/// more ONNX `TensorProto`s, each preceded by its length as a little-endian u32, each named
/// after a model input (a single unnamed tensor feeds a model with one input).
public enum JobInputEncoding {
    /// The bytes of `tensors` in this encoding.
    public static func encode(_ tensors: [Tensor]) -> [UInt8] {
        var out: [UInt8] = []
        for t in tensors {
            let proto = TensorEncoding.protobuf(t)
            withUnsafeBytes(of: UInt32(proto.count).littleEndian) { out += $0 }
            out += proto
        }
        return out
    }

    /// The feeds of `bytes` for `session`, every model input given once.
    public static func feeds(_ bytes: [UInt8], for session: InferenceSession) throws -> [String: Tensor] {
        var feeds: [String: Tensor] = [:]
        var offset = 0, index = 0
        let names = session.inputs.map(\.name)
        while offset < bytes.count {
            guard bytes.count - offset >= 4 else { throw JobRunError("input tensor \(index): truncated length (\(bytes.count - offset) bytes left)") }
            let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3]) << 24
            offset += 4
            guard length <= bytes.count - offset else { throw JobRunError("input tensor \(index): length \(length) runs past the end") }
            var tensor: Tensor
            do { tensor = try ModelReader.readTensor(Array(bytes[offset..<offset + length])) } catch {
                throw JobRunError("input tensor \(index): \(error)")
            }
            offset += length
            if tensor.name.isEmpty, names.count == 1 { tensor.name = names[0] }
            guard names.contains(tensor.name) else {
                throw JobRunError("input tensor \(index): \"\(tensor.name)\" is not an input of the model (inputs: \(names.joined(separator: ", ")))")
            }
            guard feeds[tensor.name] == nil else { throw JobRunError("input \"\(tensor.name)\" is given more than once") }
            do { try InferenceSession.check(tensor, against: session.inputs.first { $0.name == tensor.name }!) } catch {
                throw JobRunError("input \"\(tensor.name)\": \(error)")
            }
            feeds[tensor.name] = tensor
            index += 1
        }
        for name in names where feeds[name] == nil { throw JobRunError("input \"\(name)\" is not given (inputs: \(names.joined(separator: ", ")))") }
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
        return JobOutcome(output: TensorEncoding.canonical(trace.outputs), traceRoot: verificationClass == .exact ? trace.root : .zero)
    }

    /// The trace of a run, for `opg job verify`'s report of the first differing node.
    public func trace(modelId: String, input: [UInt8]) throws -> (trace: ExecutionTrace, session: InferenceSession) {
        let session = try session(modelId)
        return (try session.trace(try JobInputEncoding.feeds(input, for: session), options: options), session)
    }

    private func session(_ modelId: String) throws -> InferenceSession {
        if let s = sessions[modelId] { return s }
        let bytes = try source(modelId)
        let session: InferenceSession
        do { session = try InferenceSession(bytes: bytes) } catch { throw JobRunError("model \(modelId): \(error)") }
        sessions[modelId] = session
        return session
    }
}
