import Chain
import CLIKit
import Crypto
import Foundation
import JSON
import Modules
import Operators
import Primitives

let modelChainUsage = """
usage: opg model upload [--rpc URL] [--keystore DIR] [--password-file FILE] --from ADDRESS
                        [--name NAME] [--description TEXT] FILE.onnx
       opg model list [--rpc URL] [--cursor CURSOR] [--limit N]
       opg model info [--rpc URL] ID

upload:
Registers FILE.onnx with the model registry (0x…00F3, docs/models.md) in transactions signed
by the keystore key of --from: beginUpload, one putChunk per 96 KiB chunk (several in flight),
then finalizeUpload, which compiles the model on chain. A progress bar on standard error counts
chunks sent and confirmed. Interrupted, it resumes: run the same command again and only the
chunks the chain does not hold are sent. Prints the model's ids (CIDv0, CIDv1, SHA-256) as JSON.
A model the kernel refuses exits 1 with the kernel's reason; an already registered file prints
its ids and exits 0.

list: prints one page of opg_listModels as JSON ({"items", "nextCursor"}); pass nextCursor as
--cursor for the next page. --limit: 1…100 (default 100).

info: prints opg_getModel as JSON.
"""

/// `opg model upload|list|info`.
func modelChainCommand(_ sub: String, _ argv: [String]) throws -> Int32 {
    let options = sub == "upload" ? ["--rpc", "--keystore", "--password-file", "--from", "--name", "--description"]
        : sub == "list" ? ["--rpc", "--cursor", "--limit"] : ["--rpc"]
    let args = try Arguments(argv, options: options)
    if args.wantsHelp { print(modelChainUsage); return 0 }
    let rpc = try RPCClient(args.option("--rpc") ?? defaultRPC)
    switch sub {
    case "list":
        try args.expectPositionals([])
        var limit: JSONValue = .null
        if let l = args.option("--limit") {
            guard let n = UInt64(l), n >= 1 else { throw UsageError("--limit: \"\(l)\" is not a page size (1…100)") }
            limit = .string(Hex.quantity(n))
        }
        print(try rpc.call("opg_listModels", [args.option("--cursor").map(JSONValue.string) ?? .null, limit]).serialized())
        return 0
    case "info":
        try args.expectPositionals(["ID"])
        print(try rpc.call("opg_getModel", [.string(args.positionals[0])]).serialized())
        return 0
    default:
        try args.expectPositionals(["FILE.onnx"])
        return try ModelUploader(args: args, rpc: rpc).run()
    }
}

/// Uploads one file: resumes from what the chain holds, keeps a window of chunk
/// transactions in flight, and reports progress.
struct ModelUploader {
    /// Chunk transactions in flight at once.
    static let window = 8
    static let registry = Address(lowByte: 0xF3)

    let args: Arguments
    let rpc: RPCClient

    func run() throws -> Int32 {
        let path = args.positionals[0]
        guard let data = FileManager.default.contents(atPath: path) else { throw UsageError("FILE.onnx: cannot read \(path)") }
        let file = Array(data)
        guard !file.isEmpty else { throw UsageError("FILE.onnx: \(path) is empty") }
        let from = try parseAddress(try args.required("--from"), "--from")
        let name = args.option("--name") ?? (path as NSString).lastPathComponent
        let description = args.option("--description") ?? ""
        let sha = SHA256.hash(file)
        let shaHex = Hex.encode(sha)
        if let existing = try? rpc.call("opg_getModel", [.string(shaHex)]) { return alreadyRegistered(existing) }
        do {
            try send(file, sha: sha, from: from, name: name, description: description)
        } catch {
            // An earlier run of this command, stopped after it sent its finalizeUpload, may
            // have registered the file meanwhile (after any of this run's reads: then
            // beginUpload or finalizeUpload reverts "model already registered"): that is the
            // upload done, not a failure.
            guard let existing = try? rpc.call("opg_getModel", [.string(shaHex)]) else { throw error }
            return alreadyRegistered(existing)
        }
        print(ids(try rpc.call("opg_getModel", [.string(shaHex)])).serialized())
        return 0
    }

