import Chain
import Foundation
import HTTPServer
import JSON
import Primitives

/// JSON-RPC over WebSocket with `eth_subscribe` / `eth_unsubscribe` (geth's pub/sub):
/// `newHeads` (each new block's header), `logs` (each new log matching an address and
/// topics filter) and `newPendingTransactions` (each admitted transaction's hash), sent
/// as `eth_subscription` notifications. Every other request on the socket goes to the
/// dispatcher, as over HTTP. Notifications are built once per block on the producer's
/// thread and only queued; a connection whose queue is full is closed (1008) by
/// `WebSocketConnection`, so a slow client never holds block production.
public final class SubscriptionHub {
    /// Subscriptions one connection may hold.
    public let maxPerConnection: Int

    /// What a subscription watches.
    private enum Kind {
        case newHeads
        case logs(LogQuery)
        case pendingTransactions
    }

    private struct Subscription {
        let connection: WebSocketConnection
        let kind: Kind
    }

    private let dispatcher: RPCDispatcher
    private let lanes: RPCLanes
    private let database: ChainDatabase
    private let lock = NSLock()
    /// Subscriptions by id, in id order when notifying (ids are random).
    private var subscriptions: [String: Subscription] = [:]

    /// A hub fed by `chain`'s block and pending-transaction events; other methods go to
    /// `dispatcher`, those `lanes` classes heavy on its heavy lane.
    public init(chain: ChainService, dispatcher: RPCDispatcher, lanes: RPCLanes, maxPerConnection: Int = 100) {
        self.dispatcher = dispatcher
        self.lanes = lanes
        self.maxPerConnection = maxPerConnection
        self.database = chain.database
        chain.onBlock { [weak self] block in self?.blockAdded(block) }
        chain.onPendingTransaction { [weak self] hash in self?.transactionAdded(hash) }
    }

    /// Serves JSON-RPC on `connection` (an `HTTPRouter.webSocket` acceptor); its
    /// subscriptions end when it closes.
    public func accept(_ connection: WebSocketConnection) {
        connection.onMessage = { [weak self] connection, text in self?.answer(text, on: connection) }
        connection.onClose = { [weak self] connection in
            self?.lock.withLock { self?.subscriptions = self?.subscriptions.filter { $0.value.connection !== connection } ?? [:] }
        }
    }

    /// Subscriptions installed now.
    public var count: Int { lock.withLock { subscriptions.count } }

    private func answer(_ text: [UInt8], on connection: WebSocketConnection) {
        let parsed = RPCDispatcher.parse(text)
        guard case .success(let request) = parsed, case .object(let object) = request,
              case .string(let method)? = object["method"], method == "eth_subscribe" || method == "eth_unsubscribe" else {
            relay(parsed, on: connection)
            return
        }
        let id = object["id"] ?? .null
        let params = object["params"]?.arrayValue ?? []
        // Under the lock, so that the reply is queued before the subscription's first notification.
        lock.withLock {
            let outcome: Result<JSONValue, RPCError>
            do {
                outcome = .success(method == "eth_subscribe" ? try subscribe(RPCParams(params), connection)
                                                           : try unsubscribe(RPCParams(params), connection))
            } catch let error as RPCError {
                outcome = .failure(error)
            } catch {
                outcome = .failure(.internalError("\(error)"))
            }
            guard object["id"] != nil else { return }
            switch outcome {
            case .success(let result): connection.send(JSONValue.object(["jsonrpc": "2.0", "id": id, "result": result]).serializedBytes())
            case .failure(let error): connection.send(RPCDispatcher.errorResponse(id: id, error).serializedBytes())
            }
        }
    }

    /// Answers any other request as HTTP does: light ones on the connection's reader
    /// thread, heavy ones on the heavy lane while the reader waits, so that one
    /// connection has at most one heavy request running, as over HTTP.
    private func relay(_ parsed: Result<JSONValue, RPCError>, on connection: WebSocketConnection) {
        guard case .success(let value) = parsed, lanes.isHeavy(value) else {
            if let reply = dispatcher.reply(to: parsed) { connection.send(reply) }
            return
        }
        let done = DispatchSemaphore(value: 0)
        lanes.heavy.submit { [dispatcher] in
            if let reply = dispatcher.reply(to: parsed) { connection.send(reply) }
            done.signal()
        }
        done.wait()
    }

