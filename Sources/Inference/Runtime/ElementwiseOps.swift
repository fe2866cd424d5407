import CKernels

/// Elementwise operators: numpy broadcasting, one rounding per IEEE operation, integer
/// results wrapped to their width, float functions from `DeterministicMath`.
typealias M = DeterministicMath

/// f applied to each pair of broadcast elements, in row-major order of `out`.
@inline(__always)
func broadcastBinary<T, R>(_ a: [T], _ aShape: [Int], _ b: [T], _ bShape: [Int], out: [Int], _ f: (T, T) throws -> R) rethrows -> [R] {
    let n = Shape.count(out)
    var result: [R] = []
    result.reserveCapacity(n)
    if aShape == out && bShape == out {
        for k in 0..<n { result.append(try f(a[k], b[k])) }
    } else if bShape == out && a.count == 1 {
        let x = a[0]
        for k in 0..<n { result.append(try f(x, b[k])) }
    } else if aShape == out && b.count == 1 {
        let y = b[0]
        for k in 0..<n { result.append(try f(a[k], y)) }
    } else if aShape == out, let bn = Shape.trailingCount(bShape, of: out) {
        // b repeats along the leading axes (a bias row): the same pairs, without index tables.
        var k = 0
        while k < n {
            for j in 0..<bn { result.append(try f(a[k + j], b[j])) }
            k += bn
        }
    } else if bShape == out, let an = Shape.trailingCount(aShape, of: out) {
        var k = 0
        while k < n {
            for j in 0..<an { result.append(try f(a[j], b[k + j])) }
            k += an
        }
    } else {
        let ai = Shape.broadcastIndices(from: aShape, to: out)
        let bi = Shape.broadcastIndices(from: bShape, to: out)
        for k in 0..<n { result.append(try f(a[ai[k]], b[bi[k]])) }
    }
    return result
}

/// `broadcastBinary` for float32 when one operand has the output's shape and the other
/// repeats along leading axes (or has it too, or is a single value), or is one value per
/// row of the output (its shape the output's with the last axis 1, as a norm's [rows, 1]
/// scale): the same operation on the same pairs in the same order, written through
/// pointers offset once per row (no overflow-checked index sums) so the loops vectorize.
@inline(__always)
func broadcastFloats(_ a: [Float], _ aShape: [Int], _ b: [Float], _ bShape: [Int], out: [Int], _ f: (Float, Float) -> Float) -> [Float] {
    let n = Shape.count(out)
    let aFull = aShape == out, bFull = bShape == out
    if n > 0, aFull != bFull, let width = out.last, width > 1, isRowVector(aFull ? bShape : aShape, of: out) {
        return [Float](unsafeUninitializedCapacity: n) { r, count in
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    let (full, rows) = aFull ? (a.baseAddress!, b.baseAddress!) : (b.baseAddress!, a.baseAddress!)
                    for row in 0..<(n / width) {
                        let x = full + row * width, y = r.baseAddress! + row * width, v = rows[row]
                        if aFull { for j in 0..<width { y[j] = f(x[j], v) } }
                        else { for j in 0..<width { y[j] = f(v, x[j]) } }
                    }
                }
            }
            count = n
        }
    }
    guard n > 0, aFull || bFull,
          let aPeriod = aFull ? n : Shape.trailingCount(aShape, of: out),
          let bPeriod = bFull ? n : Shape.trailingCount(bShape, of: out) else {
        return broadcastBinary(a, aShape, b, bShape, out: out, f)
    }
    return [Float](unsafeUninitializedCapacity: n) { r, count in
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                let (pa, pb, pr) = (a.baseAddress!, b.baseAddress!, r.baseAddress!)
                if aPeriod == 1 {
                    let v = pa[0]
                    for k in 0..<n { pr[k] = f(v, pb[k]) }
                } else if bPeriod == 1 {
                    let v = pb[0]
                    for k in 0..<n { pr[k] = f(pa[k], v) }
                } else if aFull {
                    for start in stride(from: 0, to: n, by: bPeriod) {
                        let x = pa + start, y = pr + start
                        for j in 0..<bPeriod { y[j] = f(x[j], pb[j]) }
                    }
                } else {
                    for start in stride(from: 0, to: n, by: aPeriod) {
                        let x = pb + start, y = pr + start
                        for j in 0..<aPeriod { y[j] = f(pa[j], x[j]) }
                    }
                }
            }
        }
        count = n
    }
}

