import Chain
import Inference
import JSON
import Primitives

/// OpenGradient's `ModelInput` and `ModelOutput` to and from the kernel's tensors, through
/// the kernel's own exact fixed-point code (`FixedPoint`, docs/determinism.md). Every
/// refusal is a `NativeRevert` naming the tensor and the rule broken.
///
/// Inputs: a number tensor feeds a FLOAT input (each (value, decimals) rounded to the
/// nearest float32) or an integer or BOOL input (each number must be a whole number in
/// the element type's range); a string tensor feeds a STRING input, its shape the model's
/// declared shape with the one free dimension set by the value count.
/// Outputs: FLOAT tensors become number tensors of the shortest decimals that convert
/// back to the same floats; integer and BOOL tensors number tensors with decimals 0;
/// STRING tensors string tensors; ZipMap's sequence of maps a JSON scalar
/// `[{"label": probability, …}, …]`, keys in the model's class order.
enum TensorConversion {
    // MARK: - Inputs

    /// The feeds of `input` for `session`, each checked against the model's declared input
    /// (name, element type, shape), every input given once.
    static func feeds(_ input: ModelInput, for session: InferenceSession) throws -> [String: Tensor] {
        let declared = session.inputs
        let names = declared.map(\.name).joined(separator: ", ")
        var feeds: [String: Tensor] = [:]
        func info(_ name: String) throws -> ValueInfo {
            guard let info = declared.first(where: { $0.name == name }) else {
                throw NativeRevert("'\(name)' is not an input of the model (inputs: \(names))")
            }
            guard feeds[name] == nil else { throw NativeRevert("input '\(name)' is given more than once") }
            return info
        }
        for item in input.numbers {
            let target = try info(item.name)
            let tensor = try numberTensor(name: item.name, values: item.values, shape: item.shape, info: target)
            try check(tensor, against: target)
            feeds[item.name] = tensor
        }
        for item in input.strings {
            let target = try info(item.name)
            let tensor = Tensor(name: item.name, elementType: .string, shape: try stringShape(item.name, count: item.values.count, info: target),
                                storage: .string(item.values.map { Array($0.utf8) }))
            try check(tensor, against: target)
            feeds[item.name] = tensor
        }
        for info in declared where feeds[info.name] == nil {
            throw NativeRevert("input '\(info.name)' is not given (inputs: \(names))")
        }
        return feeds
    }

    private static func check(_ tensor: Tensor, against info: ValueInfo) throws {
        do { try InferenceSession.check(tensor, against: info) } catch { throw NativeRevert("\(error)") }
    }

    /// A `TensorLib.Number` as the kernel's fixed-point number.
    static func fixedPoint(_ value: ABIValue) throws -> FixedPoint.Number {
        guard case .tuple(let pair) = value, pair.count == 2, case .int(let v) = pair[0], case .int(let d) = pair[1] else {
            throw NativeRevert("invalid arguments: a number is not (int128 value, int128 decimals)")
        }
        return FixedPoint.Number(value: int128(v), decimals: int128(d))
    }

    /// The low 128 bits of a sign-extended int128 word (the codec has checked the extension).
    static func int128(_ word: UInt256) -> Int128 {
        Int128(bitPattern: UInt128(word.limbs.1) << 64 | UInt128(word.limbs.0))
    }

    /// The int128 word of `value`, sign-extended to 256 bits.
    static func word(_ value: Int128) -> UInt256 {
        let bits = UInt128(bitPattern: value)
        let fill: UInt64 = value < 0 ? .max : 0
        return UInt256(limbs: (UInt64(truncatingIfNeeded: bits), UInt64(truncatingIfNeeded: bits >> 64), fill, fill))
    }

