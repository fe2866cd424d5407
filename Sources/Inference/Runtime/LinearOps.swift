import Foundation

/// MatMul, Gemm and Einsum. Every dot product is one sequential fma chain from +0
/// (`MatrixProduct`), whatever the path or thread count.

/// numpy matmul on float32 with batch broadcasting. `ctx.packedWeights` is B packed at
/// load when B is a constant matrix.
func matmulFloat(_ ctx: OpContext, _ a: Tensor, _ b: Tensor) throws -> Tensor {
    let x = try a.floats("MatMul"), y = try b.floats("MatMul")
    guard a.rank >= 1, b.rank >= 1 else { throw ctx.error("MatMul inputs must have rank >= 1, got shapes \(a.shape) and \(b.shape)") }
    let aShape = a.rank == 1 ? [1, a.shape[0]] : a.shape
    let bShape = b.rank == 1 ? [b.shape[0], 1] : b.shape
    let m = aShape[aShape.count - 2], k = aShape[aShape.count - 1]
    let k2 = bShape[bShape.count - 2], n = bShape[bShape.count - 1]
    guard k == k2 else { throw ctx.error("inner dimensions differ: \(a.shape) × \(b.shape) (\(k) vs \(k2))") }
    let aBatch = Array(aShape.dropLast(2)), bBatch = Array(bShape.dropLast(2))
    let batch = try Shape.broadcast([aBatch, bBatch], op: ctx.label)
    var outShape = batch + [m, n]
    try ctx.ensure(outShape)
    let count = Shape.count(batch)
    let values = [Float](unsafeUninitializedCapacity: count * m * n) { out, initialized in
        x.withUnsafeBufferPointer { px in
            y.withUnsafeBufferPointer { py in
                guard let c = out.baseAddress else { return }
                guard k > 0, let pa = px.baseAddress, let pb = py.baseAddress else { c.initialize(repeating: 0, count: out.count); return }
                if bBatch.allSatisfy({ $0 == 1 }) && aBatch == batch {
                    // B is one matrix: fold A's batch into its rows, one product.
                    let operand = ctx.rightOperand(pb, ldb: n, k: k, n: n)
                    MatrixProduct.multiply(pa, lda: k, operand, c, ldc: n, m: count * m, k: k, n: n, epilogue: nil, options: ctx.options, workspace: ctx.workspace)
                } else {
                    let ai = Shape.broadcastIndices(from: aBatch, to: batch), bi = Shape.broadcastIndices(from: bBatch, to: batch)
                    for t in 0..<count {
                        MatrixProduct.multiply(pa + ai[t] * m * k, lda: k, .rowMajor(pb + bi[t] * k * n, ldb: n), c + t * m * n, ldc: n,
                                               m: m, k: k, n: n, epilogue: nil, options: ctx.options, workspace: ctx.workspace)
                    }
                }
            }
        }
        initialized = count * m * n
    }
    if a.rank == 1 { outShape.remove(at: outShape.count - 2) }
    if b.rank == 1 { outShape.removeLast() }
    return .float(values, shape: outShape)
}

