/// Operators that move, select or create elements without arithmetic (any element type).

/// `axes` from the attribute (older opsets) or input 1 (opset ≥ `inputSince`).
func axesArgument(_ ctx: OpContext, _ inputs: [Tensor?], inputIndex: Int = 1, inputSince: Int64) throws -> [Int64]? {
    if ctx.opset >= inputSince { return try ctx.optionalInput(inputs, inputIndex)?.integers("axes") }
    return try ctx.ints("axes")
}

func gatherElements(_ t: Tensor, _ indices: [Int], shape: [Int]) -> Tensor {
    Tensor(elementType: t.elementType, shape: shape, storage: t.storage.gathered(indices))
}

func reshape(_ ctx: OpContext, _ data: Tensor, _ requested: [Int64], allowZero: Bool) throws -> Tensor {
    var shape: [Int] = []
    var inferred: Int? = nil
    for (i, d) in requested.enumerated() {
        switch d {
        case -1:
            guard inferred == nil else { throw ctx.error("shape \(requested) has more than one -1") }
            inferred = i
            shape.append(1)
        case 0 where !allowZero:
            guard i < data.rank else { throw ctx.error("shape \(requested): 0 at position \(i) copies a dimension the input (rank \(data.rank)) does not have") }
            shape.append(data.shape[i])
        case let v where v < 0: throw ctx.error("shape \(requested) has a negative dimension \(v)")
        default: shape.append(Int(d))
        }
    }
    try ctx.ensure(shape)  // also rules out products that overflow
    if let i = inferred {
        let known = Shape.count(shape)
        guard known > 0, data.count % known == 0 else { throw ctx.error("cannot infer the -1 in \(requested) for \(data.count) elements") }
        shape[i] = data.count / known
    }
    guard Shape.count(shape) == data.count else { throw ctx.error("cannot reshape \(data.shape) (\(data.count) elements) to \(shape)") }
    return data.reshaped(shape)
}

func sliceKernel(_ ctx: OpContext, _ inputs: [Tensor?]) throws -> Tensor {
    let data = try ctx.input(inputs, 0)
    let starts: [Int64], ends: [Int64], axesGiven: [Int64]?, stepsGiven: [Int64]?
    if ctx.opset < 10 {
        guard let s = try ctx.ints("starts"), let e = try ctx.ints("ends") else { throw ctx.error("attributes 'starts' and 'ends' are required") }
        starts = s; ends = e; axesGiven = try ctx.ints("axes"); stepsGiven = nil
    } else {
        starts = try ctx.input(inputs, 1).integers("starts")
        ends = try ctx.input(inputs, 2).integers("ends")
        axesGiven = try ctx.optionalInput(inputs, 3)?.integers("axes")
        stepsGiven = try ctx.optionalInput(inputs, 4)?.integers("steps")
    }
    let axes = axesGiven ?? (0..<Int64(starts.count)).map { $0 }
    let steps = stepsGiven ?? [Int64](repeating: 1, count: starts.count)
    guard ends.count == starts.count, axes.count == starts.count, steps.count == starts.count else {
        throw ctx.error("starts, ends, axes and steps must have the same length")
    }
    var begin = [Int](repeating: 0, count: data.rank), step = [Int](repeating: 1, count: data.rank)
    var outShape = data.shape
    var seen = Set<Int>()
    for k in 0..<starts.count {
        let a = try Shape.axis(axes[k], rank: data.rank, op: ctx.label)
        guard seen.insert(a).inserted else { throw ctx.error("axis \(a) is repeated") }
        let dim = Int64(data.shape[a]), s = steps[k]
        guard s != 0 else { throw ctx.error("steps must not be 0") }
        var lo = starts[k] < 0 ? starts[k] &+ dim : starts[k]
        var hi = ends[k] < 0 ? ends[k] &+ dim : ends[k]
        if s > 0 {
            lo = min(max(lo, 0), dim); hi = min(max(hi, 0), dim)
            outShape[a] = hi > lo ? Int((hi - lo - 1) / s + 1) : 0
        } else {
            lo = min(max(lo, -1), dim - 1); hi = min(max(hi, -1), dim - 1)
            outShape[a] = lo > hi ? Int(UInt64(lo - hi - 1) / s.magnitude + 1) : 0
        }
        begin[a] = Int(lo); step[a] = Int(s)
    }
    let strides = Shape.strides(data.shape)
    let base = zip(begin, strides).reduce(0) { $0 + $1.0 * $1.1 }
    let walkStrides = (0..<data.rank).map { strides[$0] * step[$0] }
    let idx = Shape.count(outShape) == 0 ? [] : Shape.walk(outShape, strides: walkStrides, base: base)
    return gatherElements(data, idx, shape: outShape)
}

