import CKernels
import Foundation

/// A model compiled for running: its graph checked and ordered, every operator
/// resolved to a kernel for the opset the model imports. Construction fails (naming
/// the operator, node and opset) on anything opg cannot run, so a model is rejected
/// at load, never half-way through a run.
public final class InferenceSession: @unchecked Sendable {
    public let model: Model
    let order: [Int]
    let kernels: [Kernel]
    let opsets: [Int64]
    let initializers: [String: Tensor]
    /// Values computed at load by constant folding, and the nodes they replace.
    var constants: [String: Tensor] = [:]
    var folded: Set<Int> = []
    /// Per node: its constant B packed for the fast matrix kernel (MatMul, Gemm), built at load.
    var packedWeights: [PackedMatrix?] = []
    /// Per node: a Conv's fast kernel prepared for its constant weights and known input shape, built at load.
    var convolutions: [DirectConvolution?] = []
    public let limits: Limits
    /// Costs already computed, by input shapes (runs with the same shapes skip inference).
    private var costCache: [[FeedShape]: ModelCost] = [:]
    private let cacheLock = NSLock()
    /// Kernel scratch memory kept between runs, one per concurrent run (guarded by cacheLock).
    private var idleWorkspaces: [Workspace] = []
    /// Every value name resolved to a slot at load, so a run indexes arrays instead of hashing names.
    private var plan = RunPlan()

    /// Inputs a caller must feed (graph inputs that are not initializers), in graph order.
    public var inputs: [ValueInfo] {
        model.graph.inputs.filter { initializers[$0.name] == nil }
    }

    public var outputs: [ValueInfo] { model.graph.outputs }

    /// Asks the C allocator to keep freed memory in the process (on glibc: blocks up to
    /// 32 MiB from the heap, up to 128 MiB of free heap kept) instead of returning it and
    /// taking fresh zeroed pages on every run, as runs allocate their tensors anew. It is
    /// process-wide, so the executable decides: `opg`'s model commands call it; a node
    /// weighs it against its own memory bounds. Bits never depend on it.
    public static func keepFreedMemoryInProcess() { opg_keep_freed_memory() }

    /// Compiles `model`: checks the graph, resolves every operator, infers shapes, folds
    /// constants, and checks the cost at batch 1 (every symbolic dimension bound to 1)
    /// against `limits`.
    public init(model: Model, limits: Limits = .default) throws {
        self.model = model
        self.limits = limits
        let graph = model.graph
        order = try ExecutionOrder.of(graph)
        var kernels: [Kernel] = []
        var opsets: [Int64] = []
        for (i, node) in graph.nodes.enumerated() {
            let domain = node.domain == "ai.onnx" ? "" : node.domain
            guard let version = model.opsetVersion(domain: domain) else {
                throw ONNXError("\(node.label(index: i)): the model imports no operator set for domain '\(domain.isEmpty ? "ai.onnx" : domain)'")
            }
            let domainName = domain.isEmpty ? "ai.onnx" : domain
            if domain.isEmpty && version < OperatorRegistry.minimumOpset {
                throw ONNXError("unsupported: \(node.label(index: i)): ai.onnx opset \(version) is older than the oldest supported (\(OperatorRegistry.minimumOpset))")
            }
            let context = OpContext(node: node, index: i, opset: version, options: RunOptions())
            guard let kernel = try OperatorRegistry.kernel(for: context) else {
                throw ONNXError("unsupported operator \(node.opType) (domain \(domainName), opset \(version)) at \(node.label(index: i))")
            }
            kernels.append(kernel)
            opsets.append(version)
        }
        self.kernels = kernels
        self.opsets = opsets
        var initializers: [String: Tensor] = [:]
        for t in graph.initializers { initializers[t.name] = t }
        self.initializers = initializers
        let inference = ShapeInference(session: self)
        if let first = inference.mismatches.first { throw ONNXError(first) }
        constants = inference.constants
        folded = inference.folded
        // A B that no feed can replace (not a graph input) is packed once, here.
        let fed = Set(graph.inputs.map(\.name))
        packedWeights = graph.nodes.enumerated().map { i, node in
            guard !folded.contains(i), node.inputs.count > 1, !fed.contains(node.inputs[1]),
                  let weights = constants[node.inputs[1]] else { return nil }
            return Inference.packedWeights(for: node, weights: weights)
        }
        convolutions = graph.nodes.enumerated().map { i, node in
            guard !folded.contains(i), node.inputs.count > 1, !fed.contains(node.inputs[1]),
                  let weights = constants[node.inputs[1]] else { return nil }
            let context = OpContext(node: node, index: i, opset: opsets[i], options: RunOptions())
            return preparedConvolution(context, input: inference.shapes[node.inputs[0]]?.dims, weights: weights)
        }
        plan = RunPlan(session: self)
        var batchOne: [String: [ShapeDimension]] = [:]
        for (name, shape) in inference.shapes where inputs.contains(where: { $0.name == name }) {
            if let dims = shape.dims { batchOne[name] = dims.map { if case .symbol = $0 { return .value(1) }; return $0 } }
        }
        try limits.check(CostModel.cost(self, ShapeInference(session: self, inputs: batchOne)), context: "at batch 1")
    }

