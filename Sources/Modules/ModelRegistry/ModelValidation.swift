import Chain
import Inference
import Primitives

/// What registration learns from compiling a model: its inputs and outputs with element
/// types and shapes, the operator sets it imports and its cost at batch 1.
public struct ModelInterface: Equatable, Sendable {
    /// A graph input or output: name, element type (`FLOAT`, `seq(map(INT64,FLOAT))`)
    /// and shape, each dimension a number or a symbolic name (`?` when unknown).
    public struct Value: Equatable, Sendable {
        /// The value's name in the graph.
        public let name: String
        /// `FLOAT`, `INT64`, `seq(map(INT64,FLOAT))`, or `?` when the file gives no type.
        public let elementType: String
        /// Each dimension: a number, a symbolic name, or `?`.
        public let shape: [String]
    }

    /// Inputs a caller feeds, in graph order.
    public let inputs: [Value]
    /// Outputs, in graph order.
    public let outputs: [Value]
    /// Imported operator sets: domain (`ai.onnx`, `ai.onnx.ml`) and version.
    public let opsets: [(domain: String, version: Int64)]
    /// Cost of one run at batch 1 (every symbolic dimension 1): multiply-accumulates,
    /// bytes moved and peak live bytes (docs/onnx.md, "Cost model").
    public let macs: UInt64
    /// Bytes read and written by every node at batch 1.
    public let bytesMoved: UInt64
    /// Largest total of live values at batch 1.
    public let peakBytes: UInt64

    public static func == (a: ModelInterface, b: ModelInterface) -> Bool {
        a.inputs == b.inputs && a.outputs == b.outputs && a.opsets.map(\.domain) == b.opsets.map(\.domain)
            && a.opsets.map(\.version) == b.opsets.map(\.version) && a.macs == b.macs && a.bytesMoved == b.bytesMoved
            && a.peakBytes == b.peakBytes
    }

    /// The ABI types of `abiValue`: `((string,string,string[])[] inputs, … outputs,
    /// (string,uint64)[] opsets, uint64 macs, uint64 bytesMoved, uint64 peakBytes)`.
    static let valueType = ABIType.tuple([.string, .string, .array(.string)])
    static let abiType = ABIType.tuple([.array(valueType), .array(valueType), .array(.tuple([.string, .uint(64)])),
                                        .uint(64), .uint(64), .uint(64)])

    /// The interface as one ABI value of `abiType`.
    var abiValue: ABIValue {
        func values(_ list: [Value]) -> ABIValue {
            .array(list.map { .tuple([.string($0.name), .string($0.elementType), .array($0.shape.map { .string($0) })]) })
        }
        return .tuple([values(inputs), values(outputs),
                       .array(opsets.map { .tuple([.string($0.domain), .uint(UInt256(UInt64(clamping: $0.version)))]) }),
                       .uint(UInt256(macs)), .uint(UInt256(bytesMoved)), .uint(UInt256(peakBytes))])
    }

    /// Decodes `abiValue`'s encoding (as stored by the registry).
    init(encoded: [UInt8]) throws {
        guard case .tuple(let f) = try ABI.decode([Self.abiType], encoded)[0], f.count == 6 else {
            throw NativeRevert("the stored model interface is not a valid encoding")
        }
        func values(_ v: ABIValue) -> [Value] {
            guard case .array(let items) = v else { return [] }
            return items.compactMap { item in
                guard case .tuple(let t) = item, t.count == 3, let name = t[0].stringValue, let type = t[1].stringValue,
                      case .array(let dims) = t[2] else { return nil }
                return Value(name: name, elementType: type, shape: dims.compactMap(\.stringValue))
            }
        }
        inputs = values(f[0])
        outputs = values(f[1])
        if case .array(let items) = f[2] {
            opsets = items.compactMap { item in
                guard case .tuple(let t) = item, t.count == 2, let d = t[0].stringValue, let v = t[1].uintValue else { return nil }
                return (d, Int64(clamping: v.limbs.0))
            }
        } else {
            opsets = []
        }
        macs = f[3].uintValue?.limbs.0 ?? 0
        bytesMoved = f[4].uintValue?.limbs.0 ?? 0
        peakBytes = f[5].uintValue?.limbs.0 ?? 0
    }

    init(session: InferenceSession, cost: ModelCost) {
        inputs = session.inputs.map(Self.value)
        outputs = session.outputs.map(Self.value)
        opsets = session.model.opsetImports.map { ($0.domain.isEmpty ? "ai.onnx" : $0.domain, $0.version) }
        macs = UInt64(clamping: cost.macs)
        bytesMoved = UInt64(clamping: cost.bytesMoved)
        peakBytes = UInt64(clamping: cost.peakBytes)
    }

    private static func value(_ info: ValueInfo) -> Value {
        guard let type = info.type else { return Value(name: info.name, elementType: "?", shape: []) }
        if case .tensor(_, let shape?) = type { return Value(name: info.name, elementType: describe(type), shape: shape.map(\.description)) }
        return Value(name: info.name, elementType: describe(type), shape: [])
    }

    private static func describe(_ type: ValueType) -> String {
        switch type {
        case .tensor(let e, _): return e.description
        case .sequence(let t): return "seq(\(describe(t)))"
        case .map(let k, let v): return "map(\(k.description),\(describe(v)))"
        }
    }
}

/// The check every validator runs on an uploaded file before registering it: read it,
/// compile it with the kernel and take its cost at batch 1, within limits that are
/// functions of the file's size (docs/models.md, "Limits"), so an upload cannot make
/// validators stall or run out of memory. The fuzz target FuzzONNX drives this function.
public enum ModelValidation {
    /// Kernel limits for a file of `size` bytes: a tensor may hold at most
    /// 2^20 + `size` elements and a run at batch 1 may keep at most 64 MiB + 8 × `size`
    /// bytes live. A model's weights are in the file, so honest models stay far inside.
    public static func limits(forFileSize size: Int) -> Limits {
        Limits(maxTensorElements: (1 << 20) + size, maxPeakBytes: (64 << 20) + 8 * size)
    }

    /// Reads and compiles `bytes`; throws the kernel's `ONNXError` (the unsupported
    /// operator and node, the cap exceeded, the malformed field) when the model is refused.
    public static func validate(_ bytes: [UInt8]) throws -> ModelInterface {
        let model = try ModelReader.read(bytes)
        let session = try InferenceSession(model: model, limits: limits(forFileSize: bytes.count))
        var batchOne: [String: [Int]] = [:]
        for input in session.inputs {
            if case .tensor(_, let shape?) = input.type { batchOne[input.name] = shape.map { $0.value ?? 1 } }
        }
        let cost = session.cost(inputShapes: batchOne)
        guard cost.isStatic else {
            throw ONNXError("unsupported: the model's cost depends on input values (\(cost.dynamicReason ?? "a value-dependent shape"))")
        }
        return ModelInterface(session: session, cost: cost)
    }
}
