import Chain
import JSON
import Primitives

/// The criteria of `eth_getLogs` and log filters: a block range (tags resolved when the
/// query runs) or one block hash, addresses (any of), and topics by position (each
/// position null = anything, or any of a list).
struct LogQuery {
    var fromBlock: BlockTag = .latest
    var toBlock: BlockTag = .latest
    var blockHash: Hash32?
    var addresses: [Address] = []
    var topics: [[Hash32]?] = []

    init(_ value: JSONValue?, _ what: String) throws {
        guard let value, value != .null else { return }
        guard case .object(let o) = value else { throw RPCError.invalidParams("\(what): filter must be an object") }
        for key in o.keys where !["fromBlock", "toBlock", "blockHash", "address", "topics"].contains(key) {
            throw RPCError.invalidParams("\(what): unknown filter field \(key)")
        }
        if let h = o["blockHash"], h != .null {
            guard o["fromBlock"] == nil || o["fromBlock"] == .null, o["toBlock"] == nil || o["toBlock"] == .null else {
                throw RPCError.invalidParams("\(what): cannot specify both blockHash and fromBlock/toBlock")
            }
            guard case .string(let s) = h else { throw RPCError.invalidParams("\(what).blockHash: must be a string") }
            blockHash = try RPCParams.hash(s, "\(what).blockHash")
        }
        if let f = o["fromBlock"], f != .null { fromBlock = try BlockTag.parse(f, "\(what).fromBlock", allowHash: false) }
        if let t = o["toBlock"], t != .null { toBlock = try BlockTag.parse(t, "\(what).toBlock", allowHash: false) }
        switch o["address"] {
        case nil, .null?: break
        case .string(let s)?: addresses = [try RPCParams.address(s, "\(what).address")]
        case .array(let items)?:
            addresses = try items.map { item in
                guard case .string(let s) = item else { throw RPCError.invalidParams("\(what).address: items must be strings") }
                return try RPCParams.address(s, "\(what).address")
            }
        default: throw RPCError.invalidParams("\(what).address: must be an address or a list of addresses")
        }
        if addresses.count > QueryLimits.logAddresses {
            throw RPCError.invalidParams("\(what).address: exceed max addresses (\(addresses.count), limit \(QueryLimits.logAddresses))")
        }
        switch o["topics"] {
        case nil, .null?: break
        case .array(let positions)?:
            guard positions.count <= 4 else { throw RPCError.invalidParams("\(what).topics: at most 4 positions") }
            topics = try positions.enumerated().map { i, p in
                switch p {
                case .null: return nil
                case .string(let s): return [try RPCParams.hash(s, "\(what).topics[\(i)]")]
                case .array(let alternatives):
                    if alternatives.isEmpty { return nil }
                    if alternatives.count > QueryLimits.logTopicAlternatives {
                        throw RPCError.invalidParams("\(what).topics[\(i)]: exceed max topics per search position (\(alternatives.count), limit \(QueryLimits.logTopicAlternatives))")
                    }
                    return try alternatives.map { a in
                        guard case .string(let s) = a else { throw RPCError.invalidParams("\(what).topics[\(i)]: must hold hashes") }
                        return try RPCParams.hash(s, "\(what).topics[\(i)]")
                    }
                default: throw RPCError.invalidParams("\(what).topics[\(i)]: must be null, a hash or a list of hashes")
                }
            }
        default: throw RPCError.invalidParams("\(what).topics: must be a list")
        }
    }

    func matches(_ log: Log) -> Bool {
        if !addresses.isEmpty && !addresses.contains(log.address) { return false }
        if topics.count > log.topics.count { return false }
        for (i, wanted) in topics.enumerated() {
            if let wanted, !wanted.contains(log.topics[i]) { return false }
        }
        return true
    }

    /// Whether a block with `bloom` can hold a matching log.
    func mayMatch(_ bloom: Bloom) -> Bool {
        if !addresses.isEmpty && !addresses.contains(where: { bloom.mightContain($0.bytes) }) { return false }
        for wanted in topics {
            if let wanted, !wanted.contains(where: { bloom.mightContain($0.bytes) }) { return false }
        }
        return true
    }

    /// The block range to scan, clamped to the head; nil when empty. Wider than
    /// `maxBlocks` is -32005.
    func range(in db: ChainDatabase, maxBlocks: UInt64) throws -> ClosedRange<UInt64>? {
        if let blockHash {
            guard let n = try BlockTag.hash(blockHash).resolve(in: db) else { throw RPCError.server("unknown block") }
            return n...n
        }
        guard let head = db.head?.number else { return nil }
        let from = try fromBlock.resolve(in: db) ?? (head + 1)
        let to = try toBlock.resolve(in: db) ?? head
        if from > to { return nil }
        if to - from >= maxBlocks {
            throw RPCError(code: -32005, message: "query exceeds max block range \(maxBlocks)")
        }
        return from...to
    }

    /// Matching logs in `blocks`, in chain order; more than `maxResults` is -32005.
    func logs(in db: ChainDatabase, blocks: ClosedRange<UInt64>, maxResults: Int) throws -> [JSONValue] {
        var out: [JSONValue] = []
        for n in blocks {
            guard let header = try db.header(number: n) else { break }
            guard mayMatch(header.logsBloom) else { continue }
            guard let txs = try db.transactions(number: n), let receipts = try db.receipts(number: n) else { continue }
            let blockHash = header.hash
            var logIndex = 0
            for (i, (tx, receipt)) in zip(txs, receipts).enumerated() {
                for log in receipt.logs {
                    if matches(log) {
                        out.append(EthFormat.log(log, header: header, blockHash: blockHash, txHash: tx.hash, txIndex: i, logIndex: logIndex))
                        if out.count > maxResults {
                            throw RPCError(code: -32005, message: "query returned more than \(maxResults) results")
                        }
                    }
                    logIndex += 1
                }
            }
        }
        return out
    }
}
