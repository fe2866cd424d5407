import Chain
import Inference
import Primitives

/// A decoded `ModelInput` (OpenGradient's `TensorLib` structs): number tensors as the
/// kernel's fixed-point numbers, string tensors as text.
struct ModelInput: Equatable {
    /// `TensorLib.MultiDimensionalNumberTensor`.
    struct NumberTensor: Equatable {
        var name: String
        var values: [FixedPoint.Number]
        var shape: [UInt32]
    }

    /// `TensorLib.StringTensor`.
    struct StringTensor: Equatable {
        var name: String
        var values: [String]
    }

    var numbers: [NumberTensor]
    var strings: [StringTensor]

    init(numbers: [NumberTensor], strings: [StringTensor]) {
        self.numbers = numbers
        self.strings = strings
    }

    /// The input of a value the generic decoder produced for `InferenceABI.modelInput`.
    init(_ value: ABIValue) throws {
        guard case .tuple(let parts) = value, parts.count == 2, case .array(let numbers) = parts[0], case .array(let strings) = parts[1] else {
            throw NativeRevert("invalid arguments: ModelInput is not (numbers, strings)")
        }
        self.numbers = try numbers.map { item in
            guard case .tuple(let f) = item, f.count == 3, let name = f[0].stringValue, case .array(let values) = f[1],
                  case .array(let dims) = f[2] else { throw NativeRevert("invalid arguments: a number tensor is not (name, values, shape)") }
            let shape = try dims.map { d -> UInt32 in
                guard let v = d.uintValue?.uint64, v <= UInt64(UInt32.max) else { throw NativeRevert("input '\(name)': shape is not uint32[]") }
                return UInt32(v)
            }
            return NumberTensor(name: name, values: try values.map(TensorConversion.fixedPoint), shape: shape)
        }
        self.strings = try strings.map { item in
            guard case .tuple(let f) = item, f.count == 2, let name = f[0].stringValue, case .array(let values) = f[1] else {
                throw NativeRevert("invalid arguments: a string tensor is not (name, values)")
            }
            return StringTensor(name: name, values: try values.map { v in
                guard let s = v.stringValue else { throw NativeRevert("input '\(name)': values are not strings") }
                return s
            })
        }
    }
}

/// A decoded `ModelInferenceRequest` (`runModelInference`'s argument) with its canonical
/// ABI encoding, which `ModelInferenceEvent` repeats.
///
/// Calldata in the canonical form (what Solidity, web3.py and the hub write) is read in
/// place by `CanonicalRequestReader` and its bytes become the event's copy of the request
/// unchanged; any other calldata goes through the generic decoder, and the request it
/// accepts is re-encoded. Both ways give the same request, the same encoding and the same
/// refusals (`InferenceRequestTests` checks them against each other).
struct ModelInferenceRequest {
    /// `ModelInferenceMode` (checked by `InferenceMode.requireVanilla`).
    let mode: UInt8
    /// `modelCID`.
    let modelID: String
    /// The input tensors.
    let input: ModelInput
    /// `abi.encode` of the request tuple without the leading offset word: the bytes the
    /// event data holds for it.
    let encoding: ArraySlice<UInt8>

    /// Decodes `runModelInference`'s arguments (after the selector); malformed calldata
    /// reverts with the codec's reason.
    static func decode(_ arguments: [UInt8]) throws -> ModelInferenceRequest {
        if let request = CanonicalRequestReader.request(arguments) { return request }
        return try decodeGenerically(arguments)
    }

    /// The generic decoder's reading of `arguments`, re-encoded.
    static func decodeGenerically(_ arguments: [UInt8]) throws -> ModelInferenceRequest {
        let value = try decodeArguments([InferenceABI.modelInferenceRequest], arguments)[0]
        guard case .tuple(let fields) = value, let raw = fields[0].uintValue?.uint64, let mode = UInt8(exactly: raw),
              let modelID = fields[1].stringValue else { throw NativeRevert("invalid arguments") }
        let encoding = try ABI.encode([InferenceABI.modelInferenceRequest], [value])
        return ModelInferenceRequest(mode: mode, modelID: modelID, input: try ModelInput(fields[2]), encoding: encoding.dropFirst(32))
    }

