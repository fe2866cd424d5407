import Foundation
import Primitives

/// The chain facts admission checks against, taken from the current head.
public struct AdmissionContext {
    /// Account nonces and balances at the head.
    public var state: PoolStateReader
    /// The chain id, the next block's base fee and the block gas limit, for
    /// `TransactionRules` at the admission stage.
    public var rules: TransactionRuleContext

    /// A context for a chain with `chainId` whose next block has `baseFee` and `blockGasLimit`.
    public init(state: PoolStateReader, chainId: UInt64, baseFee: UInt256, blockGasLimit: UInt64) {
        self.state = state
        self.rules = TransactionRuleContext(stage: .admission, chainId: chainId, baseFee: baseFee, gasAvailable: blockGasLimit)
    }
}

/// Where an admitted transaction went.
public enum AdmissionOutcome: Equatable {
    /// Executable now: its nonce continues the sender's run from the account nonce.
    case pending
    /// Waiting for a nonce gap to close.
    case queued
    /// It replaced the transaction with this hash (same sender and nonce).
    case replaced(Hash32)
}

/// Transactions waiting for a block, per sender in nonce order.
///
/// A sender's transactions whose nonces run without a gap from the account nonce are
/// *pending* (a block may include them); the rest are *queued*. Memory is bounded by
/// `MempoolLimits` in 32 KiB slots; when the pool is full a newcomer evicts queued
/// transactions first, then the cheapest pending tails of other senders (never the
/// newcomer's own). Every choice that depends on order uses a total order (price, then
/// arrival number), never hashing order, because the pool feeds the block builder.
/// Thread-safe: every public method takes the pool's lock.
public final class Mempool<T: PoolTransaction> {
    private let limits: MempoolLimits
    private let clock: () -> UInt64
    private let lock = NSLock()
    private var byHash: [Hash32: Entry] = [:]
    private var accounts: [Address: Account] = [:]
    private var nextSequence: UInt64 = 0
    /// Slots used by pending and by queued transactions, as of each account's last classification.
    private var usedPendingSlots = 0
    private var usedQueuedSlots = 0

    /// A pooled transaction, its arrival number (breaks ties deterministically), its
    /// arrival time on the pool's clock, and the slots it occupies.
    private struct Entry {
        let tx: T
        let sequence: UInt64
        let arrival: UInt64
        let slots: Int
        let cost: UInt256

        /// Eviction order: cheaper first; at equal price the later arrival goes first.
        func evictsBefore(_ other: Entry) -> Bool {
            if tx.maxFeePerGas != other.tx.maxFeePerGas { return tx.maxFeePerGas < other.tx.maxFeePerGas }
            if tx.maxPriorityFeePerGas != other.tx.maxPriorityFeePerGas { return tx.maxPriorityFeePerGas < other.tx.maxPriorityFeePerGas }
            return sequence > other.sequence
        }

        /// Whether this entry is strictly cheaper than `incoming` on both fee fields' order.
        func isCheaper(than incoming: T) -> Bool {
            (tx.maxFeePerGas, tx.maxPriorityFeePerGas) < (incoming.maxFeePerGas, incoming.maxPriorityFeePerGas)
        }
    }

    /// One sender's transactions and their classification against the account nonce.
    private final class Account {
        var byNonce: [UInt64: Entry] = [:]
        /// Sum of the entries' maximum costs (each ≤ the balance seen at admission).
        var totalCost = UInt256.zero
        /// The account nonce of the last classification and the pending run from it.
        var accountNonce: UInt64 = 0
        var pendingCount = 0
        var pendingSlots = 0
        var queuedSlots = 0

        /// The nonces of the queued entries, highest first.
        var queuedNoncesDescending: [UInt64] {
            byNonce.keys.filter { $0 >= accountNonce + UInt64(pendingCount) }.sorted(by: >)
        }
    }

    /// Creates an empty pool. `clock` gives monotonic seconds (for the queued lifetime);
    /// tests inject their own.
    public init(limits: MempoolLimits = MempoolLimits(), clock: @escaping () -> UInt64 = Mempool.uptimeSeconds) {
        self.limits = limits
        self.clock = clock
    }

