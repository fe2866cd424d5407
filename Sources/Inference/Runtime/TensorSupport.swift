/// Shape arithmetic, broadcasting, element access and type rules shared by the
/// operators. All index arithmetic is row-major.

extension Tensor {
    /// A float32 tensor.
    public static func float(_ values: [Float], shape: [Int], name: String = "") -> Tensor {
        Tensor(name: name, elementType: .float, shape: shape, storage: .float(values))
    }

    /// An int64 tensor.
    public static func int64(_ values: [Int64], shape: [Int], name: String = "") -> Tensor {
        Tensor(name: name, elementType: .int64, shape: shape, storage: .int64(values))
    }

    /// A bool tensor.
    public static func bool(_ values: [Bool], shape: [Int], name: String = "") -> Tensor {
        Tensor(name: name, elementType: .bool, shape: shape, storage: .bool(values))
    }

    /// The rank (number of dimensions).
    public var rank: Int { shape.count }
}

extension TensorStorage {
    /// A storage of the same case holding `self[indices[i]]` at position i.
    func gathered(_ indices: [Int]) -> TensorStorage {
        switch self {
        case .float(let v): return .float(indices.map { v[$0] })
        case .double(let v): return .double(indices.map { v[$0] })
        case .int64(let v): return .int64(indices.map { v[$0] })
        case .uint64(let v): return .uint64(indices.map { v[$0] })
        case .bool(let v): return .bool(indices.map { v[$0] })
        case .string(let v): return .string(indices.map { v[$0] })
        }
    }

    /// Concatenation of storages of the same case.
    static func concatenated(_ parts: [TensorStorage], like first: TensorStorage) -> TensorStorage {
        switch first {
        case .float: return .float(parts.flatMap { if case .float(let v) = $0 { return v } else { return [] } })
        case .double: return .double(parts.flatMap { if case .double(let v) = $0 { return v } else { return [] } })
        case .int64: return .int64(parts.flatMap { if case .int64(let v) = $0 { return v } else { return [] } })
        case .uint64: return .uint64(parts.flatMap { if case .uint64(let v) = $0 { return v } else { return [] } })
        case .bool: return .bool(parts.flatMap { if case .bool(let v) = $0 { return v } else { return [] } })
        case .string: return .string(parts.flatMap { if case .string(let v) = $0 { return v } else { return [] } })
        }
    }

    /// `count` copies of element `index`.
    func repeated(_ index: Int, count: Int) -> TensorStorage { gathered([Int](repeating: index, count: count)) }
}

/// Shape helpers.
enum Shape {
    static func count(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// Row-major strides.
    static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= shape[i]
        }
        return s
    }

    /// The numpy broadcast of several shapes, or an error naming them.
    static func broadcast(_ shapes: [[Int]], op: String) throws -> [Int] {
        let rank = shapes.map(\.count).max() ?? 0
        var out = [Int](repeating: 1, count: rank)
        for s in shapes {
            let offset = rank - s.count
            for (i, d) in s.enumerated() {
                let j = i + offset
                if out[j] == d || d == 1 { continue }
                if out[j] == 1 { out[j] = d; continue }
                throw ONNXError("\(op): shapes \(shapes.map { "\($0)" }.joined(separator: " and ")) cannot be broadcast together")
            }
        }
        return out
    }

    /// For each element of `out` (row-major), the flat index of the element of a
    /// tensor of shape `shape` that broadcasts to it.
    static func broadcastIndices(from shape: [Int], to out: [Int]) -> [Int] {
        let total = count(out)
        if shape == out { return Array(0..<total) }
        let offset = out.count - shape.count
        var inStrides = [Int](repeating: 0, count: out.count)
        let s = strides(shape)
        for i in 0..<shape.count where shape[i] != 1 { inStrides[i + offset] = s[i] }
        return walk(out, strides: inStrides, base: 0)
    }

    /// The element count of `shape` when it broadcasts to `out` by repetition along
    /// leading axes only (its dimensions, leading 1s aside, are `out`'s last ones), so
    /// element k of `out` reads its element `k % count`; nil otherwise or when empty.
    static func trailingCount(_ shape: [Int], of out: [Int]) -> Int? {
        let kept = shape.drop { $0 == 1 }
        guard kept.count <= out.count, kept.elementsEqual(out.suffix(kept.count)) else { return nil }
        let n = count(Array(kept))
        return n > 0 ? n : nil
    }

    /// Normalises a possibly negative axis against `rank`.
    static func axis(_ a: Int64, rank: Int, op: String) throws -> Int {
        let r = Int64(rank)
        guard a >= -r && a < r else { throw ONNXError("\(op): axis \(a) is out of range for rank \(rank)") }
        return Int(a < 0 ? a + r : a)
    }

    /// Flat indices of the elements of a tensor of shape `shape` permuted by `perm`.
    static func transposeIndices(_ shape: [Int], perm: [Int]) -> [Int] {
        walk(perm.map { shape[$0] }, strides: transposeStrides(shape, perm: perm), base: 0)
    }

    /// The input strides that, walked over the permuted shape, read a transpose.
    static func transposeStrides(_ shape: [Int], perm: [Int]) -> [Int] {
        let inStrides = strides(shape)
        return perm.map { inStrides[$0] }
    }

    /// Flat indices visited by iterating `shape` row-major with the given input strides.
    static func walk(_ shape: [Int], strides: [Int], base: Int) -> [Int] {
        var result = [Int](repeating: 0, count: count(shape))
        result.withUnsafeMutableBufferPointer { r in visit(shape, strides: strides, base: base) { k, flat in r[k] = flat } }
        return result
    }

    /// Calls `body(k, flat)` for each position k of `shape` in row-major order, with the
    /// flat index that the given input strides assign to it. The innermost axis is one
    /// tight loop; the odometer advances the outer axes.
    @inline(__always)
    static func visit(_ shape: [Int], strides: [Int], base: Int, _ body: (_ k: Int, _ flat: Int) -> Void) {
        visitRows(shape, strides: strides) { k, flat, length, step in
            for i in 0..<length { body(k + i, base + flat + i * step) }
        }
    }
}