func padKernel(_ ctx: OpContext, _ inputs: [Tensor?]) throws -> Tensor {
    let data = try ctx.input(inputs, 0)
    let mode = try ctx.string("mode", "constant")
    var pads: [Int64]
    var constant: Tensor? = nil
    var axes: [Int64]? = nil
    if ctx.opset < 11 {
        guard let p = try ctx.ints(ctx.opset < 2 ? "paddings" : "pads") else { throw ctx.error("attribute 'pads' is required") }
        pads = p
        let v = try ctx.float("value", 0)
        constant = try padConstant(ctx, v, data.elementType)
    } else {
        pads = try ctx.input(inputs, 1).integers("pads")
        constant = ctx.optionalInput(inputs, 2)
        axes = try ctx.optionalInput(inputs, 3)?.integers("axes")
    }
    let rank = data.rank
    let axisList = try (axes ?? (0..<Int64(rank)).map { $0 }).map { try Shape.axis($0, rank: rank, op: ctx.label) }
    guard pads.count == 2 * axisList.count else { throw ctx.error("pads has \(pads.count) values, expected \(2 * axisList.count)") }
    var before = [Int](repeating: 0, count: rank), after = [Int](repeating: 0, count: rank)
    guard pads.allSatisfy({ abs($0) <= Int64(limitsCeiling) }) else { throw ctx.error("pads \(pads) are out of range") }
    for (k, a) in axisList.enumerated() { before[a] = Int(pads[k]); after[a] = Int(pads[k + axisList.count]) }
    let outShape = (0..<rank).map { data.shape[$0] + before[$0] + after[$0] }
    guard outShape.allSatisfy({ $0 >= 0 }) else { throw ctx.error("pads \(pads) make a negative dimension") }
    try ctx.ensure(outShape)
    let total = Shape.count(outShape)
    let inStrides = Shape.strides(data.shape)
    var sources = [Int](repeating: -1, count: total)  // -1: the constant
    if total > 0 {
        var index = [Int](repeating: 0, count: rank)
        for o in 0..<total {
            var flat = 0
            var inside = true
            for d in 0..<rank {
                var i = index[d] - before[d]
                let n = data.shape[d]
                if i < 0 || i >= n {
                    switch mode {
                    case "constant": inside = false
                    case "edge":
                        guard n > 0 else { throw ctx.error("edge padding of an empty dimension") }
                        i = min(max(i, 0), n - 1)
                    case "reflect":
                        guard n > 0 else { throw ctx.error("reflect padding of an empty dimension") }
                        if n == 1 {
                            i = 0
                        } else {
                            let period = 2 * (n - 1)
                            var r = i % period
                            if r < 0 { r += period }
                            i = r < n ? r : period - r
                        }
                    case "wrap":
                        guard n > 0 else { throw ctx.error("wrap padding of an empty dimension") }
                        i = ((i % n) + n) % n
                    default: throw ctx.error("mode '\(mode)' is not constant, reflect, edge or wrap")
                    }
                }
                if !inside { break }
                flat += i * inStrides[d]
            }
            sources[o] = inside ? flat : -1
            var d = rank - 1
            while d >= 0 { index[d] += 1; if index[d] < outShape[d] { break }; index[d] = 0; d -= 1 }
        }
    }
    let fill = try constant.map { $0.storage } ?? padConstant(ctx, 0, data.elementType).storage
    guard fill.count >= 1 || !sources.contains(-1) else { throw ctx.error("constant_value is empty") }
    let joined = TensorStorage.concatenated([data.storage, fill.count >= 1 ? fill.gathered([0]) : fill], like: data.storage)
    return Tensor(elementType: data.elementType, shape: outShape, storage: joined.gathered(sources.map { $0 < 0 ? data.count : $0 }))
}

/// Larger than any tensor dimension can be (pads beyond it are errors, not overflows).
let limitsCeiling = 1 << 40

/// The padding value `value` as a one-element tensor of `type` (Cast's rules; "" for strings).
func padConstant(_ ctx: OpContext, _ value: Float, _ type: ElementType) throws -> Tensor {
    if type == .string { return Tensor(elementType: .string, shape: [1], storage: .string([[]])) }
    return try cast(ctx, .float([value], shape: [1]), to: type)
}