    /// The precompile call the hub makes for `run(modelId, mode, input)` with `arguments`
    /// (after the selector): `runModelInference((mode, modelId, input))` followed by
    /// `caller`. Canonical arguments are moved into place as they are; others are decoded
    /// (malformed ones revert with the codec's reason) and encoded again.
    static func hubCall(_ arguments: [UInt8], caller: Address) throws -> [UInt8] {
        if let call = CanonicalRequestReader.hubCall(arguments, caller: caller) { return call }
        let values = try decodeArguments([.string, .uint(8), InferenceABI.modelInput], arguments)
        return runSelector + (try ABI.encode([InferenceABI.modelInferenceRequest], [.tuple([values[1], values[0], values[2]])])) + caller.bytes
    }

    /// `runModelInference`'s selector.
    static let runSelector = ABI.selector(InferenceABI.runModelInference)

    /// `ModelInferenceEvent`'s data, `abi.encode(inferenceID, request, response)`, from the
    /// request's encoding and `response` (`abi.encode(ModelOutput)`, as returned), written
    /// into one buffer of the final size.
    func eventData(inferenceID: String, response: [UInt8]) throws -> [UInt8] {
        let id = try ABI.encode([.string], [.string(inferenceID)]).dropFirst(32)
        let output = response.dropFirst(32)
        let head = 3 * 32
        var data: [UInt8] = []
        data.reserveCapacity(head + id.count + encoding.count + output.count)
        for offset in [head, head + id.count, head + id.count + encoding.count] { data += UInt256(UInt64(offset)).bigEndianBytes32 }
        data += id
        data += encoding
        data += output
        return data
    }
}

/// Reads `runModelInference`'s arguments when they are exactly the canonical encoding:
/// every offset where the encoder puts it (each tail right after the previous one), no
/// byte after the last tail, and every value as strict as the generic decoder wants it
/// (zero padding, sign-extended int128, uint8 and uint32 in range, valid UTF-8). Anything
/// else gives nil and is left to the generic decoder. Numbers are read straight into the
/// kernel's fixed-point form, with no per-word values or allocations.
struct CanonicalRequestReader {
    private let bytes: UnsafeBufferPointer<UInt8>

    private init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// The request in `arguments`, or nil when they are not in the canonical form.
    static func request(_ arguments: [UInt8]) -> ModelInferenceRequest? {
        arguments.withUnsafeBufferPointer { buffer -> ModelInferenceRequest? in
            let reader = CanonicalRequestReader(buffer)
            let start = 32
            guard reader.small(at: 0, bits: 64) == UInt64(start), let raw = reader.small(at: start, bits: 8),
                  reader.offset(at: start + 32, from: start, to: start + 96),
                  let (modelID, idEnd) = reader.string(at: start + 96), reader.offset(at: start + 64, from: start, to: idEnd),
                  let (input, end) = reader.modelInput(at: idEnd), end == buffer.count else { return nil }
            return ModelInferenceRequest(mode: UInt8(raw), modelID: modelID, input: input, encoding: arguments[start...])
        }
    }

    /// `ModelInferenceRequest.hubCall` for canonical hub arguments `(string modelId, uint8
    /// mode, ModelInput input)`: the request's head written anew, the model id's and the
    /// input's encodings copied as they are; nil when the arguments are not canonical.
    static func hubCall(_ arguments: [UInt8], caller: Address) -> [UInt8]? {
        arguments.withUnsafeBufferPointer { buffer -> [UInt8]? in
            let reader = CanonicalRequestReader(buffer)
            guard reader.offset(at: 0, from: 0, to: 96), let mode = reader.small(at: 32, bits: 8), let (_, idEnd) = reader.string(at: 96),
                  reader.offset(at: 64, from: 0, to: idEnd), let (_, end) = reader.modelInput(at: idEnd), end == buffer.count else { return nil }
            // The request's head: mode, then the model id right after the head (0x60), then
            // the input right after the id, which is where it already is in `arguments`.
            var call = ModelInferenceRequest.runSelector
            call.reserveCapacity(4 + 32 + end + 20)
            for word in [32, mode, 96, UInt64(idEnd)] as [UInt64] { call += UInt256(word).bigEndianBytes32 }
            call += arguments[96...]
            call += caller.bytes
            return call
        }
    }

    /// The big-endian 64-bit integer at byte `at` (in bounds).
    private func load(_ at: Int) -> UInt64 {
        UInt64(bigEndian: UnsafeRawPointer(bytes.baseAddress! + at).loadUnaligned(as: UInt64.self))
    }

    /// The word at `at` when it holds an unsigned integer of at most `bits` (≤ 64) bits.
    private func small(at: Int, bits: Int) -> UInt64? {
        guard at >= 0, at <= bytes.count - 32, load(at) | load(at + 8) | load(at + 16) == 0 else { return nil }
        let v = load(at + 24)
        return bits == 64 || v >> UInt64(bits) == 0 ? v : nil
    }