    private static func numberTensor(name: String, values: [FixedPoint.Number], shape: [UInt32], info: ValueInfo) throws -> Tensor {
        guard case .tensor(let type, _)? = info.type else { throw NativeRevert("input '\(name)' is not a tensor input") }
        if type == .float {
            do { return try FixedPoint.tensor(values, shape: shape, name: name) } catch { throw NativeRevert("input '\(name)': \(error)") }
        }
        let count = shape.reduce(UInt64(1)) { $0.saturatingProduct(UInt64($1)) }
        guard count == UInt64(values.count) else { throw NativeRevert("input '\(name)': shape \(shape) needs \(count) values, \(values.count) given") }
        let dims = shape.map { Int($0) }
        if type == .uint64 {
            let items = try values.enumerated().map { i, n -> UInt64 in
                guard let w = wholeNumber(n), w >= 0, w <= Int128(UInt64.max) else {
                    throw NativeRevert("input '\(name)' element \(i): \(n) is not a UINT64")
                }
                return UInt64(w)
            }
            return Tensor(name: name, elementType: type, shape: dims, storage: .uint64(items))
        }
        guard let range = type == .int64 ? Int64.min...Int64.max : type.integerRange else {
            throw NativeRevert("input '\(name)' is \(type): number tensors feed FLOAT, integer and BOOL inputs")
        }
        let items = try values.enumerated().map { i, n -> Int64 in
            guard let w = wholeNumber(n), w >= Int128(range.lowerBound), w <= Int128(range.upperBound) else {
                throw NativeRevert("input '\(name)' element \(i): \(n) is not a \(type) (a whole number in \(range))")
            }
            return Int64(w)
        }
        if type == .bool { return Tensor(name: name, elementType: .bool, shape: dims, storage: .bool(items.map { $0 == 1 })) }
        return Tensor(name: name, elementType: type, shape: dims, storage: .int64(items))
    }

    /// value × 10^−decimals when it is a whole number that fits an int128.
    static func wholeNumber(_ n: FixedPoint.Number) -> Int128? {
        if n.value == 0 { return 0 }
        if n.decimals >= 0 {
            guard n.decimals <= 38 else { return nil }  // |value| < 10^39: not a multiple of 10^39 unless 0
            var divisor: Int128 = 1
            for _ in 0..<Int(n.decimals) { divisor *= 10 }
            return n.value % divisor == 0 ? n.value / divisor : nil
        }
        var result = n.value
        var k = n.decimals
        while k < 0 {
            let (product, overflow) = result.multipliedReportingOverflow(by: 10)
            if overflow { return nil }
            result = product
            k += 1
        }
        return result
    }

    /// The shape of a string input of `count` values: the declared shape, its one free
    /// dimension (symbolic or unknown) set so that the element count is `count`.
    private static func stringShape(_ name: String, count: Int, info: ValueInfo) throws -> [Int] {
        guard case .tensor(let type, let declared)? = info.type else { throw NativeRevert("input '\(name)' is not a tensor input") }
        guard type == .string else { throw NativeRevert("input '\(name)' is \(type): string tensors feed STRING inputs only") }
        guard let dims = declared else { return [count] }
        let fixed = dims.compactMap(\.value).reduce(1) { $0.saturatingProduct($1) }
        let free = dims.indices.filter { dims[$0].value == nil }
        switch free.count {
        case 0:
            guard fixed == count else { throw NativeRevert("input '\(name)': the model declares shape \(dims) (\(fixed) values), \(count) given") }
            return dims.map { $0.value! }
        case 1:
            guard fixed > 0, count % fixed == 0 else {
                throw NativeRevert("input '\(name)': \(count) values do not fill the declared shape \(dims)")
            }
            return dims.map { $0.value ?? count / fixed }
        default:
            throw NativeRevert("input '\(name)': the declared shape \(dims) has \(free.count) free dimensions; a string tensor carries no shape, so at most one may be free")
        }
    }

    // MARK: - Outputs

    /// The `ModelOutput` of `outputs` (the kernel's results, in graph order).
    static func modelOutput(_ outputs: [Tensor]) throws -> ABIValue {
        var numbers: [ABIValue] = [], strings: [ABIValue] = [], jsons: [ABIValue] = []
        for t in outputs {
            if t.mapKeys != nil {
                jsons.append(.tuple([.string(t.name), .string(try mapSequenceJSON(t))]))
                continue
            }
            let shape = try outputShape(t)
            switch t.storage {
            case .float:
                let values: [FixedPoint.Number]
                do { values = try FixedPoint.numbers(t).values } catch { throw NativeRevert("output '\(t.name)': \(error)") }
                numbers.append(numberTensor(t.name, values, shape))
            case .int64(let v): numbers.append(numberTensor(t.name, v.map { FixedPoint.Number(value: Int128($0), decimals: 0) }, shape))
            case .uint64(let v): numbers.append(numberTensor(t.name, v.map { FixedPoint.Number(value: Int128($0), decimals: 0) }, shape))
            case .bool(let v): numbers.append(numberTensor(t.name, v.map { FixedPoint.Number(value: $0 ? 1 : 0, decimals: 0) }, shape))
            case .string(let v):
                let texts = try v.enumerated().map { i, bytes -> ABIValue in
                    guard let s = String(validating: bytes, as: UTF8.self) else { throw NativeRevert("output '\(t.name)' element \(i) is not valid UTF-8") }
                    return .string(s)
                }
                strings.append(.tuple([.string(t.name), .array(texts)]))
            case .double:
                throw NativeRevert("output '\(t.name)' is DOUBLE: kernel spec \(KernelSpec.version) converts FLOAT, integer, BOOL and STRING outputs only")
            }
        }
        return .tuple([.array(numbers), .array(strings), .array(jsons), .bool(false)])
    }