    /// Sends what the chain lacks of `file`'s upload: beginUpload unless a live upload of its
    /// size is open, the missing chunks (`window` in flight), then finalizeUpload.
    private func send(_ file: [UInt8], sha: [UInt8], from: Address, name: String, description: String) throws {
        let key = try unlockKey(args, from)
        let sender = TransactionSender(rpc: rpc, key: key, chainId: try rpc.chainId())
        var status = try uploadStatus(from, sha)
        let head = try rpc.quantity("eth_blockNumber", []).uint64 ?? 0
        if status.size != UInt64(file.count) || status.expiresAt <= head + 1 {
            let receipt = try sender.sendAndWait(try ABI.encodeCall("beginUpload(bytes32,uint64,string,string)",
                                                                      [.fixedBytes(sha), .uint(UInt256(UInt64(file.count))), .string(name), .string(description)]))
            try sender.requireSuccess(receipt, "beginUpload")
            status = try uploadStatus(from, sha)
        }
        let total = ModelRegistry.chunkCount(UInt64(file.count))
        var progress = ProgressBar(total: total, done: total - status.missing.count)
        var pending: [(index: Int, hash: String)] = []
        var queue = status.missing[...]
        while !queue.isEmpty || !pending.isEmpty {
            while pending.count < Self.window, let index = queue.popFirst() {
                let start = index * ModelRegistry.chunkBytes
                let chunk = Array(file[start..<min(file.count, start + ModelRegistry.chunkBytes)])
                let hash = try sender.send(try ABI.encodeCall("putChunk(bytes32,uint32,bytes)", [.fixedBytes(sha), .uint(UInt256(UInt64(index))), .bytes(chunk)]))
                pending.append((index, hash))
                progress.sent += 1
                progress.draw()
            }
            let receipt = try sender.waitForReceipt(pending[0].hash)
            try sender.requireSuccess(receipt, "putChunk \(pending[0].index)")
            pending.removeFirst()
            progress.confirmed += 1
            progress.draw()
        }
        progress.finish()
        let receipt = try sender.sendAndWait(try ABI.encodeCall("finalizeUpload(bytes32)", [.fixedBytes(sha)]))
        try sender.requireSuccess(receipt, "finalizeUpload")
    }

    /// Says the file is already registered and prints its ids; the upload is done (exit 0).
    private func alreadyRegistered(_ model: JSONValue) -> Int32 {
        FileHandle.standardError.write(Data("already registered\n".utf8))
        print(ids(model).serialized())
        return 0
    }

    private func ids(_ model: JSONValue) -> JSONValue {
        .object(["cidV0": model["cidV0"] ?? .null, "cidV1": model["cidV1"] ?? .null, "sha256": model["sha256"] ?? .null])
    }

    private func uploadStatus(_ owner: Address, _ sha: [UInt8]) throws -> (size: UInt64, expiresAt: UInt64, missing: [Int]) {
        let call = JSONValue.object(["to": .string(Self.registry.hex),
                                     "input": .string(Hex.encode(try ABI.encodeCall("uploadStatus(address,bytes32)", [.address(owner), .fixedBytes(sha)])))])
        let bytes = try Hex.decode(try rpc.call("eth_call", [call, .string("latest")]).stringValue ?? "0x")
        let v = try ABI.decode([.uint(64), .uint(32), .uint(32), .uint(64), .array(.uint(32))], bytes)
        guard case .array(let missing) = v[4] else { throw CommandFailure("uploadStatus: malformed answer") }
        return (v[0].uintValue?.uint64 ?? 0, v[3].uintValue?.uint64 ?? 0, missing.map { Int($0.uintValue?.uint64 ?? 0) })
    }
}

/// A one-line progress bar on standard error: chunks sent and confirmed.
struct ProgressBar {
    let total: Int
    var sent: Int
    var confirmed: Int

    init(total: Int, done: Int) {
        self.total = total
        sent = done
        confirmed = done
    }

    func draw() {
        let width = 30
        let filled = total == 0 ? width : confirmed * width / total
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        FileHandle.standardError.write(Data("\r[\(bar)] chunks sent \(sent)/\(total), confirmed \(confirmed)/\(total)".utf8))
    }

    func finish() {
        draw()
        FileHandle.standardError.write(Data("\n".utf8))
    }
}