/// True when `shape` is `out` with its last axis 1 (one value per row of `out`).
func isRowVector(_ shape: [Int], of out: [Int]) -> Bool {
    shape.count == out.count && shape.last == 1 && shape.dropLast().elementsEqual(out.dropLast())
}

/// One binary operator's functions per storage family; nil means the type is not supported.
struct BinaryFunctions {
    /// Add, Sub, Mul, Div: the float32 operation named, so its loop is compiled with the
    /// operation inlined (the same IEEE operation as `float`).
    var floatArithmetic: FloatArithmetic? = nil
    var float: ((Float, Float) -> Float)? = nil
    var double: ((Double, Double) -> Double)? = nil
    var int: ((Int64, Int64) throws -> Int64)? = nil
    var uint: ((UInt64, UInt64) throws -> UInt64)? = nil
    var bool: ((Bool, Bool) -> Bool)? = nil
}

@inline(__always)
func arithmetic(_ ctx: OpContext, _ a: Tensor, _ b: Tensor, _ fs: BinaryFunctions) throws -> Tensor {
    guard a.elementType == b.elementType else {
        throw ctx.error("inputs have different element types (\(a.elementType) and \(b.elementType))")
    }
    let type = a.elementType
    let out = try Shape.broadcast([a.shape, b.shape], op: ctx.label)
    try ctx.ensure(out)
    let storage: TensorStorage
    switch (a.storage, b.storage) {
    case (.float(let x), .float(let y)) where fs.floatArithmetic != nil:
        switch fs.floatArithmetic! {
        case .add: storage = .float(broadcastFloats(x, a.shape, y, b.shape, out: out) { $0 + $1 })
        case .subtract: storage = .float(broadcastFloats(x, a.shape, y, b.shape, out: out) { $0 - $1 })
        case .multiply: storage = .float(broadcastFloats(x, a.shape, y, b.shape, out: out) { $0 * $1 })
        case .divide: storage = .float(broadcastFloats(x, a.shape, y, b.shape, out: out) { $0 / $1 })
        }
    case (.float(let x), .float(let y)) where fs.float != nil:
        storage = .float(broadcastBinary(x, a.shape, y, b.shape, out: out, fs.float!))
    case (.double(let x), .double(let y)) where fs.double != nil:
        storage = .double(broadcastBinary(x, a.shape, y, b.shape, out: out, fs.double!))
    case (.int64(let x), .int64(let y)) where fs.int != nil && type != .bool:
        let f = fs.int!
        storage = .int64(try broadcastBinary(x, a.shape, y, b.shape, out: out) { wrap(try f($0, $1), to: type) })
    case (.uint64(let x), .uint64(let y)) where fs.uint != nil:
        storage = .uint64(try broadcastBinary(x, a.shape, y, b.shape, out: out, fs.uint!))
    case (.bool(let x), .bool(let y)) where fs.bool != nil:
        storage = .bool(broadcastBinary(x, a.shape, y, b.shape, out: out, fs.bool!))
    default:
        throw ctx.unsupported("element type \(type) is not supported by \(ctx.node.opType)")
    }
    return Tensor(elementType: type, shape: out, storage: storage)
}

/// The float32 operations with a loop of their own in `arithmetic`.
enum FloatArithmetic { case add, subtract, multiply, divide }