    /// A `ModelOutput` with every number zero but the same ABI size as the real one, for
    /// outputs whose encoded size the shapes alone fix (numeric tensors of known shape);
    /// nil when some output's size depends on its values (strings, maps).
    static func placeholderOutput(_ session: InferenceSession, inputShapes: [String: [Int]]) -> ABIValue? {
        let shapes = session.shapes(inputShapes: inputShapes).shapes
        var numbers: [ABIValue] = []
        for out in session.outputs {
            guard case .tensor(let type, _)? = out.type, type == .float || type == .int64 || type == .uint64 || type.integerRange != nil,
                  let dims = shapes[out.name]?.dims else { return nil }
            let shape = dims.compactMap(\.value)
            guard shape.count == dims.count, shape.allSatisfy({ $0 <= Int(UInt32.max) }),
                  let count = shapes[out.name]?.count, count <= ModelReader.maxTensorElements else { return nil }
            numbers.append(numberTensor(out.name, [FixedPoint.Number](repeating: FixedPoint.Number(value: 0, decimals: 0), count: count),
                                        shape.map { UInt32($0) }))
        }
        return .tuple([.array(numbers), .array([]), .array([]), .bool(false)])
    }

    private static func outputShape(_ t: Tensor) throws -> [UInt32] {
        guard t.shape.allSatisfy({ $0 >= 0 && $0 <= Int(UInt32.max) }) else { throw NativeRevert("output '\(t.name)': shape \(t.shape) does not fit uint32") }
        return t.shape.map { UInt32($0) }
    }

    private static func numberTensor(_ name: String, _ values: [FixedPoint.Number], _ shape: [UInt32]) -> ABIValue {
        .tuple([.string(name), .array(values.map { .tuple([.int(word($0.value)), .int(word($0.decimals))]) }),
                .array(shape.map { .uint(UInt256(UInt64($0))) })])
    }

    /// ZipMap's rows as JSON: `[{"key": number, …}, …]`, keys in class order, numbers as
    /// the exact decimal text of their fixed-point form.
    private static func mapSequenceJSON(_ t: Tensor) throws -> String {
        guard case .float(let values) = t.storage, t.shape.count == 2, let keys = t.mapKeys else {
            throw NativeRevert("output '\(t.name)': a sequence of maps must hold FLOAT values in rows")
        }
        let names: [String]
        switch keys {
        case .string(let k): names = k.map { String(decoding: $0, as: UTF8.self) }
        case .int64(let k): names = k.map { String($0) }
        default: throw NativeRevert("output '\(t.name)': map keys must be STRING or INT64")
        }
        let columns = t.shape[1]
        guard names.count == columns else { throw NativeRevert("output '\(t.name)': \(names.count) keys for \(columns) columns") }
        var rows: [JSONValue] = []
        for r in 0..<t.shape[0] {
            var members: [(String, JSONValue)] = []
            for c in 0..<columns {
                let n: FixedPoint.Number
                do { n = try FixedPoint.number(values[r * columns + c]) } catch { throw NativeRevert("output '\(t.name)': \(error)") }
                members.append((names[c], .number(JSONNumber(text: decimalText(n)))))
            }
            rows.append(.object(JSONObject(members)))
        }
        return JSONValue.array(rows).serialized()
    }

    /// The exact decimal text of value × 10^−decimals (a JSON number).
    static func decimalText(_ n: FixedPoint.Number) -> String {
        let digits = String(n.value.magnitude)
        let sign = n.value < 0 ? "-" : ""
        if n.decimals <= 0 { return sign + digits + (n.value == 0 ? "" : String(repeating: "0", count: Int(-n.decimals))) }
        let d = Int(n.decimals)
        let padded = digits.count <= d ? String(repeating: "0", count: d - digits.count + 1) + digits : digits
        return sign + padded.dropLast(d) + "." + padded.suffix(d)
    }
}
