import Chain
import Consensus
import Foundation
import JSON
import Network
import Primitives
import RPC
import XCTest
@testable import Node

/// Block sync between real `ChainService`s (in-memory stores) over an in-process transport:
/// catching up from several peers, dropping a peer that serves a bad block or certificate,
/// timeouts, large blocks in parts, and `eth_syncing`.
final class BlockSyncTests: XCTestCase {
    private let fast = BlockSync.Settings(batchSize: 8, requestsPerPeer: 2, windowBlocks: 64, requestTimeoutMilliseconds: 1_000,
                                          tickMilliseconds: 20, statusIntervalMilliseconds: 100)

    /// One node of a test network: its chain, its sync handler and its transport.
    private struct SyncNode {
        let chain: ChainService
        let sync: BlockSync
        let transport: InProcessNetwork.Node
    }

    private var started: [BlockSync] = []
    /// The networks of the test, kept until its handlers are stopped.
    private var networks: [InProcessNetwork] = []
    private var caughtUp = LogLines()

    override func tearDown() {
        for sync in started { sync.stop() }
        started = []
        networks = []
    }

    private func node(_ number: UInt8, _ chain: ChainService, on network: InProcessNetwork, log: LogLines = LogLines(),
                      settings: BlockSync.Settings? = nil) throws -> SyncNode {
        if !networks.contains(where: { $0 === network }) { networks.append(network) }
        let transport = network.addNode(number)
        let sync = BlockSync(chain: chain, domain: try SyncFixture.domain(chain), transport: transport, settings: settings ?? fast,
                             log: log.append, disconnect: { [weak network] peer, reason in network?.disconnect(transport.id, peer, reason: reason) },
                             onCaughtUp: { [caughtUp] head in caughtUp.append("\(number)@\(head)") })
        transport.register(sync)
        sync.start()
        started.append(sync)
        return SyncNode(chain: chain, sync: sync, transport: transport)
    }

    private func assertSameChain(_ a: ChainService, _ b: ChainService, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(a.head.number, b.head.number, file: file, line: line)
        for n in stride(from: UInt64(1), through: a.head.number, by: 1) {
            XCTAssertEqual(try a.database.hash(number: n), try b.database.hash(number: n), "block \(n)", file: file, line: line)
            XCTAssertEqual(try a.database.certificate(number: n), try b.database.certificate(number: n), "certificate \(n)", file: file, line: line)
        }
        XCTAssertEqual(a.head.stateRoot, b.head.stateRoot, file: file, line: line)
    }

    func testANodeFiftyBlocksBehindCatchesUpFromTwoPeers() throws {
        let source = try SyncFixture.chain()
        try SyncFixture.produce(50, on: source)
        let network = InProcessNetwork()
        let a = try node(1, source, on: network)
        let b = try node(2, try SyncFixture.copy(of: source), on: network)
        let late = try node(3, try SyncFixture.chain(), on: network)
        network.connect(late.transport, a.transport)
        network.connect(late.transport, b.transport)

        XCTAssertTrue(SyncFixture.wait { late.chain.head.number == 50 && late.sync.syncProgress == nil }, "head \(late.chain.head.number)")
        late.sync.waitUntilIdle()
        try assertSameChain(late.chain, source)
        let delivered = late.sync.blocksDelivered
        XCTAssertGreaterThan(delivered[a.transport.id] ?? 0, 0, "requests spread over both peers: \(delivered)")
        XCTAssertGreaterThan(delivered[b.transport.id] ?? 0, 0, "requests spread over both peers: \(delivered)")
        XCTAssertTrue(late.sync.isCaughtUp)
        XCTAssertTrue(caughtUp.all.contains("3@50"), "\(caughtUp.all)")
        XCTAssertTrue(network.disconnects.isEmpty, "\(network.disconnects)")
    }

    /// A block larger than one envelope travels in parts and is applied whole.
    func testABlockLargerThanOneEnvelopeSyncsInParts() throws {
        let source = try SyncFixture.chain()
        try SyncFixture.produce(3, on: source, largeAt: 2)
        let big = try XCTUnwrap(source.database.transactions(number: 2)).reduce(0) { $0 + $1.raw.count }
        XCTAssertGreaterThan(big, Envelope.maximumBodyLength)
        let network = InProcessNetwork()
        var parts = 0
        let partsLock = NSLock()
        network.tamper = { _, _, envelope in
            if envelope.channel == .blocks && envelope.messageType == MessageParts.partType { partsLock.withLock { parts += 1 } }
            return envelope
        }
        let a = try node(1, source, on: network)
        let late = try node(2, try SyncFixture.chain(), on: network)
        network.connect(late.transport, a.transport)
        XCTAssertTrue(SyncFixture.wait { late.chain.head.number == 3 })
        try assertSameChain(late.chain, source)
        XCTAssertEqual(partsLock.withLock { parts }, 2)
    }

