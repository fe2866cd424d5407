import Chain
import Foundation
import JSON
import Primitives

/// Installed filters (`eth_newFilter`, `eth_newBlockFilter`,
/// `eth_newPendingTransactionFilter`). Each poll returns what arrived since the last
/// poll, once. A filter not polled for `timeout` is removed, as in geth (5 minutes).
final class FilterManager {
    enum Kind {
        case logs(LogQuery, next: UInt64)
        case blocks([Hash32])
        case pending([Hash32])
    }

    private struct Entry {
        var kind: Kind
        var lastPolled: UInt64
    }

    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    private let timeoutNanos: UInt64
    /// Bound on hashes buffered per block/pending filter; older ones are dropped.
    private let maxBuffered = 10_000

    init(timeoutSeconds: UInt64 = 300) { timeoutNanos = timeoutSeconds * 1_000_000_000 }

    private func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    private func newID() -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        bytes[0] |= 0x01 // never zero
        return ((try? UInt256(bigEndian: bytes)) ?? UInt256(1)).hexQuantity
    }

    private func expire() {
        let t = now()
        entries = entries.filter { t &- $0.value.lastPolled < timeoutNanos }
    }

    func install(_ kind: Kind) -> String {
        lock.withLock {
            expire()
            let id = newID()
            entries[id] = Entry(kind: kind, lastPolled: now())
            return id
        }
    }

    func uninstall(_ id: String) -> Bool { lock.withLock { entries.removeValue(forKey: id) != nil } }

    /// The log query of a log filter (for `eth_getFilterLogs`).
    func query(_ id: String) throws -> LogQuery {
        try lock.withLock {
            guard var e = entries[id] else { throw RPCError.server("filter not found") }
            guard case .logs(let q, _) = e.kind else { throw RPCError.server("filter not found") }
            e.lastPolled = now()
            entries[id] = e
            return q
        }
    }

    /// Takes what a filter has gathered. For log filters returns the query and the first
    /// unseen block, advancing the cursor to `head + 1`.
    enum Changes {
        case hashes([Hash32])
        case logs(LogQuery, from: UInt64, to: UInt64)
    }

    func takeChanges(_ id: String, head: UInt64) throws -> Changes {
        try lock.withLock {
            guard var e = entries[id] else { throw RPCError.server("filter not found") }
            e.lastPolled = now()
            let result: Changes
            switch e.kind {
            case .blocks(let hashes): result = .hashes(hashes); e.kind = .blocks([])
            case .pending(let hashes): result = .hashes(hashes); e.kind = .pending([])
            case .logs(let q, let next): result = .logs(q, from: next, to: head); e.kind = .logs(q, next: max(next, head + 1))
            }
            entries[id] = e
            return result
        }
    }

    func blockAdded(_ hash: Hash32) {
        lock.withLock {
            for (id, var e) in entries {
                if case .blocks(var hashes) = e.kind {
                    hashes.append(hash)
                    if hashes.count > maxBuffered { hashes.removeFirst(hashes.count - maxBuffered) }
                    e.kind = .blocks(hashes)
                    entries[id] = e
                }
            }
        }
    }

    func transactionAdded(_ hash: Hash32) {
        lock.withLock {
            for (id, var e) in entries {
                if case .pending(var hashes) = e.kind {
                    hashes.append(hash)
                    if hashes.count > maxBuffered { hashes.removeFirst(hashes.count - maxBuffered) }
                    e.kind = .pending(hashes)
                    entries[id] = e
                }
            }
        }
    }
}
