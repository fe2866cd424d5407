/// A timeout the engine asks to be scheduled and later receives back as an input.
public struct Timeout: Hashable, Sendable, CustomStringConvertible {
    /// What the timeout is for.
    public enum Kind: UInt8, Sendable {
        /// `OnTimeoutPropose` (line 57).
        case propose = 1
        /// `OnTimeoutPrevote` (line 61).
        case prevote = 2
        /// `OnTimeoutPrecommit` (line 65).
        case precommit = 3
        /// The pause after a decision before the next height starts (CometBFT's `timeout_commit`).
        case commit = 4
        /// Re-broadcast our latest signed messages of the height.
        case rebroadcast = 5
    }

    /// The kind.
    public let kind: Kind
    /// The height it was scheduled at.
    public let height: UInt64
    /// The round it was scheduled at.
    public let round: UInt32

    /// Creates a timeout.
    public init(kind: Kind, height: UInt64, round: UInt32) {
        self.kind = kind
        self.height = height
        self.round = round
    }

    public var description: String { "timeout(\(kind), h=\(height), r=\(round))" }
}
