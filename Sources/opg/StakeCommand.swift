import CLIKit
import Crypto
import Foundation
import JSON
import Modules
import Node
import Operators
import Primitives

let stakeUsage = """
usage: opg stake    [--rpc URL] [--keystore DIR] [--password-file FILE] --from ADDRESS --value OPG
                    [--role provider|verifier --model ID … --hardware CLASS | --role validator --consensus-key-file FILE]
       opg unstake  [--rpc URL] [--keystore DIR] [--password-file FILE] --from ADDRESS --value OPG
       opg withdraw [--rpc URL] [--keystore DIR] [--password-file FILE] --from ADDRESS
       opg operators [--rpc URL] [--role ROLE] [--model ID]

stake      registers --from with the staking module (0x…00F6) as --role, bonding --value OPG, or adds
           --value to the stake of an operator already registered (no --role then). Providers and
           verifiers declare the model ids they serve (--model, repeatable) and a hardware class;
           validators give the file of their consensus key (32 bytes of hex, like opgd's
           validatorKeyFile), whose compressed public key is registered with --from's proof.
unstake    starts unbonding --value OPG; it can be withdrawn after the unbonding period.
withdraw   pays out the stake whose unbonding period has passed.
operators  a table of every operator: address, role, stake, models, jailed, attestations, faults.

docs/staking.md describes the rules, minimums and periods.
"""

/// `opg stake`, `opg unstake`, `opg withdraw` and `opg operators`.
func stakingCommand(_ command: String, _ argv: [String]) throws -> Int32 {
    let signing = ["--rpc", "--keystore", "--password-file", "--from"]
    let options: [String]
    switch command {
    case "stake": options = signing + ["--value", "--role", "--hardware", "--consensus-key-file"]
    case "unstake": options = signing + ["--value"]
    case "withdraw": options = signing
    default: options = ["--rpc", "--role", "--model"]
    }
    let args = try Arguments(argv, options: options, repeatable: command == "stake" ? ["--model"] : [])
    if args.wantsHelp { print(stakeUsage); return 0 }
    try args.expectPositionals([])
    let rpc = try RPCClient(args.option("--rpc") ?? defaultRPC)
    if command == "operators" { return try printOperators(args, rpc) }

    let from = try parseAddress(try args.required("--from"), "--from")
    var value = UInt256.zero
    var unbond = UInt256.zero
    if command == "stake" { value = try parseOPG(try args.required("--value")) }
    if command == "unstake" { unbond = try parseOPG(try args.required("--value")) }
    let makeCall: (PrivateKey) throws -> [UInt8]
    switch command {
    case "stake": makeCall = try stakeCall(args, rpc: rpc)
    case "unstake": makeCall = { _ in try ABI.encodeCall("unbond(uint256)", [.uint(unbond)]) }
    default: makeCall = { _ in ABI.selector("withdraw()") }
    }
    let key = try unlockKey(args, from)
    let call = try makeCall(key)
    let sender = TransactionSender(rpc: rpc, key: key, chainId: try rpc.chainId())
    let receipt = try sender.sendAndWait(call, to: Staking.address, value: value)
    try sender.requireSuccess(receipt, command)
    let info = try rpc.call("opg_getOperator", [.string(from.hex)])
    let stake = formatOPG((try? UInt256(hexQuantity: info["stake"]?.stringValue ?? "")) ?? .zero)
    let unbonding = formatOPG((try? UInt256(hexQuantity: info["unbonding"]?.stringValue ?? "")) ?? .zero)
    print("\(command): transaction \(receipt["transactionHash"]?.stringValue ?? "?") in block \(receipt["blockNumber"]?.stringValue ?? "?")")
    print("\(from) \(info["role"]?.stringValue ?? "?"): stake \(stake) OPG, unbonding \(unbonding) OPG until block \(info["unbondingReleaseBlock"]?.serialized() ?? "?"), eligible from epoch \(info["eligibleFromEpoch"]?.serialized() ?? "?")")
    return 0
}

