/// An ONNX model as read from a `ModelProto` (https://onnx.ai/onnx/repo-docs/IR.html):
/// the graph plus the operator sets it was written against. Reading checks the wire
/// format and the fields; the graph's meaning is checked when it is compiled.
public struct Model: Equatable, Sendable {
    /// ONNX IR version.
    public var irVersion: Int64
    /// Operator sets by domain ("" is ai.onnx).
    public var opsetImports: [OperatorSetID]
    public var producerName: String
    public var producerVersion: String
    public var domain: String
    public var modelVersion: Int64
    public var docString: String
    /// Free-form key/value metadata, in file order.
    public var metadata: [(key: String, value: String)]
    /// The main graph.
    public var graph: Graph

    /// The opset version imported for `domain` ("ai.onnx" and "" are the same domain).
    public func opsetVersion(domain: String) -> Int64? {
        let wanted = domain == "ai.onnx" ? "" : domain
        return opsetImports.first { ($0.domain == "ai.onnx" ? "" : $0.domain) == wanted }?.version
    }

    public static func == (a: Model, b: Model) -> Bool {
        a.irVersion == b.irVersion && a.opsetImports == b.opsetImports && a.producerName == b.producerName
            && a.producerVersion == b.producerVersion && a.domain == b.domain && a.modelVersion == b.modelVersion
            && a.docString == b.docString && a.metadata.map(\.key) == b.metadata.map(\.key)
            && a.metadata.map(\.value) == b.metadata.map(\.value) && a.graph == b.graph
    }
}

/// An operator set import: domain and version.
public struct OperatorSetID: Equatable, Sendable {
    public var domain: String
    public var version: Int64
}

/// A computation graph: nodes in file order, constant initializers, and the typed
/// inputs and outputs.
public struct Graph: Equatable, Sendable {
    public var name: String
    public var nodes: [Node]
    public var initializers: [Tensor]
    public var inputs: [ValueInfo]
    public var outputs: [ValueInfo]
    /// Types of intermediate values, where the file gives them.
    public var valueInfo: [ValueInfo]
}

/// One operator application.
public struct Node: Equatable, Sendable {
    public var name: String
    public var opType: String
    /// The operator's domain ("" is ai.onnx, "ai.onnx.ml" the ML operators).
    public var domain: String
    /// Input value names; "" marks an omitted optional input.
    public var inputs: [String]
    public var outputs: [String]
    /// Attributes in file order (names are unique).
    public var attributes: [Attribute]

    /// The attribute called `name`.
    public func attribute(_ name: String) -> Attribute? { attributes.first { $0.name == name } }

    /// "Gemm node 'fc1'" or "Gemm node #3" for messages.
    public func label(index: Int) -> String { name.isEmpty ? "\(opType) node #\(index)" : "\(opType) node '\(name)'" }
}

/// A named attribute value.
public struct Attribute: Equatable, Sendable {
    public var name: String
    public var value: AttributeValue
}

/// The value of an attribute, by its `AttributeProto.AttributeType`.
public indirect enum AttributeValue: Equatable, Sendable {
    case float(Float)
    case int(Int64)
    case string([UInt8])
    case tensor(Tensor)
    case graph(Graph)
    case floats([Float])
    case ints([Int64])
    case strings([[UInt8]])
    case tensors([Tensor])
    case graphs([Graph])

    /// ONNX's name for the kind (`INT`, `FLOATS`, …).
    public var kind: String {
        switch self {
        case .float: return "FLOAT"
        case .int: return "INT"
        case .string: return "STRING"
        case .tensor: return "TENSOR"
        case .graph: return "GRAPH"
        case .floats: return "FLOATS"
        case .ints: return "INTS"
        case .strings: return "STRINGS"
        case .tensors: return "TENSORS"
        case .graphs: return "GRAPHS"
        }
    }
}

/// A graph input, output or intermediate value with its type, when known.
public struct ValueInfo: Equatable, Sendable {
    public var name: String
    public var type: ValueType?
}

/// The type of a value.
public indirect enum ValueType: Equatable, Sendable {
    /// A tensor; `shape` is nil when the rank is unknown.
    case tensor(ElementType, shape: [ShapeDimension]?)
    /// A sequence of values (ZipMap's output is a sequence of maps).
    case sequence(ValueType)
    /// A map from keys of one element type to values.
    case map(key: ElementType, value: ValueType)
}

/// One dimension of a tensor shape: as the file declares it, and as shape inference
/// (`ValueShape`) knows it.
public enum ShapeDimension: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// A fixed size (never negative: the reader rejects negative `dim_value`).
    case value(Int)
    /// A named, symbolic size ("batch", "N").
    case symbol(String)
    /// Neither given.
    case unknown

    public var description: String {
        switch self {
        case .value(let v): return String(v)
        case .symbol(let s): return s
        case .unknown: return "?"
        }
    }

    /// The fixed size, if known.
    public var value: Int? { if case .value(let v) = self { return v }; return nil }
}
