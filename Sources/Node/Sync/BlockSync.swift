import Chain
import Consensus
import Crypto
import Foundation
import Network
import Primitives
import RPC

/// Block sync (channel `blocks`, docs/p2p.md "Block sync"): brings a node that is behind — or
/// new — up to its peers' height with blocks and their commit certificates, then hands over to
/// consensus near the tip; and serves this node's blocks to peers that are behind.
///
/// Peers exchange their height and head hash (`status`). While the highest peer is ahead, the
/// node asks for ranges of up to `batchSize` missing blocks, at most `requestsPerPeer` ranges per
/// peer at once, spread over every peer that has them, and never more than `windowBlocks` past
/// its head. Each block is applied in height order: its certificate is checked against the
/// validator set of its height (the chain's `ValidatorSetProvider`: signatures by validators
/// holding more than 2/3 of the power), then the chain executes and checks it and commits it
/// with the certificate (`ChainService.importBlock`). A peer that serves a block or certificate
/// that fails is dropped (logged, disconnected, its later messages refused) and its ranges go
/// to other peers; a range not delivered within `requestTimeoutMilliseconds` is asked of another
/// peer. Once the head is within `caughtUpMargin` blocks of the highest peer, `onCaughtUp` fires
/// (consensus takes over); sync starts fetching again only if the node falls more than
/// `resumeBehindBlocks` behind.
///
/// Threads: `receive` decodes on the caller's thread and throws on a malformed message; all other
/// work runs on the handler's own queues (one for syncing, one for serving).
public final class BlockSync: PeerChannelHandler, SyncProgressSource {
    /// Pacing and limits.
    public struct Settings: Sendable {
        /// Blocks per request.
        public var batchSize: Int
        /// Requests one peer may have outstanding.
        public var requestsPerPeer: Int
        /// How far past the head blocks are fetched (bounds the blocks held in memory).
        public var windowBlocks: UInt64
        /// How long a peer has to deliver a requested range.
        public var requestTimeoutMilliseconds: UInt64
        /// How often timeouts are checked and requests made.
        public var tickMilliseconds: UInt64
        /// How often the node sends its status to every peer.
        public var statusIntervalMilliseconds: UInt64
        /// The node counts as caught up when its head is at most this many blocks below the highest peer's.
        public var caughtUpMargin: UInt64
        /// Once caught up (consensus running), sync starts fetching again only when the head falls
        /// more than this many blocks below the highest peer's: consensus covers the last few.
        public var resumeBehindBlocks: UInt64

        /// The defaults: 16 blocks a request, 4 requests a peer, a 256-block window, 5 s timeout,
        /// 200 ms tick, 1 s status, caught up at the highest peer's height (certificates are stored
        /// beside blocks, so even the tip's block can be synced), fetching again 8 blocks behind.
        public init(batchSize: Int = 16, requestsPerPeer: Int = 4, windowBlocks: UInt64 = 256, requestTimeoutMilliseconds: UInt64 = 5_000,
                    tickMilliseconds: UInt64 = 200, statusIntervalMilliseconds: UInt64 = 1_000, caughtUpMargin: UInt64 = 0,
                    resumeBehindBlocks: UInt64 = 8) {
            self.batchSize = max(1, min(batchSize, BlockSyncMessage.maximumRequestCount))
            self.requestsPerPeer = max(1, requestsPerPeer)
            self.windowBlocks = max(1, windowBlocks)
            self.requestTimeoutMilliseconds = requestTimeoutMilliseconds
            self.tickMilliseconds = max(1, tickMilliseconds)
            self.statusIntervalMilliseconds = statusIntervalMilliseconds
            self.caughtUpMargin = caughtUpMargin
            self.resumeBehindBlocks = max(caughtUpMargin, resumeBehindBlocks)
        }
    }

    /// A peer's reported head and our outstanding requests to it.
    private struct SyncPeer {
        var height: UInt64?
        var blocksDelivered = 0
    }

    /// Blocks `from..<end` asked of `peer`; they arrive in order, `next` is the one expected.
    private struct BlockRequest {
        let peer: PeerID
        let end: UInt64
        var next: UInt64
        let deadline: UInt64
    }

    public let channel = Channel.blocks
    private let chain: ChainService
    private let domain: SignDomain
    private let transport: PeerTransport
    private let settings: Settings
    private let log: (String) -> Void
    private let disconnect: (PeerID, String) -> Void
    private let onCaughtUp: (UInt64) -> Void
    private let verifier = SignatureVerifier()