/// numpy matmul for int and double (reference loops; wrapped integer arithmetic).
func matmulOther(_ ctx: OpContext, _ a: Tensor, _ b: Tensor) throws -> Tensor {
    guard a.elementType == b.elementType else { throw ctx.error("inputs have different element types (\(a.elementType), \(b.elementType))") }
    guard a.rank >= 1, b.rank >= 1 else { throw ctx.error("MatMul inputs must have rank >= 1") }
    let aShape = a.rank == 1 ? [1, a.shape[0]] : a.shape
    let bShape = b.rank == 1 ? [b.shape[0], 1] : b.shape
    let m = aShape[aShape.count - 2], k = aShape[aShape.count - 1], n = bShape[bShape.count - 1]
    guard k == bShape[bShape.count - 2] else { throw ctx.error("inner dimensions differ: \(a.shape) × \(b.shape)") }
    let aBatch = Array(aShape.dropLast(2)), bBatch = Array(bShape.dropLast(2))
    let batch = try Shape.broadcast([aBatch, bBatch], op: ctx.label)
    let ai = Shape.broadcastIndices(from: aBatch, to: batch), bi = Shape.broadcastIndices(from: bBatch, to: batch)
    var outShape = batch + [m, n]
    try ctx.ensure(outShape)
    if a.rank == 1 { outShape.remove(at: outShape.count - 2) }
    if b.rank == 1 { outShape.removeLast() }
    func run<T>(_ x: [T], _ y: [T], zero: T, _ step: (T, T, T) -> T) -> [T] {
        var out: [T] = []
        for t in 0..<Shape.count(batch) {
            for i in 0..<m {
                for j in 0..<n {
                    var acc = zero
                    for p in 0..<k { acc = step(x[ai[t] * m * k + i * k + p], y[bi[t] * k * n + p * n + j], acc) }
                    out.append(acc)
                }
            }
        }
        return out
    }
    switch (a.storage, b.storage) {
    case (.double(let x), .double(let y)):
        return Tensor(elementType: .double, shape: outShape, storage: .double(run(x, y, zero: 0) { $2.addingProduct($0, $1) }))
    case (.int64(let x), .int64(let y)):
        let type = a.elementType
        return Tensor(elementType: type, shape: outShape, storage: .int64(run(x, y, zero: 0) { wrap($2 &+ $0 &* $1, to: type) }))
    case (.uint64(let x), .uint64(let y)):
        return Tensor(elementType: .uint64, shape: outShape, storage: .uint64(run(x, y, zero: 0) { $2 &+ $0 &* $1 }))
    default: throw ctx.unsupported("element type \(a.elementType) is not supported by MatMul")
    }
}

/// A row-major matrix, transposed.
func transposed(_ v: [Float], rows: Int, cols: Int) -> [Float] {
    var out = [Float](repeating: 0, count: v.count)
    for r in 0..<rows { for c in 0..<cols { out[c * rows + r] = v[r * cols + c] } }
    return out
}

func gemm(_ ctx: OpContext, _ inputs: [Tensor?]) throws -> Tensor {
    let a = try ctx.input(inputs, 0), b = try ctx.input(inputs, 1)
    guard a.rank == 2, b.rank == 2 else { throw ctx.error("A and B must be matrices, got shapes \(a.shape) and \(b.shape)") }
    let transA = try ctx.int("transA", 0) != 0, transB = try ctx.int("transB", 0) != 0
    let alpha = try ctx.float("alpha", 1), beta = try ctx.float("beta", 1)
    var x = try a.floats("Gemm"), y = try b.floats("Gemm")
    let m = transA ? a.shape[1] : a.shape[0], k = transA ? a.shape[0] : a.shape[1]
    let kb = transB ? b.shape[1] : b.shape[0], n = transB ? b.shape[0] : b.shape[1]
    guard k == kb else { throw ctx.error("inner dimensions differ: A \(a.shape)\(transA ? "ᵀ" : ""), B \(b.shape)\(transB ? "ᵀ" : "")") }
    try ctx.ensure([m, n])
    let c = ctx.optionalInput(inputs, 2)
    let cv = try c?.floats("Gemm") ?? []
    if let c {
        guard Shape.broadcast(shapes: c.shape, fitInto: [m, n]) else { throw ctx.error("C of shape \(c.shape) does not broadcast to (\(m), \(n))") }
    }
    // A C with one value per column is added in the product's epilogue; any other
    // broadcast of C afterwards, by the same rule (out + β·c per element).
    let biasPerColumn = c.map { cv.count == n && ($0.rank < 2 || $0.shape[0] == 1) } ?? false
    if transA { x = transposed(x, rows: a.shape[0], cols: a.shape[1]) }
    let packed = ctx.packedWeights(k: k, n: n) != nil
    if transB && !packed { y = transposed(y, rows: b.shape[0], cols: b.shape[1]) }
    var out = [Float](unsafeUninitializedCapacity: m * n) { out, initialized in
        x.withUnsafeBufferPointer { px in
            y.withUnsafeBufferPointer { py in
                cv.withUnsafeBufferPointer { pc in
                    guard let o = out.baseAddress else { return }
                    let epilogue = GemmEpilogue(alpha: alpha, beta: beta, bias: biasPerColumn ? pc.baseAddress : nil,
                                                relu: ctx.fusedRelu && (c == nil || biasPerColumn))
                    if k > 0, let pa = px.baseAddress, let pb = py.baseAddress {
                        let operand = ctx.rightOperand(pb, ldb: n, k: k, n: n)
                        MatrixProduct.multiply(pa, lda: k, operand, o, ldc: n, m: m, k: k, n: n, epilogue: epilogue, options: ctx.options, workspace: ctx.workspace)
                    } else {
                        // An empty sum is +0; the epilogue still applies.
                        for i in 0..<m { for j in 0..<n { o[i * n + j] = epilogue.apply(0, column: j) } }
                    }
                }
            }
        }
        initialized = m * n
    }
    if let c, !biasPerColumn {
        let ci = Shape.broadcastIndices(from: c.shape, to: [m, n])
        for i in out.indices { out[i] = out[i] + beta * cv[ci[i]] }
        if ctx.fusedRelu { for i in out.indices { out[i] = rectified(out[i]) } }
    }
    return .float(out, shape: [m, n])
}

