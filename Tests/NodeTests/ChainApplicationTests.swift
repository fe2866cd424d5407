import Chain
import Consensus
import Crypto
import Foundation
import Network
import Primitives
import Storage
import XCTest
@testable import Node

/// The engine's application and the consensus channel on the devnet chain (memory store): the
/// bound on a proposal's timestamp, a decision that block sync committed first, and the rate
/// limit on decision requests.
final class ChainApplicationTests: XCTestCase {
    private func devnetChain() throws -> ChainService {
        let bytes = Array(DevNet.genesisJSON.utf8)
        let spec = try GenesisFile.parse(bytes)
        let database = try ChainDatabase(store: MemoryStore())
        _ = try ChainSetup.initialise(database, spec: spec, genesisBytes: bytes)
        return ChainSetup.service(spec: spec, database: database)
    }

    private func application(_ chain: ChainService, now: UInt64) -> ChainApplication {
        ChainApplication(chain: chain, validators: ConsensusValidatorSets(chain: chain), me: DevNet.consensusKey.address,
                         logger: Logger(level: .error), now: { now })
    }

    /// A proposal built by a proposer whose clock runs ahead is refused (prevote nil) while its
    /// timestamp is more than `maximumFutureSeconds` past ours, and accepted at the bound.
    func testProposalTimestampTooFarAheadIsRefused() throws {
        let base: UInt64 = 1_800_000_000
        let proposerChain = try devnetChain(), voterChain = try devnetChain()
        let limit = ChainApplication.maximumFutureSeconds
        let ahead = try application(proposerChain, now: base + limit + 1).proposeValue(height: 1, round: 0)
        XCTAssertFalse(application(voterChain, now: base).verify(height: 1, value: ahead), "timestamp \(limit + 1) s ahead")
        XCTAssertTrue(application(voterChain, now: base + 1).verify(height: 1, value: ahead), "timestamp exactly \(limit) s ahead")
        let error = FutureTimestampError(timestamp: base + limit + 1, latest: base + limit, allowed: limit)
        XCTAssertEqual(error.description, "invalid block: timestamp \(base + 11) is more than 10 s ahead of this node's clock (at most \(base + 10))")
    }

    /// The engine decides a height that block sync committed meanwhile (the same block): the
    /// commit succeeds without writing twice; another block at that height is a conflict. (Sync
    /// committing inside `commit`, between its check and `chain.commit`, is handled by the same
    /// check after the failed commit; this test does not interleave the two.)
    func testDecisionOfAHeightSyncCommittedFirst() throws {
        let chain = try devnetChain()
        let app = application(chain, now: 1_800_000_000)
        let value = try app.proposeValue(height: 1, round: 0)
        let (header, raws, evidence) = try BlockPayload.decode(value.payload, expectedHash: value.blockHash)
        let certificate = CommitCertificate(height: 1, round: 0, blockHash: value.blockHash, signatures: [])
        try chain.importBlock(header: header, rawTransactions: raws, evidence: evidence, certificate: certificate.encoded)
        XCTAssertEqual(chain.head.number, 1)
        XCTAssertNoThrow(try app.commit(Decision(height: 1, value: value, certificate: certificate)))
        XCTAssertEqual(chain.head.hash, value.blockHash)
        let other = ProposalValue(blockHash: Hash32(word: UInt256(7)), payload: value.payload)
        XCTAssertThrowsError(try app.commit(Decision(height: 1, value: other, certificate: certificate))) { error in
            XCTAssertTrue(error is CommitConflictError, "\(error)")
        }
    }

    /// The channel recovers the signer of a vote for the height being decided (or the next) into
    /// the driver's verifier on the connection thread, and of no other height (a peer cannot make
    /// it recover signatures the driver would drop unread).
    func testTheChannelRecoversSignersOfTheCurrentHeightsOnly() throws {
        let chain = try devnetChain()
        let domain = SignDomain(chainID: 1, genesisHash: .zero), verifier = SignatureVerifier()
        let channel = ConsensusChannel(service: ConsensusService(logger: Logger(level: .error)), chain: chain, domain: domain,
                                       verifier: verifier, peers: { nil }, logger: Logger(level: .error))
        let key = try PrivateKey(Keccak256.digest(Array("channel voter".utf8)))
        let peer = try PeerID(hex: "0x" + String(repeating: "03", count: 20))
        func send(height: UInt64) throws {
            let vote = Vote(type: .prevote, height: height, round: 0, blockHash: nil, validator: key.address)
            let signed = SignedVote(vote: vote, signature: key.sign(Keccak256.hash(vote.signBytes(domain))))
            for envelope in try ConsensusWireMessage.message(.vote(signed)).envelopes() { try channel.receive(envelope, from: peer) }
        }
        try send(height: 1)  // the service has not started: it decides height 0 + 1
        XCTAssertEqual(verifier.rememberedCount, 1)
        try send(height: 9)
        XCTAssertEqual(verifier.rememberedCount, 1)
    }

    /// A peer gets at most the burst of decision requests answered at once, then the rate; the
    /// rest are dropped and counted, and the connection stays.
    func testDecisionRequestsAreRateLimitedPerPeer() throws {
        let chain = try devnetChain()
        _ = try chain.produceBlock(timestamp: 1_800_000_000, coinbase: DevNet.validatorKey.address,
                                   certificate: { CommitCertificate(height: 1, round: 0, blockHash: $0.hash, signatures: []).encoded })
        let transport = RecordingTransport()
        var now: UInt64 = 1_000_000_000
        let channel = ConsensusChannel(service: ConsensusService(logger: Logger(level: .error)), chain: chain, domain: SignDomain(chainID: 1, genesisHash: .zero),
                                       verifier: SignatureVerifier(), peers: { transport }, logger: Logger(level: .error), clock: { now })
        let request = try XCTUnwrap(try ConsensusWireMessage.decisionRequest(height: 1).envelopes().first)
        let peer = try PeerID(hex: "0x" + String(repeating: "01", count: 20)), other = try PeerID(hex: "0x" + String(repeating: "02", count: 20))
        let burst = Int(ConsensusChannel.decisionRequestBurst)
        for _ in 0..<(burst + 10) { try channel.receive(request, from: peer) }
        XCTAssertEqual(transport.sent(to: peer), burst)
        XCTAssertEqual(channel.rateLimitedDecisionRequests, 10)
        try channel.receive(request, from: other)
        XCTAssertEqual(transport.sent(to: other), 1, "each peer has its own budget")
        now += 100_000_000  // 100 ms: the rate refills 5 requests
        for _ in 0..<10 { try channel.receive(request, from: peer) }
        XCTAssertEqual(transport.sent(to: peer), burst + Int(ConsensusChannel.decisionRequestsPerSecond) / 10)
    }
}

/// A transport that records what is sent to whom (never connected to anything).
private final class RecordingTransport: PeerTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var sent: [PeerID: Int] = [:]

    func sent(to peer: PeerID) -> Int { lock.withLock { sent[peer, default: 0] } }

    func send(_ envelope: Envelope, to peer: PeerID) -> SendOutcome {
        lock.withLock { sent[peer, default: 0] += 1 }
        return .queued
    }

    func broadcast(_ envelope: Envelope) -> Int { 0 }
    var connectedPeers: [PeerID] { [] }
    var peerCount: Int { 0 }
    var isListening: Bool { false }
}
