/// Decodes `ModelProto` bytes into a `Model`. Field numbers are those of onnx.proto3
/// (onnx 1.x). Rejected, with the reason: external data, segmented or sparse tensors,
/// unsupported element types, model-local functions, attribute references, graphs
/// nested deeper than `maxGraphDepth`, tensors whose data does not match their shape.
public enum ModelReader {
    /// Deepest nesting of graphs in attributes (If/Loop bodies) accepted.
    public static let maxGraphDepth = 8
    /// Largest element count a single tensor may declare.
    public static let maxTensorElements = 1 << 31

    /// Reads a model from the bytes of an `.onnx` file.
    public static func read(_ bytes: [UInt8]) throws -> Model {
        var r = ProtobufReader(bytes, context: "ModelProto")
        var model = Model(irVersion: 0, opsetImports: [], producerName: "", producerVersion: "", domain: "", modelVersion: 0,
                          docString: "", metadata: [], graph: Graph(name: "", nodes: [], initializers: [], inputs: [], outputs: [], valueInfo: []))
        var sawGraph = false
        while let (field, type) = try r.nextField() {
            switch field {
            case 1: try r.expect(.varint, type, "ir_version"); model.irVersion = try r.int64()
            case 2: try r.expect(.lengthDelimited, type, "producer_name"); model.producerName = try r.string("producer_name")
            case 3: try r.expect(.lengthDelimited, type, "producer_version"); model.producerVersion = try r.string("producer_version")
            case 4: try r.expect(.lengthDelimited, type, "domain"); model.domain = try r.string("domain")
            case 5: try r.expect(.varint, type, "model_version"); model.modelVersion = try r.int64()
            case 6: try r.expect(.lengthDelimited, type, "doc_string"); model.docString = try r.string("doc_string")
            case 7:
                var g = try r.message("graph", type)
                model.graph = try graph(&g, depth: 0)
                sawGraph = true
            case 8:
                var m = try r.message("opset_import", type)
                model.opsetImports.append(try opset(&m))
            case 14:
                var m = try r.message("metadata_props", type)
                model.metadata.append(try stringPair(&m))
            case 25: throw r.error("model-local functions (ModelProto.functions) are not supported")
            default: try r.skip(type)
            }
        }
        guard sawGraph else { throw ONNXError("ModelProto: the model has no graph") }
        guard !model.opsetImports.isEmpty else { throw ONNXError("ModelProto: the model imports no operator set (opset_import is empty)") }
        return model
    }

    private static func opset(_ r: inout ProtobufReader) throws -> OperatorSetID {
        var id = OperatorSetID(domain: "", version: 0)
        while let (field, type) = try r.nextField() {
            switch field {
            case 1: try r.expect(.lengthDelimited, type, "domain"); id.domain = try r.string("domain")
            case 2: try r.expect(.varint, type, "version"); id.version = try r.int64()
            default: try r.skip(type)
            }
        }
        return id
    }

    private static func stringPair(_ r: inout ProtobufReader) throws -> (key: String, value: String) {
        var key = "", value = ""
        while let (field, type) = try r.nextField() {
            switch field {
            case 1: try r.expect(.lengthDelimited, type, "key"); key = try r.string("key")
            case 2: try r.expect(.lengthDelimited, type, "value"); value = try r.string("value")
            default: try r.skip(type)
            }
        }
        return (key, value)
    }

    static func graph(_ r: inout ProtobufReader, depth: Int) throws -> Graph {
        guard depth <= maxGraphDepth else { throw r.error("graphs are nested more than \(maxGraphDepth) deep") }
        var g = Graph(name: "", nodes: [], initializers: [], inputs: [], outputs: [], valueInfo: [])
        while let (field, type) = try r.nextField() {
            switch field {
            case 1:
                var m = try r.message("node[\(g.nodes.count)]", type)
                g.nodes.append(try node(&m, depth: depth))
            case 2: try r.expect(.lengthDelimited, type, "name"); g.name = try r.string("name")
            case 5:
                var m = try r.message("initializer[\(g.initializers.count)]", type)
                g.initializers.append(try tensor(&m))
            case 11, 12, 13:
                var m = try r.message(field == 11 ? "input" : field == 12 ? "output" : "value_info", type)
                let info = try valueInfo(&m)
                if field == 11 { g.inputs.append(info) } else if field == 12 { g.outputs.append(info) } else { g.valueInfo.append(info) }
            case 15: throw r.error("sparse initializers are not supported")
            default: try r.skip(type)
            }
        }
        return g
    }

