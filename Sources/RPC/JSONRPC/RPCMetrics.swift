import Foundation
import HTTPServer

/// Requests and their latency per JSON-RPC method, for `/metrics`: a counter
/// `opg_rpc_requests_total{method}` and a histogram `opg_rpc_request_duration_seconds{method}`
/// of the time the method ran (parsing and the HTTP side excluded). Names that are not
/// registered methods are counted under `method="unknown"`, so clients cannot grow the
/// label set. Times are monotonic nanoseconds.
public final class RPCMetrics {
    /// The histogram's upper bounds in nanoseconds: 100 µs to 10 s.
    public static let bucketBounds: [UInt64] = [
        100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 25_000_000,
        50_000_000, 100_000_000, 250_000_000, 500_000_000, 1_000_000_000, 2_500_000_000, 10_000_000_000,
    ]

    /// One method's tallies, changed in place under the lock: `buckets[i]` counts calls no
    /// slower than `bucketBounds[i]` (not cumulative).
    private final class Tally {
        var calls: UInt64 = 0
        var nanoseconds: UInt64 = 0
        var buckets = [UInt64](repeating: 0, count: RPCMetrics.bucketBounds.count)
    }

    private let lock = NSLock()
    private var tallies: [String: Tally] = [:]

    /// Empty tallies.
    public init() {}

    /// Counts one call of `method` that ran for `nanoseconds`.
    func record(_ method: String, nanoseconds: UInt64) {
        let bucket = Self.bucketBounds.firstIndex { nanoseconds <= $0 }
        lock.withLock {
            let tally: Tally
            if let known = tallies[method] {
                tally = known
            } else {
                tally = Tally()
                tallies[method] = tally
            }
            tally.calls += 1
            tally.nanoseconds &+= nanoseconds
            if let bucket { tally.buckets[bucket] += 1 }
        }
    }

    /// Calls of `method` counted so far.
    public func calls(_ method: String) -> UInt64 { lock.withLock { tallies[method]?.calls ?? 0 } }

    /// Writes both families, methods in name order.
    public func write(to page: inout PrometheusText) {
        let snapshot = lock.withLock {
            tallies.sorted { $0.key < $1.key }.map { (key: $0.key, calls: $0.value.calls, nanoseconds: $0.value.nanoseconds, buckets: $0.value.buckets) }
        }
        page.family("opg_rpc_requests_total", type: "counter", help: "JSON-RPC requests answered, by method.")
        for tally in snapshot { page.sample("opg_rpc_requests_total", labels: [("method", tally.key)], String(tally.calls)) }
        let name = "opg_rpc_request_duration_seconds"
        page.family(name, type: "histogram", help: "Time a JSON-RPC method ran, by method.")
        for tally in snapshot {
            let method = tally.key
            var cumulative: UInt64 = 0
            for (bound, count) in zip(Self.bucketBounds, tally.buckets) {
                cumulative += count
                page.sample(name + "_bucket", labels: [("method", method), ("le", PrometheusText.seconds(nanoseconds: bound))], String(cumulative))
            }
            page.sample(name + "_bucket", labels: [("method", method), ("le", "+Inf")], String(tally.calls))
            page.sample(name + "_sum", labels: [("method", method)], PrometheusText.seconds(nanoseconds: tally.nanoseconds))
            page.sample(name + "_count", labels: [("method", method)], String(tally.calls))
        }
    }
}
