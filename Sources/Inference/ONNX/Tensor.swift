/// A constant tensor read from a model (an initializer, a `Constant`'s value, a tensor
/// attribute) or given as input: element type, shape and values in row-major order.
public struct Tensor: Equatable, Sendable {
    /// The tensor's name (empty for attribute values).
    public var name: String
    /// The ONNX element type.
    public var elementType: ElementType
    /// The dimensions; empty for a scalar.
    public var shape: [Int]
    /// The values.
    public var storage: TensorStorage
    /// Set only on ZipMap's output, which is a sequence of maps rather than a tensor:
    /// row i of the (N, C) float values is the map `mapKeys[j] → value[i][j]`.
    public var mapKeys: TensorStorage? = nil

    /// A tensor; `storage` must hold `shape`'s element count.
    public init(name: String = "", elementType: ElementType, shape: [Int], storage: TensorStorage) {
        self.name = name
        self.elementType = elementType
        self.shape = shape
        self.storage = storage
    }

    /// The number of elements (1 for a scalar).
    public var count: Int { shape.reduce(1, *) }
}

/// Tensor values, widened to one representation per family: every signed or unsigned
/// integer type up to 32 bits and int64 are `int64`; uint64 keeps its own case.
public enum TensorStorage: Equatable, Sendable {
    case float([Float])
    case double([Double])
    case int64([Int64])
    case uint64([UInt64])
    case bool([Bool])
    case string([[UInt8]])

    /// The number of values.
    public var count: Int {
        switch self {
        case .float(let v): return v.count
        case .double(let v): return v.count
        case .int64(let v): return v.count
        case .uint64(let v): return v.count
        case .bool(let v): return v.count
        case .string(let v): return v.count
        }
    }
}
