/// What a kernel sees of its node: attributes with ONNX's defaults, the opset the
/// model imports for the node's domain, and a label for messages.
struct OpContext {
    let node: Node
    let index: Int
    /// The version of the node's operator set imported by the model.
    let opset: Int64
    /// Threads and kernel path (results do not depend on them).
    var options: RunOptions
    /// The caps; kernels whose output size depends on input values check it before allocating.
    var limits = Limits.default
    /// MatMul and Gemm: the constant B packed at load for the fast kernel (`packedWeights(for:weights:)`).
    var packedWeights: PackedMatrix? = nil
    /// Conv: the fast kernel's geometry, offsets and transposed weights, built at load for the
    /// input's spatial shape when the weights are constant (`preparedConvolution`).
    var convolution: DirectConvolution? = nil
    /// Scratch memory of the run (kept by the session between runs); nil outside a session run.
    var workspace: Workspace? = nil
    /// Conv and Gemm on the fast path: the Relu node that reads the output is fused in, so
    /// the kernel returns Relu of its output (`rectified` applied last to each value).
    var fusedRelu = false

    var label: String { node.label(index: index) }

    func error(_ message: String) -> ONNXError { ONNXError("\(label): \(message)") }

    /// Throws unless a tensor of `shape` is within the per-tensor cap (checked before allocating).
    func ensure(_ shape: [Int]) throws {
        var n = 1
        for d in shape {
            let (p, overflow) = n.multipliedReportingOverflow(by: max(d, 0))
            guard !overflow, p <= limits.maxTensorElements else {
                throw error("an output of shape \(shape) is over the cap of \(limits.maxTensorElements) elements per tensor")
            }
            n = p
        }
    }

    /// "unsupported: …" errors mark features a model may legitimately use that opg does not run.
    func unsupported(_ message: String) -> ONNXError { ONNXError("unsupported: \(label): \(message)") }

    func int(_ name: String, _ fallback: Int64) throws -> Int64 {
        guard let a = node.attribute(name) else { return fallback }
        guard case .int(let v) = a.value else { throw error("attribute '\(name)' must be INT, got \(a.value.kind)") }
        return v
    }

    func float(_ name: String, _ fallback: Float) throws -> Float {
        guard let a = node.attribute(name) else { return fallback }
        switch a.value {
        case .float(let v): return v
        case .int(let v): return Float(v)
        default: throw error("attribute '\(name)' must be FLOAT, got \(a.value.kind)")
        }
    }

    func ints(_ name: String) throws -> [Int64]? {
        guard let a = node.attribute(name) else { return nil }
        guard case .ints(let v) = a.value else { throw error("attribute '\(name)' must be INTS, got \(a.value.kind)") }
        return v
    }

    func floats(_ name: String) throws -> [Float]? {
        guard let a = node.attribute(name) else { return nil }
        guard case .floats(let v) = a.value else { throw error("attribute '\(name)' must be FLOATS, got \(a.value.kind)") }
        return v
    }

    func string(_ name: String, _ fallback: String) throws -> String {
        guard let a = node.attribute(name) else { return fallback }
        guard case .string(let v) = a.value else { throw error("attribute '\(name)' must be STRING, got \(a.value.kind)") }
        return String(decoding: v, as: UTF8.self)
    }

    func strings(_ name: String) throws -> [[UInt8]]? {
        guard let a = node.attribute(name) else { return nil }
        guard case .strings(let v) = a.value else { throw error("attribute '\(name)' must be STRINGS, got \(a.value.kind)") }
        return v
    }

    func tensor(_ name: String) throws -> Tensor? {
        guard let a = node.attribute(name) else { return nil }
        guard case .tensor(let t) = a.value else { throw error("attribute '\(name)' must be TENSOR, got \(a.value.kind)") }
        return t
    }

    /// Input `i`, which must be present.
    func input(_ inputs: [Tensor?], _ i: Int) throws -> Tensor {
        guard i < inputs.count, let t = inputs[i] else { throw error("input \(i) is required") }
        return t
    }

    /// Input `i` if given (absent or named "").
    func optionalInput(_ inputs: [Tensor?], _ i: Int) -> Tensor? { i < inputs.count ? inputs[i] : nil }
}

/// A kernel: the node's inputs (nil for omitted optional ones) to its outputs.
typealias Kernel = (OpContext, [Tensor?]) throws -> [Tensor]

/// Builds a kernel once, when the model is loaded, from the node's attributes (tree
/// ensembles, label maps): attribute errors surface at load and runs skip the set-up.
typealias KernelFactory = (OpContext) throws -> Kernel

/// The operators opg runs, by domain and name. Each kernel handles every opset
/// version from 7 to the newest the onnx package defines, switching on
/// `OpContext.opset` where the operator's meaning changed between versions.
public enum OperatorRegistry {
    static let kernels: [String: Kernel] = {
        var table: [String: Kernel] = [:]
        for (name, k) in elementwiseKernels { table[name] = k }
        for (name, k) in linearKernels { table[name] = k }
        for (name, k) in shapeKernels { table[name] = k }
        for (name, k) in reduceKernels { table[name] = k }
        for (name, k) in convolutionKernels { table[name] = k }
        for (name, k) in normalizationKernels { table[name] = k }
        return table
    }()

    static let factories: [String: KernelFactory] = {
        var table: [String: KernelFactory] = [:]
        for (name, f) in mlFactories { table["ai.onnx.ml:" + name] = f }
        return table
    }()

    /// The oldest ai.onnx opset supported.
    public static let minimumOpset: Int64 = 7

    static func key(domain: String, op: String) -> String {
        domain.isEmpty || domain == "ai.onnx" ? op : "\(domain):\(op)"
    }

    /// The kernel for a node, built by its factory where it has one.
    static func kernel(for context: OpContext) throws -> Kernel? {
        let k = key(domain: context.node.domain, op: context.node.opType)
        if let factory = factories[k] { return try factory(context) }
        return kernels[k]
    }

    /// Every supported operator as "op" (ai.onnx) or "domain:op", sorted.
    public static var supportedOperators: [String] { (Array(kernels.keys) + Array(factories.keys)).sorted() }
}
