import Chain
import Inference
import Primitives

/// Re-running an inference the chain recorded, off chain (`opg inference verify`): the
/// `ModelInferenceEvent` a receipt holds names the model and carries the input and the
/// output; running the same input on the model's bytes with the same kernel and the same
/// conversions must give the same output, bit for bit.
public enum InferenceVerification {
    /// A decoded `ModelInferenceEvent`.
    public struct Record {
        /// The event's `inferenceID`.
        public let inferenceID: String
        /// The request's `modelCID`.
        public let modelID: String
        /// The request's `ModelInput`.
        let input: ABIValue
        /// The event's `ModelOutput`.
        let output: ABIValue
        /// The recorded output as `abi.encode(ModelOutput)`.
        public let outputEncoding: [UInt8]
    }

    /// Topic 0 of the precompile's `ModelInferenceEvent`.
    public static let eventTopic = InferencePrecompile.modelInferenceTopic

    /// Decodes a `ModelInferenceEvent`'s data.
    public static func record(eventData: [UInt8]) throws -> Record {
        let values = try ABI.decode(InferenceABI.modelInferenceEventFields, eventData)
        guard let id = values[0].stringValue, case .tuple(let request) = values[1], let model = request[1].stringValue else {
            throw NativeRevert("not a ModelInferenceEvent")
        }
        return Record(inferenceID: id, modelID: model, input: request[2], output: values[2],
                      outputEncoding: try ABI.encode([InferenceABI.modelOutput], [values[2]]))
    }

    /// `record`'s input run on the ONNX file `modelBytes` as the chain runs it, as
    /// `abi.encode(ModelOutput)`; throws the reason the chain would have reverted with.
    public static func rerun(_ record: Record, modelBytes: [UInt8], threads: Int = 1) throws -> [UInt8] {
        try rerunWithHashes(record, modelBytes: modelBytes, threads: threads).encoding
    }

    /// A local re-run: the output as `abi.encode(ModelOutput)` and the trust record's
    /// hashes of the inputs and outputs (`InferenceRecord`, as `opg model run` prints them).
    public struct Rerun {
        /// `abi.encode(ModelOutput)`.
        public let encoding: [UInt8]
        /// Keccak-256 of the canonical encoding of the inputs in the graph's input order.
        public let inputHash: Hash32
        /// Keccak-256 of the canonical encoding of the outputs.
        public let outputHash: Hash32
    }

    /// `rerun`, with the hashes a trust record holds.
    public static func rerunWithHashes(_ record: Record, modelBytes: [UInt8], threads: Int = 1) throws -> Rerun {
        let session = try InferenceSession(bytes: modelBytes)
        let feeds = try TensorConversion.feeds(try ModelInput(record.input), for: session)
        let tensors = try session.run(feeds, options: RunOptions(threads: threads))
        let output = try TensorConversion.modelOutput(tensors)
        return Rerun(encoding: try ABI.encode([InferenceABI.modelOutput], [output]),
                     inputHash: Keccak256.hash(TensorEncoding.canonical(session.inputs.compactMap { feeds[$0.name] })),
                     outputHash: Keccak256.hash(TensorEncoding.canonical(tensors)))
    }

    /// Where two encoded `ModelOutput`s first differ: the tensor and element, or nil when equal.
    public static func firstDifference(recorded: [UInt8], local: [UInt8]) throws -> String? {
        guard recorded != local else { return nil }
        let a = try ABI.decode([InferenceABI.modelOutput], recorded)[0], b = try ABI.decode([InferenceABI.modelOutput], local)[0]
        guard case .tuple(let x) = a, case .tuple(let y) = b else { return "the outputs differ" }
        for (kind, (p, q)) in zip(["number tensor", "string tensor", "JSON scalar"], zip(x.prefix(3), y.prefix(3))) {
            guard case .array(let ps) = p, case .array(let qs) = q else { continue }
            guard ps.count == qs.count else { return "\(ps.count) \(kind)s recorded, \(qs.count) computed" }
            for (t, u) in zip(ps, qs) where t != u {
                guard case .tuple(let tf) = t, case .tuple(let uf) = u else { return "a \(kind) differs" }
                let name = tf[0].stringValue ?? "?"
                if case .array(let tv) = tf[1], case .array(let uv) = uf[1],
                   let i = zip(tv, uv).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
                    return "\(kind) '\(name)' element \(i): recorded \(describe(tv[i])), computed \(describe(uv[i]))"
                }
                return "\(kind) '\(name)' differs (recorded \(describe(t)), computed \(describe(u)))"
            }
        }
        return "the outputs differ"
    }

    private static func describe(_ v: ABIValue) -> String {
        switch v {
        case .tuple(let pair) where pair.count == 2:
            if case .int(let value) = pair[0], case .int(let decimals) = pair[1] {
                return "(\(TensorConversion.int128(value)), \(TensorConversion.int128(decimals)))"
            }
            return "\(v)"
        case .string(let s): return "\"\(s)\""
        default: return "\(v)"
        }
    }
}
