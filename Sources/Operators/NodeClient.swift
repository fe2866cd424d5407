import Chain
import CLIKit
import Crypto
import Foundation
import HTTPServer
import JSON
import Modules
import Primitives

// MARK: - JSON-RPC client

/// A JSON-RPC client of one node (`opg`'s commands and the operator daemons): failures are
/// `CommandFailure`s naming the node and the method.
public struct RPCClient {
    public let client: HTTPClient
    public let url: String

    /// A client of the node at `url`; a malformed URL is a `UsageError` naming `--rpc`.
    public init(_ url: String) throws {
        do { client = try HTTPClient(url: url) } catch { throw UsageError("--rpc: \(error)") }
        self.url = url
    }

    /// Calls `method` with `params` and returns its result.
    public func call(_ method: String, _ params: [JSONValue]) throws -> JSONValue {
        let body = JSONValue.object(["jsonrpc": .string("2.0"), "id": .int(1), "method": .string(method), "params": .array(params)])
        let response: HTTPResponse
        do { response = try client.post(body.serializedBytes()) } catch { throw CommandFailure("cannot reach \(url): \(error)") }
        guard response.status == 200 else { throw CommandFailure("\(url) answered HTTP \(response.status)") }
        let reply: JSONValue
        do { reply = try JSONParser.parse(response.body) } catch { throw CommandFailure("\(url) sent malformed JSON: \(error)") }
        if let error = reply["error"] {
            throw CommandFailure("\(method): \(error["message"]?.stringValue ?? "error") (code \(error["code"]?.numberValue?.text ?? "?"))")
        }
        guard let result = reply["result"] else { throw CommandFailure("\(method): reply has no result") }
        return result
    }

    /// Calls `method` and reads its result as a hex quantity.
    public func quantity(_ method: String, _ params: [JSONValue]) throws -> UInt256 {
        let r = try call(method, params)
        guard let s = r.stringValue, let v = try? UInt256(hexQuantity: s) else { throw CommandFailure("\(method): expected a quantity, got \(r.serialized())") }
        return v
    }
}

extension RPCClient {
    /// `eth_chainId`.
    public func chainId() throws -> UInt64 {
        guard let id = try quantity("eth_chainId", []).uint64 else { throw CommandFailure("eth_chainId: chain id does not fit 64 bits") }
        return id
    }

    /// `eth_blockNumber`.
    public func blockNumber() throws -> UInt64 {
        guard let n = try quantity("eth_blockNumber", []).uint64 else { throw CommandFailure("eth_blockNumber: does not fit 64 bits") }
        return n
    }

    /// The nonce `address`'s next transaction uses, pooled ones counted.
    public func pendingNonce(_ address: Address) throws -> UInt64 {
        guard let nonce = try quantity("eth_getTransactionCount", [.string(address.hex), .string("pending")]).uint64 else {
            throw CommandFailure("eth_getTransactionCount: nonce does not fit 64 bits")
        }
        return nonce
    }

    /// The tip (`eth_maxPriorityFeePerGas`) and a fee cap of twice the latest base fee plus the tip.
    public func feeCaps() throws -> (tip: UInt256, maxFee: UInt256) {
        let tip = try quantity("eth_maxPriorityFeePerGas", [])
        let latest = try call("eth_getBlockByNumber", [.string("latest"), .bool(false)])
        guard let baseText = latest["baseFeePerGas"]?.stringValue, let baseFee = try? UInt256(hexQuantity: baseText) else {
            throw CommandFailure("latest block has no baseFeePerGas")
        }
        return (tip, baseFee + baseFee + tip)
    }

    /// The return data of the view `signature` of the module at `to`, called with `arguments` at the head.
    public func view(_ to: Address, _ signature: String, _ arguments: [ABIValue]) throws -> [UInt8] {
        let request = JSONValue.object(["to": .string(to.hex), "input": .string(Hex.encode(try ABI.encodeCall(signature, arguments)))])
        return try Hex.decode(try call("eth_call", [request, .string("latest")]).stringValue ?? "0x")
    }
}

