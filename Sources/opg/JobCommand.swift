import CLIKit
import Foundation
import Inference
import JSON
import Modules
import Operators
import Primitives

let jobUsage = """
usage: opg job submit [--rpc URL] [--keystore DIR] [--password-file FILE] --from ADDRESS MODEL
                      (--input-file FILE | --input-hash HASH --input-uri URI) --max-fee OPG
                      [--verification-fee OPG] [--class exact|attestedOnly] [--deadline-blocks N] [--wait]
       opg job show   [--rpc URL] JOBID
       opg job verify [--rpc URL] [--model-file FILE] [--tokenizer FILE] JOBID

submit  requests a job from the jobs module (0x…00F7) for the registered model MODEL, escrowing
        --max-fee plus --verification-fee (default 0) OPG; the input is the bytes of --input-file
        (at most 96 KiB) or a hash and a URI where it is served. The provider must commit its
        result within --deadline-blocks (default 200). Prints the job id; with --wait, prints each
        status change until the job is settled or disputed, then the output's hash, its class and
        its label (exit 0 for finalized or unverified, 1 for refunded, overturned or disputed).
show    one job as JSON (opg_getJob).
verify  re-runs an exact job locally from chain data: the input (inline, or fetched from its URI
        and checked against its hash), the model (the registry's bytes, or --model-file for a
        model registered by reference), then compares the output's hash and the trace root with
        the committed ones. Prints `verified` (exit 0), or what differs (exit 1): the output
        tensor and byte where the committed output first differs, and the trace root. A chat job
        (docs/chat.md) is re-run as the daemons run it: --model-file and --tokenizer default to
        the files `opg chat generate` reads (.build/chat/).

docs/verification.md describes the lifecycle, fees and labels.
"""

