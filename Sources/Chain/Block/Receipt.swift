import Primitives

/// The consensus part of a transaction receipt (what the receipts trie commits to):
/// status, cumulative gas, bloom and logs, in the transaction's envelope type.
public struct Receipt: Equatable, Sendable {
    public var type: TransactionType
    /// True for success (status 1).
    public var success: Bool
    /// Gas used by this and every earlier transaction of the block.
    public var cumulativeGasUsed: UInt64
    public var logs: [Log]
    public var bloom: Bloom

    /// Creates a receipt; the bloom is computed from the logs.
    public init(type: TransactionType, success: Bool, cumulativeGasUsed: UInt64, logs: [Log]) {
        self.type = type
        self.success = success
        self.cumulativeGasUsed = cumulativeGasUsed
        self.logs = logs
        self.bloom = Bloom(logs: logs)
    }

    /// The typed encoding (EIP-2718): `type || rlp(...)` for types 1 and 2, bare RLP for legacy.
    public var encoded: [UInt8] {
        var out: [UInt8] = []
        appendEncoded(to: &out)
        return out
    }

    /// Appends `encoded` to `out`, written in place: the receipts root of a large block
    /// encodes thousands of these.
    public func appendEncoded(to out: inout [UInt8]) {
        let logs = logsEncoding
        let payload = 1 + RLP.uintSize(cumulativeGasUsed) + 3 + Bloom.byteCount + logs.count
        out.reserveCapacity(out.count + payload + 4)
        if type != .legacy { out.append(type.rawValue) }
        RLP.appendListHeader(payloadLength: payload, to: &out)
        out.append(success ? 0x01 : 0x80)
        RLP.appendUInt(cumulativeGasUsed, to: &out)
        out += [0xB9, 0x01, 0x00]  // a 256-byte string
        out += bloom.bytes
        out += logs
    }

    private var logsEncoding: [UInt8] {
        logs.isEmpty ? [0xC0] : RLP.encode(.list(logs.map {
            .list([.bytes($0.address.bytes), .list($0.topics.map { .bytes($0.bytes) }), .bytes($0.data)])
        }))
    }

    /// The form the node stores (table `r`): `rlp([type, status, cumulativeGasUsed, logs])`,
    /// without the 256-byte bloom, which `init(stored:)` recomputes from the logs.
    public var storedEncoding: [UInt8] {
        let logs = logsEncoding
        let payload = RLP.uintSize(UInt64(type.rawValue)) + 1 + RLP.uintSize(cumulativeGasUsed) + logs.count
        var out: [UInt8] = []
        out.reserveCapacity(payload + 9)
        RLP.appendListHeader(payloadLength: payload, to: &out)
        RLP.appendUInt(UInt64(type.rawValue), to: &out)
        out.append(success ? 0x01 : 0x80)
        RLP.appendUInt(cumulativeGasUsed, to: &out)
        out += logs
        return out
    }

    /// Decodes `storedEncoding`.
    public init(stored bytes: [UInt8]) throws {
        let f = try RLP.decode(bytes).list("stored receipt")
        guard f.count == 4 else { throw PrimitivesError(.rlp, "stored receipt must have 4 fields, got \(f.count)") }
        let rawType = try f[0].uint64("receipt type")
        guard rawType <= 0xFF, let type = TransactionType(rawValue: UInt8(rawType)) else {
            throw PrimitivesError(.rlp, "receipt type \(rawType) is not supported")
        }
        let status = try f[1].uint64("receipt status")
        guard status <= 1 else { throw PrimitivesError(.rlp, "receipt status must be 0 or 1, got \(status)") }
        self.init(type: type, success: status == 1, cumulativeGasUsed: try f[2].uint64("cumulativeGasUsed"), logs: try Self.logs(f[3]))
    }

    private static func logs(_ item: RLPItem) throws -> [Log] {
        try item.list("logs").map { item in
            let l = try item.list("log")
            guard l.count == 3 else { throw PrimitivesError(.rlp, "log must have 3 fields") }
            return Log(address: try Address(l[0].bytes("log address")),
                       topics: try l[1].list("log topics").map { try Hash32($0.bytes("topic")) },
                       data: try l[2].bytes("log data"))
        }
    }

    /// Decodes the typed encoding.
    public init(encoded: [UInt8]) throws {
        guard let first = encoded.first else { throw PrimitivesError(.rlp, "receipt is empty") }
        var body = encoded[...]
        if first < 0x7F {
            guard let t = TransactionType(rawValue: first), t != .legacy else {
                throw PrimitivesError(.rlp, "receipt type \(first) is not supported")
            }
            type = t
            body = body.dropFirst()
        } else {
            type = .legacy
        }
        let f = try RLP.decode(Array(body)).list("receipt")
        guard f.count == 4 else { throw PrimitivesError(.rlp, "receipt must have 4 fields, got \(f.count)") }
        switch try f[0].uint64("receipt status") {
        case 0: success = false
        case 1: success = true
        case let other: throw PrimitivesError(.rlp, "receipt status must be 0 or 1, got \(other)")
        }
        cumulativeGasUsed = try f[1].uint64("cumulativeGasUsed")
        bloom = try Bloom(f[2].bytes("logsBloom"))
        logs = try Self.logs(f[3])
    }
}

/// A block: header, transactions and evidence (no ommers, no withdrawals).
public struct Block: Equatable, Sendable {
    /// Most evidence items one block carries.
    public static let maxEvidence = 32
    /// Longest evidence item, in bytes (a duplicate-vote proof is 270).
    public static let maxEvidenceBytes = 1_024

    public var header: Header
    public var transactions: [SignedTransaction]
    /// Proofs of validator misbehaviour the proposer included (docs/chain.md, "Evidence"):
    /// opaque bytes to the chain, checked and applied by the block's `BlockEvidenceHandler`
    /// before the first transaction. The header's `evidenceHash` commits to them.
    public var evidence: [[UInt8]]

    /// Creates a block.
    public init(header: Header, transactions: [SignedTransaction], evidence: [[UInt8]] = []) {
        self.header = header
        self.transactions = transactions
        self.evidence = evidence
    }

    /// The header's `evidenceHash` for `evidence`: keccak256(rlp([item, …])), or nil when
    /// there is none (the field is then left out of the header).
    public static func evidenceHash(_ evidence: [[UInt8]]) -> Hash32? {
        evidence.isEmpty ? nil : Keccak256.hash(RLP.encode(.list(evidence.map { .bytes($0) })))
    }

    /// The block hash.
    public var hash: Hash32 { header.hash }
    /// The block number.
    public var number: UInt64 { header.number }

    /// The root of the transactions trie for `transactions`.
    public static func transactionsRoot(_ transactions: [SignedTransaction]) -> Hash32 {
        MerklePatriciaTrie.orderedRoot(count: transactions.count) { i, out in out += transactions[i].raw }
    }

    /// The root of the receipts trie for `receipts`.
    public static func receiptsRoot(_ receipts: [Receipt]) -> Hash32 {
        MerklePatriciaTrie.orderedRoot(count: receipts.count) { i, out in receipts[i].appendEncoded(to: &out) }
    }
}
