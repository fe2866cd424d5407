import CMicroHTTPD
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Keeps slow and hostile connections from holding the server: every connection must
/// deliver a whole request within `requestTimeout` of opening (or of its previous
/// response), and one IP address may hold at most `maxPendingPerIP` connections that
/// have not delivered one; opening another closes the oldest of them, preferring ones
/// that never delivered a request over kept-alive ones between requests (a client may
/// already be sending on those). libmicrohttpd's own idle
/// timer restarts on every byte, so it cannot stop a client that trickles.
///
/// A connection still waiting for its request whose peer has already closed its side
/// (CLOSE-WAIT) is closed too, within a second: that request can never arrive.
///
/// A connection is closed by `shutdown(2)` on its socket, which libmicrohttpd then sees
/// as the peer going away. Entries are removed under the same lock in MHD's close
/// notification, which runs before MHD closes the socket, so a socket number is never
/// shut down after it has been reused.
final class ConnectionGuard {
    private struct Entry {
        let fd: Int32
        let ip: UInt32
        /// When the current request's deadline started (monotonic nanoseconds).
        var since: UInt64
        /// Still waiting for a whole request.
        var pending: Bool
        /// Already shut down by the guard.
        var closing = false
        /// Has delivered at least one whole request.
        var served = false
    }

    private let lock = NSCondition()
    private var entries: [UInt: Entry] = [:]
    private var pendingByIP: [UInt32: Int] = [:]
    private let requestTimeout: UInt64
    private let maxPendingPerIP: Int
    private var stopped = false
    private var reaper: Thread?

    init(requestTimeoutSeconds: Int, maxPendingPerIP: Int) {
        requestTimeout = UInt64(max(1, requestTimeoutSeconds)) * 1_000_000_000
        self.maxPendingPerIP = max(1, maxPendingPerIP)
    }

    private static var now: UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Connections open now.
    var count: Int { lock.withLock { entries.count } }

    /// Starts the thread that closes connections past their deadline.
    func start() {
        lock.withLock { stopped = false }
        let thread = Thread { [self] in reap() }
        thread.name = "http-reaper"
        reaper = thread
        thread.start()
    }

    /// Stops the reaper thread.
    func stop() {
        lock.withLock {
            stopped = true
            lock.broadcast()
        }
    }

    /// A connection was accepted.
    func opened(_ id: UInt, fd: Int32, ip: UInt32) {
        lock.withLock {
            entries[id] = Entry(fd: fd, ip: ip, since: Self.now, pending: true)
            let pending = (pendingByIP[ip] ?? 0) + 1
            pendingByIP[ip] = pending
            guard pending > maxPendingPerIP else { return }
            var oldest: (id: UInt, rank: (Int, UInt64))?
            for (key, entry) in entries where entry.ip == ip && entry.pending && !entry.closing && key != id {
                let rank = (entry.served ? 1 : 0, entry.since)
                if oldest == nil || rank < oldest!.rank { oldest = (key, rank) }
            }
            if let oldest { closeLocked(oldest.id) }
        }
    }

    /// The connection delivered a whole request that is answered later: no deadline
    /// while it waits for its answer.
    func requestRead(_ id: UInt) {
        lock.withLock {
            guard var entry = entries[id], entry.pending, !entry.closing else { return }
            entry.pending = false
            entry.served = true
            entries[id] = entry
            pendingByIP[entry.ip, default: 1] -= 1
        }
    }

    /// The answer was sent: the next request's deadline starts now. (A request answered
    /// at once is never marked read: its deadline also covers sending the answer, so a
    /// client that does not read it cannot hold the connection either.)
    func responded(_ id: UInt) {
        lock.withLock {
            guard var entry = entries[id], !entry.closing else { return }
            if !entry.pending { pendingByIP[entry.ip, default: 0] += 1 }
            entry.pending = true
            entry.served = true
            entry.since = Self.now
            entries[id] = entry
        }
    }

    /// The connection was upgraded to another protocol (WebSocket): it leaves the
    /// guard, whose deadlines are for HTTP requests, and is never shut down by it.
    func upgraded(_ id: UInt) { closed(id) }

    /// The connection is closing (MHD's close notification, before its socket is closed).
    func closed(_ id: UInt) {
        lock.withLock {
            guard let entry = entries.removeValue(forKey: id) else { return }
            if entry.pending && !entry.closing { dropPending(entry.ip) }
        }
    }

    private func dropPending(_ ip: UInt32) {
        let left = (pendingByIP[ip] ?? 1) - 1
        pendingByIP[ip] = left > 0 ? left : nil
    }

    private func closeLocked(_ id: UInt) {
        guard var entry = entries[id], !entry.closing else { return }
        entry.closing = true
        entries[id] = entry
        if entry.pending { dropPending(entry.ip) }
        shutdown(entry.fd, Int32(SHUT_RDWR))
    }

    /// Every 0.25 s: closes connections past their deadline; every second, also the
    /// pending ones whose peer has gone (CLOSE-WAIT). The socket states are read outside
    /// the lock (one system call per pending connection must not hold up requests), and a
    /// connection is closed only if it is still the same pending entry.
    private func reap() {
        var sweep = 0
        lock.lock()
        while !stopped {
            let now = Self.now
            let late = entries.filter { $0.value.pending && !$0.value.closing && now - $0.value.since > requestTimeout }.map(\.key)
            for id in late { closeLocked(id) }
            sweep += 1
            if sweep % 4 == 0 {
                let candidates = entries.filter { $0.value.pending && !$0.value.closing }.map { (id: $0.key, fd: $0.value.fd, since: $0.value.since) }
                lock.unlock()
                let gone = candidates.filter { opg_socket_peer_closed($0.fd) == 1 }
                lock.lock()
                for c in gone {
                    if let entry = entries[c.id], entry.fd == c.fd, entry.since == c.since, entry.pending { closeLocked(c.id) }
                }
            }
            _ = lock.wait(until: Date().addingTimeInterval(0.25))
        }
        lock.unlock()
    }
}