extension OpContext {
    /// The node's B packed at load, when the fast path runs and it is the K×N matrix used.
    func packedWeights(k: Int, n: Int) -> PackedMatrix? {
        guard options.path == .fast, let packedWeights, packedWeights.rows == k, packedWeights.columns == n else { return nil }
        return packedWeights
    }

    /// Where the product reads B: packed at load when there is such a B, else `b` row-major.
    func rightOperand(_ b: UnsafePointer<Float>, ldb: Int, k: Int, n: Int) -> MatrixProduct.RightOperand {
        packedWeights(k: k, n: n).map { .packed($0) } ?? .rowMajor(b, ldb: ldb)
    }
}

/// B of a MatMul or Gemm node packed for the fast kernel, when B is a constant float
/// matrix (`weights`, from the model) whose packing pads it by at most a quarter: done
/// once, at load.
func packedWeights(for node: Node, weights: Tensor) -> PackedMatrix? {
    guard node.domain.isEmpty || node.domain == "ai.onnx", node.opType == "MatMul" || node.opType == "Gemm",
          weights.rank == 2, case .float(let v) = weights.storage, !v.isEmpty else { return nil }
    var transB = false
    if node.opType == "Gemm", let attribute = node.attribute("transB") {
        guard case .int(let t) = attribute.value else { return nil }
        transB = t != 0
    }
    let (rows, cols) = (weights.shape[0], weights.shape[1])
    guard PackedMatrix.isCompact(columns: transB ? rows : cols) else { return nil }
    return v.withUnsafeBufferPointer { p in
        transB ? PackedMatrix(p.baseAddress!, rows: cols, columns: rows, rowStride: 1, columnStride: cols)
               : PackedMatrix(p.baseAddress!, rows: rows, columns: cols, rowStride: cols, columnStride: 1)
    }
}

extension Shape {
    /// True when `shape` broadcasts to exactly `target` (without growing it).
    static func broadcast(shapes shape: [Int], fitInto target: [Int]) -> Bool {
        guard shape.count <= target.count else { return false }
        let offset = target.count - shape.count
        return shape.enumerated().allSatisfy { $0.element == 1 || $0.element == target[$0.offset + offset] }
    }
}