    // Sync state: touched on `queue` only.
    private let queue = DispatchQueue(label: "opg.block-sync")
    private var timer: DispatchSourceTimer?
    private var peers: [PeerID: SyncPeer] = [:]
    private var requests: [UInt64: BlockRequest] = [:]
    private var downloaded: [UInt64: (block: SyncedBlock, peer: PeerID)] = [:]
    private var avoid: [UInt64: Set<PeerID>] = [:]
    private var rotation = 0
    private var caughtUp = false
    private var startingBlock: UInt64 = 0
    private var lastStatus: (height: UInt64, time: UInt64)?
    private var consensusSets: (hash: Hash32, set: Consensus.ValidatorSet)?

    // Shared with the connection threads and RPC: under `lock`.
    private let serveQueue = DispatchQueue(label: "opg.block-serve")
    private let lock = NSLock()
    private var dropped: [PeerID: String] = [:]
    private var assemblers: [PeerID: SyncPartAssembler] = [:]
    private var progress: SyncProgress?
    private var caughtUpMirror = false

    /// Sync for `chain`, whose certificates are signed in `domain`, over `transport`. `log` gets
    /// one line per dropped peer, timeout and hand-over; `disconnect` closes a dropped peer's
    /// connection; `onCaughtUp` receives the head each time the node catches up (on the sync queue).
    public init(chain: ChainService, domain: SignDomain, transport: PeerTransport, settings: Settings = Settings(),
                log: @escaping (String) -> Void, disconnect: @escaping (PeerID, String) -> Void = { _, _ in },
                onCaughtUp: @escaping (UInt64) -> Void) {
        self.chain = chain
        self.domain = domain
        self.transport = transport
        self.settings = settings
        self.log = log
        self.disconnect = disconnect
        self.onCaughtUp = onCaughtUp
    }

    /// Starts the timer that paces requests, timeouts and status messages.
    public func start() {
        queue.sync {
            guard timer == nil else { return }
            let t = DispatchSource.makeTimerSource(queue: queue)
            t.schedule(deadline: .now(), repeating: .milliseconds(Int(settings.tickMilliseconds)))
            t.setEventHandler { [weak self] in self?.tick() }
            timer = t
            t.resume()
        }
    }

    /// Stops the timer and waits for the work under way.
    public func stop() {
        queue.sync {
            timer?.cancel()
            timer = nil
        }
        serveQueue.sync {}
    }

    /// Returns once the messages received so far have been handled (tests).
    public func waitUntilIdle() {
        queue.sync {}
        serveQueue.sync {}
    }

    /// The catch-up under way (`eth_syncing`), nil when caught up or before any peer's status.
    public var syncProgress: SyncProgress? { lock.withLock { progress } }

    /// Whether the node has caught up with its highest peer (and not fallen behind again).
    public var isCaughtUp: Bool { lock.withLock { caughtUpMirror } }

    /// Blocks each peer delivered that were applied or are waiting to be (tests, logs); not to be
    /// called from `onCaughtUp` (it waits for the sync queue).
    public var blocksDelivered: [PeerID: Int] { queue.sync { peers.mapValues(\.blocksDelivered) } }

    // MARK: PeerChannelHandler

    public func peerConnected(_ peer: PeerID) {
        queue.async { [self] in
            peers[peer] = SyncPeer()
            send(.status(height: chain.head.number, headHash: chain.head.hash), to: peer)
        }
    }

    public func peerDisconnected(_ peer: PeerID) {
        lock.withLock { _ = assemblers.removeValue(forKey: peer) }
        queue.async { [self] in forget(peer) }
    }

    public func receive(_ envelope: Envelope, from peer: PeerID) throws {
        if let reason = lock.withLock({ dropped[peer] }) { throw SyncMessageError.droppedPeer(reason) }
        let message: BlockSyncMessage
        if envelope.messageType == MessageParts.partType {
            let part: (kind: UInt16, body: [UInt8])? = try lock.withLock {
                var assembler = assemblers[peer] ?? SyncPartAssembler(channel: BlockSyncMessage.channelName,
                                                                  maximumBytes: BlockSyncMessage.maximumBlockBytes,
                                                                  splittableKinds: [BlockSyncMessage.blockType])
                defer { assemblers[peer] = assembler }
                return try assembler.add(envelope.body)
            }
            guard let whole = part else { return }
            message = try BlockSyncMessage(type: whole.kind, body: whole.body)
        } else {
            message = try BlockSyncMessage(type: envelope.messageType, body: envelope.body)
        }
        switch message {
        case .getBlocks(let from, let count):
            serveQueue.async { [self] in serve(from: from, count: count, to: peer) }
        default:
            queue.async { [self] in handle(message, from: peer) }
        }
    }

