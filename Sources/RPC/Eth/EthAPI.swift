import Chain
import Foundation
import JSON
import Primitives

/// The Ethereum JSON-RPC namespace (`eth_`, `net_`, `web3_`, `txpool_`) plus `opg_`,
/// over a `ChainService`. Method by method behaviour and deviations from geth are in
/// docs/rpc.md. Every method reads committed data only; none blocks the producer.
public final class EthAPI {
    public let chain: ChainService
    public let clientVersion: String
    /// The caps on client-chosen work (docs/rpc.md, "Limits").
    public let limits: QueryLimits
    let filters: FilterManager
    /// Cap on the gas an `eth_call` or estimate may use (geth's RPCGasCap).
    public var callGasCap: UInt64 = 50_000_000
    /// Where `eth_syncing` reads the catch-up progress (block sync); without one it answers false.
    /// Set before the server starts.
    public weak var syncProgressSource: SyncProgressSource?

    private var db: ChainDatabase { chain.database }

    public init(chain: ChainService, clientVersion: String, limits: QueryLimits = QueryLimits()) {
        self.chain = chain
        self.clientVersion = clientVersion
        self.limits = limits
        filters = FilterManager(maxFilters: limits.maxFilters, timeoutSeconds: limits.filterTimeoutSeconds)
        chain.onBlock { [weak self] block in self?.filters.blockAdded(block.hash) }
        chain.onPendingTransaction { [weak self] hash in self?.filters.transactionAdded(hash) }
    }