extension Shape {
    /// `visit` a row at a time: `body(k, flat, length, step)` for each run of the last axis,
    /// whose elements k ..< k + length (row-major in `shape`) are at flat offsets
    /// flat, flat + step, … (the last axis's stride).
    static func visitRows(_ shape: [Int], strides: [Int], _ body: (_ k: Int, _ flat: Int, _ length: Int, _ step: Int) -> Void) {
        let total = count(shape)
        if total == 0 { return }
        guard let inner = shape.last, let innerStride = strides.last else { body(0, 0, 1, 1); return }
        var index = [Int](repeating: 0, count: shape.count)
        var flat = 0
        var k = 0
        while k < total {
            body(k, flat, inner, innerStride)
            k += inner
            var d = shape.count - 2
            while d >= 0 {
                index[d] += 1
                flat += strides[d]
                if index[d] < shape[d] { break }
                flat -= strides[d] * index[d]
                index[d] = 0
                d -= 1
            }
        }
    }
}

/// Integer results are computed in Int64 and wrapped to the element type's width
/// (two's complement), as C and numpy do.
@inline(__always)
func wrap(_ v: Int64, to type: ElementType) -> Int64 {
    switch type {
    case .int8: return Int64(Int8(truncatingIfNeeded: v))
    case .uint8: return Int64(UInt8(truncatingIfNeeded: v))
    case .int16: return Int64(Int16(truncatingIfNeeded: v))
    case .uint16: return Int64(UInt16(truncatingIfNeeded: v))
    case .int32: return Int64(Int32(truncatingIfNeeded: v))
    case .uint32: return Int64(UInt32(truncatingIfNeeded: v))
    case .bool: return v == 0 ? 0 : 1
    default: return v
    }
}

/// The quiet NaN every NaN result is written as (docs/determinism.md).
public let canonicalNaN = Float(bitPattern: 0x7FC0_0000)
public let canonicalNaNDouble = Double(bitPattern: 0x7FF8_0000_0000_0000)

extension Tensor {
    /// The tensor with every NaN replaced by the canonical quiet NaN.
    public func canonicalized() -> Tensor {
        var t = self
        switch storage {
        case .float(let v) where v.contains(where: \.isNaN): t.storage = .float(v.map { $0.isNaN ? canonicalNaN : $0 })
        case .double(let v) where v.contains(where: \.isNaN): t.storage = .double(v.map { $0.isNaN ? canonicalNaNDouble : $0 })
        default: break
        }
        return t
    }

    /// Values as Int64 (integer and bool tensors), for shape-like inputs.
    func integers(_ what: String) throws -> [Int64] {
        switch storage {
        case .int64(let v): return v
        case .bool(let v): return v.map { $0 ? 1 : 0 }
        case .uint64(let v): return v.map { Int64(truncatingIfNeeded: $0) }
        default: throw ONNXError("\(what) must be an integer tensor, got \(elementType)")
        }
    }

    /// Values as Double (any numeric tensor), for scalar parameters such as Range's inputs.
    func doubles(_ what: String) throws -> [Double] {
        switch storage {
        case .float(let v): return v.map { Double($0) }
        case .double(let v): return v
        case .int64(let v): return v.map { Double($0) }
        case .uint64(let v): return v.map { Double($0) }
        case .bool(let v): return v.map { $0 ? 1 : 0 }
        case .string: throw ONNXError("\(what) must be numeric, got STRING")
        }
    }

    /// The float32 values, or an error naming the operator and the type it got.
    func floats(_ op: String) throws -> [Float] {
        guard case .float(let v) = storage else { throw ONNXError("unsupported: \(op) does not support element type \(elementType) (float32 only)") }
        return v
    }

    /// The same values under another shape (same element count).
    func reshaped(_ newShape: [Int]) -> Tensor { Tensor(name: name, elementType: elementType, shape: newShape, storage: storage) }
}
