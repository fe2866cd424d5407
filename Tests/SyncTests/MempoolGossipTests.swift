import Chain
import Foundation
import Network
import Primitives
import XCTest
@testable import Node

/// Transaction gossip between real pools over an in-process transport.
final class MempoolGossipTests: XCTestCase {
    /// One node: its chain, gossip handler, transport and how often its pool admitted each hash.
    private final class GossipNode {
        let chain: ChainService
        let gossip: MempoolGossip
        let transport: InProcessNetwork.Node
        private let lock = NSLock()
        private var admissions: [Hash32: Int] = [:]

        init(_ number: UInt8, on network: InProcessNetwork, limits: MempoolGossip.Limits = MempoolGossip.Limits(),
             clock: (() -> UInt64)? = nil) throws {
            let chain = try SyncFixture.chain(), transport = network.addNode(number)
            gossip = clock.map { MempoolGossip(chain: chain, transport: transport, limits: limits, clock: $0) }
                ?? MempoolGossip(chain: chain, transport: transport, limits: limits)
            self.chain = chain
            self.transport = transport
            transport.register(gossip)
            chain.onPendingTransaction { [unowned self] hash in lock.withLock { admissions[hash, default: 0] += 1 } }
        }

        var admissionCounts: [Hash32: Int] { lock.withLock { admissions } }
    }

    /// Waits until nothing moves any more: every link delivered and every node checked and sent.
    private func settle(_ network: InProcessNetwork, _ nodes: [GossipNode]) {
        var sent = -1
        while sent != network.envelopesSent {
            sent = network.envelopesSent
            network.drain()
            for n in nodes { n.gossip.waitUntilIdle() }
        }
    }

    func testGossipReachesEveryPoolExactlyOnceWithoutLoops() throws {
        let network = InProcessNetwork()
        let nodes = try (1...4).map { try GossipNode(UInt8($0), on: network) }
        // A line 1-2-3-4 with a cycle 1-2-3-1: a transaction from 1 reaches 4 only by forwarding.
        for (a, b) in [(0, 1), (1, 2), (2, 3), (0, 2)] { network.connect(nodes[a].transport, nodes[b].transport) }

        var hashes: [Hash32] = []
        for nonce in 0..<10 { hashes.append(try nodes[0].chain.submit(SyncFixture.transfer(SyncFixture.users[0], nonce: UInt64(nonce)))) }
        for nonce in 0..<5 { hashes.append(try nodes[3].chain.submit(SyncFixture.transfer(SyncFixture.users[1], nonce: UInt64(nonce)))) }
        settle(network, nodes)

        for (i, node) in nodes.enumerated() {
            XCTAssertEqual(node.chain.mempool.count, hashes.count, "node \(i + 1)'s pool")
            let counts = node.admissionCounts
            for hash in hashes { XCTAssertEqual(counts[hash], 1, "node \(i + 1) admitted \(hash) once") }
            let c = node.gossip.counters
            XCTAssertEqual(c.received, c.admitted + c.duplicates, "node \(i + 1): \(c)")
            XCTAssertEqual(c.rejected + c.rateLimited, 0)
        }
        // Each node forwards each transaction at most once over each of its links, never back to its sender.
        let links = 4
        let totalSent = nodes.reduce(0) { $0 + $1.gossip.counters.sent }
        XCTAssertLessThanOrEqual(totalSent, hashes.count * (2 * links - (nodes.count - 1)))
        XCTAssertEqual(nodes.reduce(0) { $0 + $1.gossip.counters.admitted }, hashes.count * (nodes.count - 1))
        XCTAssertTrue(network.disconnects.isEmpty, "\(network.disconnects)")
    }

