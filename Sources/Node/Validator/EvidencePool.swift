import Consensus
import Foundation
import Network

/// Evidence of double signing this node has seen (reported by its engine or received from
/// peers and verified), waiting to be included in a block. Including it and slashing the
/// validator belong to the staking module and the block body: they read ``pending`` and call
/// ``removeIncluded(_:)`` once a block carries some (the seam; not wired yet).
public final class EvidencePool: @unchecked Sendable {
    /// The most pieces of evidence kept; further ones are dropped until some are included.
    public static let capacity = 1024

    private let lock = NSLock()
    private var items: [DuplicateVoteEvidence] = []
    private var known: Set<DuplicateVoteEvidence> = []

    /// An empty pool.
    public init() {}

    /// Adds `evidence`; false when it was already here or the pool is full.
    @discardableResult
    public func add(_ evidence: DuplicateVoteEvidence) -> Bool {
        lock.withLock {
            guard items.count < Self.capacity, known.insert(evidence).inserted else { return false }
            items.append(evidence)
            return true
        }
    }

    /// The evidence waiting for a block, oldest first.
    public var pending: [DuplicateVoteEvidence] { lock.withLock { items } }

    /// Forgets evidence a committed block included.
    public func removeIncluded(_ included: [DuplicateVoteEvidence]) {
        lock.withLock {
            items.removeAll { included.contains($0) }
            for e in included { known.remove(e) }
        }
    }
}

/// The evidence channel: one message type, `1` = a ``DuplicateVoteEvidence`` in its encoding.
/// Evidence from a peer is verified against the validator set of its height; evidence that does
/// not decode or verify disconnects the peer, evidence of a height this node does not know yet
/// (it is behind) is ignored. New evidence goes into the pool and on to the
/// other peers; a newly connected peer gets the whole pool.
final class EvidenceChannel: PeerChannelHandler {
    /// The message type of evidence.
    static let evidenceType: UInt16 = 1

    let channel = Channel.evidence
    private let pool: EvidencePool
    /// Throws when the evidence is invalid; false when its height's validators are not known yet.
    private let verify: (DuplicateVoteEvidence) throws -> Bool
    private let peers: () -> PeerTransport?
    private let logger: Logger

    init(pool: EvidencePool, verify: @escaping (DuplicateVoteEvidence) throws -> Bool, peers: @escaping () -> PeerTransport?, logger: Logger) {
        self.pool = pool
        self.verify = verify
        self.peers = peers
        self.logger = logger
    }

    /// Adds evidence (the engine's or a peer's) and gossips it when it is new.
    func submit(_ evidence: DuplicateVoteEvidence, except source: PeerID? = nil) {
        guard pool.add(evidence) else { return }
        logger.warn("double signing evidence", ["validator": evidence.validator, "height": evidence.height,
                                                "round": evidence.first.vote.round, "from": source.map { "\($0)" } ?? "this node"])
        guard let transport = peers(), let envelope = try? Self.envelope(evidence) else { return }
        for peer in transport.connectedPeers where peer != source { _ = transport.send(envelope, to: peer) }
    }

    static func envelope(_ evidence: DuplicateVoteEvidence) throws -> Envelope {
        try Envelope(channel: .evidence, messageType: evidenceType, body: evidence.encoded)
    }

    func peerConnected(_ peer: PeerID) {
        guard let transport = peers() else { return }
        for evidence in pool.pending {
            if let envelope = try? Self.envelope(evidence) { _ = transport.send(envelope, to: peer) }
        }
    }

    func peerDisconnected(_ peer: PeerID) {}

    func receive(_ envelope: Envelope, from peer: PeerID) throws {
        guard envelope.messageType == Self.evidenceType else { throw ConsensusWireError.unknownMessageType(envelope.messageType) }
        let evidence = try DuplicateVoteEvidence(decoding: envelope.body)
        guard try verify(evidence) else { return }
        submit(evidence, except: peer)
    }
}