    /// Shapes and constants inferred for inputs of the given shapes (declared shapes for
    /// inputs not given).
    public func shapes(inputShapes: [String: [Int]] = [:]) -> ShapeInference {
        ShapeInference(session: self, inputs: inputShapes.mapValues { $0.map { .value($0) } })
    }

    /// The cost of a run on inputs of these shapes (a pure function of model and shapes).
    public func cost(inputShapes: [String: [Int]]) -> ModelCost {
        CostModel.cost(self, shapes(inputShapes: inputShapes))
    }

    /// Convenience: read and compile a model's bytes.
    public convenience init(bytes: [UInt8]) throws {
        try self.init(model: ModelReader.read(bytes))
    }

    /// Runs the model on `feeds` (by input name) and returns the graph outputs in graph
    /// order, NaNs canonicalised. Every feed is checked against the declared element
    /// type and fixed dimensions. No option changes the result.
    public func run(_ feeds: [String: Tensor], options: RunOptions = RunOptions()) throws -> [Tensor] {
        try execute(feeds, options: options, observe: nil)
    }

    /// What `run` does; with `observe`, also hands every node's named outputs (node index,
    /// outputs in the node's order) to it in execution order, folded nodes included, and
    /// fuses no Relu, so every node of the model as uploaded is seen (docs/traces.md).
    func execute(_ feeds: [String: Tensor], options: RunOptions, observe: ((Int, [Tensor]) throws -> Void)?) throws -> [Tensor] {
        var values = plan.initialValues
        for (info, slot) in plan.fedInputs {
            guard let t = feeds[info.name] else { throw ONNXError("input '\(info.name)' is not given") }
            try Self.check(t, against: info)
            values[slot] = t
        }
        let feedNames = feeds.keys.sorted()
        if feeds.count > plan.fedInputs.count {
            for name in feedNames where !plan.fedInputs.contains(where: { $0.info.name == name }) {
                // An initializer that is also a graph input may be overridden by a feed.
                guard let slot = plan.overridableInitializers[name] else {
                    throw ONNXError("'\(name)' is not an input of the model (inputs: \(inputs.map(\.name).joined(separator: ", ")))")
                }
                values[slot] = feeds[name]
            }
        }
        // Caps are checked for these shapes before anything runs.
        let signature = feedNames.map { FeedShape(name: $0, shape: feeds[$0]!.shape) }
        cacheLock.lock()
        var cached = costCache[signature]
        cacheLock.unlock()
        if cached == nil {
            cached = self.cost(inputShapes: feeds.mapValues(\.shape))
            cacheLock.lock()
            if costCache.count >= 64 { costCache.removeAll() }
            costCache[signature] = cached
            cacheLock.unlock()
        }
        let cost = cached!
        if cost.largestTensor > limits.maxTensorElements || cost.peakBytes > limits.maxPeakBytes {
            try limits.check(cost, context: "for inputs of shapes \(signature.map { "\($0.name)\($0.shape)" }.joined(separator: ";"))")
        }
        cacheLock.lock()
        let workspace = idleWorkspaces.popLast() ?? Workspace()
        cacheLock.unlock()
        defer {
            cacheLock.lock()
            idleWorkspaces.append(workspace)
            cacheLock.unlock()
        }
        // How many pending readers each value has, so intermediates are freed early.
        var readers = plan.readerCounts
        var fusedStepDone = false
        var orderCursor = 0
        for step in plan.steps {
            // The Relu a fast run has fused into the step before.
            if fusedStepDone { fusedStepDone = false; continue }
            if let observe { try observeFolded(upTo: step.context.index, cursor: &orderCursor, observe) }
            var args: [Tensor?] = []
            args.reserveCapacity(step.inputs.count)
            for (k, slot) in step.inputs.enumerated() {
                if slot < 0 { args.append(nil); continue }
                guard let t = values[slot] else { throw step.context.error("input '\(step.context.node.inputs[k])' has no value") }
                args.append(t)
            }
            var context = step.context
            context.options = options
            context.workspace = workspace
            let fused = options.path == .fast && observe == nil ? step.fusedRelu : nil
            context.fusedRelu = fused != nil
            let results = try kernels[step.context.index](context, args)
            for slot in step.inputs where slot >= 0 {
                readers[slot] -= 1
                if readers[slot] == 0 { values[slot] = nil }
            }
            fusedStepDone = fused != nil
            for (k, slot) in (fused.map { [$0.output] } ?? step.outputs).enumerated() where slot >= 0 {
                let name = fused?.name ?? step.context.node.outputs[k]
                guard k < results.count else { throw context.error("output \(k) ('\(name)') is not produced") }
                // Shapes that depend on input values are checked as they appear.
                guard results[k].count <= limits.maxTensorElements else {
                    throw context.error("output '\(name)' has \(results[k].count) elements, over the cap of \(limits.maxTensorElements)")
                }
                values[slot] = results[k]
            }
            if let observe { try observe(step.context.index, try NodeExecution.namedOutputs(of: step.context, results)) }
        }
        if let observe { try observeFolded(upTo: nil, cursor: &orderCursor, observe) }
        return try zip(model.graph.outputs, plan.outputSlots).map { out, slot in
            guard var t = values[slot] else { throw ONNXError("output '\(out.name)' has no value") }
            t.name = out.name
            return t.canonicalized()
        }
    }

