import Chain
import JSON
import Primitives

/// JSON shapes of blocks, transactions, receipts and logs as the execution-apis schemas
/// define them (docs/rpc.md): quantities without leading zeros, data as even-length hex,
/// addresses lower-case.
enum EthFormat {
    static func quantity(_ v: UInt64) -> JSONValue { .string(Hex.quantity(v)) }
    static func quantity(_ v: UInt256) -> JSONValue { .string(v.hexQuantity) }
    static func data(_ bytes: [UInt8]) -> JSONValue { .string(Hex.encode(bytes)) }
    static func hash(_ h: Hash32) -> JSONValue { .string(h.hex) }
    static func address(_ a: Address) -> JSONValue { .string(a.hex) }

    /// Where a mined transaction sits.
    struct Inclusion {
        let header: Header
        let blockHash: Hash32
        let index: Int
    }

    /// The RLP size of the whole block (header, transactions, empty ommers, and — only when there
    /// is some — the evidence list, as Ethereum appends withdrawals), as geth reports `size`.
    static func blockSize(header: Header, transactions: [SignedTransaction], evidence: [[UInt8]] = []) -> Int {
        let txs = transactions.map { tx in tx.raw.first.map { $0 >= 0xC0 } == true ? tx.raw : RLP.encode(.bytes(tx.raw)) }
        var parts = [header.rlp, RLP.encodeList(encodedItems: txs), RLP.encodeList(encodedItems: [])]
        if !evidence.isEmpty { parts.append(RLP.encode(.list(evidence.map { .bytes($0) }))) }
        return RLP.encodeList(encodedItems: parts).count
    }

    /// A block; `evidenceHash` appears only for a block that carries evidence (docs/chain.md, "Evidence").
    static func block(_ header: Header, transactions: [SignedTransaction], evidence: [[UInt8]] = [], full: Bool) -> JSONValue {
        let hash = header.hash
        var o = JSONObject()
        o["baseFeePerGas"] = quantity(header.baseFeePerGas)
        o["difficulty"] = quantity(header.difficulty)
        if let evidenceHash = header.evidenceHash { o["evidenceHash"] = self.hash(evidenceHash) }
        o["extraData"] = data(header.extraData)
        o["gasLimit"] = quantity(header.gasLimit)
        o["gasUsed"] = quantity(header.gasUsed)
        o["hash"] = self.hash(hash)
        o["logsBloom"] = data(header.logsBloom.bytes)
        o["miner"] = address(header.coinbase)
        o["mixHash"] = self.hash(header.mixHash)
        o["nonce"] = data(header.nonce)
        o["number"] = quantity(header.number)
        o["parentHash"] = self.hash(header.parentHash)
        o["receiptsRoot"] = self.hash(header.receiptsRoot)
        o["sha3Uncles"] = self.hash(header.ommersHash)
        o["size"] = quantity(UInt64(blockSize(header: header, transactions: transactions, evidence: evidence)))
        o["stateRoot"] = self.hash(header.stateRoot)
        o["timestamp"] = quantity(header.timestamp)
        o["transactions"] = .array(transactions.enumerated().map { i, tx in
            full ? transaction(tx, at: Inclusion(header: header, blockHash: hash, index: i)) : self.hash(tx.hash)
        })
        o["transactionsRoot"] = self.hash(header.transactionsRoot)
        o["uncles"] = .array([])
        o["validatorsHash"] = self.hash(header.validatorsHash)
        o["nextValidatorsHash"] = self.hash(header.nextValidatorsHash)
        return .object(o)
    }

