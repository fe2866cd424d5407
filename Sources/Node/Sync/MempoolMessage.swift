import Chain
import Network

/// The one message of the mempool channel: transactions newly admitted to the sender's pool.
///
///     type 0x0001 transactions: count (2) ‖ count × (length (4) ‖ raw signed transaction)
///
/// 1…`maximumCount` transactions of at most `MempoolLimits.maxTransactionBytes` (128 KiB) each.
/// A transaction too large for one envelope travels alone, split in parts (`MessageParts`).
struct MempoolMessage: Equatable {
    /// The message type of `transactions`.
    static let transactionsType: UInt16 = 0x0001
    /// The most transactions in one message.
    static let maximumCount = 1024
    /// The longest message after reassembly: one largest transaction with its framing.
    static let maximumBytes = 6 + MempoolLimits.maxTransactionBytes
    static let channelName = "mempool"

    /// The raw signed transactions.
    let transactions: [[UInt8]]

    init(transactions: [[UInt8]]) { self.transactions = transactions }

    /// The body of `transactions`.
    var encoded: [UInt8] {
        var w = SyncWriter(capacity: 2 + transactions.reduce(0) { $0 + 4 + $1.count })
        w.u16(UInt16(transactions.count))
        for raw in transactions { w.lengthPrefixed(raw) }
        return w.bytes
    }

    /// Decodes a `transactions` body.
    init(decoding body: [UInt8]) throws {
        var r = SyncReader(body, channel: Self.channelName)
        let count = Int(try r.u16("transaction count"))
        guard count > 0 else { throw SyncMessageError.empty(Self.channelName, field: "transaction count") }
        guard count <= Self.maximumCount else {
            throw SyncMessageError.tooLarge(Self.channelName, field: "transaction count", got: count, max: Self.maximumCount)
        }
        var transactions: [[UInt8]] = []
        for _ in 0..<count {
            let raw = try r.lengthPrefixed("transaction", max: MempoolLimits.maxTransactionBytes)
            guard !raw.isEmpty else { throw SyncMessageError.empty(Self.channelName, field: "transaction") }
            transactions.append(raw)
        }
        try r.finish()
        self.transactions = transactions
    }

    /// Groups `transactions` into as few messages' envelopes as fit, in order: consecutive
    /// transactions share an envelope while it has room; one larger than an envelope goes alone
    /// in parts.
    static func envelopes(for transactions: [[UInt8]]) -> [Envelope] {
        var envelopes: [Envelope] = []
        var batch: [[UInt8]] = []
        var batchBytes = 2
        func flush() {
            guard !batch.isEmpty else { return }
            envelopes += MessageParts.envelopes(channel: .mempool, kind: transactionsType, body: MempoolMessage(transactions: batch).encoded)
            batch = []
            batchBytes = 2
        }
        for raw in transactions {
            if batchBytes + 4 + raw.count > Envelope.maximumBodyLength || batch.count == maximumCount { flush() }
            batch.append(raw)
            batchBytes += 4 + raw.count
        }
        flush()
        return envelopes
    }
}
