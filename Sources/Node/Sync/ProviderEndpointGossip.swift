import Crypto
import Foundation
import Network
import Primitives

/// Provider endpoint announcements between nodes (channel `endpoints`, docs/p2p.md "Provider
/// endpoint gossip"), so that a chat page served by any node finds the stream of a provider that
/// announced itself to another.
///
/// Every announcement this node keeps — from `opg_announceProviderEndpoint` or from a peer — is
/// sent once to each connected peer not known to have it, and a new peer gets every fresh one
/// kept. A peer's announcement is checked as RPC's is: the chain id must be this node's, the URL
/// well formed and the signature recover an address (else the message is garbage: the handler
/// throws and the dispatcher disconnects the peer); then `ProviderEndpoints.offer` keeps it only
/// when it is fresh, from a registered provider and newer than the one kept. Only keeping
/// triggers a send, and a node keeps each announcement once, so gossip cannot loop; the
/// announcement digests each peer sent or was sent are remembered (bounded), so nothing is echoed
/// back; a token bucket caps how many announcements a peer may make this node check.
public final class ProviderEndpointGossip: PeerChannelHandler {
    /// Per-peer bounds.
    public struct Limits: Sendable {
        /// Announcement digests remembered per peer.
        public var knownPerPeer: Int
        /// Announcements a peer may hand this node per second, and in a burst (a new peer's first
        /// message may carry every fresh one it keeps).
        public var announcementsPerSecond: UInt64
        public var announcementBurst: UInt64

        /// The defaults: 8,192 digests; 50 announcements/s (burst 4,096).
        public init(knownPerPeer: Int = 8_192, announcementsPerSecond: UInt64 = 50, announcementBurst: UInt64 = 4_096) {
            self.knownPerPeer = knownPerPeer
            self.announcementsPerSecond = announcementsPerSecond
            self.announcementBurst = announcementBurst
        }
    }

    /// What gossip has done since the node started (for logs and tests).
    public struct Counters: Equatable, Sendable {
        /// Announcements received from peers.
        public var received = 0
        /// Received announcements kept (and passed on).
        public var kept = 0
        /// Received announcements already kept, or older than the one kept.
        public var duplicates = 0
        /// Received announcements refused: stale, not from a registered provider, or no room.
        public var refused = 0
        /// Received announcements dropped unchecked because their peer was over its rate.
        public var rateLimited = 0
        /// Announcements sent to peers (one per peer).
        public var sent = 0
    }

    private struct PeerState {
        var known: KnownHashes
        var budget: TokenBucket
    }

    public let channel = Channel.endpoints
    private let endpoints: ProviderEndpoints
    private let transport: PeerTransport
    private let limits: Limits
    private let clock: () -> UInt64
    private let wallClock: () -> UInt64
    private let queue = DispatchQueue(label: "opg.endpoint-gossip")
    private let onQueue = DispatchSpecificKey<Bool>()
    private let lock = NSLock()
    private var peers: [PeerID: PeerState] = [:]
    private var counts = Counters()

    /// Gossip for `endpoints` over `transport`. `clock` gives monotonic nanoseconds (the rate
    /// limit's time), `wallClock` Unix seconds (announcements' freshness); tests inject their own.
    public init(endpoints: ProviderEndpoints, transport: PeerTransport, limits: Limits = Limits(),
                clock: @escaping () -> UInt64 = { DispatchTime.now().uptimeNanoseconds },
                wallClock: @escaping () -> UInt64 = ProviderEndpoints.now) {
        self.endpoints = endpoints
        self.transport = transport
        self.limits = limits
        self.clock = clock
        self.wallClock = wallClock
        queue.setSpecific(key: onQueue, value: true)
        endpoints.onKept { [weak self] announcement in self?.kept(announcement) }
    }

    /// The counters so far.
    public var counters: Counters { lock.withLock { counts } }

    /// Returns once every announcement received or kept so far has been checked and sent.
    public func waitUntilIdle() { queue.sync {} }

    public func peerConnected(_ peer: PeerID) {
        lock.withLock { _ = state(of: peer) }
        queue.async { [self] in send(endpoints.freshAnnouncements(now: wallClock()), to: peer) }
    }

