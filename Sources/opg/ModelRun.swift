import CLIKit
import Foundation
import Inference
import JSON
import Primitives

/// `opg model run`: feeds inputs from .pb or .json files, prints outputs as JSON with the
/// Keccak-256 of their canonical encoding and of the inputs', optionally writes them as
/// TensorProto files.
func modelRun(_ argv: [String], bench: Bool = false) throws -> Int32 {
    let args = try Arguments(argv, options: bench ? ["--threads", "--min-time"] : ["--output-dir", "--threads"],
                             flags: bench ? ["--reference", "--json", "--trace"] : ["--quiet", "--reference"], repeatable: ["--input"])
    if args.wantsHelp { print(modelUsage); return 0 }
    let loaded: LoadedRun
    switch try loadRun(args) {
    case .ready(let run): loaded = run
    case .failed(let status): return status
    }
    let (path, session, feeds, options) = (loaded.path, loaded.session, loaded.feeds, loaded.options)
    if bench {
        var minTime = 1.0
        if let t = args.option("--min-time") {
            guard let v = Double(t), v > 0, v <= 3600 else { throw UsageError("--min-time: \"\(t)\" is not a number of seconds (0 < t <= 3600)") }
            minTime = v
        }
        // --trace times the traced run (docs/traces.md) instead of the plain one.
        let once: () throws -> Void = args.flag("--trace") ? { _ = try session.trace(feeds, options: options) }
            : { _ = try session.run(feeds, options: options) }
        do {
            try once()
            let start = DispatchTime.now().uptimeNanoseconds, cpuStart = processCPUSeconds()
            var runs = 0
            var elapsed = 0.0
            repeat {
                try once()
                runs += 1
                elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            } while elapsed < minTime
            let cpu = processCPUSeconds() - cpuStart
            print(JSONValue.object(["runs": .int(runs), "secondsPerRun": .number(JSONNumber(text: String(elapsed / Double(runs)))),
                                    "cpuSecondsPerRun": .number(JSONNumber(text: String(cpu / Double(runs))))]).serialized())
            return 0
        } catch {
            return failure("\(path): \(error)", unsupported: isUnsupported(error))
        }
    }
    let outputs: [Tensor]
    do {
        outputs = try session.run(feeds, options: options)
    } catch {
        return failure("\(path): \(error)", unsupported: isUnsupported(error))
    }
    let hash = Keccak256.hash(TensorEncoding.canonical(outputs))
    // The inputs in the graph's order, so the hash does not depend on the order of --input.
    let inputHash = Keccak256.hash(TensorEncoding.canonical(session.inputs.compactMap { feeds[$0.name] }))
    if let dir = args.option("--output-dir") {
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for (i, t) in outputs.enumerated() {
                try Data(TensorEncoding.protobuf(t)).write(to: URL(fileURLWithPath: dir).appendingPathComponent("\(i).pb"))
            }
        } catch {
            throw CommandFailure("--output-dir \(dir): \(error.localizedDescription)")
        }
    }
    if !args.flag("--quiet") {
        let json: JSONValue = .object([
            "outputs": .array(outputs.map { t in
                .object(["name": .string(t.name), "elementType": .string(t.elementType.description),
                         "shape": .array(t.shape.map { .int($0) }), "data": nestedJSON(t)])
            }),
            "hash": .string(hash.description),
            "inputHash": .string(inputHash.description),
        ])
        print(json.serialized())
    }
    return 0
}

/// A model compiled and its inputs read: what `run`, `bench` and `trace` start from.
struct LoadedRun {
    let path: String
    let session: InferenceSession
    let feeds: [String: Tensor]
    let options: RunOptions
}

/// What `loadRun` gives: a run ready to start, or the exit status of a failure it printed.
enum LoadOutcome {
    case ready(LoadedRun)
    case failed(Int32)
}