    /// Whether the word at `at` is the offset of a tail at `target` in a sequence whose head
    /// starts at `base`.
    private func offset(at: Int, from base: Int, to target: Int) -> Bool {
        small(at: at, bits: 64) == UInt64(target - base)
    }

    /// A length or count at `at` that fits the data.
    private func count(at: Int) -> Int? {
        guard let v = small(at: at, bits: 64), v <= UInt64(bytes.count) else { return nil }
        return Int(v)
    }

    /// The string at `at` and the end of its padded bytes.
    private func string(at: Int) -> (String, Int)? {
        guard let length = count(at: at) else { return nil }
        let start = at + 32, padded = (length + 31) / 32 * 32
        guard padded <= bytes.count - start, (start + length..<start + padded).allSatisfy({ bytes[$0] == 0 }),
              let text = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<start + length]), as: UTF8.self) else { return nil }
        return (text, start + padded)
    }

    /// A dynamic array at `at` whose element i is read by `element` at the position its
    /// offset must name; the array's values and the end of its last tail.
    private func array<T>(at: Int, _ element: (Int) -> (T, Int)?) -> ([T], Int)? {
        guard let n = count(at: at) else { return nil }
        let body = at + 32
        guard n <= (bytes.count - body) / 32 else { return nil }
        var values: [T] = []
        values.reserveCapacity(n)
        var end = body + 32 * n
        for i in 0..<n {
            guard offset(at: body + 32 * i, from: body, to: end), let (value, next) = element(end) else { return nil }
            values.append(value)
            end = next
        }
        return (values, end)
    }

    /// `ModelInput` at `at`: (number tensors, string tensors).
    private func modelInput(at: Int) -> (ModelInput, Int)? {
        guard offset(at: at, from: at, to: at + 64), let (numbers, numbersEnd) = array(at: at + 64, numberTensor),
              offset(at: at + 32, from: at, to: numbersEnd), let (strings, end) = array(at: numbersEnd, stringTensor) else { return nil }
        return (ModelInput(numbers: numbers, strings: strings), end)
    }

    /// `(string name, (int128, int128)[] values, uint32[] shape)` at `at`.
    private func numberTensor(at: Int) -> (ModelInput.NumberTensor, Int)? {
        guard offset(at: at, from: at, to: at + 96), let (name, nameEnd) = string(at: at + 96),
              offset(at: at + 32, from: at, to: nameEnd), let n = count(at: nameEnd) else { return nil }
        let first = nameEnd + 32
        guard n <= (bytes.count - first) / 64 else { return nil }
        var values: [FixedPoint.Number] = []
        values.reserveCapacity(n)
        for i in 0..<n {
            guard let value = int128(at: first + 64 * i), let decimals = int128(at: first + 64 * i + 32) else { return nil }
            values.append(FixedPoint.Number(value: value, decimals: decimals))
        }
        let valuesEnd = first + 64 * n
        guard offset(at: at + 64, from: at, to: valuesEnd), let m = count(at: valuesEnd), m <= (bytes.count - valuesEnd - 32) / 32 else {
            return nil
        }
        var shape: [UInt32] = []
        shape.reserveCapacity(m)
        for i in 0..<m {
            guard let d = small(at: valuesEnd + 32 + 32 * i, bits: 32) else { return nil }
            shape.append(UInt32(d))
        }
        return (ModelInput.NumberTensor(name: name, values: values, shape: shape), valuesEnd + 32 + 32 * m)
    }

    /// `(string name, string[] values)` at `at`.
    private func stringTensor(at: Int) -> (ModelInput.StringTensor, Int)? {
        guard offset(at: at, from: at, to: at + 64), let (name, nameEnd) = string(at: at + 64),
              offset(at: at + 32, from: at, to: nameEnd), let (values, end) = array(at: nameEnd, string) else { return nil }
        return (ModelInput.StringTensor(name: name, values: values), end)
    }

    /// The int128 at `at` (its upper 136 bits all copies of the sign bit; the caller has
    /// checked the word is in bounds).
    private func int128(at: Int) -> Int128? {
        let value = Int128(bitPattern: UInt128(load(at + 16)) << 64 | UInt128(load(at + 24)))
        let fill: UInt64 = value < 0 ? .max : 0
        return load(at) == fill && load(at + 8) == fill ? value : nil
    }
}
