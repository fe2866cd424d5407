/// The cost of running a model on inputs of given shapes: a pure function of the model
/// and the input shapes (never of input values or of the machine), so the chain can
/// turn it into gas. docs/onnx.md, "Cost model", defines every rule.

/// One node's cost.
public struct OperatorCost: Equatable, Sendable {
    /// "Gemm node 'fc1'" or "Gemm node #3".
    public var node: String
    public var op: String
    /// Multiply-accumulates (dot products), or weighted element operations (see docs).
    public var macs: Int
    /// Bytes read from inputs plus bytes written to outputs.
    public var bytesMoved: Int
    /// Bytes of the node's outputs.
    public var outputBytes: Int
    /// Live memory while the node runs (inputs, weights, intermediates still needed and
    /// the node's outputs): the node's peak.
    public var peakBytes: Int
}

/// A model's cost for one set of input shapes.
public struct ModelCost: Equatable, Sendable {
    public var macs = 0
    public var bytesMoved = 0
    /// Largest total of live values (inputs, weights, intermediates, outputs) at any
    /// point of the execution order.
    public var peakBytes = 0
    /// Largest single tensor, in elements.
    public var largestTensor = 0
    public var operators: [OperatorCost] = []
    /// False when some shape depends on input values; then `dynamicReason` says where.
    public var isStatic = true
    public var dynamicReason: String?
}

/// Hard limits a model must stay within; over a limit a model is rejected before it runs.
public struct Limits: Equatable, Sendable {
    /// Elements in any one tensor.
    public var maxTensorElements: Int
    /// Peak live bytes (see `ModelCost.peakBytes`).
    public var maxPeakBytes: Int

    public init(maxTensorElements: Int = 1 << 28, maxPeakBytes: Int = 4 << 30) {
        self.maxTensorElements = maxTensorElements
        self.maxPeakBytes = maxPeakBytes
    }

    public static let `default` = Limits()

    /// Throws, naming the limit and the figure, when `cost` exceeds a limit.
    public func check(_ cost: ModelCost, context: String) throws {
        if cost.largestTensor > maxTensorElements {
            throw ONNXError("\(context): a tensor of \(cost.largestTensor) elements exceeds the cap of \(maxTensorElements) elements per tensor")
        }
        if cost.peakBytes > maxPeakBytes {
            throw ONNXError("\(context): peak memory of \(cost.peakBytes) bytes exceeds the cap of \(maxPeakBytes) bytes")
        }
    }
}

enum CostModel {
    /// Element operations per output element for the costlier elementwise functions.
    static let transcendental: Set<String> = ["Exp", "Log", "Erf", "Tanh", "Sigmoid", "Softplus", "Gelu", "Elu", "Selu", "Celu", "Pow",
                                              "ReduceLogSumExp", "ReduceLogSum"]
    static let functionWeight = 8

    static func bytes(_ s: ValueShape?) -> Int? {
        guard let s, let n = s.count else { return nil }
        return n.saturatingProduct(s.elementType?.byteWidth ?? 8)
    }

    static func cost(_ session: InferenceSession, _ inference: ShapeInference) -> ModelCost {
        var cost = ModelCost()
        let graph = session.model.graph
        let shapes = inference.shapes
        func dynamic(_ why: String) {
            if cost.isStatic { cost.isStatic = false; cost.dynamicReason = why }
        }
        // Liveness: the last step that reads each value; graph outputs live to the end.
        var lastUse: [String: Int] = [:]
        for (step, i) in session.order.enumerated() { for name in graph.nodes[i].inputs where !name.isEmpty { lastUse[name] = step } }
        for out in graph.outputs { lastUse[out.name] = Int.max }
        // Live bytes are summed exactly (a sum of saturated sizes cannot overflow 128 bits);
        // the reported figures saturate at Int.max.
        var live: Int128 = 0
        for name in graph.inputs.map(\.name) + graph.initializers.map(\.name) {
            guard let b = bytes(shapes[name]) else { dynamic("input '\(name)' has no fixed shape"); continue }
            live += Int128(b)
            cost.largestTensor = max(cost.largestTensor, shapes[name]?.count ?? 0)
        }
        cost.peakBytes = Int(clamping: live)
        for (step, i) in session.order.enumerated() {
            let node = graph.nodes[i]
            let label = node.label(index: i)
            var outBytes = 0
            for name in node.outputs where !name.isEmpty {
                guard let b = bytes(shapes[name]) else { dynamic("the shape of \(label)'s output '\(name)' depends on input values"); continue }
                outBytes = outBytes.saturatingSum(b)
                cost.largestTensor = max(cost.largestTensor, shapes[name]?.count ?? 0)
            }
            live += Int128(outBytes)
            let liveDuringNode = Int(clamping: live)
            cost.peakBytes = max(cost.peakBytes, liveDuringNode)
            for name in Set(node.inputs) where !name.isEmpty && lastUse[name] == step {
                if graph.initializers.contains(where: { $0.name == name }) { continue }  // weights stay resident
                live -= Int128(bytes(shapes[name]) ?? 0)
            }
            if inference.folded.contains(i) { continue }  // computed at load
            let inBytes = node.inputs.reduce(0) { $0.saturatingSum($1.isEmpty ? 0 : bytes(shapes[$1]) ?? 0) }
            let macs = operationCount(node, index: i, shapes: shapes)
            cost.operators.append(OperatorCost(node: label, op: OperatorRegistry.key(domain: node.domain, op: node.opType),
                                               macs: macs, bytesMoved: inBytes.saturatingSum(outBytes), outputBytes: outBytes,
                                               peakBytes: liveDuringNode))
            cost.macs = cost.macs.saturatingSum(macs)
            cost.bytesMoved = cost.bytesMoved.saturatingSum(inBytes).saturatingSum(outBytes)
        }
        return cost
    }