/// Reads FILE.onnx (the one positional), compiles it and reads every `--input NAME=FILE`
/// (.pb or .json); `--threads N` and `--reference` set the run's options.
func loadRun(_ args: Arguments) throws -> LoadOutcome {
    try args.expectPositionals(["FILE.onnx"])
    let path = args.positionals[0]
    var threads = 1
    if let t = args.option("--threads") {
        guard let n = Int(t), n >= 1, n <= 256 else { throw UsageError("--threads: \"\(t)\" is not a thread count (1…256)") }
        threads = n
    }
    var specs: [(name: String, file: String)] = []
    for spec in args.values("--input") {
        guard let eq = spec.firstIndex(of: "="), eq != spec.startIndex, spec.index(after: eq) != spec.endIndex else {
            throw UsageError("--input: \"\(spec)\" is not NAME=FILE")
        }
        let name = String(spec[..<eq])
        guard !specs.contains(where: { $0.name == name }) else { throw UsageError("--input: \(name) given more than once") }
        specs.append((name, String(spec[spec.index(after: eq)...])))
    }
    guard let data = FileManager.default.contents(atPath: path) else { throw UsageError("FILE.onnx: cannot read \(path)") }

    InferenceSession.keepFreedMemoryInProcess()
    let session: InferenceSession
    do {
        session = try InferenceSession(bytes: Array(data))
    } catch {
        return .failed(failure("\(path): \(error)", unsupported: isUnsupported(error)))
    }
    var feeds: [String: Tensor] = [:]
    for (name, file) in specs {
        guard let info = session.model.graph.inputs.first(where: { $0.name == name }) else {
            throw UsageError("--input: the model has no input \"\(name)\" (inputs: \(session.inputs.map(\.name).joined(separator: ", ")))")
        }
        guard let bytes = FileManager.default.contents(atPath: file) else { throw UsageError("--input \(name): cannot read \(file)") }
        do {
            feeds[name] = try file.hasSuffix(".json") ? tensorFromJSON(Array(bytes), info: info) : ModelReader.readTensor(Array(bytes))
        } catch {
            return .failed(failure("--input \(name) (\(file)): \(error)", unsupported: isUnsupported(error)))
        }
    }
    return .ready(LoadedRun(path: path, session: session, feeds: feeds,
                            options: RunOptions(threads: threads, path: args.flag("--reference") ? .reference : .fast)))
}

/// True for errors about features opg does not support (operators, element types,
/// optional and sparse values), as opposed to malformed input.
func isUnsupported(_ error: Error) -> Bool {
    let text = "\(error)"
    return text.hasPrefix("unsupported") || text.contains("not supported")
}

/// Prints an error; exit status 3 for what opg does not support, 1 otherwise.
func failure(_ message: String, unsupported: Bool) -> Int32 {
    printError("opg: \(message)")
    return unsupported ? 3 : 1
}

