import Chain
import Foundation
import Network
import Primitives

/// Transaction gossip between mempools (channel `mempool`, docs/p2p.md "Mempool gossip").
///
/// Every transaction the local pool admits — from RPC or from a peer — is sent once to each
/// connected peer not known to have it; a transaction from a peer goes through the same
/// admission as RPC's (`ChainService.submit`: `TransactionRules.check`, then the pool's policy).
/// Only admission triggers a send, and a pool admits a transaction once, so gossip cannot loop:
/// each node forwards each transaction at most once to each peer. Per peer, the hashes it sent
/// or was sent are remembered (bounded), so nothing is echoed back, and token buckets cap the
/// transactions and bytes it may make this node check. A malformed message throws (the
/// dispatcher disconnects the peer); a transaction the pool refuses is only counted.
public final class MempoolGossip: PeerChannelHandler {
    /// Per-peer bounds.
    public struct Limits: Sendable {
        /// Hashes remembered per peer.
        public var knownHashesPerPeer: Int
        /// Transactions a peer may hand this node per second, and in a burst.
        public var transactionsPerSecond: UInt64
        public var transactionBurst: UInt64
        /// Raw transaction bytes a peer may hand this node per second, and in a burst.
        public var bytesPerSecond: UInt64
        public var byteBurst: UInt64

        /// The defaults: 32,768 hashes; 1,000 transactions/s (burst 4,000); 4 MiB/s (burst 16 MiB).
        public init(knownHashesPerPeer: Int = 32_768, transactionsPerSecond: UInt64 = 1_000, transactionBurst: UInt64 = 4_000,
                    bytesPerSecond: UInt64 = 4 << 20, byteBurst: UInt64 = 16 << 20) {
            self.knownHashesPerPeer = knownHashesPerPeer
            self.transactionsPerSecond = transactionsPerSecond
            self.transactionBurst = transactionBurst
            self.bytesPerSecond = bytesPerSecond
            self.byteBurst = byteBurst
        }
    }

    /// What gossip has done since the node started (for logs, metrics and tests).
    public struct Counters: Equatable, Sendable {
        /// Transactions received from peers.
        public var received = 0
        /// Received transactions the pool admitted.
        public var admitted = 0
        /// Received transactions the pool already held.
        public var duplicates = 0
        /// Received transactions the rules or the pool's policy refused.
        public var rejected = 0
        /// Received transactions dropped unchecked because their peer was over its rate.
        public var rateLimited = 0
        /// Transactions sent to peers (one per peer).
        public var sent = 0
    }

    /// One peer's memory and budget.
    private struct PeerState {
        var known: KnownHashes
        var transactions: TokenBucket
        var bytes: TokenBucket
        var parts = SyncPartAssembler(channel: MempoolMessage.channelName, maximumBytes: MempoolMessage.maximumBytes,
                                  splittableKinds: [MempoolMessage.transactionsType])
    }

    public let channel = Channel.mempool
    private let chain: ChainService
    private let transport: PeerTransport
    private let limits: Limits
    private let clock: () -> UInt64
    private let queue = DispatchQueue(label: "opg.mempool-gossip")
    private let lock = NSLock()
    private var peers: [PeerID: PeerState] = [:]
    private var unannounced: [Hash32] = []
    private var counts = Counters()

    /// Gossip for `chain`'s pool over `transport`. `clock` gives monotonic nanoseconds (the rate
    /// limits' time; tests inject their own).
    public init(chain: ChainService, transport: PeerTransport, limits: Limits = Limits(),
                clock: @escaping () -> UInt64 = { DispatchTime.now().uptimeNanoseconds }) {
        self.chain = chain
        self.transport = transport
        self.limits = limits
        self.clock = clock
        chain.onPendingTransaction { [weak self] hash in self?.admitted(hash) }
    }

    /// The counters so far.
    public var counters: Counters { lock.withLock { counts } }

    /// Returns once every transaction received or admitted so far has been checked and sent.
    public func waitUntilIdle() { queue.sync {} }

    /// A new peer gets the whole pool (by sender, then nonce), so a node that joins late or
    /// reconnects has what was announced while it was away.
    public func peerConnected(_ peer: PeerID) {
        lock.withLock { _ = state(of: peer) }
        queue.async { [self] in send(chain.mempool.all(), to: peer) }
    }

