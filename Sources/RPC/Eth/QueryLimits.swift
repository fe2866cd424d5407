/// Caps on the `eth_` methods whose cost a client chooses (docs/rpc.md, "Limits").
/// Each bounds memory or time whatever a request asks for.
public struct QueryLimits: Sendable, Equatable {
    /// Filters installed at once, all kinds together; one more is -32000 "too many filters".
    public var maxFilters: Int
    /// Seconds a filter may go unpolled before the expiry timer removes it (geth: 5 minutes).
    public var filterTimeoutSeconds: UInt64
    /// Blocks one `eth_getLogs` (or one poll of a log filter) may scan (geth's default range cap).
    public var logBlockRange: UInt64
    /// Logs one `eth_getLogs`, `eth_getFilterLogs` or poll may return.
    public var logResults: Int
    /// Storage keys one `eth_getProof` may ask for.
    public var proofKeys: Int

    /// Addresses one log query may name (geth's limit).
    public static let logAddresses = 1_000
    /// Alternatives one topic position of a log query may list (geth's limit).
    public static let logTopicAlternatives = 1_000
    /// Hashes a block or pending-transaction filter keeps between polls; older ones are dropped.
    public static let filterBacklog = 10_000

    /// Creates limits; the defaults are the documented ones.
    public init(maxFilters: Int = 2_048, filterTimeoutSeconds: UInt64 = 300, logBlockRange: UInt64 = 10_000,
                logResults: Int = 10_000, proofKeys: Int = 1_024) {
        self.maxFilters = maxFilters
        self.filterTimeoutSeconds = filterTimeoutSeconds
        self.logBlockRange = logBlockRange
        self.logResults = logResults
        self.proofKeys = proofKeys
    }
}
