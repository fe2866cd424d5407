import Chain
import CLIKit
import Crypto
import Foundation
import HTTPServer
import JSON
import Modules
import Node
import Operators
import Primitives
import RPC

let usage = """
usage: opg <command> [options]

The opg command-line client: wallet, chain queries and transfers over JSON-RPC, model tools, the chat tokenizer.

commands:
  account new    [--keystore DIR] [--password-file FILE]     create a key, store it encrypted (keystore v3)
  account import [--keystore DIR] [--password-file FILE] KEYFILE
                                                              import a hex private key from KEYFILE
  account list   [--keystore DIR]                             list the keystore's addresses
  balance        [--rpc URL] [--block TAG] ADDRESS            balance in wei and OPG
  send           [--rpc URL] [--keystore DIR] [--password-file FILE] --from ADDRESS --to ADDRESS --value OPG
                 [--data HEX] [--gas N]                       sign and submit an EIP-1559 transfer; prints its hash
  block          [--rpc URL] [--full] NUMBER|latest|earliest  print a block as JSON
  tx decode      RAW_HEX                                      decode a signed transaction, print it as JSON
  abi [NAME]                                                  print a native module's ABI (JSON); list them without NAME
  model inspect  [--json] FILE.onnx                           an ONNX model's opsets, inputs, outputs and operators
  model run      FILE.onnx --input NAME=FILE.pb|FILE.json … [--output-dir DIR] [--threads N]
                                                              run a model deterministically; prints outputs and their hash
  model upload   [--rpc URL] [--keystore DIR] [--password-file FILE] --from ADDRESS [--name N] [--description D] FILE.onnx
                                                              register a model on chain (chunked, resumable); prints its ids
  model list     [--rpc URL] [--cursor C] [--limit N]         registered models, a page at a time
  model info     [--rpc URL] ID                               one registered model (CIDv0, CIDv1 or 0x + SHA-256)
  chat tokenize  [--tokenizer FILE] TEXT                      the chat model's token ids of TEXT
  chat decode    [--tokenizer FILE] ID …                      the text of token ids
  chat template  [--tokenizer FILE] --message ROLE=CONTENT …  a conversation as the chat model sees it
  inference verify [--rpc URL] TXHASH                         re-run a transaction's inferences locally, compare outputs
  stake          [--rpc URL] [--keystore DIR] [--password-file FILE] --from ADDRESS --value OPG
                 [--role provider|verifier --model ID … --hardware CLASS | --role validator --consensus-key-file FILE]
                                                              register as an operator, or add stake
  unstake        [--rpc URL] [--keystore DIR] [--password-file FILE] --from ADDRESS --value OPG
                                                              start unbonding stake
  withdraw       [--rpc URL] [--keystore DIR] [--password-file FILE] --from ADDRESS
                                                              pay out stake whose unbonding period has passed
  operators      [--rpc URL] [--role ROLE] [--model ID]       the staking module's operators, as a table
  job submit     [--rpc URL] [--keystore DIR] [--password-file FILE] --from ADDRESS MODEL --input-file FILE --max-fee OPG [--wait]
                                                              request an inference job; prints its id (and progress with --wait)
  job show       [--rpc URL] JOBID                            one job as JSON
  network        [--rpc URL] [--epochs N] [--interval S] [--once]
                                                              the verification network's vital signs, refreshing
  job verify     [--rpc URL] [--model-file FILE] JOBID        re-run an exact job locally; prints verified or where it differs
  provider       --config FILE                                run the provider daemon (docs/daemons.md)
  verifier       --config FILE                                run the verifier daemon (docs/daemons.md)

Defaults: --rpc http://127.0.0.1:8545, --keystore ~/.opg/keystore. Without --password-file
the password is read from standard input (first line).
Run `opg <command> --help` for details.
"""

let defaultRPC = "http://127.0.0.1:8545"
var defaultKeystore: String { (NSHomeDirectory() as NSString).appendingPathComponent(".opg/keystore") }

func parseAddress(_ text: String, _ what: String) throws -> Address {
    do { return try Address(hex: text) } catch { throw UsageError("\(what): \"\(text)\" is not a valid address (20 bytes of hex, 0x-prefixed): \(error)") }
}

