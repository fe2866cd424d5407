import Primitives

/// The delay before each redial of a persistent peer: exponential from `initialMilliseconds`,
/// doubling up to `maximumMilliseconds`, each delay moved by a uniform jitter of up to
/// ±`jitterPercent` % drawn from a seeded generator (so a run is reproducible and peers that lost
/// the same node do not redial in lockstep). Integer arithmetic only.
public struct ReconnectBackoff: Sendable {
    /// The first delay.
    public let initialMilliseconds: Int
    /// The cap on the un-jittered delay.
    public let maximumMilliseconds: Int
    /// The jitter bound, in percent of the delay (0…100).
    public let jitterPercent: Int
    private var current: Int
    private var random: SplitMix64

    /// A backoff whose jitter comes from `seed`.
    public init(initialMilliseconds: Int = 250, maximumMilliseconds: Int = 30_000, jitterPercent: Int = 20, seed: UInt64) {
        self.initialMilliseconds = max(1, initialMilliseconds)
        self.maximumMilliseconds = max(self.initialMilliseconds, maximumMilliseconds)
        self.jitterPercent = min(100, max(0, jitterPercent))
        current = self.initialMilliseconds
        random = SplitMix64(seed: seed)
    }

    /// The next delay, then doubles the base (up to the cap).
    public mutating func nextDelayMilliseconds() -> Int {
        let base = current
        current = min(maximumMilliseconds, current * 2)
        let spread = base * jitterPercent / 100
        guard spread > 0 else { return base }
        let offset = Int(random.next() % UInt64(2 * spread + 1)) - spread
        return base + offset
    }

    /// Back to the first delay (after a successful connection).
    public mutating func reset() { current = initialMilliseconds }
}
