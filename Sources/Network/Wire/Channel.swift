/// The stream a message belongs to. Each has its own message types and handler; the byte is
/// the first byte of every envelope (docs/p2p.md "Channels").
public enum Channel: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    /// Proposals, votes and their gossip.
    case consensus = 0x01
    /// Transaction gossip between mempools.
    case mempool = 0x02
    /// Block sync: requests, blocks and commit certificates.
    case blocks = 0x03
    /// Evidence of misbehaviour (double signing).
    case evidence = 0x04
    /// Provider endpoint announcements (where providers stream their jobs' tokens).
    case endpoints = 0x05

    public var description: String {
        switch self {
        case .consensus: return "consensus"
        case .mempool: return "mempool"
        case .blocks: return "blocks"
        case .evidence: return "evidence"
        case .endpoints: return "endpoints"
        }
    }
}
