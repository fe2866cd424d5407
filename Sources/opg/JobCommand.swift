import CLIKit
import Foundation
import JSON
import Modules
import Primitives

let jobUsage = """
usage: opg job submit [--rpc URL] [--keystore DIR] [--password-file FILE] --from ADDRESS MODEL
                      (--input-file FILE | --input-hash HASH --input-uri URI) --max-fee OPG
                      [--verification-fee OPG] [--class exact|attestedOnly] [--deadline-blocks N] [--wait]
       opg job show   [--rpc URL] JOBID

submit  requests a job from the jobs module (0x…00F7) for the registered model MODEL, escrowing
        --max-fee plus --verification-fee (default 0) OPG; the input is the bytes of --input-file
        (at most 96 KiB) or a hash and a URI where it is served. The provider must commit its
        result within --deadline-blocks (default 200). Prints the job id; with --wait, prints each
        status change until the job is settled, then the output's hash, its class and its label.
show    one job as JSON (opg_getJob).

docs/verification.md describes the lifecycle, fees and labels.
"""

/// `opg job submit` and `opg job show`.
func jobCommand(_ argv: [String]) throws -> Int32 {
    guard let sub = argv.first, sub == "submit" || sub == "show" else {
        if argv.first == "--help" || argv.first == "-h" { print(jobUsage); return 0 }
        throw UsageError("opg job needs submit or show (opg job --help)")
    }
    let options = sub == "show" ? ["--rpc"] : ["--rpc", "--keystore", "--password-file", "--from", "--input-file", "--input-hash", "--input-uri",
                                               "--max-fee", "--verification-fee", "--class", "--deadline-blocks"]
    let args = try Arguments(Array(argv.dropFirst()), options: options, flags: sub == "submit" ? ["--wait"] : [])
    if args.wantsHelp { print(jobUsage); return 0 }
    let rpc = try RPCClient(args.option("--rpc") ?? defaultRPC)
    if sub == "show" {
        try args.expectPositionals(["JOBID"])
        print(try rpc.call("opg_getJob", [.string(args.positionals[0])]).serialized())
        return 0
    }
    try args.expectPositionals(["MODEL"])
    let from = try parseAddress(try args.required("--from"), "--from")
    var input: [UInt8] = [], inputHash = Hash32.zero, inputURI = ""
    if let file = args.option("--input-file") {
        guard args.option("--input-hash") == nil, args.option("--input-uri") == nil else {
            throw UsageError("give --input-file, or --input-hash with --input-uri, not both")
        }
        guard let data = FileManager.default.contents(atPath: file) else { throw UsageError("--input-file: cannot read \(file)") }
        input = Array(data)
    } else {
        let text = try args.required("--input-hash")
        do { inputHash = try Hash32(hex: text) } catch { throw UsageError("--input-hash: \"\(text)\" is not 32 bytes of hex: \(error)") }
        inputURI = try args.required("--input-uri")
    }
    let className = args.option("--class") ?? "exact"
    guard let verificationClass = VerificationClass.allCases.first(where: { $0.name == className }) else {
        throw UsageError("--class: \"\(className)\" is not exact or attestedOnly")
    }
    let maxFee = try parseOPG(try args.required("--max-fee"))
    let verificationFee = try args.option("--verification-fee").map(parseOPG) ?? .zero
    guard let blocks = UInt64(args.option("--deadline-blocks") ?? "200"), blocks > 0 else {
        throw UsageError("--deadline-blocks: a positive whole number of blocks")
    }
    let head = try Hex.decodeQuantity(try rpc.call("eth_blockNumber", []).stringValue ?? "")
    let request = JobRequest(modelId: args.positionals[0], input: input, inputHash: inputHash, inputURI: inputURI,
                             verificationClass: verificationClass, maxFee: maxFee, verificationFee: verificationFee, deadline: head + blocks)
    let key = try unlockKey(args, from)
    let (id, block) = try submitJob(request, sender: TransactionSender(rpc: rpc, key: key, chainId: try rpc.chainId()))
    print("job \(id) requested in block \(block)")
    guard args.flag("--wait") else { return 0 }
    var last = "requested"
    let settled = ["finalized", "refunded", "unverified", "disputed"]
    while true {
        let job = try rpc.call("opg_getJob", [.string(id)])
        let status = job["status"]?.stringValue ?? "?"
        if status != last {
            let progress = status == "attesting" ? " (\(job["revealedCount"]?.serialized() ?? "0")/\((job["committee"]?.arrayValue ?? []).count) revealed)" : ""
            print("\(status)\(progress)")
            last = status
        }
        if settled.contains(status) {
            print("output hash \(job["outputHash"]?.stringValue ?? "?"), class \(job["verificationClass"]?.stringValue ?? "?"), label \(job["label"]?.stringValue ?? "none")")
            return status == "finalized" || status == "unverified" ? 0 : 1
        }
        Thread.sleep(forTimeInterval: 0.2)
    }
}

/// Sends `request` to the jobs module with its escrow (max fee + verification fee) and
/// returns the new job's id and the block (hex) it was requested in.
func submitJob(_ request: JobRequest, sender: TransactionSender) throws -> (id: String, block: String) {
    let receipt = try sender.sendAndWait(try request.calldata(), to: Jobs.address, value: request.maxFee + request.verificationFee)
    try sender.requireSuccess(receipt, "job submit")
    let requested = ABI.eventTopic("JobRequested(bytes32,address,string,uint8,uint256,uint256,uint64)")
    let log = receipt["logs"]?.arrayValue?.first { $0["topics"]?.arrayValue?.first?.stringValue == Hex.encode(requested.bytes) }
    guard let id = log?["topics"]?.arrayValue?.dropFirst().first?.stringValue else { throw CommandFailure("job submit: no JobRequested event") }
    return (id, receipt["blockNumber"]?.stringValue ?? "?")
}
