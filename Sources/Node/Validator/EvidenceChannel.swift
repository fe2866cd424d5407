import Chain
import Consensus
import Foundation
import Network

/// The evidence channel: one message type, `1` = a ``DuplicateVoteEvidence`` in its encoding.
/// The chain's `EvidencePool` (`ChainService.pendingEvidence`) is the one store of evidence
/// waiting for a block: the engine's reports and evidence from peers go there, the blocks this
/// node proposes take it, and a committed block that carries an item removes it
/// (docs/chain.md, "Evidence"). This channel only gossips and remembers what it has seen.
///
/// Evidence from a peer is verified against the validator set of its height; evidence that does
/// not decode or verify disconnects the peer, evidence of a height this node does not know yet
/// (it is behind) is ignored. Evidence seen for the first time goes into the chain's pool and on
/// to the other peers; evidence seen before (the last ``seenCapacity`` items, pooled, committed or
/// refused) is dropped, so an item a block already carried is not pooled or gossiped again.
/// A newly connected peer gets the whole pool.
final class EvidenceChannel: PeerChannelHandler {
    /// The message type of evidence.
    static let evidenceType: UInt16 = 1
    /// How many pieces of evidence are remembered as seen (oldest forgotten first).
    static let seenCapacity = 4096

    let channel = Channel.evidence
    private let pool: Chain.EvidencePool
    /// Throws when the evidence is invalid; false when its height's validators are not known yet.
    private let verify: (DuplicateVoteEvidence) throws -> Bool
    private let peers: () -> PeerTransport?
    private let logger: Logger
    private let lock = NSLock()
    private var seen: Set<[UInt8]> = []
    private var seenOrder: [[UInt8]] = []

    init(pool: Chain.EvidencePool, verify: @escaping (DuplicateVoteEvidence) throws -> Bool, peers: @escaping () -> PeerTransport?, logger: Logger) {
        self.pool = pool
        self.verify = verify
        self.peers = peers
        self.logger = logger
    }

    /// Pools evidence (the engine's or a peer's) and gossips it when it was not seen before.
    func submit(_ evidence: DuplicateVoteEvidence, except source: PeerID? = nil) {
        let bytes = evidence.encoded
        guard remember(bytes) else { return }
        let pooled = pool.add(bytes)
        logger.warn("double signing evidence", ["validator": evidence.validator, "height": evidence.height,
                                                "round": evidence.first.vote.round, "from": source.map { "\($0)" } ?? "this node",
                                                "pooled": pooled])
        guard let transport = peers(), let envelope = try? Self.envelope(bytes) else { return }
        for peer in transport.connectedPeers where peer != source { _ = transport.send(envelope, to: peer) }
    }

    /// True when `bytes` were not seen before (and are now).
    private func remember(_ bytes: [UInt8]) -> Bool {
        lock.withLock {
            guard seen.insert(bytes).inserted else { return false }
            seenOrder.append(bytes)
            if seenOrder.count > Self.seenCapacity { seen.remove(seenOrder.removeFirst()) }
            return true
        }
    }

    static func envelope(_ encoded: [UInt8]) throws -> Envelope {
        try Envelope(channel: .evidence, messageType: evidenceType, body: encoded)
    }

    func peerConnected(_ peer: PeerID) {
        guard let transport = peers() else { return }
        for encoded in pool.take(limit: pool.capacity) {
            if let envelope = try? Self.envelope(encoded) { _ = transport.send(envelope, to: peer) }
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