/// Einsum by its definition: for each output index (row-major), the contracted
/// indices are visited row-major in order of the letters' first appearance; the
/// operands' product (left to right, the last factor fused) is added to the
/// accumulator. Two operands give exactly MatMul's fma chain.
func einsum(_ ctx: OpContext, _ inputs: [Tensor?]) throws -> Tensor {
    let operands = inputs.compactMap { $0 }
    let equation = try ctx.string("equation", "").filter { $0 != " " }
    let parts = equation.components(separatedBy: "->")
    guard parts.count <= 2 else { throw ctx.error("equation '\(equation)' has more than one '->'") }
    var terms = parts[0].components(separatedBy: ",")
    guard terms.count == operands.count else { throw ctx.error("equation '\(equation)' names \(terms.count) operands, \(operands.count) given") }
    // Ellipsis: replace by fresh upper-case letters, aligned right across operands.
    let used = Set(equation.filter(\.isLetter))
    let fresh = Array("ZYXWVUTSRQPONMLKJIHGFEDCBA".filter { !used.contains($0) })
    var ellipsisRank = 0
    for (t, term) in terms.enumerated() where term.contains("...") {
        ellipsisRank = max(ellipsisRank, operands[t].rank - term.replacingOccurrences(of: "...", with: "").count)
    }
    guard ellipsisRank <= fresh.count else { throw ctx.error("ellipsis covers too many dimensions") }
    let ellipsisLetters = String(fresh.prefix(ellipsisRank).reversed())
    for (t, term) in terms.enumerated() where term.contains("...") {
        let r = operands[t].rank - term.replacingOccurrences(of: "...", with: "").count
        guard r >= 0 else { throw ctx.error("operand \(t) of rank \(operands[t].rank) is too small for '\(term)'") }
        terms[t] = term.replacingOccurrences(of: "...", with: String(ellipsisLetters.suffix(r)))
    }
    var output: [Character]
    if parts.count == 2 {
        output = Array(parts[1].replacingOccurrences(of: "...", with: ellipsisLetters))
    } else {
        var counts: [Character: Int] = [:]
        for term in terms { for ch in term { counts[ch, default: 0] += 1 } }
        output = Array(ellipsisLetters) + counts.keys.filter { counts[$0] == 1 && !ellipsisLetters.contains($0) }.sorted()
    }
    var size: [Character: Int] = [:]
    var order: [Character] = []
    for (t, term) in terms.enumerated() {
        let letters = Array(term)
        guard letters.allSatisfy(\.isLetter), letters.count == operands[t].rank else {
            throw ctx.error("term '\(term)' does not match operand \(t) of rank \(operands[t].rank)")
        }
        for (d, ch) in letters.enumerated() {
            let s = operands[t].shape[d]
            if let known = size[ch], known != s {
                if known == 1 { size[ch] = s } else if s != 1 { throw ctx.error("letter '\(ch)' has sizes \(known) and \(s)") }
            } else if size[ch] == nil { size[ch] = s; order.append(ch) }
        }
    }
    guard output.allSatisfy({ size[$0] != nil }), Set(output).count == output.count else {
        throw ctx.error("output '\(String(output))' names a letter that is not an input's or repeats one")
    }
    let contracted = order.filter { !output.contains($0) }
    let outShape = output.map { size[$0]! }
    let sumShape = contracted.map { size[$0]! }
    try ctx.ensure(outShape)
    try ctx.ensure(sumShape)
    // Per operand: stride of each output / contracted letter (0 when absent or size 1).
    func strides(_ t: Int, _ letters: [Character]) -> [Int] {
        let s = Shape.strides(operands[t].shape)
        let term = Array(terms[t])
        return letters.map { ch in
            var total = 0
            for (d, c) in term.enumerated() where c == ch && operands[t].shape[d] != 1 { total += s[d] }
            return total
        }
    }
    let outIdx = (0..<operands.count).map { Shape.walk(outShape, strides: strides($0, output), base: 0) }
    let sumIdx = (0..<operands.count).map { Shape.walk(sumShape, strides: strides($0, contracted), base: 0) }
    let total = Shape.count(outShape), inner = Shape.count(sumShape)
    let last = operands.count - 1
    func contract<T: BinaryFloatingPoint>(_ values: [[T]]) -> [T] {
        var out = [T](repeating: 0, count: total)
        for o in 0..<total {
            var acc: T = 0
            for s in 0..<inner {
                if last == 0 {
                    acc = acc + values[0][outIdx[0][o] + sumIdx[0][s]]
                } else {
                    var p = values[0][outIdx[0][o] + sumIdx[0][s]]
                    for t in 1..<last { p = p * values[t][outIdx[t][o] + sumIdx[t][s]] }
                    acc = acc.addingProduct(p, values[last][outIdx[last][o] + sumIdx[last][s]])
                }
            }
            out[o] = acc
        }
        return out
    }
    guard operands.allSatisfy({ $0.elementType == operands[0].elementType }) else { throw ctx.error("operands have different element types") }
    if case .double = operands[0].storage {
        let values = operands.map { t -> [Double] in if case .double(let v) = t.storage { return v } else { return [] } }
        return Tensor(elementType: .double, shape: outShape, storage: .double(contract(values)))
    }
    return .float(contract(try operands.map { try $0.floats("Einsum") }), shape: outShape)
}

let linearKernels: [String: Kernel] = [
    "MatMul": { ctx, i in
        let a = try ctx.input(i, 0), b = try ctx.input(i, 1)
        if case .float = a.storage { return [try matmulFloat(ctx, a, b)] }
        return [try matmulOther(ctx, a, b)]
    },
    "Gemm": { ctx, i in [try gemm(ctx, i)] },
    "Einsum": { ctx, i in [try einsum(ctx, i)] },
]
