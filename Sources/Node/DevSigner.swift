import Chain
import Crypto
import Foundation
import JSON
import Primitives
import RPC

/// The devnet's signer (docs/chat.md, "The dev signer"): `eth_accounts` lists the funded dev
/// accounts and `eth_sendTransaction` signs for them with their public keys (`DevNet.accounts`),
/// so a page without a wallet can send transactions on a devnet. Only `opgd dev` enables it
/// (`NodeConfig.devSigner`); on every other node `eth_accounts` is empty and
/// `eth_sendTransaction` does not exist, as on geth without unlocked accounts.
final class DevSigner {
    private let dispatcher: RPCDispatcher
    private let chainId: UInt64
    private let keys: [Address: PrivateKey]
    private let order: [Address]
    /// One transaction signed at a time, so two never take the same nonce.
    private let lock = NSLock()

    /// A signer for `accounts` on chain `chainId`, filling in what a transaction leaves out
    /// through `dispatcher`'s own methods.
    init(dispatcher: RPCDispatcher, chainId: UInt64, accounts: [PrivateKey] = DevNet.accounts) {
        self.dispatcher = dispatcher
        self.chainId = chainId
        order = accounts.map(\.address)
        keys = Dictionary(accounts.map { ($0.address, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Registers `eth_accounts` (replacing the empty one) and `eth_sendTransaction`.
    func register(on d: RPCDispatcher) {
        d.register("eth_accounts") { [order] p in
            try p.expect(atMost: 0)
            return .array(order.map { .string($0.checksummed) })
        }
        d.register("eth_sendTransaction") { [self] p in
            try p.expect(atMost: 1)
            return try send(p.required(0, "transaction"))
        }
    }

    /// Signs and submits the call `args` (`from`, `to`, and optionally `value`, `data` or
    /// `input`, `gas`, `nonce`, `maxFeePerGas`, `maxPriorityFeePerGas`); the transaction hash.
    func send(_ args: JSONValue) throws -> JSONValue {
        guard case .object(let fields) = args else { throw RPCError.invalidParams("0: the transaction must be an object") }
        func text(_ key: String) -> String? { fields[key]?.stringValue }
        func quantity(_ key: String) throws -> UInt256? {
            guard let value = text(key) else { return nil }
            do { return try UInt256(hexQuantity: value) } catch { throw RPCError.invalidParams("0: \(key): \"\(value)\" is not a hex quantity") }
        }
        guard let fromText = text("from") else { throw RPCError.invalidParams("0: from is required") }
        guard let from = try? Address(hex: fromText) else { throw RPCError.invalidParams("0: from: \"\(fromText)\" is not an address") }
        guard let key = keys[from] else { throw RPCError.server("unknown account") }
        guard let toText = text("to") else { throw RPCError.server("contract creation is not supported") }
        guard let to = try? Address(hex: toText) else { throw RPCError.invalidParams("0: to: \"\(toText)\" is not an address") }
        if let data = text("data"), let input = text("input"), data != input {
            throw RPCError.invalidParams("0: both \"data\" and \"input\" are set and not equal. Please use \"input\" to pass transaction call data")
        }
        let dataText = text("input") ?? text("data") ?? "0x"
        guard let data = try? Hex.decode(dataText) else { throw RPCError.invalidParams("0: input: not hex data") }
        let value = try quantity("value") ?? .zero
        return try lock.withLock {
            let callArgs = JSONValue.object(["from": .string(from.hex), "to": .string(to.hex), "value": .string(value.hexQuantity),
                                         "input": .string(Hex.encode(data))])
            let nonce = try (quantity("nonce") ?? local("eth_getTransactionCount", [.string(from.hex), .string("pending")])).uint64 ?? 0
            var gas = try quantity("gas")?.uint64 ?? 0
            if gas == 0 {
                let estimate = try local("eth_estimateGas", [callArgs]).uint64 ?? 0
                gas = estimate + estimate / 4 + 50_000
            }
            let tip = try quantity("maxPriorityFeePerGas") ?? local("eth_maxPriorityFeePerGas", [])
            guard let baseText = try call("eth_getBlockByNumber", [.string("latest"), .bool(false)])["baseFeePerGas"]?.stringValue,
                  let baseFee = try? UInt256(hexQuantity: baseText) else { throw RPCError.internalError("the head block has no base fee") }
            let maxFee = try quantity("maxFeePerGas") ?? baseFee + baseFee + tip
            let tx = Transaction(type: .dynamicFee, chainId: chainId, nonce: nonce, maxPriorityFeePerGas: tip, maxFeePerGas: maxFee,
                                 gasLimit: gas, to: to, value: value, data: data, accessList: [])
            let raw = try tx.signed(with: key).raw
            return try call("eth_sendRawTransaction", [.string(Hex.encode(raw))])
        }
    }

    /// The result of this node's own method `method`, or its error.
    private func call(_ method: String, _ params: [JSONValue]) throws -> JSONValue {
        let request = JSONValue.object(["jsonrpc": .string("2.0"), "id": .int(1), "method": .string(method), "params": .array(params)])
        guard let reply = dispatcher.handle(body: request.serializedBytes()) else { throw RPCError.internalError("\(method) gave no answer") }
        if let error = reply["error"] {
            throw RPCError(code: Int(error["code"]?.numberValue?.text ?? "") ?? -32000, message: error["message"]?.stringValue ?? "error",
                           data: error["data"])
        }
        return reply["result"] ?? .null
    }

    /// A quantity answered by this node's own method `method`.
    private func local(_ method: String, _ params: [JSONValue]) throws -> UInt256 {
        let value = try call(method, params)
        guard let text = value.stringValue, let quantity = try? UInt256(hexQuantity: text) else {
            throw RPCError.internalError("\(method) answered \(value.serialized()), not a quantity")
        }
        return quantity
    }
}