/// The first line of the password file, or of standard input.
func readPassword(_ args: Arguments) throws -> String {
    let text: String
    if let path = args.option("--password-file") {
        guard let data = FileManager.default.contents(atPath: path), let s = String(data: data, encoding: .utf8) else {
            throw UsageError("--password-file: cannot read \(path)")
        }
        text = s
    } else {
        text = readLine(strippingNewline: true) ?? ""
    }
    return String(text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        .trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
}

/// The key of `from` from the keystore (`--keystore`), unlocked with the password of
/// `--password-file` or standard input.
func unlockKey(_ args: Arguments, _ from: Address) throws -> PrivateKey {
    let keystore = args.option("--keystore") ?? defaultKeystore
    guard let entry = try listKeystore(keystore).first(where: { $0.address == from }) else {
        throw UsageError("--from: \(from) is not in the keystore \(keystore)")
    }
    let password = try readPassword(args)
    do { return try Keystore.decrypt(String(decoding: FileManager.default.contents(atPath: entry.path) ?? Data(), as: UTF8.self), password: password) } catch {
        throw CommandFailure("cannot unlock \(from): \(error)")
    }
}

// MARK: - Amounts

/// "1.5" OPG → wei (18 decimals); at most 18 fractional digits.
func parseOPG(_ text: String) throws -> UInt256 {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count <= 2, !text.isEmpty, parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
          !(parts[0].isEmpty && (parts.count == 1 || parts[1].isEmpty)) else {
        throw UsageError("--value: \"\(text)\" is not a decimal amount of OPG (e.g. 1.5)")
    }
    let fraction = parts.count == 2 ? String(parts[1]) : ""
    guard fraction.count <= 18 else { throw UsageError("--value: \"\(text)\" has more than 18 decimal places") }
    let digits = (parts[0].isEmpty ? "0" : String(parts[0])) + fraction + String(repeating: "0", count: 18 - fraction.count)
    do { return try UInt256(decimal: digits) } catch { throw UsageError("--value: \"\(text)\" is too large") }
}

func formatOPG(_ wei: UInt256) -> String {
    let s = wei.description
    let padded = String(repeating: "0", count: max(0, 19 - s.count)) + s
    let whole = padded.dropLast(18)
    var fraction = String(padded.suffix(18))
    while fraction.hasSuffix("0") { fraction.removeLast() }
    return fraction.isEmpty ? String(whole) : "\(whole).\(fraction)"
}

// MARK: - Commands

func accountCommand(_ argv: [String]) throws -> Int32 {
    let accountUsage = """
    usage: opg account new|import|list [--keystore DIR] [--password-file FILE] [KEYFILE]

      new     create a key and store it encrypted (keystore v3, scrypt) in DIR; prints its address
      import  encrypt the hex private key in KEYFILE into DIR; prints its address
      list    print the address of every key file in DIR
    """
    guard let sub = argv.first, !sub.hasPrefix("-") else {
        if argv.contains("--help") || argv.contains("-h") { print(accountUsage); return 0 }
        throw UsageError("account: missing subcommand (new, import or list)")
    }
    let args = try Arguments(Array(argv.dropFirst()), options: ["--keystore", "--password-file"])
    if args.wantsHelp { print(accountUsage); return 0 }
    let keystore = args.option("--keystore") ?? defaultKeystore
    switch sub {
    case "new", "import":
        let key: PrivateKey
        if sub == "new" {
            try args.expectPositionals([])
            key = try PrivateKey.generate()
        } else {
            try args.expectPositionals(["KEYFILE"])
            let path = args.positionals[0]
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw UsageError("KEYFILE: cannot read \(path)")
            }
            do { key = try PrivateKey(hex: text.trimmingCharacters(in: .whitespacesAndNewlines)) } catch {
                throw UsageError("KEYFILE: \(path) does not hold a hex secp256k1 private key: \(error)")
            }
        }
        let password = try readPassword(args)
        let json = try Keystore.encrypt(key, password: password)
        try FileManager.default.createDirectory(atPath: keystore, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        if let existing = try listKeystore(keystore).first(where: { $0.address == key.address }) {
            throw CommandFailure("\(key.address) is already in the keystore (\(existing.path))")
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let stamp = formatter.string(from: Date()).replacingOccurrences(of: ":", with: "-")
        let path = (keystore as NSString).appendingPathComponent("UTC--\(stamp)--\(key.address.hex.dropFirst(2))")
        guard FileManager.default.createFile(atPath: path, contents: Data(json.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CommandFailure("cannot write \(path)")
        }
        print("address \(key.address)")
        return 0
    case "list":
        try args.expectPositionals([])
        for entry in try listKeystore(keystore) { print("\(entry.address)  \(entry.path)") }
        return 0
    default:
        throw UsageError("account: unknown subcommand \"\(sub)\" (new, import or list)")
    }
}

func listKeystore(_ dir: String) throws -> [(address: Address, path: String)] {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
    var out: [(address: Address, path: String)] = []
    for name in names.sorted() where !name.hasPrefix(".") {
        let path = (dir as NSString).appendingPathComponent(name)
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8),
              let address = try? Keystore.address(of: text) else { continue }
        out.append((address, path))
    }
    return out
}

func balanceCommand(_ argv: [String]) throws -> Int32 {
    let args = try Arguments(argv, options: ["--rpc", "--block"])
    if args.wantsHelp { print("usage: opg balance [--rpc URL] [--block TAG] ADDRESS\n\nPrints the balance in wei and in OPG."); return 0 }
    try args.expectPositionals(["address"])
    let address = try parseAddress(args.positionals[0], "address")
    let rpc = try RPCClient(args.option("--rpc") ?? defaultRPC)
    let wei = try rpc.quantity("eth_getBalance", [.string(address.hex), .string(args.option("--block") ?? "latest")])
    print("\(wei.description) wei (\(formatOPG(wei)) OPG)")
    return 0
}

func sendCommand(_ argv: [String]) throws -> Int32 {
    let args = try Arguments(argv, options: ["--rpc", "--keystore", "--password-file", "--from", "--to", "--value", "--data", "--gas"])
    if args.wantsHelp {
        print("""
        usage: opg send [--rpc URL] [--keystore DIR] [--password-file FILE] --from ADDRESS --to ADDRESS --value OPG [--data HEX] [--gas N]

        Signs an EIP-1559 transaction with the keystore key of --from (fee cap 2 × base fee + tip,
        tip from eth_maxPriorityFeePerGas, gas from eth_estimateGas unless --gas) and submits it.
        The transaction hash is printed last.
        """)
        return 0
    }
    try args.expectPositionals([])
    let to = try parseAddress(try args.required("--to"), "--to")
    let value = try parseOPG(try args.required("--value"))
    let from = try parseAddress(try args.required("--from"), "--from")
    var data: [UInt8] = []
    if let d = args.option("--data") {
        do { data = try Hex.decodeLenient(d) } catch { throw UsageError("--data: \(error)") }
    }
    var gas: UInt64?
    if let g = args.option("--gas") {
        guard let v = UInt64(g), v >= 21_000 else { throw UsageError("--gas: \"\(g)\" must be an integer of at least 21000") }
        gas = v
    }
    let key = try unlockKey(args, from)
    let rpc = try RPCClient(args.option("--rpc") ?? defaultRPC)
    let chainId = try rpc.chainId()
    let nonce = try rpc.pendingNonce(from)
    let (tip, maxFee) = try rpc.feeCaps()
    if gas == nil {
        let call = JSONValue.object(["from": .string(from.hex), "to": .string(to.hex), "value": .string(value.hexQuantity),
                                     "input": .string(Hex.encode(data))])
        gas = try rpc.quantity("eth_estimateGas", [call]).uint64
    }
    let tx = Transaction(type: .dynamicFee, chainId: chainId, nonce: nonce, maxPriorityFeePerGas: tip,
                         maxFeePerGas: maxFee, gasLimit: gas ?? 21_000, to: to, value: value, data: data, accessList: [])
    let signed = try tx.signed(with: key)
    let hash = try rpc.call("eth_sendRawTransaction", [.string(Hex.encode(signed.raw))])
    print("sent \(formatOPG(value)) OPG from \(from) to \(to), nonce \(nonce)")
    print("transaction \(hash.stringValue ?? signed.hash.hex)")
    return 0
}

func blockCommand(_ argv: [String]) throws -> Int32 {
    let args = try Arguments(argv, options: ["--rpc"], flags: ["--full"])
    if args.wantsHelp { print("usage: opg block [--rpc URL] [--full] NUMBER|latest|earliest|HASH\n\nPrints the block as eth_getBlockBy* returns it."); return 0 }
    try args.expectPositionals(["block"])
    let which = args.positionals[0]
    let rpc = try RPCClient(args.option("--rpc") ?? defaultRPC)
    let result: JSONValue
    if ["latest", "earliest", "pending", "safe", "finalized"].contains(which) {
        result = try rpc.call("eth_getBlockByNumber", [.string(which), .bool(args.flag("--full"))])
    } else if which.hasPrefix("0x") && which.count == 66 {
        result = try rpc.call("eth_getBlockByHash", [.string(which), .bool(args.flag("--full"))])
    } else {
        let n: UInt64
        if which.hasPrefix("0x") {
            guard let v = try? Hex.decodeQuantity(which) else { throw UsageError("block: \"\(which)\" is not a block number, hash or tag") }
            n = v
        } else {
            guard let v = UInt64(which) else { throw UsageError("block: \"\(which)\" is not a block number, hash or tag") }
            n = v
        }
        result = try rpc.call("eth_getBlockByNumber", [.string(Hex.quantity(n)), .bool(args.flag("--full"))])
    }
    guard result != .null else { throw CommandFailure("block \(which) not found") }
    print(result.serialized())
    return 0
}

func txCommand(_ argv: [String]) throws -> Int32 {
    let txUsage = "usage: opg tx decode RAW_HEX\n\nDecodes a signed transaction (types 0, 1, 2), recovers its sender and prints every field as JSON."
    guard let sub = argv.first, !sub.hasPrefix("-") else {
        if argv.contains("--help") || argv.contains("-h") { print(txUsage); return 0 }
        throw UsageError("tx: missing subcommand (decode)")
    }
    guard sub == "decode" else { throw UsageError("tx: unknown subcommand \"\(sub)\" (decode)") }
    let args = try Arguments(Array(argv.dropFirst()), options: [])
    if args.wantsHelp { print(txUsage); return 0 }
    try args.expectPositionals(["RAW_HEX"])
    let raw: [UInt8]
    do { raw = try Hex.decodeLenient(args.positionals[0]) } catch { throw UsageError("RAW_HEX: \(error)") }
    let tx: SignedTransaction
    do { tx = try SignedTransaction(raw: raw) } catch { throw CommandFailure("invalid transaction: \(error)") }
    print(EthJSON.transaction(tx).serialized())
    return 0
}

func abiCommand(_ argv: [String]) throws -> Int32 {
    let args = try Arguments(argv, options: [])
    let names = StandardModules.all().map { $0.name.lowercased() }
    if args.wantsHelp {
        print("usage: opg abi [NAME]\n\nPrints the Solidity-ABI JSON of a native module (docs/abi/NAME.json);\nwithout NAME, lists the modules: \(names.joined(separator: ", ")).")
        return 0
    }
    guard let name = args.positionals.first else {
        for module in StandardModules.all() { print("\(module.name.lowercased())\t\(module.address)") }
        return 0
    }
    try args.expectPositionals(["NAME"])
    guard let module = StandardModules.named(name) else {
        throw UsageError("NAME: unknown module \"\(name)\" (\(names.joined(separator: ", ")))")
    }
    print(module.abiJSON, terminator: module.abiJSON.hasSuffix("\n") ? "" : "\n")
    return 0
}

let argv = Array(CommandLine.arguments.dropFirst())
runMain(program: "opg", usageHint: "run `opg --help` for usage") {
    guard let command = argv.first else { print(usage); return 2 }
    let rest = Array(argv.dropFirst())
    switch command {
    case "--help", "-h", "help": print(usage); return 0
    case "account": return try accountCommand(rest)
    case "balance": return try balanceCommand(rest)
    case "send": return try sendCommand(rest)
    case "block": return try blockCommand(rest)
    case "tx": return try txCommand(rest)
    case "abi": return try abiCommand(rest)
    case "model": return try modelCommand(rest)
    case "chat": return try chatCommand(rest)
    case "inference": return try inferenceCommand(rest)
    case "stake", "unstake", "withdraw", "operators": return try stakingCommand(command, rest)
    case "job": return try jobCommand(rest)
    case "network": return try networkCommand(rest)
    case "provider": return try operatorCommand(.provider, rest)
    case "verifier": return try operatorCommand(.verifier, rest)
    default: throw UsageError("unknown command \"\(command)\"")
    }
}