    /// A peer that connects late gets the pool's transactions announced before it came.
    func testAPeerThatConnectsLateGetsThePool() throws {
        let network = InProcessNetwork()
        let nodes = try (1...2).map { try GossipNode(UInt8($0), on: network) }
        for nonce in 0..<5 { try nodes[0].chain.submit(SyncFixture.transfer(SyncFixture.users[3], nonce: UInt64(nonce))) }
        settle(network, nodes)
        XCTAssertEqual(nodes[1].chain.mempool.count, 0)
        network.connect(nodes[0].transport, nodes[1].transport)
        settle(network, nodes)
        XCTAssertEqual(nodes[1].chain.mempool.count, 5)
        XCTAssertEqual(nodes[0].gossip.counters.sent, 5)
        XCTAssertEqual(nodes[1].gossip.counters.sent, 0, "nothing echoed back")
    }

    /// A transaction larger than one envelope travels alone in parts.
    func testALargeTransactionIsGossipedInParts() throws {
        let network = InProcessNetwork()
        let nodes = try (1...2).map { try GossipNode(UInt8($0), on: network) }
        network.connect(nodes[0].transport, nodes[1].transport)
        let small = try SyncFixture.transfer(SyncFixture.users[0], nonce: 0)
        let large = try SyncFixture.transfer(SyncFixture.users[0], nonce: 1, data: [UInt8](repeating: 0x5A, count: 100_000))
        XCTAssertGreaterThan(large.raw.count, Envelope.maximumBodyLength)
        try nodes[0].chain.submit(small)
        try nodes[0].chain.submit(large)
        settle(network, nodes)
        XCTAssertNotNil(nodes[1].chain.mempool.transaction(large.hash))
        XCTAssertNotNil(nodes[1].chain.mempool.transaction(small.hash))
        XCTAssertEqual(MempoolMessage.envelopes(for: [small.raw, large.raw]).map(\.messageType),
                       [MempoolMessage.transactionsType, MessageParts.partType, MessageParts.partType])
    }

    /// A peer over its budget has the excess dropped unchecked; the connection stays.
    func testAPeerOverItsRateHasTheExcessDropped() throws {
        let network = InProcessNetwork()
        let limits = MempoolGossip.Limits(transactionsPerSecond: 1, transactionBurst: 3)
        let sender = try GossipNode(1, on: network)
        let receiver = try GossipNode(2, on: network, limits: limits, clock: { 1_000 })
        network.connect(sender.transport, receiver.transport)
        for nonce in 0..<10 { try sender.chain.submit(SyncFixture.transfer(SyncFixture.users[2], nonce: UInt64(nonce))) }
        settle(network, [sender, receiver])
        let c = receiver.gossip.counters
        XCTAssertEqual(c.received, 10)
        XCTAssertEqual(c.rateLimited, 7)
        XCTAssertEqual(c.admitted, 3)
        XCTAssertEqual(receiver.chain.mempool.count, 3)
        XCTAssertTrue(network.disconnects.isEmpty)
    }

    /// A transaction that breaks a rule is refused by the pool's admission, counted, and not forwarded.
    func testATransactionBreakingARuleIsRefusedAndNotForwarded() throws {
        let network = InProcessNetwork()
        let nodes = try (1...3).map { try GossipNode(UInt8($0), on: network) }
        network.connect(nodes[0].transport, nodes[1].transport)
        network.connect(nodes[1].transport, nodes[2].transport)
        let wrongChain = try Transaction(type: .dynamicFee, chainId: 1, nonce: 0, maxPriorityFeePerGas: UInt256(1), maxFeePerGas: UInt256(20_000_000_000),
                                         gasLimit: 21_000, to: Address(lowByte: 9), value: UInt256(1), data: [], accessList: [])
            .signed(with: SyncFixture.users[3])
        try nodes[1].gossip.receive(Envelope(channel: .mempool, messageType: MempoolMessage.transactionsType,
                                             body: MempoolMessage(transactions: [wrongChain.raw]).encoded), from: nodes[0].transport.id)
        settle(network, nodes)
        XCTAssertEqual(nodes[1].gossip.counters.rejected, 1)
        XCTAssertEqual(nodes[1].chain.mempool.count, 0)
        XCTAssertEqual(nodes[2].gossip.counters.received, 0)
    }
}