    /// Registers every method on `dispatcher`.
    public func register(on d: RPCDispatcher) {
        let chainId = chain.config.chainId
        d.register("web3_clientVersion") { [clientVersion] p in try p.expect(atMost: 0); return .string(clientVersion) }
        d.register("web3_sha3") { p in try p.expect(atMost: 1); return EthFormat.hash(Keccak256.hash(try p.data(0, "data"))) }
        d.register("net_version") { p in try p.expect(atMost: 0); return .string(String(chainId)) }
        d.register("net_listening") { p in try p.expect(atMost: 0); return .bool(true) }
        d.register("net_peerCount") { p in try p.expect(atMost: 0); return .string("0x0") }
        d.register("eth_chainId") { p in try p.expect(atMost: 0); return EthFormat.quantity(chainId) }
        d.register("eth_syncing") { [unowned self] p in
            try p.expect(atMost: 0)
            guard let progress = syncProgressSource?.syncProgress else { return .bool(false) }
            return .object(["startingBlock": EthFormat.quantity(progress.startingBlock), "currentBlock": EthFormat.quantity(progress.currentBlock),
                            "highestBlock": EthFormat.quantity(progress.highestBlock)])
        }
        d.register("eth_accounts") { p in try p.expect(atMost: 0); return .array([]) }
        d.register("eth_blockNumber") { [unowned self] p in try p.expect(atMost: 0); return EthFormat.quantity(chain.head.number) }
        d.register("eth_gasPrice") { [unowned self] p in
            try p.expect(atMost: 0)
            return EthFormat.quantity(chain.head.nextBaseFee + (try suggestedTip()))
        }
        d.register("eth_maxPriorityFeePerGas") { [unowned self] p in try p.expect(atMost: 0); return EthFormat.quantity(try suggestedTip()) }
        d.register("eth_feeHistory") { [unowned self] p in try feeHistory(p) }

        d.register("eth_getBalance") { [unowned self] p in
            try p.expect(atMost: 2)
            let address = try p.address(0)
            return EthFormat.quantity(try state(p, 1).balance(of: address))
        }
        d.register("eth_getTransactionCount") { [unowned self] p in
            try p.expect(atMost: 2)
            let address = try p.address(0)
            if let tag = p.optional(1), try BlockTag.parse(tag, "1: block") == .pending {
                return EthFormat.quantity(chain.pendingNonce(of: address))
            }
            return EthFormat.quantity(try state(p, 1).nonce(of: address))
        }
        d.register("eth_getCode") { [unowned self] p in
            try p.expect(atMost: 2)
            _ = try p.address(0)
            _ = try header(p, 1)
            return .string("0x")
        }
        d.register("eth_getStorageAt") { [unowned self] p in
            try p.expect(atMost: 3)
            let address = try p.address(0)
            let slot = try Self.slotKey(p.string(1, "storage slot"), "1: storage slot")
            return EthFormat.hash(try state(p, 2).storage(of: address, slot: slot))
        }
        d.register("eth_getProof") { [unowned self] p in try proof(p) }
        d.register("opg_totalSupply") { [unowned self] p in
            try p.expect(atMost: 1)
            return EthFormat.quantity(SupplyLedger(try state(p, 0)).totalSupply)
        }

        d.register("eth_sendRawTransaction") { [unowned self] p in
            try p.expect(atMost: 1)
            let raw = try p.data(0, "transaction")
            do {
                return EthFormat.hash(try chain.submit(raw: raw))
            } catch let e as TransactionError {
                throw RPCError.server(e.message)
            } catch let e as InvalidTransaction {
                throw RPCError.server(e.description)
            } catch let e as MempoolError {
                throw RPCError.server(e.message)
            }
        }
        d.register("eth_call") { [unowned self] p in try call(p) }
        d.register("eth_estimateGas") { [unowned self] p in try estimateGas(p) }

        d.register("eth_getBlockByNumber") { [unowned self] p in
            try p.expect(atMost: 2)
            let n = try BlockTag.parse(p.required(0, "block"), "0: block", allowHash: false).resolve(in: db)
            return try block(n, full: p.bool(1, "hydrated"))
        }
        d.register("eth_getBlockByHash") { [unowned self] p in
            try p.expect(atMost: 2)
            let n = try BlockTag.hash(p.hash(0, "block hash")).resolve(in: db)
            return try block(n, full: p.bool(1, "hydrated"))
        }
        d.register("opg_getCommit") { [unowned self] p in
            try p.expect(atMost: 1)
            let n = try BlockTag.parse(p.required(0, "block"), "0: block", allowHash: false).resolve(in: db)
            guard let n, let h = try db.header(number: n) else { return .null }
            return .object(["blockNumber": EthFormat.quantity(n), "blockHash": EthFormat.hash(h.hash),
                            "certificate": try db.certificate(number: n).map(EthFormat.data) ?? .null])
        }
        d.register("eth_getBlockTransactionCountByNumber") { [unowned self] p in
            try p.expect(atMost: 1)
            guard let n = try BlockTag.parse(p.required(0, "block"), "0: block", allowHash: false).resolve(in: db),
                  let txs = try db.transactions(number: n) else { return .null }
            return EthFormat.quantity(UInt64(txs.count))
        }
        d.register("eth_getBlockTransactionCountByHash") { [unowned self] p in
            try p.expect(atMost: 1)
            guard let n = try BlockTag.hash(p.hash(0, "block hash")).resolve(in: db),
                  let txs = try db.transactions(number: n) else { return .null }
            return EthFormat.quantity(UInt64(txs.count))
        }
        d.register("eth_getBlockReceipts") { [unowned self] p in
            try p.expect(atMost: 1)
            guard let n = try BlockTag.parse(p.required(0, "block"), "0: block").resolve(in: db) else { return .null }
            return try receipts(n).map { .array($0) } ?? .null
        }
        d.register("eth_getTransactionByHash") { [unowned self] p in
            try p.expect(atMost: 1)
            let hash = try p.hash(0, "transaction hash")
            if let (number, index) = try db.location(ofTransaction: hash) { return try transaction(number, index) }
            if let pooled = chain.mempool.transaction(hash) { return EthFormat.transaction(pooled, at: nil) }
            return .null
        }
        d.register("eth_getTransactionByBlockHashAndIndex") { [unowned self] p in
            try p.expect(atMost: 2)
            guard let n = try BlockTag.hash(p.hash(0, "block hash")).resolve(in: db) else { return .null }
            return try transaction(n, Int(clamping: p.uint64(1, "index")))
        }
        d.register("eth_getTransactionByBlockNumberAndIndex") { [unowned self] p in
            try p.expect(atMost: 2)
            guard let n = try BlockTag.parse(p.required(0, "block"), "0: block", allowHash: false).resolve(in: db) else { return .null }
            return try transaction(n, Int(clamping: p.uint64(1, "index")))
        }
        d.register("eth_getTransactionReceipt") { [unowned self] p in
            try p.expect(atMost: 1)
            guard let (number, index) = try db.location(ofTransaction: p.hash(0, "transaction hash")),
                  let all = try receipts(number), index < all.count else { return .null }
            return all[index]
        }

        d.register("eth_getLogs") { [unowned self] p in
            try p.expect(atMost: 1)
            let q = try LogQuery(p.required(0, "filter"), "0")
            guard let range = try q.range(in: db, maxBlocks: limits.logBlockRange) else { return .array([]) }
            return .array(try q.logs(in: db, blocks: range, maxResults: limits.logResults))
        }
        d.register("eth_newFilter") { [unowned self] p in
            try p.expect(atMost: 1)
            let q = try LogQuery(p.required(0, "filter"), "0")
            let head = chain.head.number
            let start = try q.fromBlock.resolve(in: db) ?? head + 1
            return .string(try filters.install(.logs(q), logStart: min(start, head + 1)))
        }
        d.register("eth_newBlockFilter") { [unowned self] p in try p.expect(atMost: 0); return .string(try filters.install(.blocks)) }
        d.register("eth_newPendingTransactionFilter") { [unowned self] p in
            try p.expect(atMost: 1)
            return .string(try filters.install(.pending))
        }
        d.register("eth_uninstallFilter") { [unowned self] p in try p.expect(atMost: 1); return .bool(filters.uninstall(try p.string(0, "filter id"))) }
        d.register("eth_getFilterChanges") { [unowned self] p in
            try p.expect(atMost: 1)
            let id = try p.string(0, "filter id")
            switch try filters.takeChanges(id) {
            case .hashes(let hashes): return .array(hashes.map(EthFormat.hash))
            case .logs(let q, let from): return .array(try logChanges(q, filter: id, from: from))
            }
        }
        d.register("eth_getFilterLogs") { [unowned self] p in
            try p.expect(atMost: 1)
            let q = try filters.query(p.string(0, "filter id"))
            guard let range = try q.range(in: db, maxBlocks: limits.logBlockRange) else { return .array([]) }
            return .array(try q.logs(in: db, blocks: range, maxResults: limits.logResults))
        }

        d.register("txpool_status") { [unowned self] p in
            try p.expect(atMost: 0)
            let status = chain.mempool.status(state: db.state(at: chain.head))
            return .object(["pending": EthFormat.quantity(UInt64(status.pending)), "queued": EthFormat.quantity(UInt64(status.queued))])
        }
    }

