import CLIKit
import Crypto
import Foundation
import JSON
import Modules
import Operators
import Primitives

let inferenceUsage = """
usage: opg inference verify [--rpc URL] [--threads N] TXHASH

Re-checks the inferences a transaction ran, offline: reads the transaction's receipt and,
for every ModelInferenceEvent of the inference precompile in it, the model's bytes from
the node (opg_getModel, opg_getModelBytes), checks them against the registry's SHA-256,
re-runs the recorded input with the local kernel and compares the output with the
recorded one bit for bit, then compares the input and output hashes of the re-run with the
chain's trust record (opg_getInference). Prints one line per inference:
  verified INFERENCE_ID output 0xHASH inputHash 0xIN hash 0xOUT
      (HASH: Keccak-256 of abi.encode(ModelOutput); IN, OUT: Keccak-256 of the canonical
      encodings of the inputs and outputs, as `opg model run` prints inputHash and hash)
  differs INFERENCE_ID: WHERE   (the first tensor and element that differ, or the record's hash)
Exit status: 0 every inference verified, 1 a difference, an error or no inference, 2 usage.
"""

/// `opg inference verify`.
func inferenceCommand(_ argv: [String]) throws -> Int32 {
    guard let sub = argv.first, !sub.hasPrefix("-") else {
        if argv.contains("--help") || argv.contains("-h") { print(inferenceUsage); return 0 }
        throw UsageError("inference: missing subcommand (verify)")
    }
    guard sub == "verify" else { throw UsageError("inference: unknown subcommand \"\(sub)\" (verify)") }
    let args = try Arguments(Array(argv.dropFirst()), options: ["--rpc", "--threads"])
    if args.wantsHelp { print(inferenceUsage); return 0 }
    try args.expectPositionals(["TXHASH"])
    var threads = 1
    if let t = args.option("--threads") {
        guard let n = Int(t), n >= 1, n <= 256 else { throw UsageError("--threads: \"\(t)\" is not a thread count (1…256)") }
        threads = n
    }
    let hash: Hash32
    do { hash = try Hash32(Hex.decode(args.positionals[0])) } catch { throw UsageError("TXHASH: not a 32-byte hex hash") }
    let rpc = try RPCClient(args.option("--rpc") ?? defaultRPC)
    let receipt = try rpc.call("eth_getTransactionReceipt", [.string(hash.hex)])
    guard receipt != .null else { throw CommandFailure("transaction \(hash.hex) has no receipt (unknown, or not yet in a block)") }
    let precompile = InferencePrecompile.reservedAddress
    let events = (receipt["logs"]?.arrayValue ?? []).filter { log in
        (try? Address(hex: log["address"]?.stringValue ?? "")) == precompile
            && log["topics"]?.arrayValue?.first?.stringValue?.lowercased() == InferenceVerification.eventTopic.hex
    }
    guard !events.isEmpty else { throw CommandFailure("transaction \(hash.hex) ran no inference (no ModelInferenceEvent in its receipt)") }
    var allVerified = true
    for event in events {
        let record: InferenceVerification.Record
        do { record = try InferenceVerification.record(eventData: Hex.decode(event["data"]?.stringValue ?? "")) } catch {
            throw CommandFailure("a ModelInferenceEvent of \(hash.hex) does not decode: \(error)")
        }
        let bytes = try modelBytes(record.modelID, rpc)
        let trust = try rpc.call("opg_getInference", [.string(record.inferenceID)])
        do {
            let local = try InferenceVerification.rerunWithHashes(record, modelBytes: bytes, threads: threads)
            if let difference = try InferenceVerification.firstDifference(recorded: record.outputEncoding, local: local.encoding) {
                print("differs \(record.inferenceID): \(difference)")
                allVerified = false
            } else if let difference = trustRecordDifference(trust, local) {
                print("differs \(record.inferenceID): \(difference)")
                allVerified = false
            } else {
                print("verified \(record.inferenceID) output \(Keccak256.hash(local.encoding).hex) inputHash \(local.inputHash.hex) hash \(local.outputHash.hex)")
            }
        } catch {
            print("differs \(record.inferenceID): the local run fails: \(error)")
            allVerified = false
        }
    }
    return allVerified ? 0 : 1
}

/// Where the chain's trust record (`opg_getInference`) differs from the local re-run's
/// hashes, or nil when both agree.
private func trustRecordDifference(_ trust: JSONValue, _ local: InferenceVerification.Rerun) -> String? {
    for (field, hash) in [("inputHash", local.inputHash), ("outputHash", local.outputHash)] {
        let recorded = trust[field]?.stringValue?.lowercased() ?? "(none)"
        if recorded != hash.hex { return "trust record's \(field) \(recorded), computed \(hash.hex)" }
    }
    return nil
}

/// The ONNX file of `modelID`, read from the node in 1 MiB pieces and checked against the
/// SHA-256 the registry records.
private func modelBytes(_ modelID: String, _ rpc: RPCClient) throws -> [UInt8] {
    let info = try rpc.call("opg_getModel", [.string(modelID)])
    guard let size = info["size"]?.numberValue?.int64.map(Int.init), size >= 0, let sha256 = info["sha256"]?.stringValue else {
        throw CommandFailure("opg_getModel \(modelID): no size or sha256 in \(info.serialized())")
    }
    var bytes: [UInt8] = []
    while bytes.count < size {
        let piece = try rpc.call("opg_getModelBytes", [.string(modelID), .string(Hex.quantity(UInt64(bytes.count))), .string(Hex.quantity(UInt64(1 << 20)))])
        guard let text = piece.stringValue, let data = try? Hex.decode(text), !data.isEmpty else {
            throw CommandFailure("opg_getModelBytes \(modelID) at \(bytes.count): no bytes")
        }
        bytes += data
    }
    guard Hex.encode(SHA256.hash(bytes)) == sha256.lowercased() else {
        throw CommandFailure("the bytes the node sent for \(modelID) do not have the registered SHA-256 \(sha256)")
    }
    return bytes
}