    /// Seconds since boot, from the monotonic clock.
    public static func uptimeSeconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds / 1_000_000_000 }

    /// Number of transactions held.
    public var count: Int { lock.withLock { byHash.count } }

    /// Slots held by pending and by queued transactions (as classified at the last change).
    public var slotUsage: (pending: Int, queued: Int) { lock.withLock { (usedPendingSlots, usedQueuedSlots) } }

    /// The pooled transaction with `hash`, if any.
    public func transaction(_ hash: Hash32) -> T? { lock.withLock { byHash[hash]?.tx } }

    /// Admits `tx` after the transaction rules (`TransactionRules.check`, admission stage:
    /// throws `InvalidTransaction`) and the pool's own policy (size, duplicates, nonce
    /// gap, replacement, cumulative funds, limits: throws `MempoolError`). The signature
    /// was checked when the transaction was decoded.
    public func add(_ tx: T, context: AdmissionContext) throws -> AdmissionOutcome {
        try MempoolLimits.checkSize(tx.encodedSize)
        return try lock.withLock {
            if byHash[tx.hash] != nil { throw MempoolError(.alreadyKnown) }
            try TransactionRules.check(tx, state: context.state, context: context.rules)
            let accountNonce = context.state.nonce(of: tx.sender)  // at most tx.nonce: the rules checked it
            if tx.nonce - accountNonce > limits.maxNonceGap {
                throw MempoolError(.nonceTooHigh, "address \(tx.sender), tx: \(tx.nonce) state: \(accountNonce)")
            }
            let account = accounts[tx.sender] ?? Account()
            let old = account.byNonce[tx.nonce]
            if let old { try checkReplacement(old: old.tx, new: tx) }
            let cost = try checkFunds(tx, account: account, replacing: old, balance: context.state.balance(of: tx.sender))
            if old == nil && account.byNonce.count >= limits.maxPerAccount {
                throw MempoolError(.accountLimit, "address \(tx.sender) holds \(account.byNonce.count) transactions")
            }
            let slots = MempoolLimits.slots(forSize: tx.encodedSize)
            let runEnd = accountNonce + UInt64(Self.runLength(account.byNonce, from: accountNonce))
            let joinsPending = tx.nonce <= runEnd
            let victims = try evictionPlan(for: tx, slots: slots - (old?.slots ?? 0), pending: joinsPending)
            for victim in victims { remove(victim) }
            if let old { remove(old) }
            let entry = Entry(tx: tx, sequence: nextSequence, arrival: clock(), slots: slots, cost: cost)
            nextSequence += 1
            account.byNonce[tx.nonce] = entry
            account.totalCost = account.totalCost.addingReportingOverflow(cost).partialValue
            accounts[tx.sender] = account
            byHash[tx.hash] = entry
            classify(account, accountNonce: accountNonce)
            if let old { return .replaced(old.tx.hash) }
            return joinsPending ? .pending : .queued
        }
    }

    /// The nonce the sender's next transaction should use: the account nonce plus
    /// the sender's pending run (what `eth_getTransactionCount(addr, "pending")` reports).
    public func pendingNonce(of sender: Address, accountNonce: UInt64) -> UInt64 {
        lock.withLock { accountNonce + UInt64(Self.runLength(accounts[sender]?.byNonce ?? [:], from: accountNonce)) }
    }

    /// Pending transactions for a block: highest effective tip first, each sender's in
    /// nonce order, skipping senders whose fee cap is below `baseFee` and transactions
    /// that no longer fit `gasLimit`. Ties go to the earlier arrival, so the choice
    /// does not depend on hashing order.
    public func select(state: PoolStateReader, baseFee: UInt256, gasLimit: UInt64, maxCount: Int = .max) -> [T] {
        lock.withLock {
            var heads = BinaryHeap<Candidate>()
            for (sender, account) in accounts {
                let nonce = state.nonce(of: sender)
                if let entry = account.byNonce[nonce], let tip = entry.tx.effectiveTip(baseFee: baseFee) {
                    heads.push(Candidate(tip: tip, sequence: entry.sequence, sender: sender, nonce: nonce))
                }
            }
            var chosen: [T] = []
            var gasLeft = gasLimit
            while chosen.count < maxCount, let head = heads.pop() {
                guard let account = accounts[head.sender], let entry = account.byNonce[head.nonce] else { continue }
                guard entry.tx.gasLimit <= gasLeft else { continue }
                chosen.append(entry.tx)
                gasLeft -= entry.tx.gasLimit
                let next = head.nonce + 1
                if let following = account.byNonce[next], let tip = following.tx.effectiveTip(baseFee: baseFee) {
                    heads.push(Candidate(tip: tip, sequence: following.sequence, sender: head.sender, nonce: next))
                }
            }
            return chosen
        }
    }

    /// Drops what a new head made stale or what can never execute: transactions below
    /// their sender's nonce, every transaction from the first one whose cumulative cost
    /// (with the sender's lower nonces) exceeds the balance, and queued transactions older
    /// than the queued lifetime. Returns the hashes removed, by sender then nonce.
    @discardableResult
    public func prune(state: PoolStateReader) -> [Hash32] {
        lock.withLock {
            let now = clock()
            var removed: [Hash32] = []
            for sender in accounts.keys.sorted() {
                guard let account = accounts[sender] else { continue }
                let nonce = state.nonce(of: sender)
                let balance = state.balance(of: sender)
                var spent = UInt256.zero
                var overdrawn = false
                for n in account.byNonce.keys.sorted() {
                    guard let entry = account.byNonce[n] else { continue }
                    if n >= nonce && !overdrawn {
                        let (total, overflow) = spent.addingReportingOverflow(entry.cost)
                        overdrawn = overflow || total > balance
                        spent = total
                    }
                    if n < nonce || overdrawn {
                        remove(entry)
                        removed.append(entry.tx.hash)
                    }
                }
                classify(account, accountNonce: nonce)
                for n in account.queuedNoncesDescending.reversed() {
                    guard let entry = account.byNonce[n], now &- entry.arrival >= limits.queuedLifetimeSeconds else { continue }
                    remove(entry)
                    removed.append(entry.tx.hash)
                }
                classify(account, accountNonce: nonce)
                if account.byNonce.isEmpty { accounts[sender] = nil }
            }
            return removed
        }
    }

    /// How many pooled transactions are pending (executable now) and queued (behind a gap).
    public func status(state: PoolStateReader) -> (pending: Int, queued: Int) {
        lock.withLock {
            var pending = 0
            for (sender, account) in accounts { pending += Self.runLength(account.byNonce, from: state.nonce(of: sender)) }
            return (pending, byHash.count - pending)
        }
    }

    /// Every pooled transaction, by sender then nonce.
    public func all() -> [T] {
        lock.withLock {
            accounts.keys.sorted().flatMap { sender in
                accounts[sender]!.byNonce.keys.sorted().map { accounts[sender]!.byNonce[$0]!.tx }
            }
        }
    }

    private func checkReplacement(old: T, new: T) throws {
        let bump = UInt256(100 + limits.priceBumpPercent)
        let hundred = UInt256(100)
        let feeThreshold = old.maxFeePerGas.multipliedReportingOverflow(by: bump).partialValue / hundred
        let tipThreshold = old.maxPriorityFeePerGas.multipliedReportingOverflow(by: bump).partialValue / hundred
        if new.maxFeePerGas <= old.maxFeePerGas || new.maxPriorityFeePerGas <= old.maxPriorityFeePerGas
            || new.maxFeePerGas < feeThreshold || new.maxPriorityFeePerGas < tipThreshold {
            throw MempoolError(.replacementUnderpriced,
                               "need maxFeePerGas ≥ \(feeThreshold) and maxPriorityFeePerGas ≥ \(tipThreshold)")
        }
    }

    /// geth's cumulative rule: the sender's pooled costs (less the one replaced) plus this
    /// transaction's cost must not exceed the balance. Returns the transaction's cost.
    private func checkFunds(_ tx: T, account: Account, replacing old: Entry?, balance: UInt256) throws -> UInt256 {
        let spent = account.totalCost - (old?.cost ?? .zero)
        guard let cost = tx.maxCost else {
            throw MempoolError(.insufficientFunds, "balance \(balance), queued cost \(spent), tx cost more than 2^256-1")
        }
        let (need, overflow) = spent.addingReportingOverflow(cost)
        if overflow || need > balance {
            let overshot = overflow ? "more than 2^256-1" : "\(need - balance)"
            throw MempoolError(.insufficientFunds, "balance \(balance), queued cost \(spent), tx cost \(cost), overshot \(overshot)")
        }
        return cost
    }

    /// The transactions to evict so that `slots` more fit, or "txpool is full". A queued
    /// newcomer may evict only cheaper queued transactions. A pending newcomer first
    /// evicts queued transactions (cheapest first, whatever their price: they cannot be
    /// mined now), then the cheapest pending tails that are cheaper than it (a tail, so no
    /// nonce gap opens). The newcomer's own sender is never a victim.
    private func evictionPlan(for incoming: T, slots: Int, pending: Bool) throws -> [Entry] {
        var freeTotal = limits.totalSlots - usedPendingSlots - usedQueuedSlots
        var freeQueued = limits.queuedSlots - usedQueuedSlots
        func fits() -> Bool { slots <= freeTotal && (pending || slots <= freeQueued) }
        if fits() { return [] }
        var victims: [Entry] = []
        for entry in queuedEvictionOrder(excluding: incoming.sender) {
            if fits() { break }
            guard pending || entry.isCheaper(than: incoming) else { break }
            victims.append(entry)
            freeTotal += entry.slots
            freeQueued += entry.slots
        }
        if pending && !fits() {
            var tails = BinaryHeap<Tail>()
            for (sender, account) in accounts where sender != incoming.sender && account.pendingCount > 0 {
                tails.push(Tail(entry: account.byNonce[account.accountNonce + UInt64(account.pendingCount) - 1]!, account: account))
            }
            while !fits(), let tail = tails.pop() {
                guard tail.entry.isCheaper(than: incoming) else { break }
                victims.append(tail.entry)
                freeTotal += tail.entry.slots
                let nonce = tail.entry.tx.nonce
                if nonce > tail.account.accountNonce, let previous = tail.account.byNonce[nonce - 1] {
                    tails.push(Tail(entry: previous, account: tail.account))
                }
            }
        }
        guard fits() else { throw MempoolError(.poolFull) }
        return victims
    }

    /// Queued transactions of every sender but `excluded`, in eviction order.
    private func queuedEvictionOrder(excluding excluded: Address) -> [Entry] {
        var queued: [Entry] = []
        for (sender, account) in accounts where sender != excluded && account.queuedSlots > 0 {
            for n in account.queuedNoncesDescending { queued.append(account.byNonce[n]!) }
        }
        return queued.sorted { $0.evictsBefore($1) }
    }

    /// Takes `entry` out of the pool; the caller reclassifies its account.
    private func remove(_ entry: Entry) {
        byHash[entry.tx.hash] = nil
        guard let account = accounts[entry.tx.sender] else { return }
        account.byNonce[entry.tx.nonce] = nil
        account.totalCost = account.totalCost - entry.cost
        classify(account, accountNonce: account.accountNonce)
        if account.byNonce.isEmpty { accounts[entry.tx.sender] = nil }
    }

    /// Recomputes which of `account`'s entries are pending against `accountNonce` and
    /// moves the slot totals accordingly.
    private func classify(_ account: Account, accountNonce: UInt64) {
        var pendingCount = 0, pendingSlots = 0, allSlots = 0
        var n = accountNonce
        while let entry = account.byNonce[n] {
            pendingCount += 1
            pendingSlots += entry.slots
            n += 1
        }
        for entry in account.byNonce.values { allSlots += entry.slots }
        usedPendingSlots += pendingSlots - account.pendingSlots
        usedQueuedSlots += (allSlots - pendingSlots) - account.queuedSlots
        account.accountNonce = accountNonce
        account.pendingCount = pendingCount
        account.pendingSlots = pendingSlots
        account.queuedSlots = allSlots - pendingSlots
    }

    /// How many consecutive nonces from `nonce` the queue holds.
    private static func runLength(_ queue: [UInt64: Entry], from nonce: UInt64) -> Int {
        var n = nonce
        while queue[n] != nil { n += 1 }
        return Int(n - nonce)
    }

    /// A sender's pending tail, ordered for the eviction heap (cheapest first).
    private struct Tail: Comparable {
        let entry: Entry
        let account: Account

        static func < (a: Tail, b: Tail) -> Bool { a.entry.evictsBefore(b.entry) }
        static func == (a: Tail, b: Tail) -> Bool { a.entry.sequence == b.entry.sequence }
    }

    /// A sender's next includable transaction, ordered for the selection heap.
    private struct Candidate: Comparable {
        let tip: UInt256
        let sequence: UInt64
        let sender: Address
        let nonce: UInt64

        /// Higher tip first; earlier arrival breaks ties.
        static func < (a: Candidate, b: Candidate) -> Bool {
            a.tip != b.tip ? a.tip > b.tip : a.sequence < b.sequence
        }
    }
}
