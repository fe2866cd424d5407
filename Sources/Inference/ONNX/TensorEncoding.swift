/// Writing tensors: as ONNX `TensorProto` bytes (what `onnx.load_tensor` and
/// `numpy_helper.to_array` read) and in the canonical encoding whose Keccak-256 hash
/// identifies a result across machines (docs/determinism.md, "Result hash").
public enum TensorEncoding {
    /// A `TensorProto`: dims (field 1), data_type (2), name (8), and raw_data (9) in
    /// little-endian, or string_data (6) for strings.
    public static func protobuf(_ t: Tensor) -> [UInt8] {
        if let keys = t.mapKeys { return mapSequence(t, keys: keys) }
        var out: [UInt8] = []
        for d in t.shape { key(1, 0, &out); varint(UInt64(d), &out) }
        key(2, 0, &out)
        varint(UInt64(t.elementType.rawValue), &out)
        if !t.name.isEmpty { bytesField(8, Array(t.name.utf8), &out) }
        if case .string(let values) = t.storage {
            for s in values { bytesField(6, s, &out) }
        } else {
            bytesField(9, values(t), &out)
        }
        return out
    }

    /// ZipMap's output as a `SequenceProto` (elem_type MAP) of `MapProto`s whose values
    /// are sequences of scalar float tensors: what `numpy_helper.to_list` reads.
    static func mapSequence(_ t: Tensor, keys: TensorStorage) -> [UInt8] {
        var out: [UInt8] = []
        if !t.name.isEmpty { bytesField(1, Array(t.name.utf8), &out) }
        key(2, 0, &out)
        varint(4, &out)  // MAP
        guard case .float(let values) = t.storage else { return out }
        let columns = keys.count, rows = columns == 0 ? 0 : values.count / columns
        for r in 0..<rows {
            var map: [UInt8] = []
            switch keys {
            case .string(let k):
                key(2, 0, &map); varint(UInt64(ElementType.string.rawValue), &map)
                for s in k { bytesField(4, s, &map) }
            case .int64(let k):
                key(2, 0, &map); varint(UInt64(ElementType.int64.rawValue), &map)
                for v in k { key(3, 0, &map); varint(UInt64(bitPattern: v), &map) }
            default: break
            }
            var sequence: [UInt8] = []
            key(2, 0, &sequence)
            varint(1, &sequence)  // TENSOR
            for c in 0..<columns {
                bytesField(3, protobuf(Tensor(elementType: .float, shape: [], storage: .float([values[r * columns + c]]))), &sequence)
            }
            bytesField(5, sequence, &map)
            bytesField(6, map, &out)
        }
        return out
    }

    /// The canonical encoding of a list of outputs: u32 count, then per tensor u32
    /// element type, u32 rank, u64 per dimension, and the values (little-endian at the
    /// type's width, NaNs canonical; strings as u64 length + bytes). A sequence of maps
    /// (ZipMap) is written as its (N, C) float tensor with element type 0x10001 and
    /// followed by its C keys. All integers little-endian.
    public static func canonical(_ tensors: [Tensor]) -> [UInt8] {
        var out: [UInt8] = []
        le(UInt64(tensors.count), 4, &out)
        for t in tensors {
            le(t.mapKeys == nil ? UInt64(UInt32(bitPattern: t.elementType.rawValue)) : 0x10001, 4, &out)
            le(UInt64(t.shape.count), 4, &out)
            for d in t.shape { le(UInt64(d), 8, &out) }
            if case .string(let values) = t.storage {
                for s in values { le(UInt64(s.count), 8, &out); out += s }
            } else {
                out += values(t.canonicalized())
            }
            switch t.mapKeys {
            case .string(let k)?: for s in k { le(UInt64(s.count), 8, &out); out += s }
            case .int64(let k)?: for v in k { le(UInt64(bitPattern: v), 8, &out) }
            default: break
            }
        }
        return out
    }

    /// The values at the element type's width, little-endian.
    static func values(_ t: Tensor) -> [UInt8] {
        var out: [UInt8] = []
        let width = t.elementType.byteWidth ?? 8
        out.reserveCapacity(t.count * width)
        switch t.storage {
        case .float(let v): for x in v { le(UInt64(x.bitPattern), 4, &out) }
        case .double(let v): for x in v { le(x.bitPattern, 8, &out) }
        case .int64(let v): for x in v { le(UInt64(bitPattern: x), width, &out) }
        case .uint64(let v): for x in v { le(x, 8, &out) }
        case .bool(let v): for x in v { out.append(x ? 1 : 0) }
        case .string: break
        }
        return out
    }

    @inline(__always) static func le(_ v: UInt64, _ width: Int, _ out: inout [UInt8]) {
        for i in 0..<width { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }

    static func varint(_ v: UInt64, _ out: inout [UInt8]) {
        var x = v
        while x >= 0x80 { out.append(UInt8(x & 0x7F) | 0x80); x >>= 7 }
        out.append(UInt8(x))
    }

    static func key(_ field: UInt64, _ wire: UInt64, _ out: inout [UInt8]) { varint(field << 3 | wire, &out) }

    static func bytesField(_ field: UInt64, _ bytes: [UInt8], _ out: inout [UInt8]) {
        key(field, 2, &out)
        varint(UInt64(bytes.count), &out)
        out += bytes
    }
}