    // MARK: Serving

    /// Runs on `serveQueue`: sends blocks `from..<from + count` with their certificates, in order,
    /// and `noBlock` at the first one this node does not hold; stops when the peer's queue is full
    /// (the peer asks again after its timeout).
    private func serve(from: UInt64, count: Int, to peer: PeerID) {
        let database = chain.database
        for number in from..<from + UInt64(count) {
            guard let header = try? database.header(number: number), let transactions = try? database.transactions(number: number),
                  let certificate = try? database.certificate(number: number), let evidence = try? database.evidence(number: number),
                  let block = try? SyncedBlock(header: header, rawTransactions: transactions.map(\.raw), evidence: evidence,
                                               certificateBytes: certificate) else {
                _ = transport.send(BlockSyncMessage.noBlock(height: number).envelopes[0], to: peer)
                return
            }
            for envelope in BlockSyncMessage.block(block).envelopes {
                guard transport.send(envelope, to: peer) == .queued else { return }
            }
        }
    }

    // MARK: Syncing (on `queue`)

    private func handle(_ message: BlockSyncMessage, from peer: PeerID) {
        guard lock.withLock({ dropped[peer] }) == nil else { return }
        switch message {
        case .status(let height, let headHash):
            let head = chain.head
            if height <= head.number, let ours = try? chain.database.hash(number: height), ours != headHash {
                return drop(peer, "reports block \(height) \(headHash), this chain has \(ours)")
            }
            peers[peer, default: SyncPeer()].height = height
        case .statusRequest:
            send(.status(height: chain.head.number, headHash: chain.head.hash), to: peer)
        case .block(let block):
            let number = block.header.number
            guard let start = requests.first(where: { $0.value.peer == peer && $0.value.next == number })?.key else { return }
            requests[start]!.next += 1
            if requests[start]!.next == requests[start]!.end { requests[start] = nil }
            downloaded[number] = (block, peer)
            peers[peer, default: SyncPeer()].blocksDelivered += 1
            apply()
        case .noBlock(let height):
            guard let start = requests.first(where: { $0.value.peer == peer && $0.value.next == height })?.key else { return }
            requests[start] = nil
            avoid[height, default: []].insert(peer)
            if let known = peers[peer]?.height, known >= height { peers[peer]?.height = height - 1 }
        case .getBlocks:
            return
        }
        schedule()
    }

    private func tick() {
        let now = DispatchTime.now().uptimeNanoseconds
        for (start, request) in requests.sorted(by: { $0.key < $1.key }) where request.deadline <= now {
            requests[start] = nil
            avoid[request.next, default: []].insert(request.peer)
            log("sync: peer \(request.peer) did not deliver blocks \(request.next)...\(request.end - 1) within \(settings.requestTimeoutMilliseconds) ms; asking another peer")
        }
        let head = chain.head
        if lastStatus.map({ $0.height != head.number || now - $0.time >= settings.statusIntervalMilliseconds * 1_000_000 }) ?? true {
            lastStatus = (head.number, now)
            for peer in transport.connectedPeers { send(.status(height: head.number, headHash: head.hash), to: peer) }
        }
        for (peer, state) in peers.sorted(by: { $0.key < $1.key }) where state.height == nil { send(.statusRequest, to: peer) }
        apply()
        schedule()
    }

    /// Asks peers for the missing blocks between the head and the window's end, and updates the
    /// caught-up state.
    private func schedule() {
        let head = chain.head.number
        updateProgress(head: head)
        guard let target = highestPeerHeight, target > head, !caughtUp else { return }
        let limit = min(target, head + settings.windowBlocks)
        var covered = Set(downloaded.keys)
        for request in requests.values { covered.formUnion(request.next..<request.end) }
        var height = head + 1
        while height <= limit {
            guard !covered.contains(height), let peer = choosePeer(for: height) else {
                height += 1
                continue
            }
            let peerLimit = min(limit, peers[peer]?.height ?? height)
            var end = height + 1
            while end <= peerLimit, end - height < UInt64(settings.batchSize), !covered.contains(end), avoid[end]?.contains(peer) != true { end += 1 }
            guard send(.getBlocks(from: height, count: Int(end - height)), to: peer) else {
                height = end
                continue
            }
            requests[height] = BlockRequest(peer: peer, end: end, next: height,
                                            deadline: DispatchTime.now().uptimeNanoseconds + settings.requestTimeoutMilliseconds * 1_000_000)
            height = end
        }
    }