    // MARK: - Reads

    /// A log filter's poll from block `from`: at most `logBlockRange` blocks up to its
    /// `toBlock` or the head; the cursor moves past them only when the scan succeeded,
    /// so a filter that fell far behind catches up over several polls.
    private func logChanges(_ q: LogQuery, filter id: String, from: UInt64) throws -> [JSONValue] {
        let head = chain.head.number
        let upper = (try q.toBlock.resolve(in: db)).map { min($0, head) } ?? head
        guard from <= upper else {
            filters.advanceLogFilter(id, to: head + 1)
            return []
        }
        let last = min(upper, from + limits.logBlockRange - 1)
        var scan = q
        scan.blockHash = nil
        let logs = try scan.logs(in: db, blocks: from...last, maxResults: limits.logResults)
        filters.advanceLogFilter(id, to: last == upper ? head + 1 : last + 1)
        return logs
    }

    /// The header named by parameter `index` (default latest), or "header not found".
    private func header(_ p: RPCParams, _ index: Int) throws -> Header {
        let tag = try p.optional(index).map { try BlockTag.parse($0, "\(index): block") } ?? .latest
        guard let n = try tag.resolve(in: db), let h = try db.header(number: n) else { throw RPCError.server("header not found") }
        return h
    }

    private func state(_ p: RPCParams, _ index: Int) throws -> StateDB { db.state(at: try header(p, index)) }

