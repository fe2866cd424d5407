/// Reductions. Every reduction visits its elements in row-major order of the reduced
/// axes and accumulates left to right in the element type (docs/determinism.md).

/// The plan of a reduction: for each output element, its base offset in the input; for
/// each step of the reduction, the offset added to the base.
struct ReductionPlan {
    let outShape: [Int]
    let bases: [Int]
    let steps: [Int]

    init(shape: [Int], axes reduced: Set<Int>, keepDims: Bool) {
        let strides = Shape.strides(shape)
        let kept = shape.indices.filter { !reduced.contains($0) }
        let gone = shape.indices.filter { reduced.contains($0) }
        bases = Shape.walk(kept.map { shape[$0] }, strides: kept.map { strides[$0] }, base: 0)
        steps = Shape.walk(gone.map { shape[$0] }, strides: gone.map { strides[$0] }, base: 0)
        outShape = keepDims ? shape.indices.map { reduced.contains($0) ? 1 : shape[$0] } : kept.map { shape[$0] }
    }
}

/// Reduced axes from the attribute (before `inputSince`) or input 1; nil = all axes
/// (or none, with noop_with_empty_axes).
func reductionAxes(_ ctx: OpContext, _ inputs: [Tensor?], rank: Int, inputSince: Int64) throws -> Set<Int>? {
    let given = try axesArgument(ctx, inputs, inputSince: inputSince)
    if let given, !given.isEmpty { return Set(try given.map { try Shape.axis($0, rank: rank, op: ctx.label) }) }
    if try ctx.int("noop_with_empty_axes", 0) == 1 { return nil }
    return Set(0..<rank)
}

enum FloatReduction {
    case sum, mean, max, min, prod, l1, l2, sumSquare, logSum, logSumExp
}