    /// `eth_subscribe(kind, filter?)`; called under the lock.
    private func subscribe(_ p: RPCParams, _ connection: WebSocketConnection) throws -> JSONValue {
        try p.expect(atMost: 2)
        let kind: Kind
        switch try p.string(0, "subscription kind") {
        case "newHeads": try p.expect(atMost: 1); kind = .newHeads
        case "newPendingTransactions":
            if let full = p.optional(1), full != .null, full != .bool(false) {
                throw RPCError.invalidParams("1: only transaction hashes are sent: full transactions must be false")
            }
            kind = .pendingTransactions
        case "logs":
            if let filter = p.optional(1)?.objectValue {
                for (key, value) in filter.members where key != "address" && key != "topics" && value != .null && value != "latest" {
                    throw RPCError.invalidParams("1: a logs subscription sends new logs only: \(key) must be absent or latest")
                }
            }
            kind = .logs(try LogQuery(p.optional(1), "1: filter"))
        case let other: throw RPCError.invalidParams("0: unsupported subscription kind \(other)")
        }
        guard subscriptions.values.filter({ $0.connection === connection }).count < maxPerConnection else {
            throw RPCError(code: -32005, message: "too many subscriptions on this connection: limit \(maxPerConnection)")
        }
        var id = Self.newID()
        while subscriptions[id] != nil { id = Self.newID() }
        subscriptions[id] = Subscription(connection: connection, kind: kind)
        return .string(id)
    }

    /// `eth_unsubscribe(id)`: true when the connection held that subscription.
    private func unsubscribe(_ p: RPCParams, _ connection: WebSocketConnection) throws -> JSONValue {
        try p.expect(atMost: 1)
        let id = try p.string(0, "subscription id")
        guard subscriptions[id]?.connection === connection else { return false }
        subscriptions[id] = nil
        return true
    }

    private func blockAdded(_ block: Block) {
        let active = lock.withLock { subscriptions.sorted { $0.key < $1.key } }
        guard !active.isEmpty else { return }
        let header = block.header, hash = header.hash
        var head: JSONValue?
        var logs: [(Log, JSONValue)]?
        for (id, subscription) in active {
            switch subscription.kind {
            case .pendingTransactions: continue
            case .newHeads:
                if head == nil { head = Self.head(block) }
                notify(subscription.connection, id, head!)
            case .logs(let query):
                if logs == nil { logs = Self.logs(block, receipts: (try? database.receipts(number: header.number)) ?? nil, hash: hash) }
                for (log, formatted) in logs! where query.matches(log) { notify(subscription.connection, id, formatted) }
            }
        }
    }

    private func transactionAdded(_ hash: Hash32) {
        let active = lock.withLock { subscriptions.sorted { $0.key < $1.key } }
        for (id, subscription) in active {
            if case .pendingTransactions = subscription.kind { notify(subscription.connection, id, EthFormat.hash(hash)) }
        }
    }

    private func notify(_ connection: WebSocketConnection, _ id: String, _ result: JSONValue) {
        let message: JSONValue = .object(["jsonrpc": "2.0", "method": "eth_subscription",
                                          "params": .object(["subscription": .string(id), "result": result])])
        connection.send(message.serializedBytes())
    }

    /// The header fields of `eth_getBlockByNumber` (no transactions, uncles or size), as geth sends them.
    private static func head(_ block: Block) -> JSONValue {
        guard case .object(var o) = EthFormat.block(block.header, transactions: block.transactions, full: false) else {
            return .null
        }
        o["transactions"] = nil
        o["uncles"] = nil
        o["size"] = nil
        // Ethereum's header fields only: web3.py recognises a head by how many of its keys it
        // knows (90%), and our two validator-set hashes would tip it below that; they are in
        // eth_getBlockByHash, as is evidenceHash.
        o["validatorsHash"] = nil
        o["evidenceHash"] = nil
        o["nextValidatorsHash"] = nil
        return .object(o)
    }

    /// Every log of the block (its `receipts`, read from the database once it is committed),
    /// formatted as `eth_getLogs` formats it.
    private static func logs(_ block: Block, receipts: [Receipt]?, hash: Hash32) -> [(Log, JSONValue)] {
        var out: [(Log, JSONValue)] = []
        for (index, (tx, receipt)) in zip(block.transactions, receipts ?? []).enumerated() {
            for log in receipt.logs {
                out.append((log, EthFormat.log(log, header: block.header, blockHash: hash, txHash: tx.hash,
                                               txIndex: index, logIndex: out.count)))
            }
        }
        return out
    }

    /// A random 128-bit id, `0x` and 32 hex digits.
    private static func newID() -> String {
        "0x" + (0..<16).map { _ in String(UInt8.random(in: 0...255), radix: 16) }.map { $0.count == 1 ? "0" + $0 : $0 }.joined()
    }
}