    public func peerDisconnected(_ peer: PeerID) {
        lock.withLock { _ = peers.removeValue(forKey: peer) }
    }

    public func receive(_ envelope: Envelope, from peer: PeerID) throws {
        guard envelope.messageType == ProviderEndpointMessage.announcementsType else {
            throw SyncMessageError.unknownMessageType(ProviderEndpointMessage.channelName, envelope.messageType)
        }
        let message = try ProviderEndpointMessage(decoding: envelope.body)
        let now = clock()
        let admitted: [ProviderEndpoints.Announcement] = lock.withLock {
            counts.received += message.announcements.count
            var peerState = state(of: peer)
            defer { peers[peer] = peerState }
            return message.announcements.filter { announcement in
                peerState.known.insert(Self.digest(announcement))
                guard peerState.budget.take(1, now: now) else {
                    counts.rateLimited += 1
                    return false
                }
                return true
            }
        }
        // The rules no honest node breaks (it checked them before keeping and passing on).
        var signed: [(ProviderEndpoints.Announcement, Address)] = []
        for announcement in admitted {
            guard announcement.chainId == endpoints.chainId else {
                throw SyncMessageError("\(ProviderEndpointMessage.channelName): announcement for chain \(announcement.chainId), this node's is \(endpoints.chainId)")
            }
            if let problem = ProviderEndpoints.urlProblem(announcement.url) { throw SyncMessageError("\(ProviderEndpointMessage.channelName): \(problem)") }
            do { signed.append((announcement, try announcement.signer())) } catch {
                throw SyncMessageError.invalidField(ProviderEndpointMessage.channelName, field: "signature", error)
            }
        }
        guard !signed.isEmpty else { return }
        queue.async { [self, signed] in offer(signed) }
    }

    /// The state of `peer`, created on first sight; call with `lock` held.
    private func state(of peer: PeerID) -> PeerState {
        if let existing = peers[peer] { return existing }
        let fresh = PeerState(known: KnownHashes(capacity: limits.knownPerPeer),
                              budget: TokenBucket(ratePerSecond: limits.announcementsPerSecond, burst: limits.announcementBurst, now: clock()))
        peers[peer] = fresh
        return fresh
    }

    /// Runs on `queue`: each announcement through `ProviderEndpoints.offer`; a kept one comes back
    /// through `kept` and is passed on.
    private func offer(_ announcements: [(ProviderEndpoints.Announcement, Address)]) {
        let now = wallClock()
        for (announcement, signer) in announcements {
            let outcome = endpoints.offer(announcement, from: signer, now: now)
            lock.withLock {
                switch outcome {
                case .kept: counts.kept += 1
                case .duplicate, .superseded: counts.duplicates += 1
                case .stale, .notProvider, .full: counts.refused += 1
                }
            }
        }
    }

    /// An announcement was kept (any thread): pass it on to every connected peer not known to have
    /// it, at once when kept from a peer (on `queue`, so `waitUntilIdle` covers the relay too).
    private func kept(_ announcement: ProviderEndpoints.Announcement) {
        if DispatchQueue.getSpecific(key: onQueue) == true { relay(announcement) } else { queue.async { [self] in relay(announcement) } }
    }

    /// Runs on `queue`: sends `announcement` to every connected peer not known to have it.
    private func relay(_ announcement: ProviderEndpoints.Announcement) {
        for peer in transport.connectedPeers { send([announcement], to: peer) }
    }

    /// Runs on `queue`: sends `peer` those of `announcements` it is not known to have.
    private func send(_ announcements: [ProviderEndpoints.Announcement], to peer: PeerID) {
        let fresh = lock.withLock {
            var peerState = state(of: peer)
            defer { peers[peer] = peerState }
            return announcements.filter { peerState.known.insert(Self.digest($0)) }
        }
        guard !fresh.isEmpty else { return }
        for envelope in ProviderEndpointMessage.envelopes(for: fresh) { _ = transport.send(envelope, to: peer) }
        lock.withLock { counts.sent += fresh.count }
    }

    /// What identifies an announcement in a peer's memory: the keccak of its encoding.
    private static func digest(_ announcement: ProviderEndpoints.Announcement) -> Hash32 {
        Keccak256.hash(ProviderEndpointMessage(announcements: [announcement]).encoded)
    }
}
