/// Static shape inference with constant folding: the second step of compiling.
///
/// Every value gets an element type and a shape whose dimensions are numbers, names
/// (a symbolic batch "N" from the model's inputs) or unknown. Nodes whose inputs are
/// all constants (initializers, `Constant`, `Shape` of a fully known shape, and what
/// those feed) are run at compile time by the same kernels the model runs with — exact,
/// since they are the same arithmetic — so `Reshape` targets and `Slice` bounds that a
/// model computes from shapes become known. A dimension that depends on input *values*
/// stays unknown; the cost model reports such a model as not static.

/// What is known statically about one value.
public struct ValueShape: Equatable, Sendable {
    public var elementType: ElementType?
    /// nil when even the rank is unknown.
    public var dims: [ShapeDimension]?
    /// Set for ZipMap's sequence-of-maps output.
    public var isMapSequence = false

    public init(elementType: ElementType?, dims: [ShapeDimension]?) {
        self.elementType = elementType
        self.dims = dims
    }

    /// The element count when every dimension is a number.
    public var count: Int? {
        guard let dims else { return nil }
        var n = 1
        for d in dims {
            guard let v = d.value else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: v)
            if overflow { return .max }
            n = p
        }
        return n
    }

    var concrete: [Int]? {
        guard let dims else { return nil }
        let values = dims.compactMap(\.value)
        return values.count == dims.count ? values : nil
    }

    static let unknown = ValueShape(elementType: nil, dims: nil)
}

public struct ShapeInference {
    /// Shapes of every value (graph inputs, initializers, node outputs).
    public private(set) var shapes: [String: ValueShape] = [:]
    /// Values known at compile time (initializers and folded nodes).
    public private(set) var constants: [String: Tensor] = [:]
    /// Nodes folded into constants (they need not run).
    public private(set) var folded: Set<Int> = []
    /// Shape mismatches found statically (a node that would certainly fail), in order.
    public private(set) var mismatches: [String] = []

    /// Largest constant a fold may produce (larger results are left to run time).
    static let maxFoldElements = 1 << 16

    /// Infers shapes for `session`'s graph. `inputs` overrides the declared input shapes
    /// (to bind a symbolic batch to a number).
    init(session: InferenceSession, inputs: [String: [ShapeDimension]] = [:]) {
        let graph = session.model.graph
        for t in graph.initializers {
            constants[t.name] = t
            shapes[t.name] = ValueShape(elementType: t.elementType, dims: t.shape.map { .value($0) })
        }
        for info in session.inputs {
            var shape = ValueShape.unknown
            if case .tensor(let type, let dims)? = info.type {
                shape.elementType = type
                shape.dims = dims
            }
            if let given = inputs[info.name] { shape.dims = given }
            shapes[info.name] = shape
        }
        for i in session.order {
            let node = graph.nodes[i]
            let ins: [ValueShape?] = node.inputs.map { $0.isEmpty ? nil : shapes[$0] ?? .unknown }
            let context = OpContext(node: node, index: i, opset: session.opsets[i], options: RunOptions())
            // A fold may not allocate more than a small constant (kernels check this cap
            // before allocating); bigger results are left to run time.
            var foldContext = context
            foldContext.limits = Limits(maxTensorElements: Self.maxFoldElements, maxPeakBytes: .max)
            // Fold when every input is constant and small.
            let constantInputs = node.inputs.map { $0.isEmpty ? nil : constants[$0] }
            let allConstant = zip(node.inputs, constantInputs).allSatisfy { $0.0.isEmpty || $0.1 != nil }
            if allConstant, constantInputs.compactMap({ $0 }).allSatisfy({ $0.count <= Self.maxFoldElements }),
               let results = try? session.kernels[i](foldContext, constantInputs),
               results.allSatisfy({ $0.count <= Self.maxFoldElements && $0.mapKeys == nil }) {
                for (k, name) in node.outputs.enumerated() where !name.isEmpty && k < results.count {
                    constants[name] = results[k]
                    shapes[name] = ValueShape(elementType: results[k].elementType, dims: results[k].shape.map { .value($0) })
                }
                folded.insert(i)
                continue
            }
            // Shape of a fully known input is a constant.
            if node.opType == "Shape", node.domain.isEmpty, let dims = ins.first??.concrete {
                let r = Int64(dims.count)
                func clamp(_ v: Int64) -> Int { Int(Swift.min(Swift.max(v < 0 ? v + r : v, 0), r)) }
                let start = clamp((try? context.int("start", 0)) ?? 0), end = clamp((try? context.int("end", r)) ?? r)
                let t = Tensor.int64(start < end ? dims[start..<end].map { Int64($0) } : [], shape: [Swift.max(0, end - start)])
                constants[node.outputs[0]] = t
                shapes[node.outputs[0]] = ValueShape(elementType: .int64, dims: [.value(t.count)])
                folded.insert(i)
                continue
            }
            if let problem = ShapeRules.mismatch(context, ins) { mismatches.append("\(node.label(index: i)): \(problem)") }
            let outs = ShapeRules.infer(context, ins, constants: constantInputs)
            for (k, name) in node.outputs.enumerated() where !name.isEmpty {
                shapes[name] = k < outs.count ? outs[k] : .unknown
            }
        }
    }
}

