/// What the engine needs from the chain: build a block on the head, check a proposed block by
/// executing it without committing, and commit a decided block with its certificate. This is the
/// seam `opgd` implements (issue 11 §1): each call runs under the chain's one lock.
public protocol ConsensusApplication: AnyObject {
    /// The last committed height (0: only genesis). Consensus runs at `committedHeight + 1`.
    var committedHeight: UInt64 { get }
    /// The validator set of `height` (with its proposer priorities). Known for `committedHeight + 2`
    /// too, since set changes at H take effect at H + 2.
    func validatorSet(height: UInt64) throws -> ValidatorSet
    /// Builds a block on the head for `height` (`getValue()`); `round` is informational (the
    /// proposer of the round is in the header).
    func proposeValue(height: UInt64, round: UInt32) throws -> ProposalValue
    /// `valid(v)`: whether the payload hashes to the block hash and the block executes on the head.
    func verify(height: UInt64, value: ProposalValue) -> Bool
    /// Commits the decided block with its certificate. Called once per height in normal operation;
    /// after a crash it may be called again for the height being recovered and must then accept
    /// a block it already holds as committed only if it is the same block.
    func commit(_ decision: Decision) throws
}

/// Where the driver sends what leaves the node: messages to peers and timers to the clock.
public protocol ConsensusTransport: AnyObject {
    /// Sends signed messages to every peer.
    func broadcast(_ messages: [ConsensusMessage])
    /// Calls ``ConsensusDriver/timeoutFired(_:)`` with `timeout` after `millis`.
    func schedule(_ timeout: Timeout, afterMillis millis: UInt64)
    /// Gossips evidence of equivocation (and hands it to the block builder).
    func reportEvidence(_ evidence: DuplicateVoteEvidence)
}
