/// How far the node is in catching up with its peers: geth's `eth_syncing` fields.
public struct SyncProgress: Equatable, Sendable {
    /// The head when this catch-up began.
    public let startingBlock: UInt64
    /// The head now.
    public let currentBlock: UInt64
    /// The highest head a peer reports.
    public let highestBlock: UInt64

    /// Progress with the three heights.
    public init(startingBlock: UInt64, currentBlock: UInt64, highestBlock: UInt64) {
        self.startingBlock = startingBlock
        self.currentBlock = currentBlock
        self.highestBlock = highestBlock
    }
}

/// What `eth_syncing` asks (block sync implements it): the progress while the node is behind its
/// peers, nil once it has caught up.
public protocol SyncProgressSource: AnyObject {
    /// The progress of the catch-up under way, or nil.
    var syncProgress: SyncProgress? { get }
}