func reduce(_ ctx: OpContext, _ inputs: [Tensor?], _ kind: FloatReduction, inputSince: Int64) throws -> Tensor {
    let x = try ctx.input(inputs, 0)
    guard let axes = try reductionAxes(ctx, inputs, rank: x.rank, inputSince: inputSince) else { return x }
    let plan = ReductionPlan(shape: x.shape, axes: axes, keepDims: try ctx.int("keepdims", 1) == 1)
    let n = plan.steps.count
    switch x.storage {
    case .float(let v):
        let out: [Float] = plan.bases.map { base in
            switch kind {
            case .sum, .mean, .logSum:
                var acc: Float = 0
                for s in plan.steps { acc = acc + v[base + s] }
                return kind == .mean ? acc / Float(n) : (kind == .logSum ? M.log(acc) : acc)
            case .max, .min:
                var acc: Float = kind == .max ? -.infinity : .infinity
                for s in plan.steps { acc = kind == .max ? nanPropagatingMax(acc, v[base + s]) : nanPropagatingMin(acc, v[base + s]) }
                return acc
            case .prod:
                var acc: Float = 1
                for s in plan.steps { acc = acc * v[base + s] }
                return acc
            case .l1:
                var acc: Float = 0
                for s in plan.steps { acc = acc + abs(v[base + s]) }
                return acc
            case .l2, .sumSquare:
                var acc: Float = 0
                for s in plan.steps { acc = acc.addingProduct(v[base + s], v[base + s]) }
                return kind == .l2 ? acc.squareRoot() : acc
            case .logSumExp:
                var m: Float = -.infinity
                for s in plan.steps { m = nanPropagatingMax(m, v[base + s]) }
                if m.isInfinite || m.isNaN { m = m.isNaN ? m : 0 }
                var acc: Float = 0
                for s in plan.steps { acc = acc + M.exp(v[base + s] - m) }
                return M.log(acc) + m
            }
        }
        return .float(out, shape: plan.outShape)
    case .double(let v):
        let out: [Double] = plan.bases.map { base in
            switch kind {
            case .sum, .mean:
                var acc = 0.0
                for s in plan.steps { acc = acc + v[base + s] }
                return kind == .mean ? acc / Double(n) : acc
            case .max, .min:
                var acc: Double = kind == .max ? -.infinity : .infinity
                for s in plan.steps { acc = kind == .max ? nanPropagatingMax(acc, v[base + s]) : nanPropagatingMin(acc, v[base + s]) }
                return acc
            case .prod:
                var acc = 1.0
                for s in plan.steps { acc = acc * v[base + s] }
                return acc
            case .l1:
                var acc = 0.0
                for s in plan.steps { acc = acc + abs(v[base + s]) }
                return acc
            case .l2, .sumSquare:
                var acc = 0.0
                for s in plan.steps { acc = acc.addingProduct(v[base + s], v[base + s]) }
                return kind == .l2 ? acc.squareRoot() : acc
            case .logSum:
                var acc = 0.0
                for s in plan.steps { acc = acc + v[base + s] }
                return M.log(acc)
            case .logSumExp:
                var m = -Double.infinity
                for s in plan.steps { m = nanPropagatingMax(m, v[base + s]) }
                if m.isInfinite { m = 0 }
                var acc = 0.0
                for s in plan.steps { acc = acc + M.exp(v[base + s] - m) }
                return M.log(acc) + m
            }
        }
        return Tensor(elementType: .double, shape: plan.outShape, storage: .double(out))
    case .int64(let v) where x.elementType != .bool:
        let type = x.elementType
        let out: [Int64] = try plan.bases.map { base in
            switch kind {
            case .sum, .mean:
                var acc: Int64 = 0
                for s in plan.steps { acc = acc &+ v[base + s] }
                return kind == .mean ? (n == 0 ? 0 : acc / Int64(n)) : wrap(acc, to: type)
            case .max:
                var acc = Int64.min
                for s in plan.steps { acc = Swift.max(acc, v[base + s]) }
                return n == 0 ? minimumValue(type) : acc
            case .min:
                var acc = Int64.max
                for s in plan.steps { acc = Swift.min(acc, v[base + s]) }
                return n == 0 ? maximumValue(type) : acc
            case .prod:
                var acc: Int64 = 1
                for s in plan.steps { acc = acc &* v[base + s] }
                return wrap(acc, to: type)
            case .l1:
                var acc: Int64 = 0
                for s in plan.steps { acc = acc &+ Swift.abs(v[base + s]) }
                return wrap(acc, to: type)
            case .sumSquare:
                var acc: Int64 = 0
                for s in plan.steps { acc = acc &+ v[base + s] &* v[base + s] }
                return wrap(acc, to: type)
            default: throw ctx.unsupported("element type \(type) is not supported by \(ctx.node.opType)")
            }
        }
        return Tensor(elementType: type, shape: plan.outShape, storage: .int64(out))
    default:
        throw ctx.unsupported("element type \(x.elementType) is not supported by \(ctx.node.opType)")
    }
}

func minimumValue(_ t: ElementType) -> Int64 {
    switch t {
    case .int8: return Int64(Int8.min)
    case .int16: return Int64(Int16.min)
    case .int32: return Int64(Int32.min)
    case .uint8, .uint16, .uint32: return 0
    default: return .min
    }
}

func maximumValue(_ t: ElementType) -> Int64 {
    switch t {
    case .int8: return Int64(Int8.max)
    case .uint8: return Int64(UInt8.max)
    case .int16: return Int64(Int16.max)
    case .uint16: return Int64(UInt16.max)
    case .int32: return Int64(Int32.max)
    case .uint32: return Int64(UInt32.max)
    default: return .max
    }
}