func topK(_ ctx: OpContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let x = try ctx.input(inputs, 0)
    let k: Int64 = ctx.opset < 10 ? try ctx.int("k", -1) : try ctx.input(inputs, 1).integers("K").first ?? -1
    let axis = try Shape.axis(try ctx.int("axis", -1), rank: x.rank, op: ctx.label)
    let largest = try ctx.int("largest", 1) != 0
    let n = x.shape[axis]
    guard k >= 0 && k <= n else { throw ctx.error("K = \(k) is outside 0…\(n) for axis \(axis) of \(x.shape)") }
    let keys = try x.doubles("TopK input")
    let outer = Shape.count(Array(x.shape[..<axis])), inner = Shape.count(Array(x.shape[(axis + 1)...]))
    var outShape = x.shape
    outShape[axis] = Int(k)
    var picks: [Int] = [], indices: [Int64] = []
    picks.reserveCapacity(Shape.count(outShape))
    var positions = [Int](repeating: 0, count: Shape.count(outShape))
    for o in 0..<outer {
        for i in 0..<inner {
            let base = o * n * inner + i
            // Order: by value (NaN greatest), ties by lower index: a total, stable order.
            let order = (0..<n).sorted { p, q in
                let a = keys[base + p * inner], b = keys[base + q * inner]
                if a.isNaN || b.isNaN { return a.isNaN && !b.isNaN ? largest : (!a.isNaN && b.isNaN ? !largest : p < q) }
                if a != b { return largest ? a > b : a < b }
                return p < q
            }
            for r in 0..<Int(k) {
                let dst = o * Int(k) * inner + r * inner + i
                positions[dst] = base + order[r] * inner
            }
        }
    }
    picks = positions
    indices = picks.map { Int64(($0 % (n * inner)) / inner) }
    return [gatherElements(x, picks, shape: outShape), .int64(indices, shape: outShape)]
}

func constantKernel(_ ctx: OpContext) throws -> Tensor {
    if let t = try ctx.tensor("value") { var v = t; v.name = ""; return v }
    if let a = ctx.node.attribute("value_float"), case .float(let f) = a.value { return .float([f], shape: []) }
    if let f = try ctx.floats("value_floats") { return .float(f, shape: [f.count]) }
    if let a = ctx.node.attribute("value_int"), case .int(let i) = a.value { return .int64([i], shape: []) }
    if let i = try ctx.ints("value_ints") { return .int64(i, shape: [i.count]) }
    if let a = ctx.node.attribute("value_string"), case .string(let s) = a.value { return Tensor(elementType: .string, shape: [], storage: .string([s])) }
    if let s = try ctx.strings("value_strings") { return Tensor(elementType: .string, shape: [s.count], storage: .string(s)) }
    if ctx.node.attribute("sparse_value") != nil { throw ctx.unsupported("sparse_value constants") }
    throw ctx.error("has no value attribute")
}

func rangeKernel(_ ctx: OpContext, _ inputs: [Tensor?]) throws -> Tensor {
    let s = try ctx.input(inputs, 0), l = try ctx.input(inputs, 1), d = try ctx.input(inputs, 2)
    guard s.elementType == l.elementType, s.elementType == d.elementType, s.count == 1, l.count == 1, d.count == 1 else {
        throw ctx.error("start, limit and delta must be scalars of one element type")
    }
    switch (s.storage, l.storage, d.storage) {
    case (.float(let a), .float(let b), .float(let c)):
        guard c[0] != 0 else { throw ctx.error("delta must not be 0") }
        let q = ((Double(b[0]) - Double(a[0])) / Double(c[0])).rounded(.up)
        guard !q.isNaN, q <= Double(ctx.limits.maxTensorElements) else { throw ctx.error("start, limit and delta give \(q) elements, over the cap") }
        let n = max(Int(max(q, -1)), 0)
        try ctx.ensure([n])
        return .float((0..<n).map { a[0] + Float($0) * c[0] }, shape: [n])
    case (.double(let a), .double(let b), .double(let c)):
        guard c[0] != 0 else { throw ctx.error("delta must not be 0") }
        let q = ((b[0] - a[0]) / c[0]).rounded(.up)
        guard !q.isNaN, q <= Double(ctx.limits.maxTensorElements) else { throw ctx.error("start, limit and delta give \(q) elements, over the cap") }
        let n = max(Int(max(q, -1)), 0)
        try ctx.ensure([n])
        return Tensor(elementType: .double, shape: [n], storage: .double((0..<n).map { a[0] + Double($0) * c[0] }))
    case (.int64(let a), .int64(let b), .int64(let c)):
        guard c[0] != 0 else { throw ctx.error("delta must not be 0") }
        // Elements: ceil((limit − start) / delta) when that is positive, in unsigned magnitudes.
        let (span, overflow) = b[0].subtractingReportingOverflow(a[0])
        guard !overflow else { throw ctx.error("limit − start overflows int64") }
        var n = 0
        if span != 0 && (span > 0) == (c[0] > 0) {
            let count = (span.magnitude - 1) / c[0].magnitude + 1
            guard count <= UInt64(ctx.limits.maxTensorElements) else { throw ctx.error("start, limit and delta give \(count) elements, over the cap") }
            n = Int(count)
        }
        try ctx.ensure([n])
        return Tensor(elementType: s.elementType, shape: [n], storage: .int64((0..<n).map { a[0] + Int64($0) * c[0] }))
    default: throw ctx.unsupported("element type \(s.elementType) is not supported by Range")
    }
}