/// Output shapes per operator from input shapes (and constant inputs where the shape
/// depends on them). Unknown where an operator has no rule or depends on input values.
enum ShapeRules {
    static let sameShape: Set<String> = [
        "Identity", "Neg", "Abs", "Sign", "Relu", "Sqrt", "Reciprocal", "Floor", "Ceil", "Round", "Exp", "Log", "Erf", "Tanh",
        "Sigmoid", "Softplus", "Softsign", "LeakyRelu", "Elu", "Selu", "Celu", "ThresholdedRelu", "HardSigmoid", "HardSwish", "Gelu",
        "Clip", "Softmax", "LogSoftmax", "Hardmax", "CumSum", "BatchNormalization", "InstanceNormalization",
        "ai.onnx.ml:Scaler", "ai.onnx.ml:Normalizer", "ai.onnx.ml:Binarizer",
    ]
    static let broadcasting: Set<String> = ["Add", "Sub", "Mul", "Div", "Mod", "Pow", "Sum", "Max", "Min", "Mean", "PRelu", "Where"]
    static let comparisons: Set<String> = ["Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor"]

    static func broadcast(_ shapes: [[ShapeDimension]?]) -> [ShapeDimension]? {
        var result: [ShapeDimension] = []
        for s in shapes {
            guard let s else { return nil }
            if s.count > result.count { result = [ShapeDimension](repeating: .value(1), count: s.count - result.count) + result }
            let offset = result.count - s.count
            for (i, d) in s.enumerated() {
                let j = i + offset
                switch (result[j], d) {
                case (_, .value(1)): break
                case (.value(1), _): result[j] = d
                case let (a, b) where a == b: break
                case (.value, .symbol): break
                case (.symbol, .value): result[j] = d
                default: result[j] = .unknown
                }
            }
        }
        return result
    }

    /// A shape conflict between known dimensions that the node cannot run with.
    static func mismatch(_ ctx: OpContext, _ ins: [ValueShape?]) -> String? {
        let op = OperatorRegistry.key(domain: ctx.node.domain, op: ctx.node.opType)
        func text(_ d: [ShapeDimension]) -> String { "(" + d.map(\.description).joined(separator: ", ") + ")" }
        if broadcasting.contains(op) || comparisons.contains(op) {
            let known = ins.compactMap { $0?.dims }
            guard known.count == ins.count, let rank = known.map(\.count).max() else { return nil }
            for axis in 0..<rank {
                var seen: Int? = nil
                for d in known where d.count > axis - (rank - d.count) && axis >= rank - d.count {
                    guard let v = d[axis - (rank - d.count)].value, v != 1 else { continue }
                    if let s = seen, s != v { return "shapes \(known.map(text).joined(separator: " and ")) cannot be broadcast together" }
                    seen = v
                }
            }
        }
        if op == "MatMul", ins.count == 2, let a = ins[0]?.dims, let b = ins[1]?.dims, !a.isEmpty, !b.isEmpty {
            let k1 = a[a.count - 1], k2 = b.count == 1 ? b[0] : b[b.count - 2]
            if let x = k1.value, let y = k2.value, x != y { return "inner dimensions differ: \(text(a)) × \(text(b))" }
        }
        if op == "Gemm", ins.count >= 2, let a = ins[0]?.dims, let b = ins[1]?.dims, a.count == 2, b.count == 2 {
            let k1 = (try? ctx.int("transA", 0)) == 1 ? a[0] : a[1], k2 = (try? ctx.int("transB", 0)) == 1 ? b[1] : b[0]
            if let x = k1.value, let y = k2.value, x != y { return "inner dimensions differ: A \(text(a)), B \(text(b))" }
        }
        return nil
    }