/// Comparison: bool result.
func comparison(_ ctx: OpContext, _ a: Tensor, _ b: Tensor, orEqual: Bool = false,
                _ cmp: @escaping (Double, Double) -> Bool, int: @escaping (Int64, Int64) -> Bool,
                uint: @escaping (UInt64, UInt64) -> Bool, string: ((([UInt8], [UInt8]) -> Bool))? = nil) throws -> Tensor {
    guard a.elementType == b.elementType else {
        throw ctx.error("inputs have different element types (\(a.elementType) and \(b.elementType))")
    }
    let out = try Shape.broadcast([a.shape, b.shape], op: ctx.label)
    try ctx.ensure(out)
    let values: [Bool]
    switch (a.storage, b.storage) {
    case (.float(let x), .float(let y)): values = broadcastBinary(x, a.shape, y, b.shape, out: out) { cmp(Double($0), Double($1)) }
    case (.double(let x), .double(let y)): values = broadcastBinary(x, a.shape, y, b.shape, out: out, cmp)
    case (.int64(let x), .int64(let y)): values = broadcastBinary(x, a.shape, y, b.shape, out: out, int)
    case (.uint64(let x), .uint64(let y)): values = broadcastBinary(x, a.shape, y, b.shape, out: out, uint)
    case (.bool(let x), .bool(let y)): values = broadcastBinary(x, a.shape, y, b.shape, out: out) { int($0 ? 1 : 0, $1 ? 1 : 0) }
    case (.string(let x), .string(let y)) where string != nil: values = broadcastBinary(x, a.shape, y, b.shape, out: out, string!)
    default: throw ctx.unsupported("element type \(a.elementType) is not supported by \(ctx.node.opType)")
    }
    return .bool(values, shape: out)
}

/// A unary operator over float32 (and, where given, double and integers).
/// `v.map(f)` written as a plain loop over raw buffers (the compiler vectorises it).
@inline(__always)
func mapFloats(_ v: [Float], _ f: (Float) -> Float) -> [Float] {
    [Float](unsafeUninitializedCapacity: v.count) { out, count in
        v.withUnsafeBufferPointer { input in
            for i in 0..<input.count { out[i] = f(input[i]) }
        }
        count = v.count
    }
}

@inline(__always)
func unary(_ ctx: OpContext, _ x: Tensor, float: (Float) -> Float, double: ((Double) -> Double)? = nil,
           int: ((Int64) -> Int64)? = nil) throws -> Tensor {
    var t = x
    t.name = ""
    switch x.storage {
    case .float(let v): t.storage = .float(mapFloats(v, float))
    case .double(let v) where double != nil: t.storage = .double(v.map(double!))
    case .int64(let v) where int != nil && x.elementType != .bool: t.storage = .int64(v.map { wrap(int!($0), to: x.elementType) })
    default: throw ctx.unsupported("element type \(x.elementType) is not supported by \(ctx.node.opType)")
    }
    return t
}

func floatUnary(_ f: @escaping (OpContext) throws -> (Float) -> Float) -> Kernel {
    { ctx, inputs in [try unary(ctx, ctx.input(inputs, 0), float: f(ctx))] }
}

@inline(__always) func nanPropagatingMax(_ a: Float, _ b: Float) -> Float { a.isNaN || b.isNaN ? .nan : (a >= b ? a : b) }
@inline(__always) func nanPropagatingMin(_ a: Float, _ b: Float) -> Float { a.isNaN || b.isNaN ? .nan : (a <= b ? a : b) }
@inline(__always) func nanPropagatingMax(_ a: Double, _ b: Double) -> Double { a.isNaN || b.isNaN ? .nan : (a >= b ? a : b) }
@inline(__always) func nanPropagatingMin(_ a: Double, _ b: Double) -> Double { a.isNaN || b.isNaN ? .nan : (a <= b ? a : b) }

func integerPower(_ x: Int64, _ y: Int64) -> Int64 {
    if y < 0 { return x == 1 ? 1 : (x == -1 ? (y % 2 == 0 ? 1 : -1) : 0) }
    var result: Int64 = 1, base = x, e = y
    while e > 0 {
        if e & 1 == 1 { result = result &* base }
        base = base &* base
        e >>= 1
    }
    return result
}

/// Float → integer conversion (Cast): truncate toward zero, NaN → 0, saturate to the
/// Int64 range, then wrap to the target width.
func floatToInt64(_ d: Double) -> Int64 {
    if d.isNaN { return 0 }
    if d >= 9223372036854775807.0 { return .max }
    if d <= -9223372036854775808.0 { return .min }
    return Int64(d.rounded(.towardZero))
}

func floatToUInt64(_ d: Double) -> UInt64 {
    if d.isNaN || d <= 0 { return d <= -1 ? UInt64(bitPattern: floatToInt64(d)) : 0 }
    if d >= 18446744073709551615.0 { return .max }
    return UInt64(d.rounded(.towardZero))
}

