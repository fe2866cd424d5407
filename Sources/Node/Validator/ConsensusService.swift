import Consensus
import Dispatch
import Foundation
import Network
import Primitives

/// Runs the engine's driver on one serial queue: everything that touches it — peer messages,
/// certified decisions, fired timeouts, recovery — is a block on that queue, so the driver (which
/// is not thread-safe) sees one input at a time, in arrival order.
///
/// A node that hears a peer at a later height asks that peer for the block it decided at ours,
/// with the certificate (a decision request on the consensus channel), at most once per height per
/// ``catchUpRetryMillis``: a validator restarted a height or two behind catches up through
/// consensus; a longer catch-up is block sync's.
///
/// The commit pause is counted from the start of the height, not from the decision: the engine's
/// commit timeout (the config's `blockIntervalMs`) is shortened by the time the height took, so
/// blocks follow each other every `blockIntervalMs` when agreeing takes less than that. A height
/// decided through a peer's certificate (catching up) has no pause at all.
///
/// The start of a height is the earlier of this node's own start and the arrival of the first
/// authenticated message of that height from a peer. Counting from its own start alone, a node
/// that entered a height late (it restarted, caught up, or was paused) kept that lag at every
/// later height, and once the lag exceeded the propose timeout the others timed out on each of its
/// round-0 proposals: it never proposed. With the earlier of the two, a late node shortens its
/// next pause by its lag and starts the following height with the others.
final class ConsensusService: @unchecked Sendable {
    /// How long before asking again for the same height's decision.
    static let catchUpRetryMillis: UInt64 = 250

    let queue = DispatchQueue(label: "consensus")
    private let logger: Logger
    private var driver: ConsensusDriver?
    private var stopped = false
    private var lastCatchUp: (height: UInt64, at: UInt64)?
    private var heightStarted: (height: UInt64, at: UInt64)?
    private var firstHeard: (height: UInt64, at: UInt64)?
    private var certifiedByPeer: UInt64?
    private let statusLock = NSLock()
    private var currentHeight: UInt64 = 0
    private var currentRound: UInt32 = 0
    /// Sends a decision request to a peer (the consensus channel's).
    var requestDecision: (UInt64, PeerID) -> Void = { _, _ in }
    /// The block the chain holds at a height with its certificate, nil beyond the head (the
    /// consensus channel's `storedDecision`).
    var storedDecision: (UInt64) throws -> (ProposalValue, CommitCertificate)? = { _ in nil }

    init(logger: Logger) { self.logger = logger }

    /// Replays the WAL and starts the engine (synchronously, before any network input is taken).
    func start(_ recover: () throws -> ConsensusDriver) throws {
        try queue.sync {
            let driver = try recover()
            self.driver = driver
            publishStatus(driver)
        }
    }

    /// Stops taking inputs; timers that fire later are ignored.
    func stop() {
        queue.sync { stopped = true }
    }

    /// The height being decided and its round (for status and logs).
    var status: (height: UInt64, round: UInt32) { statusLock.withLock { (currentHeight, currentRound) } }

    /// A message from `peer` (already decoded): to the driver, and a catch-up request when the
    /// peer is ahead.
    func receive(_ message: ConsensusMessage, from peer: PeerID?) {
        let arrived = Self.monotonicMillis()
        queue.async { [self] in
            guard let driver = running else { return }
            fastForward(driver)
            if let peer, message.height > driver.height, driver.engine.decision == nil { catchUp(driver.height, from: peer) }
            let early = peer != nil && message.height == driver.height + 1 && firstHeard?.height != message.height
            let rejected = driver.rejectedMessages
            perform("message") { try driver.receive(message) }
            if early, driver.rejectedMessages == rejected { firstHeard = (message.height, arrived) }
        }
    }

    /// A decided block with its certificate, from a peer.
    func receiveDecision(value: ProposalValue, certificate: CommitCertificate) {
        queue.async { [self] in
            guard let driver = running else { return }
            certifiedByPeer = certificate.height
            perform("certified decision") { try driver.receiveCertifiedDecision(value: value, certificate: certificate) }
        }
    }

    /// Decides the engine's height from the chain when block sync has committed it already (called
    /// when sync catches up; every input does the same), so consensus resumes at the head instead
    /// of asking peers for heights the node holds.
    func decideStoredHeights() {
        queue.async { [self] in
            guard let driver = running else { return }
            fastForward(driver)
        }
    }

