/// The element type of a tensor (`TensorProto.DataType`). Unknown codes are kept so
/// that errors can name them; `isSupported` says whether the kernel can hold them.
public struct ElementType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let float = ElementType(rawValue: 1)
    public static let uint8 = ElementType(rawValue: 2)
    public static let int8 = ElementType(rawValue: 3)
    public static let uint16 = ElementType(rawValue: 4)
    public static let int16 = ElementType(rawValue: 5)
    public static let int32 = ElementType(rawValue: 6)
    public static let int64 = ElementType(rawValue: 7)
    public static let string = ElementType(rawValue: 8)
    public static let bool = ElementType(rawValue: 9)
    public static let float16 = ElementType(rawValue: 10)
    public static let double = ElementType(rawValue: 11)
    public static let uint32 = ElementType(rawValue: 12)
    public static let uint64 = ElementType(rawValue: 13)

    private static let names: [Int32: String] = [
        0: "UNDEFINED", 1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64", 8: "STRING",
        9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64", 14: "COMPLEX64", 15: "COMPLEX128",
        16: "BFLOAT16", 17: "FLOAT8E4M3FN", 18: "FLOAT8E4M3FNUZ", 19: "FLOAT8E5M2", 20: "FLOAT8E5M2FNUZ", 21: "UINT4",
        22: "INT4", 23: "FLOAT4E2M1",
    ]

    /// ONNX's name for the type (`FLOAT`, `INT64`, …).
    public var description: String { Self.names[rawValue] ?? "data type \(rawValue)" }

    /// True for the types opg reads and computes with: float, double, the integer
    /// types up to 64 bits, bool and string (strings only as labels).
    public var isSupported: Bool { (1...9).contains(rawValue) || (11...13).contains(rawValue) }

    /// Bytes per element in `raw_data` (nil for strings and unsupported types).
    public var byteWidth: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .float, .int32, .uint32: return 4
        case .int64, .uint64, .double: return 8
        default: return nil
        }
    }

    /// The value range of the integer types narrower than 64 bits (nil for the others).
    public var integerRange: ClosedRange<Int64>? {
        switch self {
        case .uint8: return 0...255
        case .int8: return -128...127
        case .uint16: return 0...65535
        case .int16: return -32768...32767
        case .int32: return Int64(Int32.min)...Int64(Int32.max)
        case .uint32: return 0...Int64(UInt32.max)
        case .bool: return 0...1
        default: return nil
        }
    }
}