// MARK: - Transactions

/// Signs calls to a module (the registry unless told) with consecutive nonces and waits
/// for their receipts.
public final class TransactionSender {
    /// Where calls go unless told: the model registry (`0x…00F3`).
    public static let registry = Address(lowByte: 0xF3)
    public let rpc: RPCClient
    public let key: PrivateKey
    public let chainId: UInt64
    private var nonce: UInt64?

    /// A sender of `key`'s transactions on the chain `chainId` through `rpc`.
    public init(rpc: RPCClient, key: PrivateKey, chainId: UInt64) {
        self.rpc = rpc
        self.key = key
        self.chainId = chainId
    }

    /// Signs a call with `data` and `value` to `to` at the next nonce without sending it.
    /// Gas is the estimate plus a margin for state that pending transactions change, plus
    /// `extraGas` for work the estimate cannot see (another transaction landing first); or
    /// exactly `gasLimit` when given, for a call that only succeeds after a transaction still
    /// in the pool (the head's state, which estimates run on, would revert it).
    public func sign(_ data: [UInt8], to: Address = TransactionSender.registry, value: UInt256 = .zero,
                     extraGas: UInt64 = 0, gasLimit: UInt64? = nil) throws -> SignedTransaction {
        let from = key.address
        let nonce = try self.nonce ?? rpc.pendingNonce(from)
        var gas = gasLimit ?? 0
        if gasLimit == nil {
            let call = JSONValue.object(["from": .string(from.hex), "to": .string(to.hex), "value": .string(value.hexQuantity),
                                         "input": .string(Hex.encode(data))])
            let estimate = try rpc.quantity("eth_estimateGas", [call]).uint64 ?? 0
            gas = estimate + estimate / 4 + 50_000 + extraGas
        }
        let (tip, maxFee) = try rpc.feeCaps()
        let tx = Transaction(type: .dynamicFee, chainId: chainId, nonce: nonce, maxPriorityFeePerGas: tip, maxFeePerGas: maxFee,
                             gasLimit: gas, to: to, value: value, data: data, accessList: [])
        let signed = try tx.signed(with: key)
        self.nonce = nonce + 1
        return signed
    }

    /// Submits a signed transaction's raw bytes; returns its hash.
    public func broadcast(_ raw: [UInt8]) throws -> String {
        try rpc.call("eth_sendRawTransaction", [.string(Hex.encode(raw))]).stringValue ?? Keccak256.hash(raw).hex
    }

    /// Signs and submits a call with `data` and `value` to `to`; returns the transaction hash.
    public func send(_ data: [UInt8], to: Address = TransactionSender.registry, value: UInt256 = .zero) throws -> String {
        try broadcast(try sign(data, to: to, value: value).raw)
    }

    /// Sends a call and waits for its receipt.
    public func sendAndWait(_ data: [UInt8], to: Address = TransactionSender.registry, value: UInt256 = .zero) throws -> JSONValue {
        try waitForReceipt(try send(data, to: to, value: value))
    }

    /// Forgets the next nonce (a signed transaction was never sent), so the next signature
    /// asks the node again.
    public func forgetNonce() { nonce = nil }

    /// Polls for the receipt of `hash` (`seconds` at most, two minutes unless told).
    public func waitForReceipt(_ hash: String, seconds: Int = 120) throws -> JSONValue {
        for _ in 0..<(seconds * 10) {
            let receipt = try rpc.call("eth_getTransactionReceipt", [.string(hash)])
            if receipt != .null { return receipt }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw CommandFailure("transaction \(hash) was not included within \(seconds) seconds; run the command again to resume")
    }

    /// Throws the revert reason (re-run as `eth_call` at the receipt's parent block) of a failed transaction.
    public func requireSuccess(_ receipt: JSONValue, _ what: String) throws {
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
