import Chain
import CLIKit
import Crypto
import Foundation
import JSON
import Modules
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
        if let existing = try? rpc.call("opg_getModel", [.string(shaHex)]) {
            FileHandle.standardError.write(Data("already registered\n".utf8))
            print(ids(existing).serialized())
            return 0
        }
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
        print(ids(try rpc.call("opg_getModel", [.string(shaHex)])).serialized())
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

/// Signs calls to a module (the registry unless told) with consecutive nonces and waits
/// for their receipts.
final class TransactionSender {
    let rpc: RPCClient
    let key: PrivateKey
    let chainId: UInt64
    private var nonce: UInt64?

    init(rpc: RPCClient, key: PrivateKey, chainId: UInt64) {
        self.rpc = rpc
        self.key = key
        self.chainId = chainId
    }

    /// Signs and submits a call with `data` and `value` to `to`; returns the transaction
    /// hash. Gas is the estimate plus a margin for state that pending transactions change.
    func send(_ data: [UInt8], to: Address = ModelUploader.registry, value: UInt256 = .zero) throws -> String {
        let from = key.address
        let nonce = try self.nonce ?? rpc.pendingNonce(from)
        let call = JSONValue.object(["from": .string(from.hex), "to": .string(to.hex), "value": .string(value.hexQuantity),
                                     "input": .string(Hex.encode(data))])
        let estimate = try rpc.quantity("eth_estimateGas", [call]).uint64 ?? 0
        let (tip, maxFee) = try rpc.feeCaps()
        let tx = Transaction(type: .dynamicFee, chainId: chainId, nonce: nonce, maxPriorityFeePerGas: tip, maxFeePerGas: maxFee,
                             gasLimit: estimate + estimate / 4 + 50_000, to: to, value: value, data: data, accessList: [])
        let signed = try tx.signed(with: key)
        let hash = try rpc.call("eth_sendRawTransaction", [.string(Hex.encode(signed.raw))]).stringValue ?? signed.hash.hex
        self.nonce = nonce + 1
        return hash
    }

    func sendAndWait(_ data: [UInt8], to: Address = ModelUploader.registry, value: UInt256 = .zero) throws -> JSONValue {
        try waitForReceipt(try send(data, to: to, value: value))
    }

    /// Polls for the receipt of `hash` (two minutes at most).
    func waitForReceipt(_ hash: String) throws -> JSONValue {
        for _ in 0..<1200 {
            let receipt = try rpc.call("eth_getTransactionReceipt", [.string(hash)])
            if receipt != .null { return receipt }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw CommandFailure("transaction \(hash) was not included within two minutes; run the command again to resume")
    }

    /// Throws the revert reason (re-run as `eth_call` at the receipt's parent block) of a failed transaction.
    func requireSuccess(_ receipt: JSONValue, _ what: String) throws {
        guard receipt["status"]?.stringValue == "0x0" else { return }
        let hash = receipt["transactionHash"]?.stringValue ?? "?"
        let tx = try rpc.call("eth_getTransactionByHash", [.string(hash)])
        var reason = "reverted"
        if let number = receipt["blockNumber"]?.stringValue, let n = try? Hex.decodeQuantity(number), n > 0 {  // the state the transaction ran on
            let call = JSONValue.object(["from": tx["from"] ?? .null, "to": tx["to"] ?? .null, "value": tx["value"] ?? .null,
                                         "input": tx["input"] ?? .null])
            do { _ = try rpc.call("eth_call", [call, .string(Hex.quantity(n - 1))]) } catch let e as CommandFailure { reason = e.message }
        }
        throw CommandFailure("\(what) failed (transaction \(hash)): \(reason)")
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