    public func peerDisconnected(_ peer: PeerID) {
        lock.withLock { _ = peers.removeValue(forKey: peer) }
    }

    public func receive(_ envelope: Envelope, from peer: PeerID) throws {
        let body: [UInt8]
        switch envelope.messageType {
        case MempoolMessage.transactionsType:
            body = envelope.body
        case MessageParts.partType:
            let part: (kind: UInt16, body: [UInt8])? = try lock.withLock {
                var peerState = state(of: peer)
                defer { peers[peer] = peerState }
                return try peerState.parts.add(envelope.body)
            }
            guard let whole = part else { return }
            body = whole.body
        default:
            throw SyncMessageError.unknownMessageType(MempoolMessage.channelName, envelope.messageType)
        }
        let message = try MempoolMessage(decoding: body)
        let now = clock()
        let accepted: [[UInt8]] = lock.withLock {
            counts.received += message.transactions.count
            var peerState = state(of: peer)
            defer { peers[peer] = peerState }
            return message.transactions.filter { raw in
                peerState.known.insert(Keccak256.hash(raw))
                guard peerState.transactions.take(1, now: now), peerState.bytes.take(UInt64(raw.count), now: now) else {
                    counts.rateLimited += 1
                    return false
                }
                return true
            }
        }
        guard !accepted.isEmpty else { return }
        queue.async { [self] in admit(accepted) }
    }

    /// The state of `peer`, created on first sight; call with `lock` held.
    private func state(of peer: PeerID) -> PeerState {
        if let existing = peers[peer] { return existing }
        let now = clock()
        let fresh = PeerState(known: KnownHashes(capacity: limits.knownHashesPerPeer),
                              transactions: TokenBucket(ratePerSecond: limits.transactionsPerSecond, burst: limits.transactionBurst, now: now),
                              bytes: TokenBucket(ratePerSecond: limits.bytesPerSecond, burst: limits.byteBurst, now: now))
        peers[peer] = fresh
        return fresh
    }

    /// Runs on `queue`: each transaction through the pool's admission. An admitted one comes
    /// back through `admitted` and is announced to the peers that do not have it.
    private func admit(_ transactions: [[UInt8]]) {
        for raw in transactions {
            let outcome: (inout Counters) -> Void
            if chain.mempool.transaction(Keccak256.hash(raw)) != nil {
                outcome = { $0.duplicates += 1 }
            } else {
                do {
                    try chain.submit(raw: raw)
                    outcome = { $0.admitted += 1 }
                } catch let error as MempoolError where error.rule == .alreadyKnown {
                    outcome = { $0.duplicates += 1 }
                } catch {
                    outcome = { $0.rejected += 1 }
                }
            }
            lock.withLock { outcome(&counts) }
        }
    }

    /// A transaction entered the local pool (any thread): queue its announcement. Announcements
    /// queued together leave in one batch per peer.
    private func admitted(_ hash: Hash32) {
        let first = lock.withLock {
            unannounced.append(hash)
            return unannounced.count == 1
        }
        if first { queue.async { [self] in announce() } }
    }

    /// Runs on `queue`: sends the queued transactions still in the pool to every connected peer
    /// not known to have them.
    private func announce() {
        let hashes = lock.withLock {
            defer { unannounced = [] }
            return unannounced
        }
        let transactions = hashes.compactMap { chain.mempool.transaction($0) }
        guard !transactions.isEmpty else { return }
        for peer in transport.connectedPeers { send(transactions, to: peer) }
    }

    /// Runs on `queue`: sends `peer` those of `transactions` it is not known to have.
    private func send(_ transactions: [SignedTransaction], to peer: PeerID) {
        let fresh: [[UInt8]] = lock.withLock {
            var peerState = state(of: peer)
            defer { peers[peer] = peerState }
            return transactions.filter { peerState.known.insert($0.hash) }.map(\.raw)
        }
        guard !fresh.isEmpty else { return }
        for envelope in MempoolMessage.envelopes(for: fresh) { _ = transport.send(envelope, to: peer) }
        lock.withLock { counts.sent += fresh.count }
    }
}