    /// Delivers `timeout` after `millis` on the queue (called on the queue, by the driver).
    func schedule(_ timeout: Timeout, afterMillis millis: UInt64) {
        let now = Self.monotonicMillis()
        var delay = millis
        if timeout.kind == .rebroadcast, timeout.round == 0, heightStarted?.height != timeout.height {
            // The engine schedules the first re-broadcast when it starts a height.
            heightStarted = (timeout.height, now)
        } else if timeout.kind == .commit, certifiedByPeer == timeout.height {
            delay = 0
        } else if timeout.kind == .commit, let started = heightStarted, started.height == timeout.height {
            let heard = firstHeard?.height == timeout.height ? firstHeard!.at : started.at
            let elapsed = now - min(started.at, heard)
            delay = millis > elapsed ? millis - elapsed : 0
        }
        queue.asyncAfter(deadline: .now() + .milliseconds(Int(min(delay, UInt64(Int32.max))))) { [self] in
            guard let driver = running else { return }
            perform("timeout") { try driver.timeoutFired(timeout) }
            fastForward(driver)
        }
    }

    private var running: ConsensusDriver? { stopped ? nil : driver }

    private func perform(_ what: String, _ body: () throws -> Void) {
        do {
            try body()
        } catch let behind as HeightAlreadyCommitted {
            // Block sync is ahead of the engine: fastForward decides the height from the chain.
            logger.debug("consensus input skipped", ["input": what, "reason": behind])
        } catch {
            logger.error("consensus input failed", ["input": what, "error": error])
        }
        if let driver { publishStatus(driver) }
    }

    private func publishStatus(_ driver: ConsensusDriver) {
        statusLock.withLock {
            currentHeight = driver.height
            currentRound = driver.engine.round
        }
    }

    private static func monotonicMillis() -> UInt64 { DispatchTime.now().uptimeNanoseconds / 1_000_000 }

    /// Feeds the engine the chain's block and certificate of its height when the chain holds it
    /// (committed by block sync): one height per call, since the next starts after the (zero)
    /// commit pause, whose timeout calls this again.
    private func fastForward(_ driver: ConsensusDriver) {
        guard driver.engine.decision == nil else { return }
        let stored: (ProposalValue, CommitCertificate)?
        do {
            stored = try storedDecision(driver.height)
        } catch {
            return logger.error("stored decision unreadable", ["height": driver.height, "error": error])
        }
        guard let (value, certificate) = stored else { return }
        certifiedByPeer = certificate.height
        perform("stored decision") { try driver.receiveCertifiedDecision(value: value, certificate: certificate) }
    }

    private func catchUp(_ height: UInt64, from peer: PeerID) {
        let now = Self.monotonicMillis()
        if let last = lastCatchUp, last.height == height, now - last.at < Self.catchUpRetryMillis { return }
        lastCatchUp = (height, now)
        requestDecision(height, peer)
    }
}

/// The driver's transport: signed messages to every peer on the consensus channel (split into
/// parts when a proposal exceeds an envelope), timeouts onto the consensus queue, evidence to the
/// evidence channel and its pool.
final class P2PConsensusTransport: ConsensusTransport {
    private let service: ConsensusService
    private let peers: () -> PeerTransport?
    private let evidence: EvidenceChannel
    private let logger: Logger

    init(service: ConsensusService, peers: @escaping () -> PeerTransport?, evidence: EvidenceChannel, logger: Logger) {
        self.service = service
        self.peers = peers
        self.evidence = evidence
        self.logger = logger
    }

    func broadcast(_ messages: [ConsensusMessage]) {
        guard let transport = peers() else { return }
        for message in messages {
            do {
                for envelope in try ConsensusWireMessage.message(message).envelopes() { transport.broadcast(envelope) }
            } catch {
                logger.error("consensus message not sent", ["height": message.height, "error": error])
            }
        }
    }

    func schedule(_ timeout: Timeout, afterMillis millis: UInt64) { service.schedule(timeout, afterMillis: millis) }

    func reportEvidence(_ evidence: DuplicateVoteEvidence) { self.evidence.submit(evidence) }
}