let shapeKernels: [String: Kernel] = [
    "Identity": { ctx, i in [try ctx.input(i, 0)] },
    "Dropout": { ctx, i in
        let x = try ctx.input(i, 0)
        if ctx.opset >= 12, let training = ctx.optionalInput(i, 2), try training.integers("training_mode").first == 1 {
            throw ctx.unsupported("Dropout in training mode is random")
        }
        return [x, .bool([Bool](repeating: true, count: x.count), shape: x.shape)]
    },
    "Reshape": { ctx, i in
        let data = try ctx.input(i, 0)
        let shape: [Int64] = ctx.opset < 5 ? (try ctx.ints("shape") ?? []) : try ctx.input(i, 1).integers("shape")
        return [try reshape(ctx, data, shape, allowZero: try ctx.int("allowzero", 0) == 1)]
    },
    "Flatten": { ctx, i in
        let x = try ctx.input(i, 0)
        let a = try ctx.int("axis", 1)
        let axis = a < 0 ? Int(a) + x.rank : Int(a)
        guard axis >= 0 && axis <= x.rank else { throw ctx.error("axis \(a) is out of range for rank \(x.rank)") }
        return [x.reshaped([Shape.count(Array(x.shape[..<axis])), Shape.count(Array(x.shape[axis...]))])]
    },
    "Transpose": { ctx, i in
        let x = try ctx.input(i, 0)
        let perm = try ctx.ints("perm").map { $0.map(Int.init) } ?? Array((0..<x.rank).reversed())
        guard perm.sorted() == Array(0..<x.rank) else { throw ctx.error("perm \(perm) is not a permutation of 0..<\(x.rank)") }
        let shape = perm.map { x.shape[$0] }
        if case .float(let v) = x.storage {
            // Float32 values are copied straight along the permuted strides (no index table).
            let y = [Float](unsafeUninitializedCapacity: v.count) { out, count in
                v.withUnsafeBufferPointer { v in
                    Shape.visitRows(shape, strides: Shape.transposeStrides(x.shape, perm: perm)) { k, flat, length, step in
                        let source = v.baseAddress! + flat, target = out.baseAddress! + k
                        if step == 1 { target.update(from: source, count: length) }
                        else { for i in 0..<length { target[i] = source[i &* step] } }
                    }
                }
                count = v.count
            }
            return [.float(y, shape: shape)]
        }
        return [gatherElements(x, Shape.transposeIndices(x.shape, perm: perm), shape: shape)]
    },
    "Squeeze": { ctx, i in
        let x = try ctx.input(i, 0)
        let axes = try axesArgument(ctx, i, inputSince: 13)
        var drop = Set<Int>()
        if let axes {
            for a in axes {
                let axis = try Shape.axis(a, rank: x.rank, op: ctx.label)
                guard x.shape[axis] == 1 else { throw ctx.error("cannot squeeze axis \(axis) of size \(x.shape[axis])") }
                drop.insert(axis)
            }
        } else {
            drop = Set(x.shape.indices.filter { x.shape[$0] == 1 })
        }
        return [x.reshaped(x.shape.indices.filter { !drop.contains($0) }.map { x.shape[$0] })]
    },
    "Unsqueeze": { ctx, i in
        let x = try ctx.input(i, 0)
        guard let axes = try axesArgument(ctx, i, inputSince: 13) else { throw ctx.error("axes are required") }
        let rank = x.rank + axes.count
        let positions = try Set(axes.map { try Shape.axis($0, rank: rank, op: ctx.label) })
        guard positions.count == axes.count else { throw ctx.error("axes \(axes) repeat an axis") }
        var shape: [Int] = []
        var next = 0
        for d in 0..<rank {
            if positions.contains(d) { shape.append(1) } else { shape.append(x.shape[next]); next += 1 }
        }
        return [x.reshaped(shape)]
    },
    "Concat": { ctx, i in
        let parts = i.compactMap { $0 }
        guard let first = parts.first else { throw ctx.error("needs at least one input") }
        let axis = try Shape.axis(try ctx.int("axis", ctx.opset < 4 ? 1 : Int64.max), rank: first.rank, op: ctx.label)
        for p in parts {
            guard p.elementType == first.elementType, p.rank == first.rank,
                  (0..<first.rank).allSatisfy({ $0 == axis || p.shape[$0] == first.shape[$0] }) else {
                throw ctx.error("inputs of shapes \(parts.map(\.shape)) cannot be joined on axis \(axis)")
            }
        }
        var outShape = first.shape
        outShape[axis] = parts.reduce(0) { $0 + $1.shape[axis] }
        let outer = Shape.count(Array(first.shape[..<axis]))
        let inner = Shape.count(Array(first.shape[(axis + 1)...]))
        var idx: [Int] = []
        idx.reserveCapacity(Shape.count(outShape))
        var offsets: [Int] = []
        var total = 0
        for p in parts { offsets.append(total); total += p.count }
        for o in 0..<outer {
            for (k, p) in parts.enumerated() {
                let chunk = p.shape[axis] * inner
                for e in 0..<chunk { idx.append(offsets[k] + o * chunk + e) }
            }
        }
        let joined = TensorStorage.concatenated(parts.map(\.storage), like: first.storage)
        return [Tensor(elementType: first.elementType, shape: outShape, storage: joined.gathered(idx))]
    },
    "Split": { ctx, i in
        let x = try ctx.input(i, 0)
        let axis = try Shape.axis(try ctx.int("axis", 0), rank: x.rank, op: ctx.label)
        let n = x.shape[axis]
        let outputs = ctx.node.outputs.count
        var sizes: [Int]
        if let given = ctx.opset >= 13 ? try ctx.optionalInput(i, 1)?.integers("split") : try ctx.ints("split") {
            sizes = given.map(Int.init)
        } else if ctx.opset >= 18, ctx.node.attribute("num_outputs") != nil {
            let parts = Int(try ctx.int("num_outputs", 1))
            guard parts >= 1 else { throw ctx.error("num_outputs must be positive") }
            let size = (n + parts - 1) / parts
            sizes = (0..<parts).map { Swift.max(0, Swift.min(size, n - $0 * size)) }
        } else {
            guard outputs > 0, n % outputs == 0 else { throw ctx.error("axis \(axis) of size \(n) does not split evenly into \(outputs) outputs") }
            sizes = [Int](repeating: n / outputs, count: outputs)
        }
        guard sizes.allSatisfy({ $0 >= 0 && $0 <= n }), sizes.reduce(0, +) == n else { throw ctx.error("split sizes \(sizes) do not add up to \(n)") }
        let strides = Shape.strides(x.shape)
        var start = 0
        return sizes.map { size in
            var shape = x.shape
            shape[axis] = size
            let idx = Shape.count(shape) == 0 ? [] : Shape.walk(shape, strides: strides, base: start * strides[axis])
            start += size
            return gatherElements(x, idx, shape: shape)
        }
    },
    "Slice": { ctx, i in [try sliceKernel(ctx, i)] },
    "Gather": { ctx, i in
        let data = try ctx.input(i, 0), indices = try ctx.input(i, 1)
        let axis = try Shape.axis(try ctx.int("axis", 0), rank: data.rank, op: ctx.label)
        let n = data.shape[axis]
        let raw = try indices.integers("indices")
        let normalized = try raw.map { v -> Int in
            guard v >= -Int64(n) && v < Int64(n) else { throw ctx.error("index \(v) is out of range for axis \(axis) of size \(n)") }
            return Int(v < 0 ? v + Int64(n) : v)
        }
        let outer = Shape.count(Array(data.shape[..<axis])), inner = Shape.count(Array(data.shape[(axis + 1)...]))
        var idx: [Int] = []
        idx.reserveCapacity(outer * normalized.count * inner)
        for o in 0..<outer { for g in normalized { for e in 0..<inner { idx.append((o * n + g) * inner + e) } } }
        return [gatherElements(data, idx, shape: Array(data.shape[..<axis]) + indices.shape + Array(data.shape[(axis + 1)...]))]
    },
    "GatherElements": { ctx, i in
        let data = try ctx.input(i, 0), indices = try ctx.input(i, 1)
        let axis = try Shape.axis(try ctx.int("axis", 0), rank: data.rank, op: ctx.label)
        guard indices.rank == data.rank, (0..<data.rank).allSatisfy({ $0 == axis || indices.shape[$0] <= data.shape[$0] }) else {
            throw ctx.error("indices \(indices.shape) must have the data's rank and fit within its shape \(data.shape) off the axis")
        }
        let raw = try indices.integers("indices")
        let ds = Shape.strides(data.shape), n = data.shape[axis]
        let positions = Shape.walk(indices.shape, strides: (0..<data.rank).map { $0 == axis ? 0 : ds[$0] }, base: 0)
        let idx = try zip(positions, raw).map { p, v -> Int in
            guard v >= -Int64(n) && v < Int64(n) else { throw ctx.error("index \(v) is out of range for axis \(axis) of size \(n)") }
            return p + Int(v < 0 ? v + Int64(n) : v) * ds[axis]
        }
        return [gatherElements(data, idx, shape: indices.shape)]
    },
    "Expand": { ctx, i in
        let x = try ctx.input(i, 0)
        let target = try ctx.input(i, 1).integers("shape").map(Int.init)
        guard target.allSatisfy({ $0 >= 0 }) else { throw ctx.error("shape \(target) has a negative dimension") }
        let out = try Shape.broadcast([x.shape, target], op: ctx.label)
        try ctx.ensure(out)
        return [gatherElements(x, Shape.broadcastIndices(from: x.shape, to: out), shape: out)]
    },
    "Tile": { ctx, i in
        let x = try ctx.input(i, 0)
        let repeats = try ctx.input(i, 1).integers("repeats")
        guard repeats.count == x.rank, repeats.allSatisfy({ $0 >= 0 }) else { throw ctx.error("repeats \(repeats) must have one non-negative value per axis (rank \(x.rank))") }
        try ctx.ensure(repeats.map { Int(clamping: $0) } + x.shape)
        let out = (0..<x.rank).map { x.shape[$0] * Int(repeats[$0]) }
        let strides = Shape.strides(x.shape)
        var idx = [Int](repeating: 0, count: Shape.count(out))
        if !idx.isEmpty {
            var index = [Int](repeating: 0, count: x.rank)
            for o in idx.indices {
                idx[o] = (0..<x.rank).reduce(0) { $0 + (index[$1] % x.shape[$1]) * strides[$1] }
                var d = x.rank - 1
                while d >= 0 { index[d] += 1; if index[d] < out[d] { break }; index[d] = 0; d -= 1 }
            }
        }
        return [gatherElements(x, idx, shape: out)]
    },
    "Pad": { ctx, i in [try padKernel(ctx, i)] },
    "Shape": { ctx, i in
        let x = try ctx.input(i, 0)
        let r = Int64(x.rank)
        func clamp(_ v: Int64) -> Int { Int(Swift.min(Swift.max(v < 0 ? v + r : v, 0), r)) }
        let start = clamp(try ctx.int("start", 0)), end = clamp(try ctx.int("end", r))
        let dims = start < end ? x.shape[start..<end].map { Int64($0) } : []
        return [.int64(dims, shape: [dims.count])]
    },
    "Size": { ctx, i in [.int64([Int64(try ctx.input(i, 0).count)], shape: [])] },
    "Constant": { ctx, _ in [try constantKernel(ctx)] },
    "ConstantOfShape": { ctx, i in
        let shape = try ctx.input(i, 0).integers("shape")
        guard shape.allSatisfy({ $0 >= 0 }) else { throw ctx.error("shape \(shape) has a negative dimension") }
        let dims = shape.map(Int.init)
        let n = dims.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
        try ctx.ensure(dims)
        let value = try ctx.tensor("value") ?? .float([0], shape: [1])
        guard value.count == 1 else { throw ctx.error("value must hold exactly one element") }
        return [Tensor(elementType: value.elementType, shape: dims, storage: value.storage.repeated(0, count: n))]
    },
    "Range": { ctx, i in [try rangeKernel(ctx, i)] },
    "TopK": { ctx, i in try topK(ctx, i) },
]
