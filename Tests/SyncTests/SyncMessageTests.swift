import Chain
import Consensus
import Foundation
import Network
import Primitives
import XCTest
@testable import Node

/// The blocks and mempool channels' decoders: encodings round-trip, and every malformed message
/// is refused with the rule it breaks (the dispatcher then disconnects the peer).
final class SyncMessageTests: XCTestCase {
    private var sync: BlockSync!
    private var gossip: MempoolGossip!
    private let peer = PeerID(Address(lowByte: 0x99))

    override func setUpWithError() throws {
        let network = InProcessNetwork()
        let chain = try SyncFixture.chain()
        sync = BlockSync(chain: chain, domain: try SyncFixture.domain(chain), transport: network.addNode(1), log: { _ in }, onCaughtUp: { _ in })
        gossip = MempoolGossip(chain: chain, transport: network.addNode(1))
    }

    private func assertRefused(_ handler: PeerChannelHandler, _ type: UInt16, _ body: [UInt8], _ reason: String,
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try handler.receive(Envelope(channel: handler.channel, messageType: type, body: body), from: peer), file: file, line: line) {
            XCTAssertEqual(($0 as? SyncMessageError)?.message, reason, file: file, line: line)
        }
    }

    private func u64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * $0)) } }
    private func u16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(truncatingIfNeeded: v)] }
    private func u32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * $0)) } }

    func testBlockMessagesRoundTrip() throws {
        let chain = try SyncFixture.chain()
        try SyncFixture.produce(1, on: chain)
        let header = try XCTUnwrap(chain.database.header(number: 1))
        let block = try SyncedBlock(header: header, rawTransactions: try XCTUnwrap(chain.database.transactions(number: 1)).map(\.raw),
                                    certificateBytes: try XCTUnwrap(chain.database.certificate(number: 1)))
        let messages: [BlockSyncMessage] = [.status(height: 7, headHash: header.hash), .statusRequest, .getBlocks(from: 3, count: 64),
                                            .block(block), .noBlock(height: 9)]
        for message in messages {
            let (type, body) = message.encoded
            XCTAssertEqual(try BlockSyncMessage(type: type, body: body), message)
        }
        XCTAssertEqual(BlockSyncMessage.status(height: 1, headHash: header.hash).encoded.body, u64(1) + header.hash.bytes)
        XCTAssertEqual(BlockSyncMessage.getBlocks(from: 2, count: 5).encoded.body, u64(2) + u16(5))
    }

    func testMalformedBlockMessagesAreRefusedWithTheRuleBroken() throws {
        let hash = [UInt8](repeating: 7, count: 32)
        assertRefused(sync, 0x0009, [], "blocks: unknown message type 0x9")
        assertRefused(sync, BlockSyncMessage.statusType, u64(1) + [1, 2], "blocks: status head hash needs 32 bytes, 2 left")
        assertRefused(sync, BlockSyncMessage.statusType, u64(1) + hash + [0], "blocks: 1 bytes after the message's last field")
        assertRefused(sync, BlockSyncMessage.statusRequestType, [0], "blocks: 1 bytes after the message's last field")
        assertRefused(sync, BlockSyncMessage.getBlocksType, u64(1) + u16(0), "blocks: block count must not be empty")
        assertRefused(sync, BlockSyncMessage.getBlocksType, u64(1) + u16(65), "blocks: block count is 65, above the limit of 64")
        assertRefused(sync, BlockSyncMessage.getBlocksType, u64(0) + u16(1), "blocks: invalid block request: block 0 has no certificate and is never synced")
        assertRefused(sync, BlockSyncMessage.getBlocksType, u64(UInt64.max) + u16(1), "blocks: invalid block request: heights past 2^64")
        assertRefused(sync, BlockSyncMessage.noBlockType, [1, 2, 3], "blocks: height needs 8 bytes, 3 left")
        assertRefused(sync, BlockSyncMessage.blockType, u32(5_000_000), "blocks: commit certificate length is 5000000, above the limit of 4194304")
        assertRefused(sync, BlockSyncMessage.blockType, u32(0) + u32(1) + [0xC0], "blocks: invalid header: header must have 18 fields (19 with evidence), got 0")
        assertRefused(sync, MessageParts.partType, u16(BlockSyncMessage.blockType) + u16(0) + u16(1) + [1],
                      "blocks: invalid message part: a message in 1 part(s) fits one envelope")
        assertRefused(sync, MessageParts.partType, u16(BlockSyncMessage.statusType) + u16(0) + u16(2) + [1],
                      "blocks: invalid message part: message type 0x1 is never split")
        assertRefused(sync, MessageParts.partType, u16(BlockSyncMessage.blockType) + u16(0) + u16(100) + [1],
                      "blocks: part count is 100, above the limit of 65")
        assertRefused(sync, MessageParts.partType, u16(BlockSyncMessage.blockType) + u16(2) + u16(2) + [1],
                      "blocks: invalid message part: index 2 of 2 parts")
        assertRefused(sync, MessageParts.partType, u16(BlockSyncMessage.blockType) + u16(0) + u16(2) + [1],
                      "blocks: invalid message part: part 0 of 2 carries 1 bytes")
        assertRefused(sync, MessageParts.partType, [0, 4], "blocks: part index needs 2 bytes, 0 left")
    }

    /// A block's certificate must decode and name the block it travels with.
    func testABlockWithAnUndecodableOrMismatchedCertificateIsRefused() throws {
        let chain = try SyncFixture.chain()
        try SyncFixture.produce(2, on: chain)
        let header = try XCTUnwrap(chain.database.header(number: 1))
        let raws = try XCTUnwrap(chain.database.transactions(number: 1)).map(\.raw)
        let garbage = SyncedBlock.encode(header: header, rawTransactions: raws, certificateBytes: [1, 2, 3])
        XCTAssertThrowsError(try sync.receive(Envelope(channel: .blocks, messageType: BlockSyncMessage.blockType, body: garbage), from: peer)) {
            XCTAssertTrue("\($0)".hasPrefix("blocks: invalid commit certificate: "), "\($0)")
        }
        let otherCertificate = try XCTUnwrap(chain.database.certificate(number: 2))
        let mismatched = SyncedBlock.encode(header: header, rawTransactions: raws, certificateBytes: otherCertificate)
        XCTAssertThrowsError(try sync.receive(Envelope(channel: .blocks, messageType: BlockSyncMessage.blockType, body: mismatched), from: peer)) {
            XCTAssertTrue("\($0)".hasPrefix("blocks: commit certificate for block 2 "), "\($0)")
        }
    }

    /// Parts out of sequence (a dropped part) discard the message in progress without blaming the peer.
    func testPartsOutOfSequenceAreDiscarded() throws {
        var assembler = SyncPartAssembler(channel: "blocks", maximumBytes: 1 << 20, splittableKinds: [4])
        let body = [UInt8](repeating: 3, count: MessageParts.chunkLength + 10)
        let parts = MessageParts.envelopes(channel: .blocks, kind: 4, body: body).map(\.body)
        XCTAssertEqual(parts.count, 2)
        XCTAssertNil(try assembler.add(parts[1]), "a last part without its first")
        XCTAssertNil(try assembler.add(parts[0]))
        XCTAssertEqual(try assembler.add(parts[1])?.body, body)
        XCTAssertNil(try assembler.add(parts[1]), "nothing in progress after a whole message")
    }

    func testMalformedMempoolMessagesAreRefusedWithTheRuleBroken() throws {
        assertRefused(gossip, 0x0002, [], "mempool: unknown message type 0x2")
        assertRefused(gossip, MempoolMessage.transactionsType, [], "mempool: transaction count needs 2 bytes, 0 left")
        assertRefused(gossip, MempoolMessage.transactionsType, u16(0), "mempool: transaction count must not be empty")
        assertRefused(gossip, MempoolMessage.transactionsType, u16(1025), "mempool: transaction count is 1025, above the limit of 1024")
        assertRefused(gossip, MempoolMessage.transactionsType, u16(1) + u32(200_000),
                      "mempool: transaction length is 200000, above the limit of 131072")
        assertRefused(gossip, MempoolMessage.transactionsType, u16(1) + u32(10) + [1, 2, 3], "mempool: transaction needs 10 bytes, 3 left")
        assertRefused(gossip, MempoolMessage.transactionsType, u16(1) + u32(0), "mempool: transaction must not be empty")
        assertRefused(gossip, MempoolMessage.transactionsType, u16(1) + u32(1) + [1, 2], "mempool: 1 bytes after the message's last field")
        assertRefused(gossip, MessageParts.partType, u16(MempoolMessage.transactionsType) + u16(0) + u16(4) + [1],
                      "mempool: part count is 4, above the limit of 3")
        let message = MempoolMessage(transactions: [[1, 2, 3], [4]])
        XCTAssertEqual(try MempoolMessage(decoding: message.encoded), message)
        XCTAssertEqual(message.encoded, u16(2) + u32(3) + [1, 2, 3] + u32(1) + [4])
    }
}
