/// Limits that keep the pool bounded in bytes, after geth's scheme: every transaction
/// occupies `ceil(size / 32 KiB)` slots, at most 128 KiB per transaction, and the pool
/// holds at most `pendingSlots + queuedSlots` slots, of which queued (future-nonce)
/// transactions take at most `queuedSlots`. The raw bytes held are therefore at most
/// `(pendingSlots + queuedSlots) × 32 KiB` (192 MiB with the defaults).
public struct MempoolLimits: Sendable {
    /// Largest accepted raw transaction (geth's txMaxSize, 4 slots).
    public static let maxTransactionBytes = 4 * slotBytes
    /// Bytes per slot (geth's txSlotSize).
    public static let slotBytes = 32 * 1024

    /// Transactions one sender may hold (pending plus queued).
    public var maxPerAccount: Int
    /// Slots for executable transactions (geth's GlobalSlots); queued ones may not use them.
    public var pendingSlots: Int
    /// Slots queued transactions may use in all (geth's GlobalQueue); they also count
    /// towards the pool's total of `pendingSlots + queuedSlots`.
    public var queuedSlots: Int
    /// Seconds a transaction may stay queued before it is dropped (geth's Lifetime, 3 h).
    public var queuedLifetimeSeconds: UInt64
    /// Minimum raise, in percent, of both fee fields to replace a same-nonce transaction.
    public var priceBumpPercent: UInt64
    /// How far ahead of the account nonce a queued transaction may be.
    public var maxNonceGap: UInt64

    /// Creates limits; the defaults are geth's.
    public init(maxPerAccount: Int = 64, pendingSlots: Int = 5_120, queuedSlots: Int = 1_024,
                queuedLifetimeSeconds: UInt64 = 10_800, priceBumpPercent: UInt64 = 10, maxNonceGap: UInt64 = 1_024) {
        self.maxPerAccount = maxPerAccount
        self.pendingSlots = pendingSlots
        self.queuedSlots = queuedSlots
        self.queuedLifetimeSeconds = queuedLifetimeSeconds
        self.priceBumpPercent = priceBumpPercent
        self.maxNonceGap = maxNonceGap
    }

    /// Slots a transaction of `size` bytes occupies (at least one).
    public static func slots(forSize size: Int) -> Int { max(1, (size + slotBytes - 1) / slotBytes) }

    /// Throws geth's "oversized data" when a raw transaction of `size` bytes is above the cap.
    public static func checkSize(_ size: Int) throws {
        if size > maxTransactionBytes {
            throw MempoolError(.oversizedData, "transaction size \(size), limit \(maxTransactionBytes)")
        }
    }

    /// Slots the whole pool may use.
    var totalSlots: Int { pendingSlots + queuedSlots }
}