    private enum Tampering { case certificateSignature, missingTransaction, certificateForAnotherBlock }

    /// Syncs from an honest peer and a peer whose blocks are altered on the way; returns the
    /// late node's log and the network.
    private func syncBesideATamperingPeer(_ tampering: Tampering) throws -> (LogLines, InProcessNetwork, evil: PeerID) {
        let source = try SyncFixture.chain()
        try SyncFixture.produce(20, on: source)
        let network = InProcessNetwork()
        let honest = try node(1, source, on: network)
        let evil = try node(2, try SyncFixture.copy(of: source), on: network)
        let asked = LogLines()
        network.tamper = { from, to, envelope in
            if to == evil.transport.id && envelope.messageType == BlockSyncMessage.getBlocksType { asked.append("\(from)") }
            guard from == evil.transport.id, envelope.channel == .blocks, envelope.messageType == BlockSyncMessage.blockType,
                  case .block(let block)? = try? BlockSyncMessage(type: envelope.messageType, body: envelope.body) else { return envelope }
            var certificate = block.certificateBytes, transactions = block.rawTransactions, header = block.header
            switch tampering {
            case .certificateSignature: certificate[48 + 20 + 5] ^= 0x01
            case .missingTransaction: transactions.removeLast()
            case .certificateForAnotherBlock: header.timestamp += 1
            }
            let body = SyncedBlock.encode(header: header, rawTransactions: transactions, certificateBytes: certificate)
            return try! Envelope(channel: .blocks, messageType: BlockSyncMessage.blockType, body: body)
        }
        let log = LogLines()
        let late = try node(3, try SyncFixture.chain(), on: network, log: log)
        network.connect(late.transport, evil.transport)
        XCTAssertTrue(SyncFixture.wait { !asked.all.isEmpty }, "the tampering peer is asked first")
        network.connect(late.transport, honest.transport)
        XCTAssertTrue(SyncFixture.wait { late.chain.head.number == 20 }, "head \(late.chain.head.number)")
        try assertSameChain(late.chain, source)
        XCTAssertFalse(late.transport.connectedPeers.contains(evil.transport.id), "the tampering peer is disconnected")
        return (log, network, evil.transport.id)
    }

    func testAPeerServingAForgedCertificateIsDroppedAndTheNodeSyncsFromTheHonestOne() throws {
        let (log, _, evil) = try syncBesideATamperingPeer(.certificateSignature)
        XCTAssertTrue(log.all.contains { $0.hasPrefix("sync: dropped peer \(evil): served block") && $0.contains("invalid commit certificate") },
                      "\(log.all)")
    }

    func testAPeerServingATamperedBlockIsDroppedAndTheNodeSyncsFromTheHonestOne() throws {
        let (log, _, evil) = try syncBesideATamperingPeer(.missingTransaction)
        XCTAssertTrue(log.all.contains { $0.hasPrefix("sync: dropped peer \(evil): served invalid block") && $0.contains("does not match the executed block") },
                      "\(log.all)")
    }

    func testABlockWhoseCertificateNamesAnotherBlockIsMalformed() throws {
        let (_, network, evil) = try syncBesideATamperingPeer(.certificateForAnotherBlock)
        XCTAssertTrue(network.disconnects.contains { $0.peer == evil && $0.reason.hasPrefix("blocks: commit certificate for block") },
                      "\(network.disconnects)")
    }

    /// A peer that never answers is timed out and its ranges asked of the other peer.
    func testARangeNotDeliveredInTimeIsAskedOfAnotherPeer() throws {
        let source = try SyncFixture.chain()
        try SyncFixture.produce(10, on: source)
        let network = InProcessNetwork()
        let silent = try node(1, try SyncFixture.copy(of: source), on: network)
        let honest = try node(2, source, on: network)
        let asked = LogLines()
        network.tamper = { from, to, envelope in
            if to == silent.transport.id && envelope.messageType == BlockSyncMessage.getBlocksType { asked.append("\(from)") }
            return from == silent.transport.id && envelope.messageType == BlockSyncMessage.blockType ? nil : envelope
        }
        let log = LogLines()
        var settings = fast
        settings.requestTimeoutMilliseconds = 200
        let late = try node(3, try SyncFixture.chain(), on: network, log: log, settings: settings)
        network.connect(late.transport, silent.transport)
        XCTAssertTrue(SyncFixture.wait { !asked.all.isEmpty }, "the silent peer is asked first")
        network.connect(late.transport, honest.transport)
        XCTAssertTrue(SyncFixture.wait { late.chain.head.number == 10 })
        try assertSameChain(late.chain, source)
        XCTAssertTrue(log.all.contains { $0.hasPrefix("sync: peer \(silent.transport.id) did not deliver blocks") }, "\(log.all)")
    }