    private func block(_ number: UInt64?, full: Bool) throws -> JSONValue {
        guard let number, let h = try db.header(number: number), let txs = try db.transactions(number: number) else { return .null }
        return EthFormat.block(h, transactions: txs, evidence: h.evidenceHash == nil ? [] : try db.evidence(number: number), full: full)
    }

    private func transaction(_ number: UInt64, _ index: Int) throws -> JSONValue {
        guard let h = try db.header(number: number), let txs = try db.transactions(number: number), index < txs.count else { return .null }
        return EthFormat.transaction(txs[index], at: .init(header: h, blockHash: h.hash, index: index))
    }

    private func receipts(_ number: UInt64) throws -> [JSONValue]? {
        guard let h = try db.header(number: number), let txs = try db.transactions(number: number),
              let receipts = try db.receipts(number: number) else { return nil }
        return EthFormat.receipts(header: h, transactions: txs, receipts: receipts)
    }

    /// A storage slot given as up to 32 bytes of hex (odd length allowed), left-padded.
    static func slotKey(_ text: String, _ what: String) throws -> Hash32 {
        guard text.hasPrefix("0x") || text.hasPrefix("0X") else { throw RPCError.invalidParams("\(what): hex string without 0x prefix") }
        var digits = String(text.dropFirst(2))
        if digits.count % 2 == 1 { digits = "0" + digits }
        let bytes: [UInt8]
        do { bytes = try Hex.decodeLenient(digits) } catch { throw RPCError.invalidParams("\(what): \(error)") }
        guard bytes.count <= 32 else { throw RPCError.invalidParams("\(what): hex string longer than 32 bytes") }
        return try Hash32([UInt8](repeating: 0, count: 32 - bytes.count) + bytes)
    }

    private func proof(_ p: RPCParams) throws -> JSONValue {
        try p.expect(atMost: 3)
        let address = try p.address(0)
        guard case .array(let keys) = try p.required(1, "storage keys") else { throw RPCError.invalidParams("1: storage keys must be a list") }
        guard keys.count <= limits.proofKeys else {
            throw RPCError.invalidParams("1: too many storage keys (\(keys.count), limit \(limits.proofKeys))")
        }
        let slots = try keys.enumerated().map { i, k in
            guard case .string(let s) = k else { throw RPCError.invalidParams("1[\(i)]: storage key must be a string") }
            return try Self.slotKey(s, "1[\(i)]")
        }
        let state = try state(p, 2)
        let result: (account: Account, accountProof: [[UInt8]], storageProofs: [(slot: Hash32, value: UInt256, proof: [[UInt8]])])
        do { result = try state.proof(of: address, slots: slots) } catch { throw RPCError.internalError("proof: \(error)") }
        return .object([
            "address": EthFormat.address(address),
            "accountProof": .array(result.accountProof.map(EthFormat.data)),
            "balance": EthFormat.quantity(result.account.balance),
            "codeHash": EthFormat.hash(Account.emptyCodeHash),
            "nonce": EthFormat.quantity(result.account.nonce),
            "storageHash": EthFormat.hash(result.account.storageRoot),
            "storageProof": .array(result.storageProofs.map { sp in
                .object(["key": EthFormat.hash(sp.slot), "value": EthFormat.quantity(sp.value), "proof": .array(sp.proof.map(EthFormat.data))])
            }),
        ])
    }

    // MARK: - Fees

    /// The tip to suggest: the 60th percentile of tips paid in the last 20 blocks, at
    /// least 1 gwei when blocks are empty (a devnet's common case), never zero.
    private func suggestedTip() throws -> UInt256 {
        let head = chain.head.number
        var tips: [UInt256] = []
        let first = head >= 19 ? head - 19 : 0
        for n in first...head {
            guard let h = try db.header(number: n), let txs = try db.transactions(number: n) else { continue }
            for tx in txs { if let t = tx.effectiveTip(baseFee: h.baseFeePerGas) { tips.append(t) } }
        }
        guard !tips.isEmpty else { return UInt256(1_000_000_000) }
        tips.sort()
        let t = tips[(tips.count - 1) * 60 / 100]
        return t.isZero ? UInt256(1) : t
    }

