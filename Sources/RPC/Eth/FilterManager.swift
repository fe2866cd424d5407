import Chain
import Foundation
import JSON
import Primitives

/// Installed filters (`eth_newFilter`, `eth_newBlockFilter`,
/// `eth_newPendingTransactionFilter`). Each poll returns what arrived since the last
/// poll, once.
///
/// Block and pending-transaction hashes go to two shared append-only logs; a filter is
/// only a cursor into one, so an append costs the same whatever the number of filters
/// (nothing at all when no filter of that kind is installed). Each log keeps the last
/// `QueryLimits.filterBacklog` hashes; a filter that fell further behind gets those.
/// At most `maxFilters` are installed at once, and a timer removes filters not polled
/// for `filterTimeoutSeconds` (geth: 5 minutes) whether or not anything else happens.
final class FilterManager {
    /// What a filter watches.
    enum Kind {
        case logs(LogQuery)
        case blocks
        case pending
    }

    /// A filter: its kind, its cursor (the next block number for a log filter, the next
    /// sequence number in its hash log otherwise) and when it was last polled.
    private struct Filter {
        let kind: Kind
        var cursor: UInt64
        var lastPolled: UInt64
    }

    /// What a poll returns: hashes, or for a log filter the query and the blocks to scan.
    enum Changes {
        case hashes([Hash32])
        case logs(LogQuery, from: UInt64)
    }

    private let lock = NSLock()
    private var filters: [String: Filter] = [:]
    private var blockLog = HashLog()
    private var pendingLog = HashLog()
    private var blockFilters = 0
    private var pendingFilters = 0
    private let maxFilters: Int
    private let timeoutNanos: UInt64
    private let clock: () -> UInt64
    private var timer: DispatchSourceTimer?

    /// Creates a manager. `clock` gives monotonic nanoseconds (tests inject their own);
    /// the expiry timer ticks every quarter of the timeout (between 50 ms and 10 s).
    init(maxFilters: Int, timeoutSeconds: UInt64, clock: @escaping () -> UInt64 = { DispatchTime.now().uptimeNanoseconds },
         startTimer: Bool = true) {
        self.maxFilters = maxFilters
        self.timeoutNanos = timeoutSeconds * 1_000_000_000
        self.clock = clock
        guard startTimer else { return }
        let tick = min(max(timeoutNanos / 4, 50_000_000), 10_000_000_000)
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "opg.filters.expiry"))
        timer.schedule(deadline: .now() + .nanoseconds(Int(tick)), repeating: .nanoseconds(Int(tick)))
        timer.setEventHandler { [weak self] in self?.expireStale() }
        timer.resume()
        self.timer = timer
    }

    deinit { timer?.cancel() }

    /// How many filters are installed.
    var count: Int { lock.withLock { filters.count } }

    /// Removes every filter not polled within the timeout.
    func expireStale() {
        lock.withLock {
            let now = clock()
            for id in filters.keys.sorted() where now &- filters[id]!.lastPolled >= timeoutNanos { drop(id) }
        }
    }

    /// Installs a filter; a log filter starts at block `logStart`. Throws -32005 when
    /// `maxFilters` are installed.
    func install(_ kind: Kind, logStart: UInt64 = 0) throws -> String {
        try lock.withLock {
            guard filters.count < maxFilters else {
                throw RPCError(code: -32005, message: "too many filters installed: limit \(maxFilters)")
            }
            var id = Self.newID()
            while filters[id] != nil { id = Self.newID() }
            let cursor: UInt64
            switch kind {
            case .logs: cursor = logStart
            case .blocks: cursor = blockLog.end; blockFilters += 1
            case .pending: cursor = pendingLog.end; pendingFilters += 1
            }
            filters[id] = Filter(kind: kind, cursor: cursor, lastPolled: clock())
            return id
        }
    }

    /// Removes a filter; false when there was none with `id`.
    func uninstall(_ id: String) -> Bool { lock.withLock { drop(id) } }

    /// The log query of a log filter (for `eth_getFilterLogs`); counts as a poll.
    func query(_ id: String) throws -> LogQuery {
        try lock.withLock {
            guard var f = live(id), case .logs(let q) = f.kind else { throw RPCError.server("filter not found") }
            f.lastPolled = clock()
            filters[id] = f
            return q
        }
    }

    /// Takes what a filter has gathered. Hash filters advance past what they return; a
    /// log filter returns its query and first unseen block, and the caller moves the
    /// cursor with `advanceLogFilter` once the scan succeeded.
    func takeChanges(_ id: String) throws -> Changes {
        try lock.withLock {
            guard var f = live(id) else { throw RPCError.server("filter not found") }
            f.lastPolled = clock()
            let changes: Changes
            switch f.kind {
            case .logs(let q): changes = .logs(q, from: f.cursor)
            case .blocks: changes = .hashes(blockLog.since(f.cursor)); f.cursor = blockLog.end
            case .pending: changes = .hashes(pendingLog.since(f.cursor)); f.cursor = pendingLog.end
            }
            filters[id] = f
            return changes
        }
    }

    /// Moves a log filter's cursor to `next` (never backwards).
    func advanceLogFilter(_ id: String, to next: UInt64) {
        lock.withLock {
            guard var f = filters[id], case .logs = f.kind else { return }
            f.cursor = max(f.cursor, next)
            filters[id] = f
        }
    }

    /// Records a new block for the block filters.
    func blockAdded(_ hash: Hash32) { lock.withLock { if blockFilters > 0 { blockLog.append(hash) } } }

    /// Records an admitted transaction for the pending-transaction filters.
    func transactionAdded(_ hash: Hash32) { lock.withLock { if pendingFilters > 0 { pendingLog.append(hash) } } }

    /// The filter `id` if it is installed and not past its timeout (the timer may not have run yet).
    private func live(_ id: String) -> Filter? {
        guard let f = filters[id] else { return nil }
        if clock() &- f.lastPolled >= timeoutNanos {
            drop(id)
            return nil
        }
        return f
    }

    @discardableResult
    private func drop(_ id: String) -> Bool {
        guard let f = filters.removeValue(forKey: id) else { return false }
        switch f.kind {
        case .logs: break
        case .blocks: blockFilters -= 1
        case .pending: pendingFilters -= 1
        }
        return true
    }

    private static func newID() -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        bytes[0] |= 0x01 // never zero
        return ((try? UInt256(bigEndian: bytes)) ?? UInt256(1)).hexQuantity
    }
}

/// An append-only log of hashes numbered from 0, keeping the last
/// `QueryLimits.filterBacklog`; trimming is amortised so an append is O(1).
struct HashLog {
    private var hashes: [Hash32] = []
    /// The sequence number of `hashes[0]`.
    private var first: UInt64 = 0

    /// The sequence number the next append gets.
    var end: UInt64 { first + UInt64(hashes.count) }

    mutating func append(_ hash: Hash32) {
        hashes.append(hash)
        if hashes.count >= 2 * QueryLimits.filterBacklog {
            let drop = hashes.count - QueryLimits.filterBacklog
            hashes.removeFirst(drop)
            first += UInt64(drop)
        }
    }

    /// The hashes from sequence `cursor` on, at most the last `filterBacklog`.
    func since(_ cursor: UInt64) -> [Hash32] {
        let start = max(cursor, first, end >= UInt64(QueryLimits.filterBacklog) ? end - UInt64(QueryLimits.filterBacklog) : 0)
        guard start < end else { return [] }
        return Array(hashes[Int(start - first)...])
    }
}
