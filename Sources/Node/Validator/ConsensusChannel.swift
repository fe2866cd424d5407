import Chain
import Consensus
import Foundation
import Network
import Primitives

/// The consensus channel's protocol (docs/consensus.md, "On the wire"): proposals and votes to
/// the engine, parts reassembled per peer, decision requests answered from the chain (the block
/// and its stored certificate) and decisions handed to the engine as certified.
///
/// Decoding runs on the peer's connection thread; a malformed message throws, and the dispatcher
/// disconnects the peer. Authentication (signatures, validator sets) is the driver's, on the
/// consensus queue; but the signer of a proposal or vote of the height being decided or the next
/// is recovered here first, on the connection thread, into the verifier the driver checks with:
/// the consensus queue then finds it there and never waits on a recovery (three peers' votes are
/// recovered side by side, and while the queue waits on a WAL sync).
///
/// Each answer to a decision request is a whole block, so a peer may have at most
/// ``decisionRequestsPerSecond`` answered a second (burst ``decisionRequestBurst``); requests
/// beyond that are dropped unanswered and counted (`rateLimitedDecisionRequests`), the connection
/// stays: an honest node asks again after 250 ms, and a long catch-up is block sync's.
final class ConsensusChannel: PeerChannelHandler {
    /// Decision requests answered per peer and second.
    static let decisionRequestsPerSecond: UInt64 = 50
    /// Decision requests a peer may have answered at once after a quiet spell.
    static let decisionRequestBurst: UInt64 = 100

    let channel = Channel.consensus
    private let service: ConsensusService
    private let domain: SignDomain
    private let verifier: SignatureVerifier
    private let chain: ChainService
    private let peers: () -> PeerTransport?
    private let logger: Logger
    private let clock: () -> UInt64
    private let lock = NSLock()
    private var assemblers: [PeerID: PartAssembler] = [:]
    private var requestBuckets: [PeerID: TokenBucket] = [:]
    private var rateLimited = 0

    /// The channel for `service` over `chain`, recovering signers of `domain` into `verifier` (the
    /// driver's); `clock` (monotonic nanoseconds) paces decision requests.
    init(service: ConsensusService, chain: ChainService, domain: SignDomain, verifier: SignatureVerifier,
         peers: @escaping () -> PeerTransport?, logger: Logger, clock: @escaping () -> UInt64 = { DispatchTime.now().uptimeNanoseconds }) {
        self.service = service
        self.domain = domain
        self.verifier = verifier
        self.chain = chain
        self.peers = peers
        self.logger = logger
        self.clock = clock
    }

    /// Decision requests dropped because their peer exceeded its rate.
    var rateLimitedDecisionRequests: Int { lock.withLock { rateLimited } }

    func peerConnected(_ peer: PeerID) {}

    func peerDisconnected(_ peer: PeerID) {
        lock.withLock {
            assemblers[peer] = nil
            requestBuckets[peer] = nil
        }
    }

    func receive(_ envelope: Envelope, from peer: PeerID) throws {
        var kind = envelope.messageType
        var body = envelope.body
        if kind == ConsensusWireMessage.Kind.part.rawValue {
            let part = try MessagePart(decoding: body)
            let complete = try lock.withLock { () throws -> (kind: UInt16, body: [UInt8])? in
                var assembler = assemblers[peer] ?? PartAssembler()
                defer { assemblers[peer] = assembler }
                return try assembler.add(part)
            }
            guard let complete else { return }
            (kind, body) = complete
        }
        switch try ConsensusWireMessage(kind: kind, body: body) {
        case .message(let message):
            let height = service.status.height
            if message.height == height || message.height == height + 1 {
                // A bad signature is the driver's to count and drop, as it is without this.
                _ = try? verifier.recoverSigner(signBytes: message.signBytes(domain), signature: message.signature)
            }
            service.receive(message, from: peer)
        case .decisionRequest(let height):
            guard admitDecisionRequest(from: peer) else { return }
            answer(height, to: peer)
        case .decision(let value, let certificate):
            service.receiveDecision(value: value, certificate: certificate)
        }
    }

    /// Asks `peer` for the block decided at `height`.
    func requestDecision(_ height: UInt64, from peer: PeerID) {
        guard let transport = peers(), let envelope = try? ConsensusWireMessage.decisionRequest(height: height).envelopes().first else { return }
        _ = transport.send(envelope, to: peer)
    }

    /// Takes a token from `peer`'s decision-request bucket; false (counted) when it is empty.
    private func admitDecisionRequest(from peer: PeerID) -> Bool {
        let now = clock()
        return lock.withLock {
            var bucket = requestBuckets[peer] ?? TokenBucket(ratePerSecond: Self.decisionRequestsPerSecond, burst: Self.decisionRequestBurst, now: now)
            let admitted = bucket.take(1, now: now)
            requestBuckets[peer] = bucket
            if !admitted { rateLimited += 1 }
            return admitted
        }
    }

    /// Sends `peer` our block at `height` with its certificate, when we have both.
    private func answer(_ height: UInt64, to peer: PeerID) {
        guard let transport = peers() else { return }
        do {
            guard let (value, certificate) = try storedDecision(height) else { return }
            for envelope in try ConsensusWireMessage.decision(value: value, certificate: certificate).envelopes() {
                _ = transport.send(envelope, to: peer)
            }
        } catch {
            logger.debug("decision request not answered", ["height": height, "peer": peer, "error": error])
        }
    }

    /// The block this node committed at `height` as the engine's value, with its certificate;
    /// nil when the chain does not hold that height (or block 0, which has no certificate).
    func storedDecision(_ height: UInt64) throws -> (ProposalValue, CommitCertificate)? {
        guard height >= 1, height <= chain.head.number, let block = try chain.database.block(number: height),
              let stored = try chain.database.certificate(number: height) else { return nil }
        return (ProposalValue(blockHash: block.hash, payload: BlockPayload.encode(block)), try CommitCertificate(decoding: stored))
    }
}
