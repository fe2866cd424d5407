/// How long the engine waits at each step, in milliseconds. Each step's timeout grows by
/// `roundIncrementMillis` per round, so that after the network stabilises (GST) the timeouts
/// eventually exceed the unknown message delay Δ: the condition the paper's liveness proof needs.
public struct TimeoutConfig: Hashable, Sendable {
    /// Timeouts above this (one hour) are refused as a units mistake.
    public static let maxMillis: UInt64 = 3_600_000

    /// timeoutPropose(0).
    public let proposeMillis: UInt64
    /// timeoutPrevote(0).
    public let prevoteMillis: UInt64
    /// timeoutPrecommit(0).
    public let precommitMillis: UInt64
    /// Added to each of the three per round.
    public let roundIncrementMillis: UInt64
    /// The pause after a decision before the next height (lets late precommits and the next block's transactions arrive).
    public let commitMillis: UInt64
    /// How often our latest signed messages of the height are sent again.
    public let rebroadcastMillis: UInt64
    /// Whether the commit pause ends early, as soon as precommits of every validator for the
    /// decided block are in (CometBFT's `skip_timeout_commit`, which waits for all precommits the
    /// same way): nothing is left for the pause to gather, so the next height starts. Off by
    /// default, where the pause is the block interval (docs/consensus.md, "Timeouts").
    public let skipCommitPause: Bool

    /// Creates a configuration after checking the timing conditions; throws a ``TimeoutConfigError`` naming the one broken.
    public init(proposeMillis: UInt64, prevoteMillis: UInt64, precommitMillis: UInt64, roundIncrementMillis: UInt64,
                commitMillis: UInt64, rebroadcastMillis: UInt64, skipCommitPause: Bool = false) throws {
        for (name, value) in [("propose", proposeMillis), ("prevote", prevoteMillis), ("precommit", precommitMillis)] {
            guard value > 0 else { throw TimeoutConfigError.zeroTimeout(step: name) }
        }
        guard roundIncrementMillis > 0 else { throw TimeoutConfigError.zeroRoundIncrement }
        guard rebroadcastMillis > 0 else { throw TimeoutConfigError.zeroRebroadcastInterval }
        for (name, value) in [("propose", proposeMillis), ("prevote", prevoteMillis), ("precommit", precommitMillis),
                              ("round increment", roundIncrementMillis), ("commit", commitMillis), ("rebroadcast", rebroadcastMillis)] {
            guard value <= Self.maxMillis else { throw TimeoutConfigError.timeoutTooLarge(step: name, millis: value, max: Self.maxMillis) }
        }
        self.proposeMillis = proposeMillis
        self.prevoteMillis = prevoteMillis
        self.precommitMillis = precommitMillis
        self.roundIncrementMillis = roundIncrementMillis
        self.commitMillis = commitMillis
        self.rebroadcastMillis = rebroadcastMillis
        self.skipCommitPause = skipCommitPause
    }

    /// CometBFT's defaults: propose 3 s, prevote 1 s, precommit 1 s, +0.5 s per round, commit 1 s; re-broadcast every 2 s.
    public static let production = try! TimeoutConfig(proposeMillis: 3000, prevoteMillis: 1000, precommitMillis: 1000,
                                                      roundIncrementMillis: 500, commitMillis: 1000, rebroadcastMillis: 2000)

    /// The test profile: the same shape in milliseconds (propose 30, prevote 10, precommit 10, +5 per round, commit 10; re-broadcast 40).
    public static let testProfile = try! TimeoutConfig(proposeMillis: 30, prevoteMillis: 10, precommitMillis: 10,
                                                       roundIncrementMillis: 5, commitMillis: 10, rebroadcastMillis: 40)

    /// The delay of a timeout: base + round × increment for the three step timeouts; fixed for commit and re-broadcast.
    public func millis(_ kind: Timeout.Kind, round: UInt32) -> UInt64 {
        let grow = UInt64(min(round, 1_000_000)) * roundIncrementMillis
        switch kind {
        case .propose: return proposeMillis + grow
        case .prevote: return prevoteMillis + grow
        case .precommit: return precommitMillis + grow
        case .commit: return commitMillis
        case .rebroadcast: return rebroadcastMillis
        }
    }
}