/// A JSON number or nested arrays as a tensor of the input's declared element type
/// (float32 when the model does not say).
func tensorFromJSON(_ bytes: [UInt8], info: ValueInfo) throws -> Tensor {
    let value = try JSONParser.parse(bytes)
    var type = ElementType.float
    if case .tensor(let t, _)? = info.type { type = t }
    var shape: [Int] = []
    var probe = value
    while case .array(let items) = probe {
        shape.append(items.count)
        guard let first = items.first else { break }
        probe = first
    }
    var leaves: [JSONValue] = []
    func collect(_ v: JSONValue, depth: Int, path: String) throws {
        if depth == shape.count {
            if case .array = v { throw ONNXError("\(path): nested deeper than the first element's depth \(shape.count)") }
            leaves.append(v)
            return
        }
        guard case .array(let items) = v else { throw ONNXError("\(path): expected an array of \(shape[depth]) elements (ragged array)") }
        guard items.count == shape[depth] else { throw ONNXError("\(path): \(items.count) elements where the first row has \(shape[depth]) (ragged array)") }
        for (i, item) in items.enumerated() { try collect(item, depth: depth + 1, path: "\(path)[\(i)]") }
    }
    try collect(value, depth: 0, path: "$")
    func number(_ v: JSONValue, _ i: Int) throws -> String {
        switch v {
        case .number(let n): return n.text
        case .string(let s) where ["NaN", "Infinity", "-Infinity"].contains(s): return s
        case .bool(let b) where type == .bool: return b ? "1" : "0"
        default: throw ONNXError("element \(i): \(v.serialized()) is not a number")
        }
    }
    let texts = try leaves.enumerated().map { try number($1, $0) }
    let storage: TensorStorage
    switch type {
    case .float:
        storage = .float(try floatingPoint(texts, name: "float32"))
    case .double:
        storage = .double(try floatingPoint(texts, name: "double"))
    case .bool:
        storage = .bool(try texts.enumerated().map { i, t in
            guard t == "0" || t == "1" else { throw ONNXError("element \(i): \(t) is not a bool (true, false, 0 or 1)") }
            return t == "1"
        })
    case .uint64:
        storage = .uint64(try texts.enumerated().map { i, t in
            guard let u = UInt64(t) else { throw ONNXError("element \(i): \(t) is not a UINT64") }
            return u
        })
    case .int8, .uint8, .int16, .uint16, .int32, .uint32, .int64:
        storage = .int64(try texts.enumerated().map { i, t in
            guard let v = Int64(t), type.integerRange?.contains(v) ?? true else { throw ONNXError("element \(i): \(t) is not a \(type)") }
            return v
        })
    default:
        throw ONNXError("unsupported: inputs of element type \(type) cannot be given as JSON")
    }
    return Tensor(name: info.name, elementType: type, shape: shape, storage: storage)
}

/// Values as nested JSON arrays; floats in their shortest round-trip form, non-finite
/// floats as the strings "NaN", "Infinity", "-Infinity".
/// Parses JSON number texts (and "NaN", "Infinity", "-Infinity") as `F`; a finite text
/// that overflows `F` is an error naming the element.
private func floatingPoint<F: BinaryFloatingPoint & LosslessStringConvertible>(_ texts: [String], name: String) throws -> [F] {
    try texts.enumerated().map { i, t in
        switch t {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default:
            guard let v = F(t), v.isFinite else { throw ONNXError("element \(i): \(t) is not a finite \(name)") }
            return v
        }
    }
}

func nestedJSON(_ t: Tensor) -> JSONValue {
    func floatJSON<F: BinaryFloatingPoint & LosslessStringConvertible>(_ x: F) -> JSONValue {
        if x.isNaN { return .string("NaN") }
        if x.isInfinite { return .string(x < 0 ? "-Infinity" : "Infinity") }
        return .number(JSONNumber(text: x.description))
    }
    let flat: [JSONValue]
    switch t.storage {
    case .float(let v): flat = v.map(floatJSON)
    case .double(let v): flat = v.map(floatJSON)
    case .int64(let v): flat = t.elementType == .bool ? v.map { .bool($0 != 0) } : v.map { .int($0) }
    case .uint64(let v): flat = v.map { .int($0) }
    case .bool(let v): flat = v.map { .bool($0) }
    case .string(let v): flat = v.map { .string(String(decoding: $0, as: UTF8.self)) }
    }
    if let keys = t.mapKeys, t.shape.count == 2 {
        // A sequence of maps (ZipMap): [{"label": probability, …}, …].
        let names: [String]
        switch keys {
        case .string(let k): names = k.map { String(decoding: $0, as: UTF8.self) }
        case .int64(let k): names = k.map { String($0) }
        default: names = []
        }
        let columns = t.shape[1]
        return .array((0..<t.shape[0]).map { r in .object(JSONObject((0..<columns).map { (names[$0], flat[r * columns + $0]) })) })
    }
    func build(_ depth: Int, _ offset: Int) -> JSONValue {
        if depth == t.shape.count { return flat[offset] }
        let stride = t.shape[(depth + 1)...].reduce(1, *)
        return .array((0..<t.shape[depth]).map { build(depth + 1, offset + $0 * stride) })
    }
    return build(0, 0)
}

/// CPU time of every thread of this process so far (seconds): unlike the wall clock, it
/// leaves out the time other processes on a shared machine held the cores.
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
