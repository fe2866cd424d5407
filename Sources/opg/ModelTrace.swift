import CLIKit
import Crypto
import Foundation
import Inference
import JSON
import Modules
import Operators
import Primitives

let modelTraceUsage = """
usage: opg model trace FILE.onnx --input NAME=FILE.pb|FILE.json … [--threads N] [--reference]
                       [--proof POSITION] [--output-dir DIR]
       opg model ref FILE.onnx --uri URI … [--name NAME] [--description TEXT] [--no-schedule]
                     [--submit --from ADDRESS [--keystore DIR] [--password-file FILE] [--rpc URL]]

trace:
Runs the model as `opg model run` does and prints its execution trace (docs/traces.md) as
JSON: "traceRoot", the Merkle root over the Keccak-256 of every node's outputs in the
canonical encoding, in execution order; "nodes", one entry per node (position, node index in
the file, name, operator, outputHash); "hash", the outputs' hash as `run` prints it.
--proof POSITION adds the Merkle proof of that step (siblings from the leaf level up).
--output-dir DIR writes every node's outputs as DIR/<position>.<k>.pb (TensorProto; k counts
the node's named outputs), what a dispute brings on chain as a node's inputs.

ref:
Prints the record that registers FILE.onnx by reference (docs/models.md, "Models registered
by reference"): SHA-256, CIDs, size, the initializer root with each initializer's root and
chunk count, the nodes root, the node count, the schedule root, the operators, and the URIs (--uri, at least one; https://,
http:// or ipfs://) where the bytes are served. The model must compile. --no-schedule records a
zero schedule root, for a model whose jobs are not one pass of its graph (a chat model's decode
loop): disputes over it then settle undecided. --submit sends it
to the model registry as registerReference, signed by the keystore key of --from.
"""

/// `opg model trace`: the execution trace of one run.
func modelTrace(_ argv: [String]) throws -> Int32 {
    let args = try Arguments(argv, options: ["--threads", "--proof", "--output-dir"], flags: ["--reference"], repeatable: ["--input"])
    if args.wantsHelp { print(modelTraceUsage); return 0 }
    let loaded: LoadedRun
    switch try loadRun(args) {
    case .ready(let run): loaded = run
    case .failed(let status): return status
    }
    let directory = args.option("--output-dir").map { URL(fileURLWithPath: $0) }
    if let directory {
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw CommandFailure("--output-dir \(directory.path): \(error.localizedDescription)")
        }
    }
    var position = 0
    let trace: ExecutionTrace
    do {
        trace = try loaded.session.trace(loaded.feeds, options: loaded.options) { _, tensors in
            defer { position += 1 }
            guard let directory else { return }
            for (k, t) in tensors.enumerated() {
                try Data(TensorEncoding.protobuf(t)).write(to: directory.appendingPathComponent("\(position).\(k).pb"))
            }
        }
    } catch {
        return failure("\(loaded.path): \(error)", unsupported: isUnsupported(error))
    }
    let nodes = loaded.session.model.graph.nodes
    var fields: [(String, JSONValue)] = [
        ("traceRoot", .string(trace.root.hex)),
        ("nodeCount", .int(trace.steps.count)),
        ("hash", .string(Keccak256.hash(TensorEncoding.canonical(trace.outputs)).hex)),
        ("nodes", .array(trace.steps.enumerated().map { position, step in
            .object(["position": .int(position), "node": .int(step.nodeIndex), "name": .string(nodes[step.nodeIndex].name),
                     "op": .string(nodes[step.nodeIndex].opType), "outputHash": .string(step.outputHash.hex)])
        })),
    ]
    if let text = args.option("--proof") {
        guard let position = Int(text), let proof = trace.proof(ofStep: position) else {
            throw UsageError("--proof: \"\(text)\" is not a step position (0…\(trace.steps.count - 1))")
        }
        fields.append(("proof", proofJSON(proof)))
    }
    print(JSONValue.object(JSONObject(fields)).serialized())
    return 0
}

/// A Merkle proof as JSON: position, leaf count, siblings.
func proofJSON(_ proof: MerkleProof) -> JSONValue {
    .object(["position": .int(proof.leafIndex), "leafCount": .int(proof.leafCount), "siblings": .array(proof.siblings.map { .string($0.hex) })])
}

/// `opg model ref`: the by-reference record of a file, printed and optionally submitted.
func modelReference(_ argv: [String]) throws -> Int32 {
    let args = try Arguments(argv, options: ["--name", "--description", "--from", "--keystore", "--password-file", "--rpc"],
                             flags: ["--submit", "--no-schedule"], repeatable: ["--uri"])
    if args.wantsHelp { print(modelTraceUsage); return 0 }
    try args.expectPositionals(["FILE.onnx"])
    let path = args.positionals[0]
    guard let data = FileManager.default.contents(atPath: path) else { throw UsageError("FILE.onnx: cannot read \(path)") }
    let uris = args.values("--uri")
    guard !uris.isEmpty else { throw UsageError("--uri: give at least one URI where the model's bytes are served") }
    let file = Array(data)
    var claim: ModelReferenceClaim
    let commitment: InitializerCommitment
    do {
        claim = try ModelReferenceClaim.of(file: file, uris: uris, name: args.option("--name") ?? (path as NSString).lastPathComponent,
                                           description: args.option("--description") ?? "")
        if args.flag("--no-schedule") { claim.scheduleRoot = .zero }
        commitment = try InitializerCommitment(graph: try ModelReader.read(file).graph)
    } catch {
        return failure("\(path): \(error)", unsupported: isUnsupported(error))
    }
    var fields: [(String, JSONValue)] = [
        ("fileSha256", .string(claim.fileHash.hex)), ("cidV0", .string(claim.cid.v0)), ("cidV1", .string(claim.cid.v1)),
        ("size", .int(Int(claim.size))), ("initializerRoot", .string(claim.initializerRoot.hex)),
        ("initializerCount", .int(Int(claim.initializerCount))), ("nodesRoot", .string(claim.nodesRoot.hex)),
        ("nodeCount", .int(Int(claim.nodeCount))), ("scheduleRoot", .string(claim.scheduleRoot.hex)),
        ("operators", .array(claim.operators.map { .string($0) })), ("uris", .array(claim.uris.map { .string($0) })),
        ("name", .string(claim.name)), ("description", .string(claim.description)),
        ("chunkBytes", .int(InitializerCommitment.chunkBytes)),
        ("initializers", .array(commitment.tensors.map { .object(["name": .string($0.name), "root": .string($0.root.hex), "chunks": .int($0.chunks.count)]) })),
    ]
    if args.flag("--submit") {
        let from = try parseAddress(try args.required("--from"), "--from")
        let rpc = try RPCClient(args.option("--rpc") ?? defaultRPC)
        let sender = TransactionSender(rpc: rpc, key: try unlockKey(args, from), chainId: try rpc.chainId())
        let receipt = try sender.sendAndWait(try ABI.encodeCall(ModelRegistry.registerReference.signature, claim.abiArguments))
        try sender.requireSuccess(receipt, "registerReference")
        fields.append(("transaction", receipt["transactionHash"] ?? .null))
    }
    print(JSONValue.object(JSONObject(fields)).serialized())
    return 0
}