/// Converts a tensor to `type` (docs/determinism.md, "Conversions").
func cast(_ ctx: OpContext, _ x: Tensor, to type: ElementType) throws -> Tensor {
    guard type.isSupported, type != .string else { throw ctx.unsupported("Cast to \(type)") }
    if case .string = x.storage { throw ctx.unsupported("Cast from STRING") }
    let storage: TensorStorage
    switch type {
    case .float:
        switch x.storage {
        case .float(let v): storage = .float(v)
        case .double(let v): storage = .float(v.map { Float($0) })
        case .int64(let v): storage = .float(v.map { Float($0) })
        case .uint64(let v): storage = .float(v.map { Float($0) })
        case .bool(let v): storage = .float(v.map { $0 ? 1 : 0 })
        case .string: fatalError("unreachable")
        }
    case .double:
        switch x.storage {
        case .float(let v): storage = .double(v.map { Double($0) })
        case .double(let v): storage = .double(v)
        case .int64(let v): storage = .double(v.map { Double($0) })
        case .uint64(let v): storage = .double(v.map { Double($0) })
        case .bool(let v): storage = .double(v.map { $0 ? 1 : 0 })
        case .string: fatalError("unreachable")
        }
    case .bool:
        switch x.storage {
        case .float(let v): storage = .bool(v.map { $0 != 0 })
        case .double(let v): storage = .bool(v.map { $0 != 0 })
        case .int64(let v): storage = .bool(v.map { $0 != 0 })
        case .uint64(let v): storage = .bool(v.map { $0 != 0 })
        case .bool(let v): storage = .bool(v)
        case .string: fatalError("unreachable")
        }
    case .uint64:
        switch x.storage {
        case .float(let v): storage = .uint64(v.map { floatToUInt64(Double($0)) })
        case .double(let v): storage = .uint64(v.map(floatToUInt64))
        case .int64(let v): storage = .uint64(v.map { UInt64(bitPattern: $0) })
        case .uint64(let v): storage = .uint64(v)
        case .bool(let v): storage = .uint64(v.map { $0 ? 1 : 0 })
        case .string: fatalError("unreachable")
        }
    default:
        switch x.storage {
        case .float(let v): storage = .int64(v.map { wrap(floatToInt64(Double($0)), to: type) })
        case .double(let v): storage = .int64(v.map { wrap(floatToInt64($0), to: type) })
        case .int64(let v): storage = .int64(v.map { wrap($0, to: type) })
        case .uint64(let v): storage = .int64(v.map { wrap(Int64(bitPattern: $0), to: type) })
        case .bool(let v): storage = .int64(v.map { $0 ? 1 : 0 })
        case .string: fatalError("unreachable")
        }
    }
    return Tensor(elementType: type, shape: x.shape, storage: storage)
}

/// Folds variadic inputs left to right with broadcasting (Sum, Max, Min, Mean).
func variadic(_ ctx: OpContext, _ inputs: [Tensor?], _ fs: BinaryFunctions) throws -> Tensor {
    let given = inputs.compactMap { $0 }
    guard var acc = given.first else { throw ctx.error("needs at least one input") }
    for t in given.dropFirst() { acc = try arithmetic(ctx, acc, t, fs) }
    acc.name = ""
    return acc
}