    static func node(_ r: inout ProtobufReader, depth: Int) throws -> Node {
        var n = Node(name: "", opType: "", domain: "", inputs: [], outputs: [], attributes: [])
        while let (field, type) = try r.nextField() {
            switch field {
            case 1: try r.expect(.lengthDelimited, type, "input"); n.inputs.append(try r.string("input"))
            case 2: try r.expect(.lengthDelimited, type, "output"); n.outputs.append(try r.string("output"))
            case 3: try r.expect(.lengthDelimited, type, "name"); n.name = try r.string("name")
            case 4: try r.expect(.lengthDelimited, type, "op_type"); n.opType = try r.string("op_type")
            case 7: try r.expect(.lengthDelimited, type, "domain"); n.domain = try r.string("domain")
            case 5:
                var m = try r.message("attribute[\(n.attributes.count)]", type)
                let a = try attribute(&m, depth: depth)
                guard n.attribute(a.name) == nil else { throw r.error("attribute '\(a.name)' appears twice") }
                n.attributes.append(a)
            default: try r.skip(type)
            }
        }
        guard !n.opType.isEmpty else { throw r.error("node has no op_type") }
        return n
    }

    private static func attribute(_ r: inout ProtobufReader, depth: Int) throws -> Attribute {
        var name = ""
        var declared: Int32?
        var f: Float?, i: Int64?, s: [UInt8]?, t: Tensor?, g: Graph?
        var floats: [Float] = [], ints: [Int64] = [], strings: [[UInt8]] = [], tensors: [Tensor] = [], graphs: [Graph] = []
        while let (field, type) = try r.nextField() {
            switch field {
            case 1: try r.expect(.lengthDelimited, type, "name"); name = try r.string("name")
            case 20: try r.expect(.varint, type, "type"); declared = try r.int32("type")
            case 2: try r.expect(.fixed32, type, "f"); f = Float(bitPattern: try r.fixed32())
            case 3: try r.expect(.varint, type, "i"); i = try r.int64()
            case 4: try r.expect(.lengthDelimited, type, "s"); s = try r.bytesField()
            case 5:
                var m = try r.message("t", type)
                t = try tensor(&m)
            case 6:
                var m = try r.message("g", type)
                g = try graph(&m, depth: depth + 1)
            case 7: try r.appendFloats(type, to: &floats)
            case 8: try r.appendVarints(type, to: &ints)
            case 9: try r.expect(.lengthDelimited, type, "strings"); strings.append(try r.bytesField())
            case 10:
                var m = try r.message("tensors", type)
                tensors.append(try tensor(&m))
            case 11:
                var m = try r.message("graphs", type)
                graphs.append(try graph(&m, depth: depth + 1))
            case 21: throw r.error("attribute '\(name)' refers to a function attribute (ref_attr_name), which is not supported")
            case 22, 23: throw r.error("attribute '\(name)' holds a sparse tensor, which is not supported")
            case 14, 15: throw r.error("attribute '\(name)' holds a type proto, which is not supported")
            default: try r.skip(type)
            }
        }
        guard !name.isEmpty else { throw r.error("attribute has no name") }
        func missing(_ kind: String) -> ONNXError { r.error("attribute '\(name)' is declared \(kind) but has no such value") }
        let value: AttributeValue
        switch declared {
        case 1: guard let f else { throw missing("FLOAT") }; value = .float(f)
        case 2: guard let i else { throw missing("INT") }; value = .int(i)
        case 3: value = .string(s ?? [])
        case 4: guard let t else { throw missing("TENSOR") }; value = .tensor(t)
        case 5: guard let g else { throw missing("GRAPH") }; value = .graph(g)
        case 6: value = .floats(floats)
        case 7: value = .ints(ints)
        case 8: value = .strings(strings)
        case 9: value = .tensors(tensors)
        case 10: value = .graphs(graphs)
        case nil, 0:
            // Files older than IR version 2 have no type: use the one field that is set.
            if let f { value = .float(f) } else if let i { value = .int(i) } else if let s { value = .string(s) }
            else if let t { value = .tensor(t) } else if let g { value = .graph(g) } else if !floats.isEmpty { value = .floats(floats) }
            else if !ints.isEmpty { value = .ints(ints) } else if !strings.isEmpty { value = .strings(strings) }
            else if !tensors.isEmpty { value = .tensors(tensors) } else if !graphs.isEmpty { value = .graphs(graphs) }
            else { throw r.error("attribute '\(name)' has no type and no value") }
        case let other?:
            throw r.error("attribute '\(name)' has type \(other), which is not supported")
        }
        return Attribute(name: name, value: value)
    }