    /// `eth_syncing` is false until a peer is ahead, then geth's three fields, then false again.
    func testEthSyncingReportsTheCatchUp() throws {
        let source = try SyncFixture.chain()
        try SyncFixture.produce(12, on: source)
        let network = InProcessNetwork()
        var withhold = true
        let withholdLock = NSLock()
        network.tamper = { _, _, envelope in
            withholdLock.withLock { withhold } && envelope.messageType == BlockSyncMessage.blockType ? nil : envelope
        }
        let a = try node(1, source, on: network, settings: BlockSync.Settings(requestTimeoutMilliseconds: 60_000, tickMilliseconds: 20))
        let lateChain = try SyncFixture.chain()
        let api = EthAPI(chain: lateChain, clientVersion: "test")
        let dispatcher = RPCDispatcher()
        api.register(on: dispatcher)
        func syncing() -> JSONValue? {
            let request = JSONValue.object(["jsonrpc": "2.0", "id": 1, "method": "eth_syncing", "params": .array([])])
            return dispatcher.handle(body: request.serializedBytes())?["result"]
        }
        XCTAssertEqual(syncing(), .bool(false), "no source of progress")
        let late = try node(2, lateChain, on: network)
        api.syncProgressSource = late.sync
        XCTAssertEqual(syncing(), .bool(false), "no peer yet")
        network.connect(late.transport, a.transport)
        XCTAssertTrue(SyncFixture.wait { late.sync.syncProgress != nil })
        XCTAssertEqual(syncing(), .object(["startingBlock": "0x0", "currentBlock": "0x0", "highestBlock": "0xc"]))
        withholdLock.withLock { withhold = false }
        XCTAssertTrue(SyncFixture.wait { lateChain.head.number == 12 && late.sync.syncProgress == nil })
        XCTAssertEqual(syncing(), .bool(false))
    }

    /// Once caught up, the last few heights are left to consensus; falling further behind resumes sync.
    func testSyncResumesOnlyWhenTheNodeFallsFurtherBehind() throws {
        let source = try SyncFixture.chain()
        try SyncFixture.produce(5, on: source)
        let network = InProcessNetwork()
        let a = try node(1, source, on: network)
        let late = try node(2, try SyncFixture.chain(), on: network)
        network.connect(late.transport, a.transport)
        XCTAssertTrue(SyncFixture.wait { late.chain.head.number == 5 && late.sync.isCaughtUp })

        try SyncFixture.produce(3, on: source)
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertEqual(late.chain.head.number, 5, "3 blocks behind: consensus's to cover")
        XCTAssertTrue(late.sync.isCaughtUp)
        XCTAssertNil(late.sync.syncProgress)

        // Sync resumes once the source is 9 ahead (at 14) and stops at the highest height it heard
        // of: 14, or 15 if the last block's status came first.
        try SyncFixture.produce(7, on: source)
        XCTAssertTrue(SyncFixture.wait { late.chain.head.number >= 14 && late.sync.isCaughtUp }, "head \(late.chain.head.number)")
        let head = late.chain.head
        XCTAssertEqual(try source.database.hash(number: head.number), head.hash)
        XCTAssertEqual(caughtUp.all.filter { $0.hasPrefix("2@") }, ["2@5", "2@\(head.number)"])
    }

    /// A node whose peers are no higher is caught up at once; a peer on another chain is dropped.
    func testCaughtUpAtOnceAndAPeerOnAnotherChainIsDropped() throws {
        let source = try SyncFixture.chain()
        try SyncFixture.produce(2, on: source)
        let other = try SyncFixture.chain()
        try SyncFixture.produce(1, on: other)
        try other.produceBlock(timestamp: 99, coinbase: SyncFixture.accountKeys[0].address) {
            try SyncFixture.certificate($0, domain: try SyncFixture.domain(other)).encoded
        }
        let network = InProcessNetwork()
        let log = LogLines()
        let a = try node(1, source, on: network, log: log)
        let b = try node(2, try SyncFixture.copy(of: source), on: network)
        let forked = try node(3, other, on: network, log: log)
        network.connect(a.transport, b.transport)
        XCTAssertTrue(SyncFixture.wait { a.sync.isCaughtUp && b.sync.isCaughtUp })
        network.connect(a.transport, forked.transport)
        XCTAssertTrue(SyncFixture.wait { !a.transport.connectedPeers.contains(forked.transport.id) })
        // Whichever side hears the other's status first drops it.
        XCTAssertTrue(log.all.contains { $0.hasPrefix("sync: dropped peer ") && $0.contains(": reports block 2 ") }, "\(log.all)")
        XCTAssertEqual(a.chain.head.hash, source.head.hash)
    }
}