func clip(_ ctx: OpContext, _ inputs: [Tensor?]) throws -> Tensor {
    let x = try ctx.input(inputs, 0)
    if ctx.opset < 11 {
        let lo = try ctx.float("min", -.greatestFiniteMagnitude), hi = try ctx.float("max", .greatestFiniteMagnitude)
        return try unary(ctx, x, float: { $0.isNaN ? $0 : Swift.min(Swift.max($0, lo), hi) })
    }
    let lo = ctx.optionalInput(inputs, 1), hi = ctx.optionalInput(inputs, 2)
    switch x.storage {
    case .float:
        let l = try lo.map { try $0.floats("Clip min")[0] } ?? -.infinity
        let h = try hi.map { try $0.floats("Clip max")[0] } ?? .infinity
        return try unary(ctx, x, float: { $0.isNaN ? $0 : Swift.min(Swift.max($0, l), h) })
    case .double:
        let l = try lo?.doubles("Clip min")[0] ?? -.infinity, h = try hi?.doubles("Clip max")[0] ?? .infinity
        return try unary(ctx, x, float: { $0 }, double: { $0.isNaN ? $0 : Swift.min(Swift.max($0, l), h) })
    case .int64:
        let l = try lo?.integers("Clip min")[0] ?? .min, h = try hi?.integers("Clip max")[0] ?? .max
        return try unary(ctx, x, float: { $0 }, int: { Swift.min(Swift.max($0, l), h) })
    case .uint64(let v):
        func bound(_ t: Tensor?, _ fallback: UInt64) -> UInt64 {
            if let t, case .uint64(let u) = t.storage, let first = u.first { return first }
            return fallback
        }
        let l = bound(lo, 0), h = bound(hi, .max)
        var t = x
        t.storage = .uint64(v.map { Swift.min(Swift.max($0, l), h) })
        return t
    default: throw ctx.unsupported("element type \(x.elementType) is not supported by Clip")
    }
}

func whereKernel(_ ctx: OpContext, _ inputs: [Tensor?]) throws -> Tensor {
    let c = try ctx.input(inputs, 0), x = try ctx.input(inputs, 1), y = try ctx.input(inputs, 2)
    guard case .bool(let cond) = c.storage else { throw ctx.error("condition must be BOOL, got \(c.elementType)") }
    guard x.elementType == y.elementType else { throw ctx.error("X and Y have different element types (\(x.elementType), \(y.elementType))") }
    let out = try Shape.broadcast([c.shape, x.shape, y.shape], op: ctx.label)
    try ctx.ensure(out)
    let ci = Shape.broadcastIndices(from: c.shape, to: out)
    let xi = Shape.broadcastIndices(from: x.shape, to: out)
    let yi = Shape.broadcastIndices(from: y.shape, to: out)
    // Pick from X and Y by index: gather over the concatenation [X, Y].
    let joined = TensorStorage.concatenated([x.storage, y.storage], like: x.storage)
    let picks = (0..<ci.count).map { cond[ci[$0]] ? xi[$0] : x.count + yi[$0] }
    return Tensor(elementType: x.elementType, shape: out, storage: joined.gathered(picks))
}

func logical(_ ctx: OpContext, _ inputs: [Tensor?], _ f: @escaping (Bool, Bool) -> Bool) throws -> Tensor {
    let a = try ctx.input(inputs, 0), b = try ctx.input(inputs, 1)
    guard case .bool = a.storage, case .bool = b.storage else { throw ctx.error("inputs must be BOOL") }
    return try arithmetic(ctx, a, b, BinaryFunctions(bool: f))
}