    static func infer(_ ctx: OpContext, _ ins: [ValueShape?], constants: [Tensor?]) -> [ValueShape] {
        let op = OperatorRegistry.key(domain: ctx.node.domain, op: ctx.node.opType)
        let first = ins.first ?? nil
        func shape(_ type: ElementType?, _ dims: [ShapeDimension]?) -> ValueShape { ValueShape(elementType: type, dims: dims) }
        func constInts(_ i: Int) -> [Int64]? { i < constants.count ? (try? constants[i]?.integers("")) ?? nil : nil }
        if sameShape.contains(op) {
            return [shape(first?.elementType, first?.dims)]
        }
        if broadcasting.contains(op) {
            let dataInputs = op == "Where" ? Array(ins.dropFirst()) : ins
            return [shape(dataInputs.first??.elementType, broadcast(ins.map { $0?.dims }))]
        }
        if comparisons.contains(op) { return [shape(.bool, broadcast(ins.map { $0?.dims }))] }
        switch op {
        case "Not", "IsNaN", "IsInf": return [shape(.bool, first?.dims)]
        case "Cast":
            let to = ElementType(rawValue: Int32(truncatingIfNeeded: (try? ctx.int("to", 0)) ?? 0))
            return [shape(to, first?.dims)]
        case "CastLike": return [shape(ins.count > 1 ? ins[1]?.elementType : nil, first?.dims)]
        case "Dropout": return [shape(first?.elementType, first?.dims), shape(.bool, first?.dims)]
        case "LayerNormalization":
            guard let dims = first?.dims, let a = try? Shape.axis((try? ctx.int("axis", -1)) ?? -1, rank: dims.count, op: "") else {
                return [shape(first?.elementType, first?.dims), .unknown, .unknown]
            }
            let stats = Array(dims[..<a]) + [ShapeDimension](repeating: .value(1), count: dims.count - a)
            return [shape(first?.elementType, dims), shape(.float, stats), shape(.float, stats)]
        case "MatMul":
            guard ins.count == 2, var a = ins[0]?.dims, var b = ins[1]?.dims, !a.isEmpty, !b.isEmpty else { return [shape(first?.elementType, nil)] }
            let aVector = a.count == 1, bVector = b.count == 1
            if aVector { a = [.value(1)] + a }
            if bVector { b = b + [.value(1)] }
            var out = (broadcast([Array(a.dropLast(2)), Array(b.dropLast(2))]) ?? []) + [a[a.count - 2], b[b.count - 1]]
            if aVector { out.remove(at: out.count - 2) }
            if bVector { out.removeLast() }
            return [shape(first?.elementType, out)]
        case "Gemm":
            guard ins.count >= 2, let a = ins[0]?.dims, let b = ins[1]?.dims, a.count == 2, b.count == 2 else { return [shape(.float, nil)] }
            let m = (try? ctx.int("transA", 0)) == 1 ? a[1] : a[0], n = (try? ctx.int("transB", 0)) == 1 ? b[0] : b[1]
            return [shape(.float, [m, n])]
        case "Conv", "MaxPool", "AveragePool":
            guard let dims = first?.dims, dims.count >= 3 else { return [.unknown, .unknown] }
            let spatial = dims.dropFirst(2).map(\.value)
            var kernel: [Int]?
            var channels = dims[1]
            if op == "Conv" {
                guard ins.count > 1, let w = ins[1]?.dims, w.count == dims.count else { return [.unknown] }
                channels = w[0]
                kernel = ((try? ctx.ints("kernel_shape")) ?? nil)?.map { Int($0) } ?? w.dropFirst(2).map { $0.value ?? -1 }
            } else {
                kernel = ((try? ctx.ints("kernel_shape")) ?? nil)?.map { Int($0) }
            }
            var outSpatial = [ShapeDimension](repeating: .unknown, count: spatial.count)
            if let kernel, !kernel.contains(-1), spatial.allSatisfy({ $0 != nil }),
               let geo = try? WindowGeometry(ctx, inSize: spatial.map { $0! }, kernel: kernel, ceilMode: ((try? ctx.int("ceil_mode", 0)) ?? 0) == 1) {
                outSpatial = geo.outSize.map { .value($0) }
            }
            let out = [dims[0], channels] + outSpatial
            return op == "MaxPool" ? [shape(.float, out), shape(.int64, out)] : [shape(.float, out)]
        case "GlobalAveragePool", "GlobalMaxPool":
            guard let dims = first?.dims, dims.count >= 2 else { return [shape(.float, nil)] }
            return [shape(.float, Array(dims.prefix(2)) + [ShapeDimension](repeating: .value(1), count: dims.count - 2))]
        case "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare",
             "ReduceLogSum", "ReduceLogSumExp", "ArgMax", "ArgMin":
            guard let dims = first?.dims else { return [.unknown] }
            let type: ElementType? = op.hasPrefix("Arg") ? .int64 : first?.elementType
            var axes: [Int64]?
            if op.hasPrefix("Arg") { axes = [(try? ctx.int("axis", 0)) ?? 0] }
            else if ctx.opset >= (op == "ReduceSum" ? 13 : 18) { axes = ins.count > 1 && ins[1] != nil ? constInts(1) : [] }
            else { axes = ((try? ctx.ints("axes")) ?? nil) ?? [] }
            guard let given = axes else { return [shape(type, nil)] }
            let keep = ((try? ctx.int("keepdims", 1)) ?? 1) == 1
            if given.isEmpty && ((try? ctx.int("noop_with_empty_axes", 0)) ?? 0) == 1 { return [shape(type, dims)] }
            let set = Set(given.isEmpty ? Array(0..<dims.count) : given.compactMap { try? Shape.axis($0, rank: dims.count, op: "") })
            return [shape(type, keep ? dims.indices.map { set.contains($0) ? .value(1) : dims[$0] } : dims.indices.filter { !set.contains($0) }.map { dims[$0] })]
        case "Reshape":
            guard let target = ctx.opset < 5 ? ((try? ctx.ints("shape")) ?? nil) : constInts(1) else { return [shape(first?.elementType, nil)] }
            let allowZero = ((try? ctx.int("allowzero", 0)) ?? 0) == 1
            var out: [ShapeDimension] = target.enumerated().map { i, d in
                if d == 0 && !allowZero { return (first?.dims).flatMap { i < $0.count ? $0[i] : nil } ?? .unknown }
                return d < 0 ? .unknown : .value(Int(d))
            }
            if let total = first?.count, let k = target.firstIndex(of: -1) {
                let known = out.enumerated().filter { $0.offset != k }.map(\.element.value)
                if known.allSatisfy({ $0 != nil }) {
                    let p = known.reduce(1) { $0 * $1! }
                    if p > 0 { out[k] = .value(total / p) }
                }
            } else if let k = target.firstIndex(of: -1), let dims = first?.dims, dims.first.map({ if case .symbol = $0 { return true } else { return false } }) == true,
                      k == 0, out.dropFirst().allSatisfy({ $0.value != nil }), dims.dropFirst().allSatisfy({ $0.value != nil }) {
                // (N, …) reshaped to (−1, …) with the same per-sample size keeps the symbol.
                let per = dims.dropFirst().reduce(1) { $0 * $1.value! }, outPer = out.dropFirst().reduce(1) { $0 * $1.value! }
                if per == outPer { out[0] = dims[0] }
            }
            return [shape(first?.elementType, out)]
        case "Flatten":
            guard let dims = first?.dims else { return [.unknown] }
            let a = Int((try? ctx.int("axis", 1)) ?? 1)
            let axis = a < 0 ? a + dims.count : a
            guard axis >= 0 && axis <= dims.count else { return [.unknown] }
            func product(_ ds: ArraySlice<ShapeDimension>) -> ShapeDimension {
                if ds.count == 1 { return ds.first! }
                let vs = ds.compactMap(\.value)
                return vs.count == ds.count ? .value(vs.reduce(1, *)) : .unknown
            }
            return [shape(first?.elementType, [product(dims[..<axis]), product(dims[axis...])])]
        case "Transpose":
            guard let dims = first?.dims else { return [.unknown] }
            let perm = ((try? ctx.ints("perm")) ?? nil)?.map { Int($0) } ?? Array((0..<dims.count).reversed())
            guard perm.sorted() == Array(0..<dims.count) else { return [.unknown] }
            return [shape(first?.elementType, perm.map { dims[$0] })]
        case "Squeeze", "Unsqueeze":
            guard let dims = first?.dims else { return [.unknown] }
            let axes = ctx.opset >= 13 ? (ins.count > 1 ? constInts(1) : nil) : ((try? ctx.ints("axes")) ?? nil)
            if op == "Squeeze" {
                guard let axes else { return [shape(first?.elementType, dims.allSatisfy({ $0.value != nil }) ? dims.filter { $0 != .value(1) } : nil)] }
                let set = Set(axes.compactMap { try? Shape.axis($0, rank: dims.count, op: "") })
                return [shape(first?.elementType, dims.indices.filter { !set.contains($0) }.map { dims[$0] })]
            }
            guard let axes else { return [shape(first?.elementType, nil)] }
            let rank = dims.count + axes.count
            let set = Set(axes.compactMap { try? Shape.axis($0, rank: rank, op: "") })
            var it = dims.makeIterator()
            return [shape(first?.elementType, (0..<rank).map { set.contains($0) ? .value(1) : (it.next() ?? .unknown) })]
        case "Concat":
            guard let dims = first?.dims, let axis = try? Shape.axis((try? ctx.int("axis", 0)) ?? 0, rank: dims.count, op: "") else { return [.unknown] }
            var out = dims
            var total = 0
            for s in ins {
                guard let d = s?.dims?[axis].value else { out[axis] = .unknown; return [shape(first?.elementType, out)] }
                total += d
            }
            out[axis] = .value(total)
            return [shape(first?.elementType, out)]
        case "Gather":
            guard let dims = first?.dims, ins.count > 1, let idx = ins[1]?.dims,
                  let axis = try? Shape.axis((try? ctx.int("axis", 0)) ?? 0, rank: dims.count, op: "") else { return [.unknown] }
            return [shape(first?.elementType, Array(dims[..<axis]) + idx + Array(dims[(axis + 1)...]))]
        case "GatherElements":
            return [shape(first?.elementType, ins.count > 1 ? ins[1]?.dims : nil)]
        case "ai.onnx.ml:TreeEnsembleClassifier", "ai.onnx.ml:LinearClassifier":
            let labels = (try? ClassLabels(ctx))?.count
            let n = first?.dims?.first ?? .unknown
            let labelType: ElementType = (try? ctx.strings("classlabels_strings")).flatMap { $0 }.map { $0.isEmpty ? .int64 : .string } ?? .int64
            return [shape(labelType, [n]), shape(.float, [n, labels.map { .value($0) } ?? .unknown])]
        case "ai.onnx.ml:TreeEnsembleRegressor", "ai.onnx.ml:LinearRegressor":
            let targets = Int((try? ctx.int(op.hasSuffix("LinearRegressor") ? "targets" : "n_targets", 1)) ?? 1)
            return [shape(.float, [first?.dims?.first ?? .unknown, .value(targets)])]
        case "ai.onnx.ml:ZipMap":
            var s = shape(.float, first?.dims)
            s.isMapSequence = true
            return [s]
        case "ai.onnx.ml:ArrayFeatureExtractor":
            guard let dims = first?.dims, ins.count > 1, let k = ins[1]?.count else { return [.unknown] }
            return [shape(first?.elementType, dims.count == 1 ? [.value(1), .value(k)] : Array(dims.dropLast()) + [.value(k)])]
        case "ai.onnx.ml:LabelEncoder":
            return [shape(nil, first?.dims)]
        default:
            return ctx.node.outputs.map { _ in .unknown }
        }
    }
}
