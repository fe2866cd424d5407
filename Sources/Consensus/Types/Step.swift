/// The step of a round (`step_p` of Algorithm 1); the order is the order of the protocol.
public enum Step: UInt8, Comparable, Sendable {
    /// Waiting for the round's proposal.
    case propose = 1
    /// Prevoted; waiting for prevotes.
    case prevote = 2
    /// Precommitted; waiting for precommits.
    case precommit = 3

    public static func < (a: Step, b: Step) -> Bool { a.rawValue < b.rawValue }
}

/// A height/round/step triple: the position of a signature in the signer's monotone order.
public struct SignPosition: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// The height.
    public let height: UInt64
    /// The round.
    public let round: UInt32
    /// The step: proposal signatures are at `.propose`, prevotes at `.prevote`, precommits at `.precommit`.
    public let step: Step

    /// Creates a position.
    public init(height: UInt64, round: UInt32, step: Step) {
        self.height = height
        self.round = round
        self.step = step
    }

    public static func < (a: SignPosition, b: SignPosition) -> Bool {
        (a.height, a.round, a.step.rawValue) < (b.height, b.round, b.step.rawValue)
    }

    public var description: String { "height \(height) round \(round) step \(step)" }
}