    private static func valueInfo(_ r: inout ProtobufReader) throws -> ValueInfo {
        var info = ValueInfo(name: "", type: nil)
        while let (field, type) = try r.nextField() {
            switch field {
            case 1: try r.expect(.lengthDelimited, type, "name"); info.name = try r.string("name")
            case 2:
                var m = try r.message("type", type)
                info.type = try valueType(&m, depth: 0)
            default: try r.skip(type)
            }
        }
        return info
    }

    private static func valueType(_ r: inout ProtobufReader, depth: Int) throws -> ValueType? {
        guard depth <= maxGraphDepth else { throw r.error("types are nested more than \(maxGraphDepth) deep") }
        var result: ValueType?
        while let (field, type) = try r.nextField() {
            switch field {
            case 1:
                var m = try r.message("tensor_type", type)
                result = try tensorType(&m)
            case 4:
                var m = try r.message("sequence_type", type)
                var element: ValueType?
                while let (f, t) = try m.nextField() {
                    if f == 1 {
                        var e = try m.message("elem_type", t)
                        element = try valueType(&e, depth: depth + 1)
                    } else { try m.skip(t) }
                }
                guard let element else { throw m.error("sequence type has no element type") }
                result = .sequence(element)
            case 5:
                var m = try r.message("map_type", type)
                var key: ElementType?, value: ValueType?
                while let (f, t) = try m.nextField() {
                    switch f {
                    case 1: try m.expect(.varint, t, "key_type"); key = ElementType(rawValue: try m.int32("key_type"))
                    case 2:
                        var v = try m.message("value_type", t)
                        value = try valueType(&v, depth: depth + 1)
                    default: try m.skip(t)
                    }
                }
                guard let key, let value else { throw m.error("map type needs a key type and a value type") }
                result = .map(key: key, value: value)
            case 8: throw r.error("sparse tensor types are not supported")
            case 9: throw r.error("optional types are not supported")
            default: try r.skip(type)
            }
        }
        return result
    }

    private static func tensorType(_ r: inout ProtobufReader) throws -> ValueType {
        var element = ElementType(rawValue: 0)
        var shape: [ShapeDimension]?
        while let (field, type) = try r.nextField() {
            switch field {
            case 1: try r.expect(.varint, type, "elem_type"); element = ElementType(rawValue: try r.int32("elem_type"))
            case 2:
                var m = try r.message("shape", type)
                var dims: [ShapeDimension] = []
                while let (f, t) = try m.nextField() {
                    guard f == 1 else { try m.skip(t); continue }
                    var d = try m.message("dim", t)
                    var dim = ShapeDimension.unknown
                    while let (df, dt) = try d.nextField() {
                        switch df {
                        case 1:
                            try d.expect(.varint, dt, "dim_value")
                            let v = try d.int64()
                            guard v >= 0 else { throw d.error("dim_value \(v) is negative") }
                            dim = .value(Int(v))  // Int is 64 bits on every platform we build for
                        case 2: try d.expect(.lengthDelimited, dt, "dim_param"); dim = .symbol(try d.string("dim_param"))
                        default: try d.skip(dt)
                        }
                    }
                    dims.append(dim)
                }
                shape = dims
            default: try r.skip(type)
            }
        }
        return .tensor(element, shape: shape)
    }