/// The calldata of `opg stake` from the account's key, its options checked first: a
/// registration when `--role` is given, else `addStake()`.
private func stakeCall(_ args: Arguments, rpc: RPCClient) throws -> (PrivateKey) throws -> [UInt8] {
    guard let roleName = args.option("--role") else {
        for option in ["--hardware", "--consensus-key-file"] where args.option(option) != nil {
            throw UsageError("\(option): only with --role (adding stake to a registered operator takes --value alone)")
        }
        guard args.values("--model").isEmpty else { throw UsageError("--model: only with --role provider or verifier") }
        return { _ in ABI.selector("addStake()") }
    }
    guard let role = OperatorRole(name: roleName) else { throw UsageError("--role: \"\(roleName)\" is not provider, verifier or validator") }
    if role == .validator {
        guard args.values("--model").isEmpty, args.option("--hardware") == nil else {
            throw UsageError("--model and --hardware: a validator declares neither")
        }
        let keyFile = try args.required("--consensus-key-file")
        let consensusKey: PrivateKey
        do { consensusKey = try ChainSetup.loadKey(keyFile) } catch { throw UsageError("--consensus-key-file: \(error)") }
        let key = Staking.compressed(consensusKey.publicKey)
        return { account in
            let proof = Staking.consensusKeyProof(account: account, key: key, chainId: try rpc.chainId())
            return try ABI.encodeCall("registerValidator(bytes,bytes)", [.bytes(key), .bytes(proof)])
        }
    }
    guard args.option("--consensus-key-file") == nil else { throw UsageError("--consensus-key-file: only for --role validator") }
    let models = args.values("--model")
    guard !models.isEmpty else { throw UsageError("--model: a \(role.name) declares at least one model id") }
    let hardware = try args.required("--hardware")
    let signature = role == .provider ? "registerProvider(string[],string)" : "registerVerifier(string[],string)"
    let call = try ABI.encodeCall(signature, [.array(models.map(ABIValue.string)), .string(hardware)])
    return { _ in call }
}

/// `opg operators`: every page of `opg_listOperators`, as a table.
private func printOperators(_ args: Arguments, _ rpc: RPCClient) throws -> Int32 {
    var filter: [(String, JSONValue)] = []
    if let role = args.option("--role") {
        guard OperatorRole(name: role) != nil else { throw UsageError("--role: \"\(role)\" is not provider, verifier or validator") }
        filter.append(("role", .string(role)))
    }
    if let model = args.option("--model") { filter.append(("model", .string(model))) }
    var rows = [["ADDRESS", "ROLE", "STAKE (OPG)", "MODELS", "JAILED", "ATTESTATIONS", "FAULTS"]]
    var cursor: JSONValue = .null
    repeat {
        let page = try rpc.call("opg_listOperators", [.object(JSONObject([("cursor", cursor)] + filter))])
        for item in page["items"]?.arrayValue ?? [] {
            let stake = (try? UInt256(hexQuantity: item["stake"]?.stringValue ?? "")) ?? .zero
            let models = (item["models"]?.arrayValue ?? []).compactMap(\.stringValue)
            let jailed = item["tombstoned"] == .bool(true) ? "tombstoned" : item["jailed"] == .bool(true) ? "yes" : "no"
            rows.append([item["address"]?.stringValue ?? "?", item["role"]?.stringValue ?? "?", formatOPG(stake),
                         models.isEmpty ? "-" : models.joined(separator: ","), jailed,
                         item["attestations"]?.serialized() ?? "0", item["faults"]?.serialized() ?? "0"])
        }
        cursor = page["nextCursor"] ?? .null
    } while cursor != .null
    let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
    for row in rows {
        print(zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
            .trimmingCharacters(in: .whitespaces))
    }
    return 0
}