    /// A transaction; `at` nil for a pooled one (block fields null, gasPrice = fee cap).
    static func transaction(_ tx: SignedTransaction, at inclusion: Inclusion?) -> JSONValue {
        let t = tx.transaction
        var o = JSONObject()
        o["type"] = quantity(UInt64(t.type.rawValue))
        o["blockHash"] = inclusion.map { self.hash($0.blockHash) } ?? .null
        o["blockNumber"] = inclusion.map { quantity($0.header.number) } ?? .null
        if let inclusion { o["blockTimestamp"] = quantity(inclusion.header.timestamp) }
        o["transactionIndex"] = inclusion.map { quantity(UInt64($0.index)) } ?? .null
        o["hash"] = self.hash(tx.hash)
        o["from"] = address(tx.sender)
        o["to"] = t.to.map(address) ?? .null
        o["nonce"] = quantity(t.nonce)
        o["gas"] = quantity(t.gasLimit)
        o["value"] = quantity(t.value)
        o["input"] = data(t.data)
        if t.type == .dynamicFee {
            o["maxFeePerGas"] = quantity(t.maxFeePerGas)
            o["maxPriorityFeePerGas"] = quantity(t.maxPriorityFeePerGas)
            let price = inclusion.flatMap { inc in tx.effectiveTip(baseFee: inc.header.baseFeePerGas).map { inc.header.baseFeePerGas + $0 } }
            o["gasPrice"] = quantity(price ?? t.maxFeePerGas)
        } else {
            o["gasPrice"] = quantity(t.gasPrice)
        }
        if let chainId = t.chainId { o["chainId"] = quantity(chainId) }
        if t.type != .legacy {
            o["accessList"] = .array(t.accessList.map { entry in
                .object(["address": address(entry.address), "storageKeys": .array(entry.storageKeys.map(self.hash))])
            })
            o["yParity"] = quantity(UInt64(tx.yParity))
        }
        o["v"] = quantity(tx.v)
        o["r"] = quantity((try? UInt256(bigEndian: tx.r)) ?? .zero)
        o["s"] = quantity((try? UInt256(bigEndian: tx.s)) ?? .zero)
        return .object(o)
    }

    /// A log with its position; `logIndex` counts logs in the block.
    static func log(_ log: Log, header: Header, blockHash: Hash32, txHash: Hash32, txIndex: Int, logIndex: Int) -> JSONValue {
        .object([
            "address": address(log.address),
            "topics": .array(log.topics.map(hash)),
            "data": data(log.data),
            "blockNumber": quantity(header.number),
            "blockHash": hash(blockHash),
            "blockTimestamp": quantity(header.timestamp),
            "transactionHash": hash(txHash),
            "transactionIndex": quantity(UInt64(txIndex)),
            "logIndex": quantity(UInt64(logIndex)),
            "removed": .bool(false),
        ])
    }

    /// Every receipt of a block, with gasUsed from the cumulative totals and the price each paid.
    static func receipts(header: Header, transactions: [SignedTransaction], receipts: [Receipt]) -> [JSONValue] {
        let blockHash = header.hash
        var out: [JSONValue] = []
        var previousCumulative: UInt64 = 0
        var logIndex = 0
        for (i, (tx, r)) in zip(transactions, receipts).enumerated() {
            let tip = tx.effectiveTip(baseFee: header.baseFeePerGas) ?? .zero
            var o = JSONObject()
            o["type"] = quantity(UInt64(r.type.rawValue))
            o["transactionHash"] = hash(tx.hash)
            o["transactionIndex"] = quantity(UInt64(i))
            o["blockHash"] = hash(blockHash)
            o["blockNumber"] = quantity(header.number)
            o["from"] = address(tx.sender)
            o["to"] = tx.to.map(address) ?? .null
            o["cumulativeGasUsed"] = quantity(r.cumulativeGasUsed)
            o["gasUsed"] = quantity(r.cumulativeGasUsed - previousCumulative)
            o["contractAddress"] = .null
            o["logs"] = .array(r.logs.map { l in
                defer { logIndex += 1 }
                return log(l, header: header, blockHash: blockHash, txHash: tx.hash, txIndex: i, logIndex: logIndex)
            })
            o["logsBloom"] = data(r.bloom.bytes)
            o["status"] = quantity(UInt64(r.success ? 1 : 0))
            o["effectiveGasPrice"] = quantity(header.baseFeePerGas + tip)
            previousCumulative = r.cumulativeGasUsed
            out.append(.object(o))
        }
        return out
    }
}

/// The JSON-RPC shapes, for clients that print chain objects the way the node serves
/// them (`opg tx decode`).
public enum EthJSON {
    /// A transaction as `eth_getTransactionByHash` shows a pooled one (no block fields).
    public static func transaction(_ tx: SignedTransaction) -> JSONValue { EthFormat.transaction(tx, at: nil) }
}