/// `opg job submit`, `opg job show` and `opg job verify`.
func jobCommand(_ argv: [String]) throws -> Int32 {
    guard let sub = argv.first, ["submit", "show", "verify"].contains(sub) else {
        if argv.first == "--help" || argv.first == "-h" { print(jobUsage); return 0 }
        throw UsageError("opg job needs submit, show or verify (opg job --help)")
    }
    if sub == "verify" { return try jobVerify(Array(argv.dropFirst())) }
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
    let key = try unlockKey(args, from)  // first: scrypt takes seconds, and the deadline counts from the head
    let head = try Hex.decodeQuantity(try rpc.call("eth_blockNumber", []).stringValue ?? "")
    let request = JobRequest(modelId: args.positionals[0], input: input, inputHash: inputHash, inputURI: inputURI,
                             verificationClass: verificationClass, maxFee: maxFee, verificationFee: verificationFee, deadline: head + blocks)
    let (id, block) = try submitJob(request, sender: TransactionSender(rpc: rpc, key: key, chainId: try rpc.chainId()))
    print("job \(id) requested in block \(block)")
    guard args.flag("--wait") else { return 0 }
    var last = "requested"
    while true {
        let job = try rpc.call("opg_getJob", [.string(id)])
        let status = job["status"]?.stringValue ?? "?"
        let known = JobStatus(name: status)
        if status != last {
            let progress = status == "attesting" ? " (\(job["revealedCount"]?.serialized() ?? "0")/\((job["committee"]?.arrayValue ?? []).count) revealed)" : ""
            print("\(status)\(progress)")
            last = status
        }
        if let known, known.isSettled || known == .disputed {  // a dispute takes blocks to resolve: report it at once
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

/// `opg job verify`: re-runs an exact job from chain data and compares with its commitment.
func jobVerify(_ argv: [String]) throws -> Int32 {
    let args = try Arguments(argv, options: ["--rpc", "--model-file", "--tokenizer"])
    if args.wantsHelp { print(jobUsage); return 0 }
    try args.expectPositionals(["JOBID"])
    let id: Hash32
    do { id = try Hash32(hex: args.positionals[0]) } catch { throw UsageError("JOBID: \"\(args.positionals[0])\" is not 32 bytes of hex") }
    let reader = JobReader(rpc: try RPCClient(args.option("--rpc") ?? defaultRPC))
    let job = try reader.job(id)
    guard job.verificationClass == .exact else {
        throw CommandFailure("job \(id) is attested-only: its result comes from a backend that cannot be re-run, so it cannot be verified")
    }
    guard job.outputHash != .zero else { throw CommandFailure("job \(id) is \(job.status): no result is committed yet") }
    let modelFile = args.option("--model-file")
    InferenceSession.keepFreedMemoryInProcess()
    let chat = ChatRunner(files: OperatorConfig.ChatFiles(modelFile: modelFile ?? defaultChatModelPath,
                                                          tokenizerFile: args.option("--tokenizer") ?? defaultTokenizerPath), threads: 1)
    if chat.serves(modelId: job.modelId, verificationClass: .exact) { return try verifyChatJob(job, chat, reader) }
    let runner = KernelRunner { try reader.modelBytes($0, localFile: modelFile) }
    let (trace, _) = try runner.trace(modelId: job.modelId, input: try reader.input(of: job))
    let output = TensorEncoding.canonical(trace.outputs)
    let outputHash = Keccak256.hash(output)
    if outputHash == job.outputHash && trace.root == job.traceRoot {
        print("verified")
        return 0
    }
    if outputHash != job.outputHash {
        print("output differs: committed outputHash \(job.outputHash), re-run \(outputHash)")
        if let committed = try? reader.output(of: job) { print(outputDifference(committed, output, trace.outputs)) }
    } else {
        print("output matches (\(outputHash))")
    }
    if trace.root != job.traceRoot {
        print("trace root differs: committed \(job.traceRoot), re-run \(trace.root) over \(trace.steps.count) nodes")
    } else {
        print("trace root matches (\(trace.root))")
    }
    return 1
}

/// `opg job verify` of a chat job: the daemons' `ChatRunner` re-runs it; prints `verified`
/// (0) or what differs (1).
private func verifyChatJob(_ job: JobView, _ runner: ChatRunner, _ reader: JobReader) throws -> Int32 {
    let outcome = try runner.run(modelId: job.modelId, input: try reader.input(of: job), verificationClass: .exact)
    let outputHash = Keccak256.hash(outcome.output)
    if outputHash == job.outputHash && outcome.traceRoot == job.traceRoot {
        print("verified")
        return 0
    }
    if outputHash != job.outputHash {
        print("output differs: committed outputHash \(job.outputHash), re-run \(outputHash)")
        if let committed = try? reader.output(of: job) {
            let offset = (0..<min(committed.count, outcome.output.count)).first { committed[$0] != outcome.output[$0] } ?? min(committed.count, outcome.output.count)
            print("first difference at byte \(offset) of the answer (committed \(committed.count) bytes, re-run \(outcome.output.count)): "
                  + "re-run \(String(decoding: outcome.output, as: UTF8.self))")
        }
    } else {
        print("output matches (\(outputHash))")
    }
    print(outcome.traceRoot == job.traceRoot ? "trace root matches (\(outcome.traceRoot))"
                                             : "trace root differs: committed \(job.traceRoot), re-run \(outcome.traceRoot)")
    return 1
}

/// Where the committed output bytes first differ from the re-run's canonical encoding:
/// the output tensor (by position and name) and the byte offset inside the encoding.
func outputDifference(_ committed: [UInt8], _ rerun: [UInt8], _ tensors: [Tensor]) -> String {
    let common = min(committed.count, rerun.count)
    let offset = (0..<common).first { committed[$0] != rerun[$0] } ?? common
    guard offset < max(committed.count, rerun.count) else { return "the committed output's bytes equal the re-run's" }
    var end = 4  // the tensor count
    for (i, t) in tensors.enumerated() {
        end += TensorEncoding.canonical([t]).count - 4
        if offset < end { return "first difference at byte \(offset) of the output encoding, in output \(i) (\"\(t.name)\")" }
    }
    return "first difference at byte \(offset) of the output encoding (committed \(committed.count) bytes, re-run \(rerun.count))"
}