    /// Percentiles one `eth_feeHistory` may ask for (geth's limit).
    static let maxRewardPercentiles = 100

    private func feeHistory(_ p: RPCParams) throws -> JSONValue {
        try p.expect(atMost: 3)
        let countValue = try p.required(0, "block count")
        let requested: UInt64
        if case .number(let n) = countValue, let v = n.uint64 { requested = v } else { requested = try RPCParams.uint64(countValue, "0: block count") }
        let newestTag = try BlockTag.parse(p.required(1, "newest block"), "1: newest block", allowHash: false)
        var percentiles: [Double] = []
        if let pv = p.optional(2) {
            guard case .array(let items) = pv else { throw RPCError.invalidParams("2: reward percentiles must be a list") }
            guard items.count <= Self.maxRewardPercentiles else {
                throw RPCError.invalidParams("2: invalid reward percentile: over the query limit \(Self.maxRewardPercentiles)")
            }
            for (i, item) in items.enumerated() {
                guard case .number(let n) = item, let v = n.double, v >= 0, v <= 100 else {
                    throw RPCError.invalidParams("2[\(i)]: percentile must be a number in [0, 100]")
                }
                if let last = percentiles.last, v < last { throw RPCError.invalidParams("2[\(i)]: percentiles must be non-decreasing") }
                percentiles.append(v)
            }
        }
        guard let newest = try newestTag.resolve(in: db) else { throw RPCError.server("header not found") }
        let count = min(requested, 1024, newest + 1)
        guard count > 0 else { return .object(["oldestBlock": .string("0x0"), "baseFeePerGas": .array([]), "gasUsedRatio": .array([])]) }
        let oldest = newest + 1 - count
        var baseFees: [JSONValue] = [], ratios: [JSONValue] = [], rewards: [JSONValue] = []
        var last: Header?
        for n in oldest...newest {
            guard let h = try db.header(number: n) else { throw RPCError.server("header not found") }
            baseFees.append(EthFormat.quantity(h.baseFeePerGas))
            let ratio = h.gasLimit == 0 ? 0 : Double(h.gasUsed) / Double(h.gasLimit)
            ratios.append(.number(JSONNumber(text: ratio == 0 ? "0" : String(ratio))))
            if !percentiles.isEmpty {
                rewards.append(.array(try blockRewards(h, percentiles).map(EthFormat.quantity)))
            }
            last = h
        }
        if let last { baseFees.append(EthFormat.quantity(last.nextBaseFee)) }
        var o: JSONObject = ["oldestBlock": EthFormat.quantity(oldest), "baseFeePerGas": .array(baseFees), "gasUsedRatio": .array(ratios)]
        if !percentiles.isEmpty { o["reward"] = .array(rewards) }
        return .object(o)
    }

    /// geth's rule: tips sorted ascending, each weighted by the gas it used.
    private func blockRewards(_ h: Header, _ percentiles: [Double]) throws -> [UInt256] {
        guard let txs = try db.transactions(number: h.number), let receipts = try db.receipts(number: h.number), !txs.isEmpty else {
            return percentiles.map { _ in .zero }
        }
        var items: [(tip: UInt256, gas: UInt64)] = []
        var previous: UInt64 = 0
        for (tx, r) in zip(txs, receipts) {
            items.append((tx.effectiveTip(baseFee: h.baseFeePerGas) ?? .zero, r.cumulativeGasUsed - previous))
            previous = r.cumulativeGasUsed
        }
        items.sort { $0.tip < $1.tip }
        var out: [UInt256] = []
        var i = 0
        var sum = items[0].gas
        for pct in percentiles {
            let threshold = UInt64(Double(h.gasUsed) * pct / 100)
            while sum < threshold && i < items.count - 1 {
                i += 1
                sum += items[i].gas
            }
            out.append(items[i].tip)
        }
        return out
    }

    // MARK: - Calls

