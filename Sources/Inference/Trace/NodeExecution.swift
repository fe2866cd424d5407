/// Runs one node of a model alone: what a dispute re-executes once bisection has
/// narrowed a trace to a node (docs/traces.md, "Re-executing one node"). The node's
/// kernel is the one a whole run uses, so its outputs are bit-identical to that node's
/// outputs in the run, given the same inputs; nothing else of the model is needed.
public enum NodeExecution {
    /// Runs `node` on `inputs` and returns its named outputs in its output order (what
    /// the trace hashes for it).
    ///
    /// - Parameters:
    ///   - node: the node as uploaded (operator, domain, attributes).
    ///   - index: its index in the uploaded graph (for messages).
    ///   - opset: the version the model imports for the node's domain.
    ///   - inputs: one entry per `node.inputs` (an initializer, a graph input or another
    ///     node's output), nil exactly where the node omits an optional input (name "").
    ///   - limits: the caps a run applies to every output.
    /// - Throws: `ONNXError` naming the node when the operator is not supported, an input
    ///   is missing or surplus, or the kernel refuses its inputs.
    public static func run(node: Node, index: Int, opset: Int64, inputs: [Tensor?],
                           limits: Limits = .default, options: RunOptions = RunOptions()) throws -> [Tensor] {
        var context = OpContext(node: node, index: index, opset: opset, options: options)
        context.limits = limits
        guard inputs.count == node.inputs.count else {
            throw context.error("\(inputs.count) inputs given, the node has \(node.inputs.count)")
        }
        for (k, name) in node.inputs.enumerated() {
            if name.isEmpty, inputs[k] != nil { throw context.error("input \(k) is omitted by the node but was given") }
            if !name.isEmpty, inputs[k] == nil { throw context.error("input '\(name)' is not given") }
        }
        if (node.domain.isEmpty || node.domain == "ai.onnx"), opset < OperatorRegistry.minimumOpset {
            throw ONNXError("unsupported: \(context.label): ai.onnx opset \(opset) is older than the oldest supported (\(OperatorRegistry.minimumOpset))")
        }
        guard let kernel = try OperatorRegistry.kernel(for: context) else {
            throw ONNXError("unsupported operator \(node.opType) (domain \(node.domain.isEmpty ? "ai.onnx" : node.domain), opset \(opset)) at \(context.label)")
        }
        for t in inputs.compactMap({ $0 }) where t.count > limits.maxTensorElements {
            throw context.error("an input has \(t.count) elements, over the cap of \(limits.maxTensorElements)")
        }
        let results = try kernel(context, inputs)
        for t in results where t.count > limits.maxTensorElements {
            throw context.error("an output has \(t.count) elements, over the cap of \(limits.maxTensorElements)")
        }
        return try namedOutputs(of: context, results)
    }

    /// A node's results for its named outputs, in its output order, each named.
    static func namedOutputs(of context: OpContext, _ results: [Tensor]) throws -> [Tensor] {
        var named: [Tensor] = []
        for (k, name) in context.node.outputs.enumerated() where !name.isEmpty {
            guard k < results.count else { throw context.error("output \(k) ('\(name)') is not produced") }
            var t = results[k]
            t.name = name
            named.append(t)
        }
        return named
    }
}

extension InferenceSession {
    /// Runs node `index` of this model alone on its inputs by name (initializers are
    /// taken from the model unless given); see `NodeExecution.run`.
    public func runNode(_ index: Int, inputs: [String: Tensor], options: RunOptions = RunOptions()) throws -> [Tensor] {
        guard index >= 0, index < model.graph.nodes.count else {
            throw ONNXError("node index \(index) out of range: the model has \(model.graph.nodes.count) nodes")
        }
        let node = model.graph.nodes[index]
        let given = try node.inputs.map { name -> Tensor? in
            guard !name.isEmpty else { return nil }
            guard let t = inputs[name] ?? initializers[name] else {
                throw ONNXError("\(node.label(index: index)): input '\(name)' is not given")
            }
            return t
        }
        return try NodeExecution.run(node: node, index: index, opset: opsets[index], inputs: given, limits: limits, options: options)
    }
}

extension InferenceSession {
    /// The compile-time cost of node `index` alone at the graph's `inputShapes` (the entry
    /// `cost(inputShapes:)` lists for it; the first with its label), or nil when the node
    /// is folded at load or out of range: what a dispute charges for re-executing one node.
    public func cost(ofNode index: Int, inputShapes: [String: [Int]]) -> OperatorCost? {
        guard index >= 0, index < model.graph.nodes.count else { return nil }
        let label = model.graph.nodes[index].label(index: index)
        return cost(inputShapes: inputShapes).operators.first { $0.node == label }
    }
}

extension NodeExecution {
    /// The cost of one run of `node` that read `inputs` (nil where omitted) and wrote
    /// `outputs`, by the cost model's rules on these concrete shapes (its own entry, as
    /// `InferenceSession.cost(ofNode:inputShapes:)` gives for a compiled model): what a
    /// dispute over a model registered by reference, which has no compiled model, charges.
    public static func cost(node: Node, index: Int, inputs: [Tensor?], outputs: [Tensor]) -> OperatorCost {
        var shapes: [String: ValueShape] = [:]
        func bytes(_ t: Tensor) -> Int { t.count.saturatingProduct(t.elementType.byteWidth ?? 8) }
        for (name, t) in zip(node.inputs, inputs) where !name.isEmpty {
            if let t { shapes[name] = ValueShape(elementType: t.elementType, dims: t.shape.map { .value($0) }) }
        }
        for t in outputs { shapes[t.name] = ValueShape(elementType: t.elementType, dims: t.shape.map { .value($0) }) }
        let inBytes = inputs.compactMap { $0 }.reduce(0) { $0.saturatingSum(bytes($1)) }
        let outBytes = outputs.reduce(0) { $0.saturatingSum(bytes($1)) }
        return OperatorCost(node: node.label(index: index), op: OperatorRegistry.key(domain: node.domain, op: node.opType),
                            macs: CostModel.operationCount(node, index: index, shapes: shapes), bytesMoved: inBytes.saturatingSum(outBytes),
                            outputBytes: outBytes, peakBytes: inBytes.saturatingSum(outBytes))
    }
}