let elementwiseKernels: [String: Kernel] = [
    "Add": { ctx, i in [try arithmetic(ctx, ctx.input(i, 0), ctx.input(i, 1), BinaryFunctions(floatArithmetic: .add, double: +, int: { $0 &+ $1 }, uint: { $0 &+ $1 }))] },
    "Sub": { ctx, i in [try arithmetic(ctx, ctx.input(i, 0), ctx.input(i, 1), BinaryFunctions(floatArithmetic: .subtract, double: -, int: { $0 &- $1 }, uint: { $0 &- $1 }))] },
    "Mul": { ctx, i in [try arithmetic(ctx, ctx.input(i, 0), ctx.input(i, 1), BinaryFunctions(floatArithmetic: .multiply, double: *, int: { $0 &* $1 }, uint: { $0 &* $1 }))] },
    "Div": { ctx, i in
        [try arithmetic(ctx, ctx.input(i, 0), ctx.input(i, 1), BinaryFunctions(
            floatArithmetic: .divide, double: /,
            int: { a, b in
                guard b != 0 else { throw ctx.error("integer division by zero") }
                return a.dividedReportingOverflow(by: b).partialValue
            },
            uint: { a, b in
                guard b != 0 else { throw ctx.error("integer division by zero") }
                return a / b
            }))]
    },
    "Mod": { ctx, i in
        let fmod = try ctx.int("fmod", 0) == 1
        return [try arithmetic(ctx, ctx.input(i, 0), ctx.input(i, 1), BinaryFunctions(
            // fmod = 1: C's fmod (sign of the dividend); fmod = 0: the sign of the divisor,
            // as numpy's mod. Both exact.
            float: { a, b in
                let r = a.truncatingRemainder(dividingBy: b)
                return fmod || r == 0 || r.isNaN || (r < 0) == (b < 0) ? r : r + b
            },
            double: { a, b in
                let r = a.truncatingRemainder(dividingBy: b)
                return fmod || r == 0 || r.isNaN || (r < 0) == (b < 0) ? r : r + b
            },
            int: { a, b in
                guard b != 0 else { throw ctx.error("integer division by zero") }
                let r = a.remainderReportingOverflow(dividingBy: b).partialValue
                return fmod || r == 0 || (r < 0) == (b < 0) ? r : r + b
            },
            uint: { a, b in
                guard b != 0 else { throw ctx.error("integer division by zero") }
                return a % b
            }))]
    },
    "Pow": { ctx, i in
        let x = try ctx.input(i, 0), y = try ctx.input(i, 1)
        let out = try Shape.broadcast([x.shape, y.shape], op: ctx.label)
        try ctx.ensure(out)
        let storage: TensorStorage
        switch x.storage {
        case .float(let v):
            if case .float(let e) = y.storage {
                storage = .float(broadcastBinary(v, x.shape, e, y.shape, out: out) { M.pow($0, $1) })
            } else {
                let e = try y.doubles("Pow exponent")
                storage = .float(broadcastBinary(v.map { Double($0) }, x.shape, e, y.shape, out: out) { Float(M.pow($0, $1)) })
            }
        case .double(let v):
            storage = .double(broadcastBinary(v, x.shape, try y.doubles("Pow exponent"), y.shape, out: out, M.pow))
        case .int64(let v):
            if case .int64(let e) = y.storage {
                storage = .int64(broadcastBinary(v, x.shape, e, y.shape, out: out) { wrap(integerPower($0, $1), to: x.elementType) })
            } else {
                let e = try y.doubles("Pow exponent")
                storage = .int64(broadcastBinary(v.map { Double($0) }, x.shape, e, y.shape, out: out) { wrap(floatToInt64(M.pow($0, $1)), to: x.elementType) })
            }
        default: throw ctx.unsupported("element type \(x.elementType) is not supported by Pow")
        }
        return [Tensor(elementType: x.elementType, shape: out, storage: storage)]
    },
    "Sum": { ctx, i in [try variadic(ctx, i, BinaryFunctions(floatArithmetic: .add, double: +, int: { $0 &+ $1 }, uint: { $0 &+ $1 }))] },
    "Max": { ctx, i in [try variadic(ctx, i, BinaryFunctions(float: nanPropagatingMax, double: nanPropagatingMax, int: { Swift.max($0, $1) }, uint: { Swift.max($0, $1) }))] },
    "Min": { ctx, i in [try variadic(ctx, i, BinaryFunctions(float: nanPropagatingMin, double: nanPropagatingMin, int: { Swift.min($0, $1) }, uint: { Swift.min($0, $1) }))] },
    "Mean": { ctx, i in
        let sum = try variadic(ctx, i, BinaryFunctions(floatArithmetic: .add, double: +))
        let n = Float(i.compactMap { $0 }.count), nd = Double(i.compactMap { $0 }.count)
        return [try unary(ctx, sum, float: { $0 / n }, double: { $0 / nd })]
    },
    "PRelu": { ctx, i in
        [try arithmetic(ctx, ctx.input(i, 0), ctx.input(i, 1), BinaryFunctions(
            float: { x, s in x < 0 ? s * x : x }, double: { x, s in x < 0 ? s * x : x }, int: { x, s in x < 0 ? s &* x : x }))]
    },
    "Neg": { ctx, i in [try unary(ctx, ctx.input(i, 0), float: { -$0 }, double: { -$0 }, int: { 0 &- $0 })] },
    "Abs": { ctx, i in
        let x = try ctx.input(i, 0)
        if case .uint64 = x.storage { return [x] }
        return [try unary(ctx, x, float: { Swift.abs($0) }, double: { Swift.abs($0) }, int: { $0 < 0 ? 0 &- $0 : $0 })]
    },
    "Sign": { ctx, i in
        [try unary(ctx, ctx.input(i, 0), float: { $0.isNaN ? $0 : ($0 > 0 ? 1 : ($0 < 0 ? -1 : 0)) },
                   double: { $0.isNaN ? $0 : ($0 > 0 ? 1 : ($0 < 0 ? -1 : 0)) }, int: { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) })]
    },
    "Relu": { ctx, i in [try unary(ctx, ctx.input(i, 0), float: rectified, double: { $0 > 0 ? $0 : ($0.isNaN ? $0 : 0) }, int: { Swift.max($0, 0) })] },
    "Sqrt": { ctx, i in [try unary(ctx, ctx.input(i, 0), float: { $0.squareRoot() }, double: { $0.squareRoot() })] },
    "Reciprocal": { ctx, i in [try unary(ctx, ctx.input(i, 0), float: { 1 / $0 }, double: { 1 / $0 })] },
    "Floor": { ctx, i in [try unary(ctx, ctx.input(i, 0), float: { $0.rounded(.down) }, double: { $0.rounded(.down) })] },
    "Ceil": { ctx, i in [try unary(ctx, ctx.input(i, 0), float: { $0.rounded(.up) }, double: { $0.rounded(.up) })] },
    "Round": { ctx, i in [try unary(ctx, ctx.input(i, 0), float: { $0.rounded(.toNearestOrEven) }, double: { $0.rounded(.toNearestOrEven) })] },
    // DOUBLE tensors use the binary64 algorithms directly (no final rounding).
    "Exp": { ctx, i in [try unary(ctx, ctx.input(i, 0), float: M.exp, double: M.exp)] },
    "Log": { ctx, i in [try unary(ctx, ctx.input(i, 0), float: M.log, double: M.log)] },
    "Erf": { ctx, i in [try unary(ctx, ctx.input(i, 0), float: M.erf, double: M.erf)] },
    "Tanh": { ctx, i in [try unary(ctx, ctx.input(i, 0), float: M.tanh, double: M.tanh)] },
    "Sigmoid": { ctx, i in
        let x = try ctx.input(i, 0)
        if ctx.options.path == .fast, case .float(let v) = x.storage {
            // The C kernel runs the reference's binary64 operations in the same order.
            let y = [Float](unsafeUninitializedCapacity: v.count) { out, count in
                v.withUnsafeBufferPointer { opg_sigmoid($0.baseAddress, $0.count, out.baseAddress, MatrixProduct.hasAVX2FMA ? 1 : 0) }
                count = v.count
            }
            return [.float(y, shape: x.shape)]
        }
        return [try unary(ctx, x, float: M.sigmoid, double: M.sigmoid)]
    },
    "Softplus": { ctx, i in [try unary(ctx, ctx.input(i, 0), float: M.softplus, double: M.softplus)] },
    "Softsign": floatUnary { _ in { $0 / (1 + Swift.abs($0)) } },
    "LeakyRelu": floatUnary { ctx in
        let alpha = try ctx.float("alpha", 0.01)
        return { $0 < 0 ? alpha * $0 : $0 }
    },
    "Elu": floatUnary { ctx in
        let alpha = try ctx.float("alpha", 1)
        return { $0 < 0 ? alpha * M.expm1($0) : $0 }
    },
    "Selu": floatUnary { ctx in
        let alpha = try ctx.float("alpha", 1.67326319217681884765625), gamma = try ctx.float("gamma", 1.05070102519989013671875)
        return { $0 <= 0 ? gamma * (alpha * M.expm1($0)) : gamma * $0 }
    },
    "Celu": floatUnary { ctx in
        let alpha = try ctx.float("alpha", 1)
        return { $0 > 0 ? $0 : ($0.isNaN ? $0 : alpha * M.expm1($0 / alpha)) }
    },
    "ThresholdedRelu": floatUnary { ctx in
        let alpha = try ctx.float("alpha", 1)
        return { $0 > alpha ? $0 : ($0.isNaN ? $0 : 0) }
    },
    "HardSigmoid": floatUnary { ctx in
        let alpha = try ctx.float("alpha", 0.2), beta = try ctx.float("beta", 0.5)
        return { $0.isNaN ? $0 : Swift.max(0, Swift.min(1, alpha * $0 + beta)) }
    },
    "HardSwish": floatUnary { _ in { $0.isNaN ? $0 : $0 * Swift.max(0, Swift.min(1, $0 / 6 + 0.5)) } },
    "Gelu": { ctx, i in
        let approximate = try ctx.string("approximate", "none")
        guard approximate == "none" || approximate == "tanh" else { throw ctx.error("attribute 'approximate' must be \"none\" or \"tanh\", got \"\(approximate)\"") }
        let tanhForm = approximate == "tanh"
        let x = try ctx.input(i, 0)
        if !tanhForm, ctx.options.path == .fast, case .float(let v) = x.storage {
            // The C kernel runs the reference's binary64 operations in the same order.
            let y = [Float](unsafeUninitializedCapacity: v.count) { out, count in
                v.withUnsafeBufferPointer { opg_gelu_erf($0.baseAddress, $0.count, out.baseAddress, MatrixProduct.hasAVX2FMA ? 1 : 0) }
                count = v.count
            }
            return [.float(y, shape: x.shape)]
        }
        return [try unary(ctx, x, float: { M.gelu($0, tanhApproximation: tanhForm) })]
    },
    "Clip": { ctx, i in [try clip(ctx, i)] },
    "Cast": { ctx, i in [try cast(ctx, ctx.input(i, 0), to: ElementType(rawValue: Int32(truncatingIfNeeded: try ctx.int("to", 0))))] },
    "CastLike": { ctx, i in [try cast(ctx, ctx.input(i, 0), to: ctx.input(i, 1).elementType)] },
    "Equal": { ctx, i in [try comparison(ctx, ctx.input(i, 0), ctx.input(i, 1), { $0 == $1 }, int: { $0 == $1 }, uint: { $0 == $1 }, string: { $0 == $1 })] },
    "Greater": { ctx, i in [try comparison(ctx, ctx.input(i, 0), ctx.input(i, 1), { $0 > $1 }, int: { $0 > $1 }, uint: { $0 > $1 })] },
    "Less": { ctx, i in [try comparison(ctx, ctx.input(i, 0), ctx.input(i, 1), { $0 < $1 }, int: { $0 < $1 }, uint: { $0 < $1 })] },
    "GreaterOrEqual": { ctx, i in [try comparison(ctx, ctx.input(i, 0), ctx.input(i, 1), { $0 >= $1 }, int: { $0 >= $1 }, uint: { $0 >= $1 })] },
    "LessOrEqual": { ctx, i in [try comparison(ctx, ctx.input(i, 0), ctx.input(i, 1), { $0 <= $1 }, int: { $0 <= $1 }, uint: { $0 <= $1 })] },
    "And": { ctx, i in [try logical(ctx, i) { $0 && $1 }] },
    "Or": { ctx, i in [try logical(ctx, i) { $0 || $1 }] },
    "Xor": { ctx, i in [try logical(ctx, i) { $0 != $1 }] },
    "Not": { ctx, i in
        let x = try ctx.input(i, 0)
        guard case .bool(let v) = x.storage else { throw ctx.error("input must be BOOL, got \(x.elementType)") }
        return [.bool(v.map { !$0 }, shape: x.shape)]
    },
    "Where": { ctx, i in [try whereKernel(ctx, i)] },
    "IsNaN": { ctx, i in
        let x = try ctx.input(i, 0)
        switch x.storage {
        case .float(let v): return [.bool(v.map(\.isNaN), shape: x.shape)]
        case .double(let v): return [.bool(v.map(\.isNaN), shape: x.shape)]
        default: throw ctx.unsupported("element type \(x.elementType) is not supported by IsNaN")
        }
    },
    "IsInf": { ctx, i in
        let x = try ctx.input(i, 0)
        let pos = try ctx.int("detect_positive", 1) == 1, neg = try ctx.int("detect_negative", 1) == 1
        let test: (Double) -> Bool = { $0.isInfinite && (($0 > 0 && pos) || ($0 < 0 && neg)) }
        return [.bool(try x.doubles("IsInf input").map(test), shape: x.shape)]
    },
]