    /// Decodes a `TensorProto` (also used for `.pb` input files).
    static func tensor(_ r: inout ProtobufReader) throws -> Tensor {
        var name = ""
        var dims: [Int64] = []
        var dataType: Int32 = 0
        var raw: [UInt8]?
        var floats: [Float] = [], doubles: [Double] = [], int32s: [Int64] = [], int64s: [Int64] = [], uint64s: [Int64] = []
        var strings: [[UInt8]] = []
        while let (field, type) = try r.nextField() {
            switch field {
            case 1: try r.appendVarints(type, to: &dims)
            case 2: try r.expect(.varint, type, "data_type"); dataType = try r.int32("data_type")
            case 3: throw r.error("segmented tensors are not supported")
            case 4: try r.appendFloats(type, to: &floats)
            case 5: try r.appendVarints(type, to: &int32s)
            case 6: try r.expect(.lengthDelimited, type, "string_data"); strings.append(try r.bytesField())
            case 7: try r.appendVarints(type, to: &int64s)
            case 8: try r.expect(.lengthDelimited, type, "name"); name = try r.string("name")
            case 9: try r.expect(.lengthDelimited, type, "raw_data"); raw = try r.bytesField()
            case 10: try r.appendDoubles(type, to: &doubles)
            case 11: try r.appendVarints(type, to: &uint64s)
            case 13: throw r.error("tensor '\(name)' uses external data, which is not supported (embed the weights in the model)")
            case 14:
                try r.expect(.varint, type, "data_location")
                if try r.int64() != 0 { throw r.error("tensor '\(name)' uses external data, which is not supported (embed the weights in the model)") }
            default: try r.skip(type)
            }
        }
        let element = ElementType(rawValue: dataType)
        let label = name.isEmpty ? "tensor" : "tensor '\(name)'"
        guard element.isSupported else { throw r.error("\(label) has element type \(element), which is not supported") }
        var count = 1
        var shape: [Int] = []
        for d in dims {
            guard d >= 0 else { throw r.error("\(label) has a negative dimension \(d)") }
            let (product, overflow) = count.multipliedReportingOverflow(by: Int(d))
            guard !overflow, product <= maxTensorElements else { throw r.error("\(label) declares more than \(maxTensorElements) elements") }
            count = product
            shape.append(Int(d))
        }
        func mismatch(_ have: Int, _ field: String) -> ONNXError {
            r.error("\(label) of shape \(shape) needs \(count) values but \(field) holds \(have)")
        }
        let storage: TensorStorage
        if let raw {
            guard element != .string else { throw r.error("\(label): STRING tensors cannot use raw_data") }
            let width = element.byteWidth!
            guard raw.count == count * width else { throw mismatch(raw.count / width, "raw_data (\(raw.count) bytes)") }
            storage = fromRaw(raw, element, count: count)
        } else {
            switch element {
            case .float:
                guard floats.count == count else { throw mismatch(floats.count, "float_data") }
                storage = .float(floats)
            case .double:
                guard doubles.count == count else { throw mismatch(doubles.count, "double_data") }
                storage = .double(doubles)
            case .int64:
                guard int64s.count == count else { throw mismatch(int64s.count, "int64_data") }
                storage = .int64(int64s)
            case .uint64:
                guard uint64s.count == count else { throw mismatch(uint64s.count, "uint64_data") }
                storage = .uint64(uint64s.map { UInt64(bitPattern: $0) })
            case .uint32:
                guard uint64s.count == count else { throw mismatch(uint64s.count, "uint64_data") }
                try checkRange(uint64s, element, label, &r)
                storage = .int64(uint64s)
            case .string:
                guard strings.count == count else { throw mismatch(strings.count, "string_data") }
                storage = .string(strings)
            case .bool:
                guard int32s.count == count else { throw mismatch(int32s.count, "int32_data") }
                try checkRange(int32s, element, label, &r)
                storage = .bool(int32s.map { $0 != 0 })
            default:  // int32, int16, int8, uint16, uint8 live in int32_data
                guard int32s.count == count else { throw mismatch(int32s.count, "int32_data") }
                try checkRange(int32s, element, label, &r)
                storage = .int64(int32s)
            }
        }
        return Tensor(name: name, elementType: element, shape: shape, storage: storage)
    }

    private static func checkRange(_ values: [Int64], _ element: ElementType, _ label: String, _ r: inout ProtobufReader) throws {
        guard let range = element.integerRange else { return }
        if let bad = values.first(where: { !range.contains($0) }) {
            throw r.error("\(label): value \(bad) is out of range for \(element)")
        }
    }

    /// Little-endian `raw_data` (or canonical-encoding values) to values.
    static func fromRaw(_ raw: [UInt8], _ element: ElementType, count: Int) -> TensorStorage {
        func word(_ i: Int, _ width: Int) -> UInt64 {
            var v: UInt64 = 0
            for b in 0..<width { v |= UInt64(raw[i * width + b]) << (8 * UInt64(b)) }
            return v
        }
        switch element {
        case .float: return .float((0..<count).map { Float(bitPattern: UInt32(word($0, 4))) })
        case .double: return .double((0..<count).map { Double(bitPattern: word($0, 8)) })
        case .int64: return .int64((0..<count).map { Int64(bitPattern: word($0, 8)) })
        case .uint64: return .uint64((0..<count).map { word($0, 8) })
        case .int32: return .int64((0..<count).map { Int64(Int32(bitPattern: UInt32(word($0, 4)))) })
        case .uint32: return .int64((0..<count).map { Int64(word($0, 4)) })
        case .int16: return .int64((0..<count).map { Int64(Int16(bitPattern: UInt16(word($0, 2)))) })
        case .uint16: return .int64((0..<count).map { Int64(word($0, 2)) })
        case .int8: return .int64((0..<count).map { Int64(Int8(bitPattern: raw[$0])) })
        case .bool: return .bool((0..<count).map { raw[$0] != 0 })
        default: return .int64((0..<count).map { Int64(raw[$0]) })  // uint8
        }
    }

    /// Reads a single `TensorProto` (the `.pb` files of ONNX's test data).
    public static func readTensor(_ bytes: [UInt8]) throws -> Tensor {
        var r = ProtobufReader(bytes, context: "TensorProto")
        return try tensor(&r)
    }
}
