import Foundation
import Primitives

/// Limits that keep the pool bounded.
public struct MempoolLimits: Sendable {
    /// Transactions one sender may hold (pending plus queued).
    public var maxPerAccount: Int
    /// Transactions the pool holds in all; beyond it the cheapest account tail is evicted.
    public var maxTotal: Int
    /// Minimum raise, in percent, of both fee fields to replace a same-nonce transaction.
    public var priceBumpPercent: UInt64
    /// How far ahead of the account nonce a queued transaction may be.
    public var maxNonceGap: UInt64

    /// Creates limits; defaults follow geth's orders of magnitude.
    public init(maxPerAccount: Int = 64, maxTotal: Int = 10_000, priceBumpPercent: UInt64 = 10, maxNonceGap: UInt64 = 1_024) {
        self.maxPerAccount = maxPerAccount
        self.maxTotal = maxTotal
        self.priceBumpPercent = priceBumpPercent
        self.maxNonceGap = maxNonceGap
    }
}

/// The chain facts admission checks against, taken from the current head.
public struct AdmissionContext {
    /// Account nonces and balances at the head.
    public var state: PoolStateReader
    /// The base fee the next block will have.
    public var baseFee: UInt256
    /// The block gas limit.
    public var blockGasLimit: UInt64

    /// Creates a context.
    public init(state: PoolStateReader, baseFee: UInt256, blockGasLimit: UInt64) {
        self.state = state
        self.baseFee = baseFee
        self.blockGasLimit = blockGasLimit
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
/// *pending* (a block may include them); the rest are *queued*. Thread-safe: every
/// public method takes the pool's lock.
public final class Mempool<T: PoolTransaction> {
    private let limits: MempoolLimits
    private let lock = NSLock()
    private var byHash: [Hash32: Entry] = [:]
    private var accounts: [Address: [UInt64: Entry]] = [:]
    private var nextSequence: UInt64 = 0

    /// A pooled transaction and its arrival number (breaks ties deterministically).
    private struct Entry {
        let tx: T
        let sequence: UInt64
    }

    /// Creates an empty pool.
    public init(limits: MempoolLimits = MempoolLimits()) { self.limits = limits }

    /// Number of transactions held.
    public var count: Int { lock.withLock { byHash.count } }

    /// The pooled transaction with `hash`, if any.
    public func transaction(_ hash: Hash32) -> T? { lock.withLock { byHash[hash]?.tx } }

    /// Admits `tx` after the pool-level rules (nonce, duplicates, replacement, funds,
    /// gas limit, fee cap against base fee, limits). Signature, chain id and intrinsic gas
    /// are the caller's checks, made before the transaction gets here.
    public func add(_ tx: T, context: AdmissionContext) throws -> AdmissionOutcome {
        try lock.withLock {
            if byHash[tx.hash] != nil { throw MempoolError(.alreadyKnown) }
            let accountNonce = context.state.nonce(of: tx.sender)
            if tx.nonce < accountNonce {
                throw MempoolError(.nonceTooLow, "address \(tx.sender), tx: \(tx.nonce) state: \(accountNonce)")
            }
            if tx.nonce - accountNonce > limits.maxNonceGap {
                throw MempoolError(.nonceTooHigh, "address \(tx.sender), tx: \(tx.nonce) state: \(accountNonce)")
            }
            if tx.gasLimit > context.blockGasLimit {
                throw MempoolError(.exceedsBlockGasLimit, "gas \(tx.gasLimit), limit \(context.blockGasLimit)")
            }
            if tx.maxPriorityFeePerGas > tx.maxFeePerGas {
                throw MempoolError(.tipAboveFeeCap, "maxPriorityFeePerGas: \(tx.maxPriorityFeePerGas), maxFeePerGas: \(tx.maxFeePerGas)")
            }
            if tx.maxFeePerGas < context.baseFee {
                throw MempoolError(.feeCapBelowBaseFee, "address \(tx.sender), maxFeePerGas: \(tx.maxFeePerGas), baseFee: \(context.baseFee)")
            }
            let balance = context.state.balance(of: tx.sender)
            guard let cost = tx.maxCost, cost <= balance else {
                let want = tx.maxCost.map { "\($0)" } ?? "more than 2^256-1"
                throw MempoolError(.insufficientFunds, "address \(tx.sender) have \(balance) want \(want)")
            }
            var queue = accounts[tx.sender] ?? [:]
            var replaced: Hash32?
            if let old = queue[tx.nonce] {
                try checkReplacement(old: old.tx, new: tx)
                replaced = old.tx.hash
            } else if queue.count >= limits.maxPerAccount {
                throw MempoolError(.accountLimit, "address \(tx.sender) holds \(queue.count) transactions")
            } else if byHash.count >= limits.maxTotal {
                try evictCheapestTail(toMakeRoomFor: tx)
                queue = accounts[tx.sender] ?? [:]
            }
            if let replaced { byHash[replaced] = nil }
            let entry = Entry(tx: tx, sequence: nextSequence)
            nextSequence += 1
            queue[tx.nonce] = entry
            accounts[tx.sender] = queue
            byHash[tx.hash] = entry
            if let replaced { return .replaced(replaced) }
            return Self.runLength(queue, from: accountNonce) > tx.nonce - accountNonce ? .pending : .queued
        }
    }

    /// The nonce the sender's next transaction should use: the account nonce plus
    /// the sender's pending run (what `eth_getTransactionCount(addr, "pending")` reports).
    public func pendingNonce(of sender: Address, accountNonce: UInt64) -> UInt64 {
        lock.withLock { accountNonce + UInt64(Self.runLength(accounts[sender] ?? [:], from: accountNonce)) }
    }

    /// Pending transactions for a block: highest effective tip first, each sender's in
    /// nonce order, skipping senders whose fee cap is below `baseFee` and transactions
    /// that no longer fit `gasLimit`. Ties go to the earlier arrival, so the choice
    /// does not depend on hashing order.
    public func select(state: PoolStateReader, baseFee: UInt256, gasLimit: UInt64, maxCount: Int = .max) -> [T] {
        lock.withLock {
            var heads = BinaryHeap<Candidate>()
            for (sender, queue) in accounts {
                let nonce = state.nonce(of: sender)
                if let entry = queue[nonce], let tip = entry.tx.effectiveTip(baseFee: baseFee) {
                    heads.push(Candidate(tip: tip, sequence: entry.sequence, sender: sender, nonce: nonce))
                }
            }
            var chosen: [T] = []
            var gasLeft = gasLimit
            while chosen.count < maxCount, let head = heads.pop() {
                guard let queue = accounts[head.sender], let entry = queue[head.nonce] else { continue }
                guard entry.tx.gasLimit <= gasLeft else { continue }
                chosen.append(entry.tx)
                gasLeft -= entry.tx.gasLimit
                let next = head.nonce + 1
                if let following = queue[next], let tip = following.tx.effectiveTip(baseFee: baseFee) {
                    heads.push(Candidate(tip: tip, sequence: following.sequence, sender: head.sender, nonce: next))
                }
            }
            return chosen
        }
    }

    /// Drops what a new head made stale: transactions below their sender's nonce and
    /// those the sender can no longer pay for. Returns the hashes removed.
    @discardableResult
    public func prune(state: PoolStateReader) -> [Hash32] {
        lock.withLock {
            var removed: [Hash32] = []
            for sender in accounts.keys.sorted() {
                guard var queue = accounts[sender] else { continue }
                let nonce = state.nonce(of: sender)
                let balance = state.balance(of: sender)
                for (n, entry) in queue where n < nonce || (entry.tx.maxCost.map { $0 > balance } ?? true) {
                    queue[n] = nil
                    byHash[entry.tx.hash] = nil
                    removed.append(entry.tx.hash)
                }
                accounts[sender] = queue.isEmpty ? nil : queue
            }
            return removed
        }
    }

    /// How many pooled transactions are pending (executable now) and queued (behind a gap).
    public func status(state: PoolStateReader) -> (pending: Int, queued: Int) {
        lock.withLock {
            var pending = 0
            for (sender, queue) in accounts { pending += Self.runLength(queue, from: state.nonce(of: sender)) }
            return (pending, byHash.count - pending)
        }
    }

    /// Every pooled transaction, by sender then nonce.
    public func all() -> [T] {
        lock.withLock {
            accounts.keys.sorted().flatMap { sender in
                accounts[sender]!.keys.sorted().map { accounts[sender]![$0]!.tx }
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

    /// Evicts the cheapest transaction among the last of each sender's run (evicting a
    /// tail never opens a nonce gap), if it is cheaper than `incoming`.
    private func evictCheapestTail(toMakeRoomFor incoming: T) throws {
        var cheapest: Entry?
        for sender in accounts.keys.sorted() {
            guard let queue = accounts[sender], let last = queue.keys.max(), let entry = queue[last] else { continue }
            if let c = cheapest {
                if (entry.tx.maxFeePerGas, entry.tx.maxPriorityFeePerGas, c.sequence) < (c.tx.maxFeePerGas, c.tx.maxPriorityFeePerGas, entry.sequence) {
                    cheapest = entry
                }
            } else {
                cheapest = entry
            }
        }
        guard let victim = cheapest,
              (victim.tx.maxFeePerGas, victim.tx.maxPriorityFeePerGas) < (incoming.maxFeePerGas, incoming.maxPriorityFeePerGas)
        else { throw MempoolError(.poolFull) }
        accounts[victim.tx.sender]?[victim.tx.nonce] = nil
        if accounts[victim.tx.sender]?.isEmpty == true { accounts[victim.tx.sender] = nil }
        byHash[victim.tx.hash] = nil
    }

    /// How many consecutive nonces from `nonce` the queue holds.
    private static func runLength(_ queue: [UInt64: Entry], from nonce: UInt64) -> Int {
        var n = nonce
        while queue[n] != nil { n += 1 }
        return Int(n - nonce)
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
