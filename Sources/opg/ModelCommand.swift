import CLIKit
import Foundation
import Inference
import JSON
import Modules

let modelUsage = """
usage: opg model inspect [--json] [--batch N] FILE.onnx
       opg model run FILE.onnx --input NAME=FILE.pb|FILE.json … [--output-dir DIR] [--threads N]
                     [--reference] [--quiet]
       opg model bench FILE.onnx --input NAME=FILE … [--threads N] [--reference] [--trace] [--min-time SECONDS]
       opg model trace FILE.onnx --input NAME=FILE … [--proof POSITION]   (opg model trace --help)
       opg model ref FILE.onnx --uri URI … [--submit --from ADDRESS]      (opg model ref --help)

inspect:

Reads FILE.onnx (wire format, fields, tensors), checks its graph (every value defined once,
no dangling inputs, no cycles) and prints its operator sets, inputs and
outputs with element types and shapes (symbolic dimensions by name), its initializers and
the operators it uses. When opg can run the model it also prints the cost of one run at
batch N (default 1; every symbolic or unknown input dimension is set to N): multiply-
accumulates, bytes moved and peak memory (docs/onnx.md, "Cost model") and the inference gas
a call at that batch is charged on chain (docs/inference.md), or why the cost depends on
input values; otherwise it names what opg does not support.
--json prints the same as one JSON object, with the cost of every node.
A file that is not a valid ONNX model exits 1 with the rule it breaks.

run:
Runs the model deterministically (docs/determinism.md). Each --input gives one graph input
from an ONNX TensorProto file (.pb, as written by onnx.numpy_helper) or a JSON file holding a
number or nested arrays of numbers (element type from the model; "NaN", "Infinity" and
"-Infinity" as strings). Prints the outputs as JSON with "hash", the Keccak-256 of the
canonical output encoding: the same model and inputs give the same hash on every machine;
"inputHash" is the same hash of the inputs, in the graph's input order.
--output-dir writes each output as DIR/<index>.pb (TensorProto). --threads N uses N threads
(the result does not change); --reference runs the plain reference kernels instead of the
fast ones (same bits, slower); --quiet prints nothing on success.
Exit status: 0 done, 1 bad model or inputs, 2 usage, 3 the model needs an operator or type
opg does not support.

bench:
Loads the model once and runs it repeatedly on the inputs for at least --min-time seconds
(default 1) after one warm-up run; prints {"runs", "secondsPerRun", "cpuSecondsPerRun"} as
JSON (cpuSecondsPerRun: the process's CPU time, all threads, per run). --trace times the
traced run (`opg model trace`: every node's outputs hashed, no Relu fused) instead.
"""

func modelCommand(_ argv: [String]) throws -> Int32 {
    guard let sub = argv.first, !sub.hasPrefix("-") else {
        if argv.contains("--help") || argv.contains("-h") { print(modelUsage); return 0 }
        throw UsageError("model: missing subcommand (inspect, run, bench, trace, ref, upload, list, info)")
    }
    if sub == "run" { return try modelRun(Array(argv.dropFirst())) }
    if sub == "trace" { return try modelTrace(Array(argv.dropFirst())) }
    if sub == "ref" { return try modelReference(Array(argv.dropFirst())) }
    if ["upload", "list", "info"].contains(sub) { return try modelChainCommand(sub, Array(argv.dropFirst())) }
    if sub == "bench" { return try modelRun(Array(argv.dropFirst()), bench: true) }
    guard sub == "inspect" else { throw UsageError("model: unknown subcommand \"\(sub)\" (inspect, run, bench, trace, ref, upload, list, info)") }
    let args = try Arguments(Array(argv.dropFirst()), options: ["--batch"], flags: ["--json"])
    if args.wantsHelp { print(modelUsage); return 0 }
    try args.expectPositionals(["FILE.onnx"])
    var batch = 1
    if let b = args.option("--batch") {
        guard let n = Int(b), n >= 1, n <= 1 << 24 else { throw UsageError("--batch: \"\(b)\" is not a batch size (1…16777216)") }
        batch = n
    }
    let path = args.positionals[0]
    guard let data = FileManager.default.contents(atPath: path) else { throw UsageError("FILE.onnx: cannot read \(path)") }
    let model: Model
    do {
        model = try ModelReader.read(Array(data))
        _ = try ExecutionOrder.of(model.graph)
    } catch {
        throw CommandFailure("\(path): \(error)")
    }
    var summary = ModelSummary(model)
    do {
        let session = try InferenceSession(model: model, limits: Limits(maxTensorElements: .max, maxPeakBytes: .max))
        var shapes: [String: [Int]] = [:]
        for info in session.inputs {
            if case .tensor(_, let dims?)? = info.type {
                shapes[info.name] = dims.map { $0.value ?? batch }
            }
        }
        let (cost, gas) = InferenceGas.gas(session, inputShapes: shapes)
        summary.cost = (batch, cost)
        summary.inferenceGas = cost.isStatic ? gas : nil
    } catch {
        summary.notRunnable = "\(error)"
    }
    print(args.flag("--json") ? summary.json.serialized() : summary.text)
    return 0
}

/// What `opg model inspect` reports about a model.
struct ModelSummary {
    let model: Model
    /// The cost at a batch size, when opg can run the model.
    var cost: (batch: Int, cost: ModelCost)?
    /// Why opg cannot run it, otherwise.
    var notRunnable: String?
    /// The inference gas of a run at that batch (`InferenceGas`), when the cost is static.
    var inferenceGas: UInt64?

    init(_ model: Model) { self.model = model }