    private struct CallArgs {
        var from = Address.zero
        var to: Address
        var gas: UInt64?
        var value = UInt256.zero
        var data: [UInt8] = []
    }

    private func callArgs(_ value: JSONValue) throws -> CallArgs {
        guard case .object(let o) = value else { throw RPCError.invalidParams("0: transaction must be an object") }
        func str(_ key: String) throws -> String? {
            guard let v = o[key], v != .null else { return nil }
            guard case .string(let s) = v else { throw RPCError.invalidParams("0.\(key): must be a string") }
            return s
        }
        guard let toText = try str("to") else {
            throw RPCError.server("contract creation is not supported on this chain (transaction has no 'to')")
        }
        var args = CallArgs(to: try RPCParams.address(toText, "0.to"))
        if let f = try str("from") { args.from = try RPCParams.address(f, "0.from") }
        if let g = o["gas"], g != .null { args.gas = try RPCParams.uint64(g, "0.gas") }
        if let v = o["value"], v != .null { args.value = try RPCParams.uint256(v, "0.value") }
        for key in ["gasPrice", "maxFeePerGas", "maxPriorityFeePerGas"] {
            if let v = o[key], v != .null { _ = try RPCParams.uint256(v, "0.\(key)") }
        }
        let input = try str("input").map { try RPCParams.data($0, "0.input") }
        let data = try str("data").map { try RPCParams.data($0, "0.data") }
        if let input, let data, input != data {
            throw RPCError.invalidParams("0: both \"data\" and \"input\" are set and not equal. Please use \"input\" to pass transaction call data")
        }
        args.data = input ?? data ?? []
        return args
    }

    private func runCall(_ args: CallArgs, gas: UInt64, header: Header, estimatingGas: Bool = false) -> CallResult {
        let state = db.state(at: header)
        let env = chain.config.environment(number: header.number, timestamp: header.timestamp, coinbase: header.coinbase,
                                           baseFee: header.baseFeePerGas, gasLimit: header.gasLimit)
        return chain.builder.executor.call(from: args.from, to: args.to, value: args.value, data: args.data, gasLimit: gas,
                                           state: state, block: env, estimatingGas: estimatingGas)
    }

    /// The error a failed call maps to: code 3 with the revert data when a handler
    /// reverted, otherwise -32000 with the reason.
    private func failure(_ r: CallResult) -> RPCError {
        if !r.returnData.isEmpty {
            return .executionReverted(reason: ABI.decodeRevert(r.returnData) ?? r.revertReason, data: Hex.encode(r.returnData))
        }
        return .server(r.revertReason ?? "execution failed")
    }

    private func call(_ p: RPCParams) throws -> JSONValue {
        try p.expect(atMost: 3)
        let args = try callArgs(p.required(0, "transaction"))
        let h = try header(p, 1)
        let r = runCall(args, gas: min(args.gas ?? callGasCap, callGasCap), header: h)
        if r.revertReason != nil { throw failure(r) }
        return EthFormat.data(r.returnData)
    }

    /// The least gas limit with which the call succeeds, by binary search between the
    /// gas a run at the cap used and the cap. The runs are gas-estimation runs
    /// (`NativeCallContext.isEstimatingGas`): the inference modules charge a model's gas
    /// from its cost without running it.
    private func estimateGas(_ p: RPCParams) throws -> JSONValue {
        try p.expect(atMost: 3)
        let args = try callArgs(p.required(0, "transaction"))
        let h = try header(p, 1)
        let cap = min(args.gas ?? h.gasLimit, h.gasLimit, callGasCap)
        let top = runCall(args, gas: cap, header: h, estimatingGas: true)
        if top.revertReason != nil { throw failure(top) }
        var lo = top.gasUsed - 1, hi = cap
        if runCall(args, gas: top.gasUsed, header: h, estimatingGas: true).revertReason == nil { return EthFormat.quantity(top.gasUsed) }
        lo = top.gasUsed
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2
            if runCall(args, gas: mid, header: h, estimatingGas: true).revertReason == nil { hi = mid } else { lo = mid }
        }
        return EthFormat.quantity(hi)
    }
}