/// ArgMax/ArgMin: the first (or last) position of the extreme along one axis; a NaN
/// counts as the extreme, as in numpy.
func argExtreme(_ ctx: OpContext, _ inputs: [Tensor?], max: Bool) throws -> Tensor {
    let x = try ctx.input(inputs, 0)
    let axis = try Shape.axis(try ctx.int("axis", 0), rank: x.rank, op: ctx.label)
    let last = try ctx.int("select_last_index", 0) == 1
    let plan = ReductionPlan(shape: x.shape, axes: [axis], keepDims: try ctx.int("keepdims", 1) == 1)
    guard x.shape[axis] > 0 else { throw ctx.error("cannot take \(ctx.node.opType) over an empty axis") }
    let v = try x.doubles("\(ctx.node.opType) input")
    let out: [Int64] = plan.bases.map { base in
        var best = 0
        var bestValue = v[base]
        for (k, s) in plan.steps.enumerated().dropFirst() {
            let value = v[base + s]
            if bestValue.isNaN && !last { break }
            let better: Bool
            if value.isNaN { better = true } else if bestValue.isNaN { better = false } else if value == bestValue { better = last } else { better = max ? value > bestValue : value < bestValue }
            if better { best = k; bestValue = value }
        }
        return Int64(best)
    }
    return .int64(out, shape: plan.outShape)
}

func cumSum(_ ctx: OpContext, _ inputs: [Tensor?]) throws -> Tensor {
    let x = try ctx.input(inputs, 0)
    let axis = try Shape.axis(try ctx.input(inputs, 1).integers("axis").first ?? 0, rank: x.rank, op: ctx.label)
    let exclusive = try ctx.int("exclusive", 0) == 1, reverse = try ctx.int("reverse", 0) == 1
    let plan = ReductionPlan(shape: x.shape, axes: [axis], keepDims: true)
    let steps = reverse ? Array(plan.steps.reversed()) : plan.steps
    func run<T>(_ v: [T], zero: T, _ add: (T, T) -> T) -> [T] {
        var out = v
        for base in plan.bases {
            var acc = zero
            for s in steps {
                let value = v[base + s]
                if exclusive { out[base + s] = acc; acc = add(acc, value) } else { acc = add(acc, value); out[base + s] = acc }
            }
        }
        return out
    }
    var t = x
    t.name = ""
    switch x.storage {
    case .float(let v): t.storage = .float(run(v, zero: 0, +))
    case .double(let v): t.storage = .double(run(v, zero: 0, +))
    case .int64(let v) where x.elementType != .bool: t.storage = .int64(run(v, zero: 0) { wrap($0 &+ $1, to: x.elementType) })
    case .uint64(let v): t.storage = .uint64(run(v, zero: 0, &+))
    default: throw ctx.unsupported("element type \(x.elementType) is not supported by CumSum")
    }
    return t
}

let reduceKernels: [String: Kernel] = [
    "ReduceSum": { ctx, i in [try reduce(ctx, i, .sum, inputSince: 13)] },
    "ReduceMean": { ctx, i in [try reduce(ctx, i, .mean, inputSince: 18)] },
    "ReduceMax": { ctx, i in [try reduce(ctx, i, .max, inputSince: 18)] },
    "ReduceMin": { ctx, i in [try reduce(ctx, i, .min, inputSince: 18)] },
    "ReduceProd": { ctx, i in [try reduce(ctx, i, .prod, inputSince: 18)] },
    "ReduceL1": { ctx, i in [try reduce(ctx, i, .l1, inputSince: 18)] },
    "ReduceL2": { ctx, i in [try reduce(ctx, i, .l2, inputSince: 18)] },
    "ReduceSumSquare": { ctx, i in [try reduce(ctx, i, .sumSquare, inputSince: 18)] },
    "ReduceLogSum": { ctx, i in [try reduce(ctx, i, .logSum, inputSince: 18)] },
    "ReduceLogSumExp": { ctx, i in [try reduce(ctx, i, .logSumExp, inputSince: 18)] },
    "ArgMax": { ctx, i in [try argExtreme(ctx, i, max: true)] },
    "ArgMin": { ctx, i in [try argExtreme(ctx, i, max: false)] },
    "CumSum": { ctx, i in [try cumSum(ctx, i)] },
]