    /// Throws, naming the input, when `t` does not have the element type or a fixed
    /// dimension that `info` declares (what `run` checks of every feed).
    public static func check(_ t: Tensor, against info: ValueInfo) throws {
        guard case .tensor(let type, let dims)? = info.type else { return }
        guard t.elementType == type else {
            throw ONNXError("input '\(info.name)': element type \(t.elementType), the model declares \(type)")
        }
        guard let dims else { return }
        guard dims.count == t.shape.count else {
            throw ONNXError("input '\(info.name)': rank \(t.shape.count) (shape \(t.shape)), the model declares rank \(dims.count) [\(dims.map(\.description).joined(separator: ", "))]")
        }
        for (k, d) in dims.enumerated() {
            if case .value(let v) = d, v != t.shape[k] {
                throw ONNXError("input '\(info.name)': dimension \(k) is \(t.shape[k]), the model declares \(v)")
            }
        }
    }
}

/// A fed input's name and shape: the key of a session's cost cache.
struct FeedShape: Hashable {
    let name: String
    let shape: [Int]
}

/// A session's graph with every value name resolved to an integer slot, built once at
/// load: a run copies `initialValues` and indexes it, and each node's context (its
/// attributes' node, opset, caps, packed weights) is made once.
struct RunPlan {
    /// One node to run, in execution order (folded nodes are left out).
    struct Step {
        /// The slots of the node's inputs (−1 for an omitted optional input).
        let inputs: [Int]
        /// The slots of the node's outputs (−1 for an unnamed output).
        let outputs: [Int]
        let context: OpContext
        /// A Conv or Gemm whose output only the next step, a Relu, reads: that Relu's output
        /// slot and name. A fast run fuses the Relu into this step and skips the next.
        var fusedRelu: (output: Int, name: String)? = nil
    }

    /// Initializers and folded constants in their slots, nil elsewhere.
    var initialValues: [Tensor?] = []
    var steps: [Step] = []
    /// The inputs a caller must feed, with their slots, in graph order.
    var fedInputs: [(info: ValueInfo, slot: Int)] = []
    /// Initializers that are also graph inputs, which a feed may replace.
    var overridableInitializers: [String: Int] = [:]
    var outputSlots: [Int] = []
    /// Per slot: how many node inputs (and graph outputs) read it in a run.
    var readerCounts: [Int] = []

    init() {}

    init(session: InferenceSession) {
        let graph = session.model.graph
        var slots: [String: Int] = [:]
        func slot(_ name: String) -> Int {
            if let s = slots[name] { return s }
            slots[name] = slots.count
            initialValues.append(nil)
            readerCounts.append(0)
            return slots.count - 1
        }
        for t in graph.initializers { initialValues[slot(t.name)] = t }
        for name in session.constants.keys.sorted() { initialValues[slot(name)] = session.constants[name] }
        for info in session.inputs { fedInputs.append((info, slot(info.name))) }
        for info in graph.inputs where session.initializers[info.name] != nil {
            overridableInitializers[info.name] = slot(info.name)
        }
        for i in session.order where !session.folded.contains(i) {
            let node = graph.nodes[i]
            var context = OpContext(node: node, index: i, opset: session.opsets[i], options: RunOptions())
            context.limits = session.limits
            context.packedWeights = session.packedWeights[i]
            context.convolution = session.convolutions[i]
            let inputs = node.inputs.map { $0.isEmpty ? -1 : slot($0) }
            for s in inputs where s >= 0 { readerCounts[s] += 1 }
            steps.append(Step(inputs: inputs, outputs: node.outputs.map { $0.isEmpty ? -1 : slot($0) }, context: context))
        }
        outputSlots = graph.outputs.map { slot($0.name) }
        for s in outputSlots { readerCounts[s] += 1 }
        for s in steps.indices.dropLast() {
            let node = steps[s].context.node, next = steps[s + 1].context.node
            guard ["Conv", "Gemm"].contains(node.opType), ["", "ai.onnx"].contains(node.domain),
                  next.opType == "Relu", ["", "ai.onnx"].contains(next.domain),
                  steps[s].outputs.count == 1, let output = steps[s].outputs.first, output >= 0, readerCounts[output] == 1,
                  steps[s + 1].inputs == [output], steps[s + 1].outputs.count == 1 else { continue }
            steps[s].fusedRelu = (steps[s + 1].outputs[0], next.outputs[0])
        }
    }
}