    /// Operators used, as "domain:op" (ai.onnx ops without a prefix) with counts, sorted.
    var operators: [(name: String, count: Int)] {
        var counts: [String: Int] = [:]
        func visit(_ g: Graph) {
            for node in g.nodes {
                counts[node.domain.isEmpty || node.domain == "ai.onnx" ? node.opType : "\(node.domain):\(node.opType)", default: 0] += 1
                for a in node.attributes {
                    if case .graph(let sub) = a.value { visit(sub) }
                    if case .graphs(let subs) = a.value { subs.forEach(visit) }
                }
            }
        }
        visit(model.graph)
        return counts.keys.sorted().map { ($0, counts[$0]!) }
    }

    static func typeText(_ type: ValueType?) -> String {
        switch type {
        case nil: return "unknown"
        case .tensor(let e, let shape)?: return "tensor(\(e))" + (shape.map { "[" + $0.map(\.description).joined(separator: ", ") + "]" } ?? "[rank unknown]")
        case .sequence(let inner)?: return "sequence(\(typeText(inner)))"
        case .map(let k, let v)?: return "map(\(k), \(typeText(v)))"
        }
    }

    static func typeJSON(_ type: ValueType?) -> JSONValue {
        switch type {
        case nil: return .null
        case .tensor(let e, let shape)?:
            return .object(["kind": "tensor", "elementType": .string(e.description),
                            "shape": shape.map { .array($0.map(dimensionJSON)) } ?? .null])
        case .sequence(let inner)?: return .object(["kind": "sequence", "element": typeJSON(inner)])
        case .map(let k, let v)?: return .object(["kind": "map", "key": .string(k.description), "value": typeJSON(v)])
        }
    }

    static func dimensionJSON(_ d: ShapeDimension) -> JSONValue {
        switch d {
        case .value(let v): return .int(v)
        case .symbol(let s): return .string(s)
        case .unknown: return .null
        }
    }

    /// Graph inputs that are not initializers (what a caller feeds).
    var feeds: [ValueInfo] {
        let constants = Set(model.graph.initializers.map(\.name))
        return model.graph.inputs.filter { !constants.contains($0.name) }
    }

    var text: String {
        var lines: [String] = []
        let g = model.graph
        lines.append("model: ir_version \(model.irVersion), producer \(model.producerName) \(model.producerVersion)".trimmingCharacters(in: .whitespaces))
        lines.append("opsets: " + model.opsetImports.map { "\($0.domain.isEmpty ? "ai.onnx" : $0.domain) \($0.version)" }.joined(separator: ", "))
        lines.append("inputs:")
        for i in feeds { lines.append("  \(i.name): \(Self.typeText(i.type))") }
        lines.append("outputs:")
        for o in g.outputs { lines.append("  \(o.name): \(Self.typeText(o.type))") }
        let elements = g.initializers.reduce(0) { $0 + $1.count }
        lines.append("initializers: \(g.initializers.count) tensors, \(elements) values")
        lines.append("nodes: \(g.nodes.count)")
        lines.append("operators:")
        for (name, count) in operators { lines.append("  \(name) × \(count)") }
        if let (batch, c) = cost {
            if c.isStatic {
                lines.append("cost at batch \(batch): \(c.macs) multiply-accumulates, \(c.bytesMoved) bytes moved, peak memory \(c.peakBytes) bytes")
                if let inferenceGas { lines.append("inference gas at batch \(batch): \(inferenceGas) (schedule v\(InferenceGas.version), docs/inference.md)") }
            } else {
                lines.append("cost at batch \(batch): not static (\(c.dynamicReason ?? "")); known part \(c.macs) multiply-accumulates")
            }
        }
        if let notRunnable { lines.append("runnable: no: \(notRunnable)") }
        return lines.joined(separator: "\n")
    }

    var json: JSONValue {
        let g = model.graph
        return .object([
            "irVersion": .int(model.irVersion),
            "producerName": .string(model.producerName),
            "producerVersion": .string(model.producerVersion),
            "opsets": .array(model.opsetImports.map { .object(["domain": .string($0.domain), "version": .int($0.version)]) }),
            "inputs": .array(feeds.map { .object(["name": .string($0.name), "type": Self.typeJSON($0.type)]) }),
            "outputs": .array(g.outputs.map { .object(["name": .string($0.name), "type": Self.typeJSON($0.type)]) }),
            "initializers": .array(g.initializers.map {
                .object(["name": .string($0.name), "elementType": .string($0.elementType.description), "shape": .array($0.shape.map { .int($0) })])
            }),
            "nodeCount": .int(g.nodes.count),
            "operators": .object(JSONObject(operators.map { ($0.name, JSONValue.int($0.count)) })),
            "runnable": .bool(notRunnable == nil),
            "unsupported": notRunnable.map { .string($0) } ?? .null,
            "cost": cost.map { batch, c in
                .object([
                    "batch": .int(batch), "static": .bool(c.isStatic), "dynamicReason": c.dynamicReason.map { .string($0) } ?? .null,
                    "macs": .int(c.macs), "bytesMoved": .int(c.bytesMoved), "peakBytes": .int(c.peakBytes), "largestTensor": .int(c.largestTensor),
                    "inferenceGas": inferenceGas.map { .int(Int(clamping: $0)) } ?? .null,
                    "nodes": .array(c.operators.map { .object(["node": .string($0.node), "op": .string($0.op), "macs": .int($0.macs),
                                                               "bytesMoved": .int($0.bytesMoved), "outputBytes": .int($0.outputBytes),
                                                               "peakBytes": .int($0.peakBytes)]) }),
                ])
            } ?? .null,
        ])
    }
}