    /// The peer to ask for `height`: among those that have it and have room for another request,
    /// the least loaded, taking turns; a peer that failed this height only if no other has it.
    private func choosePeer(for height: UInt64) -> PeerID? {
        var load: [PeerID: Int] = [:]
        for request in requests.values { load[request.peer, default: 0] += 1 }
        let holders = peers.filter { ($0.value.height ?? 0) >= height }.keys.sorted()
        guard !holders.isEmpty else { return nil }
        let untried = holders.filter { avoid[height]?.contains($0) != true }
        let candidates = (untried.isEmpty ? holders : untried).filter { load[$0, default: 0] < settings.requestsPerPeer }
        guard !candidates.isEmpty else { return nil }
        rotation += 1
        let rotated = (0..<candidates.count).map { candidates[($0 + rotation) % candidates.count] }
        return rotated.min { load[$0, default: 0] < load[$1, default: 0] }
    }

    /// Applies the downloaded blocks that continue the head, in order.
    private func apply() {
        while true {
            let head = chain.head
            downloaded = downloaded.filter { $0.key > head.number }
            guard let (block, peer) = downloaded.removeValue(forKey: head.number + 1) else { break }
            let number = block.header.number
            let validators: Consensus.ValidatorSet
            do {
                validators = try consensusValidators(forChildOf: head)
            } catch {
                log("sync: no validator set for block \(number): \(error)")
                downloaded[number] = (block, peer)
                break
            }
            do {
                try block.certificate.verify(domain, validators: validators, verifier: verifier)
            } catch {
                drop(peer, "served block \(number) with an invalid commit certificate: \(error)")
                continue
            }
            do {
                try chain.importBlock(header: block.header, rawTransactions: block.rawTransactions, evidence: block.evidence,
                                     certificate: block.certificateBytes, sync: false)
            } catch {
                // Consensus may have committed this height meanwhile: then the block is only late.
                guard chain.head.number < number else { continue }
                drop(peer, "served invalid block \(number): \(error)")
            }
        }
        avoid = avoid.filter { $0.key > chain.head.number }
    }

    /// The consensus view (address of each consensus key, power) of the set that signs the child of `parent`.
    private func consensusValidators(forChildOf parent: Header) throws -> Consensus.ValidatorSet {
        let set = try chain.builder.validatorSets.validatorSets(forChildOf: parent).current
        if let cached = consensusSets, cached.hash == set.hash { return cached.set }
        let converted = try Consensus.ValidatorSet(set.validators.map {
            Consensus.Validator(address: try PublicKey(bytes: $0.consensusKey).address, power: $0.power)
        })
        consensusSets = (set.hash, converted)
        return converted
    }

    /// Drops `peer`: logged, disconnected, its messages refused from now on, its requests and
    /// undelivered blocks given to other peers.
    private func drop(_ peer: PeerID, _ reason: String) {
        log("sync: dropped peer \(peer): \(reason)")
        lock.withLock { dropped[peer] = reason }
        forget(peer)
        disconnect(peer, reason)
    }

    /// Removes `peer`'s state, requests and the blocks it delivered that are not yet applied.
    private func forget(_ peer: PeerID) {
        peers[peer] = nil
        requests = requests.filter { $0.value.peer != peer }
        downloaded = downloaded.filter { $0.value.peer != peer }
    }

    private var highestPeerHeight: UInt64? { peers.values.compactMap(\.height).max() }

    /// Recomputes the caught-up state and `eth_syncing`'s progress; fires `onCaughtUp` on the way
    /// from behind to caught up.
    private func updateProgress(head: UInt64) {
        guard let target = highestPeerHeight else { return }
        if head + (caughtUp ? settings.resumeBehindBlocks : settings.caughtUpMargin) >= target {
            guard !caughtUp else { return }
            caughtUp = true
            lock.withLock {
                progress = nil
                caughtUpMirror = true
            }
            log("sync: caught up at block \(head) (highest peer \(target)); consensus takes over")
            onCaughtUp(head)
        } else {
            if caughtUp || lock.withLock({ progress == nil }) { startingBlock = head }
            caughtUp = false
            let update = SyncProgress(startingBlock: startingBlock, currentBlock: head, highestBlock: target)
            lock.withLock {
                progress = update
                caughtUpMirror = false
            }
        }
    }

    /// Sends `message` to `peer`; false when it did not queue.
    @discardableResult
    private func send(_ message: BlockSyncMessage, to peer: PeerID) -> Bool {
        message.envelopes.allSatisfy { transport.send($0, to: peer) == .queued }
    }
}