    /// The arithmetic of one node (docs/onnx.md, "Cost model").
    static func operationCount(_ node: Node, index: Int, shapes: [String: ValueShape]) -> Int {
        func count(_ name: String?) -> Int { name.flatMap { shapes[$0]?.count } ?? 0 }
        func dims(_ name: String?) -> [Int] { name.flatMap { shapes[$0]?.concrete } ?? [] }
        let out = count(node.outputs.first)
        let input = count(node.inputs.first)
        let attrs = node.attributes
        func ints(_ n: String) -> [Int64]? { if case .ints(let v)? = attrs.first(where: { $0.name == n })?.value { return v }; return nil }
        switch OperatorRegistry.key(domain: node.domain, op: node.opType) {
        case "MatMul":
            let a = dims(node.inputs.first)
            return out.saturatingProduct(a.last ?? 1)
        case "Gemm":
            let a = dims(node.inputs.first)
            let transA = attrs.contains { $0.name == "transA" && $0.value == .int(1) }
            return out.saturatingProduct(a.count == 2 ? (transA ? a[0] : a[1]) : 1).saturatingSum(out)
        case "Conv":
            let w = dims(node.inputs.count > 1 ? node.inputs[1] : nil)
            return out.saturatingProduct(w.dropFirst().reduce(1) { $0.saturatingProduct($1) })
        case "MaxPool", "AveragePool":
            return out.saturatingProduct(ints("kernel_shape")?.reduce(1) { $0.saturatingProduct(Int(clamping: $1)) } ?? 1)
        case "Einsum":
            return node.inputs.reduce(out) { $0.saturatingSum(count($1)) }.saturatingProduct(max(1, node.inputs.count))
        case "Softmax", "LogSoftmax": return input.saturatingProduct(functionWeight + 2)
        case "LayerNormalization", "BatchNormalization", "InstanceNormalization": return input.saturatingProduct(4)
        case "ai.onnx.ml:TreeEnsembleRegressor", "ai.onnx.ml:TreeEnsembleClassifier", "ai.onnx.ml:TreeEnsemble":
            let rows = dims(node.inputs.first).first ?? 1
            let nodes = (ints("nodes_treeids") ?? ints("nodes_featureids"))?.count ?? 0
            return rows.saturatingProduct(nodes)
        case "ai.onnx.ml:LinearClassifier", "ai.onnx.ml:LinearRegressor":
            var coefficients = 0
            if case .floats(let c)? = attrs.first(where: { $0.name == "coefficients" })?.value { coefficients = c.count }
            return (dims(node.inputs.first).first ?? 1).saturatingProduct(coefficients)
        case let op where transcendental.contains(op): return max(out, input).saturatingProduct(functionWeight)
        case "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Shape", "Size", "Constant", "Dropout": return 0
        default: return max(out, input)
        }
    }
}

extension FixedWidthInteger {
    /// `self + other` for non-negative operands, `.max` when it would overflow (the cost
    /// model's arithmetic, and the gas arithmetic built on it).
    public func saturatingSum(_ other: Self) -> Self {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }

    /// `self × other` for non-negative operands, `.max` when it would overflow.
    public func saturatingProduct(_ other: Self) -> Self {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        return overflow ? .max : product
    }
}
