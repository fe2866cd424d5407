import Chain
import Consensus
import Crypto
import Network
import Primitives
import XCTest
@testable import Node

/// The consensus channel's wire format: whole messages, and the part protocol for messages larger
/// than one envelope (docs/consensus.md, "On the wire"); every malformed part refused with its reason.
final class ConsensusWireTests: XCTestCase {
    private let key = try! PrivateKey(Keccak256.digest(Array("wire test".utf8)))

    private func proposal(payloadBytes: Int) -> ConsensusWireMessage {
        let payload = (0..<payloadBytes).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let value = ProposalValue(blockHash: Keccak256.hash(payload), payload: payload)
        let p = Proposal(height: 7, round: 1, polRound: nil, value: value, proposer: key.address)
        let domain = SignDomain(chainID: 1, genesisHash: .zero)
        return .message(.proposal(SignedProposal(proposal: p, signature: key.sign(Keccak256.hash(p.signBytes(domain))))))
    }

    /// Feeds envelopes through a fresh channel-side decoder: parts reassembled, then decoded.
    private func receive(_ envelopes: [Envelope]) throws -> [ConsensusWireMessage] {
        var assembler = PartAssembler()
        var out: [ConsensusWireMessage] = []
        for e in envelopes {
            if e.messageType == ConsensusWireMessage.Kind.part.rawValue {
                if let whole = try assembler.add(try MessagePart(decoding: e.body)) { out.append(try ConsensusWireMessage(kind: whole.kind, body: whole.body)) }
            } else {
                out.append(try ConsensusWireMessage(kind: e.messageType, body: e.body))
            }
        }
        return out
    }

    private func assertPartRefused(_ body: [UInt8], _ expected: ConsensusWireError, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try MessagePart(decoding: body), file: file, line: line) {
            XCTAssertEqual($0 as? ConsensusWireError, expected, file: file, line: line)
        }
    }

    func testSmallMessagesTravelWhole() throws {
        let message = proposal(payloadBytes: 1000)
        let envelopes = try message.envelopes()
        XCTAssertEqual(envelopes.map(\.messageType), [ConsensusWireMessage.Kind.message.rawValue])
        XCTAssertEqual(try receive(envelopes), [message])
        let request = ConsensusWireMessage.decisionRequest(height: 42)
        XCTAssertEqual(try receive(try request.envelopes()), [request])
    }

    func testLargeProposalTravelsInPartsAndReassemblesInAnyOrder() throws {
        let message = proposal(payloadBytes: 200_000)
        let envelopes = try message.envelopes()
        XCTAssertEqual(envelopes.count, 4)
        XCTAssertTrue(envelopes.allSatisfy { $0.messageType == ConsensusWireMessage.Kind.part.rawValue && $0.body.count <= Envelope.maximumBodyLength })
        XCTAssertEqual(try receive(envelopes.reversed()), [message])
        XCTAssertEqual(try receive(envelopes + [envelopes[0]]), [message], "a duplicate part after completion starts nothing harmful")
    }

    func testOneEnvelopeBoundary() throws {
        // A proposal's fixed fields are 138 bytes before its payload; the whole message must fit 65,516.
        let fits = proposal(payloadBytes: Envelope.maximumBodyLength - 138)
        XCTAssertEqual(fits.body.count, Envelope.maximumBodyLength)
        XCTAssertEqual(try fits.envelopes().count, 1)
        let over = proposal(payloadBytes: Envelope.maximumBodyLength - 137)
        XCTAssertEqual(try over.envelopes().count, 2)
        XCTAssertEqual(try receive(try over.envelopes()), [over])
    }

    func testMalformedPartsAreRefusedWithTheirReason() throws {
        let parts = try MessagePart.split(kind: .message, body: proposal(payloadBytes: 150_000).body)
        let good = parts[0]
        func with(kind: UInt16? = nil, total: UInt32? = nil, index: UInt16? = nil, count: UInt16? = nil, data: [UInt8]? = nil) -> [UInt8] {
            MessagePart(digest: good.digest, kind: kind ?? good.kind, totalLength: total ?? good.totalLength, index: index ?? good.index,
                        count: count ?? good.count, data: data ?? good.data).encoded
        }
        assertPartRefused(Array(good.encoded.prefix(MessagePart.headerBytes)), .partTruncated(MessagePart.headerBytes))
        assertPartRefused(with(kind: ConsensusWireMessage.Kind.part.rawValue), .partOfUnsplittableType(2))
        assertPartRefused(with(kind: ConsensusWireMessage.Kind.decisionRequest.rawValue), .partOfUnsplittableType(3))
        assertPartRefused(with(kind: 99), .partOfUnsplittableType(99))
        assertPartRefused(with(total: UInt32(MessagePart.maximumTotalBytes + 1)), .messageTooLarge(got: MessagePart.maximumTotalBytes + 1, max: MessagePart.maximumTotalBytes))
        assertPartRefused(with(total: 1000, count: 1, data: Array(good.data.prefix(1000))), .needlessSplit(total: 1000))
        assertPartRefused(with(count: 9), .partCountMismatch(got: 9, expected: 3))
        assertPartRefused(with(index: 3), .partIndexOutOfRange(index: 3, count: 3))
        assertPartRefused(with(data: Array(good.data.dropLast())), .partLengthMismatch(index: 0, got: MessagePart.dataBytes - 1, expected: MessagePart.dataBytes))
        assertPartRefused(with(index: 2, data: good.data), .partLengthMismatch(index: 2, got: MessagePart.dataBytes, expected: Int(good.totalLength) - 2 * MessagePart.dataBytes))

        var assembler = PartAssembler()
        XCTAssertNil(try assembler.add(good))
        var flipped = good.data
        flipped[5] ^= 1
        XCTAssertThrowsError(try assembler.add(MessagePart(digest: good.digest, kind: good.kind, totalLength: good.totalLength, index: 0, count: good.count, data: flipped))) {
            XCTAssertEqual($0 as? ConsensusWireError, .conflictingPart(index: 0))
        }
        XCTAssertThrowsError(try assembler.add(MessagePart(digest: good.digest, kind: ConsensusWireMessage.Kind.decision.rawValue, totalLength: good.totalLength,
                                                           index: 1, count: good.count, data: parts[1].data))) {
            XCTAssertEqual($0 as? ConsensusWireError, .partHeaderMismatch(index: 1))
        }
        var tampered = PartAssembler()
        XCTAssertNil(try tampered.add(MessagePart(digest: good.digest, kind: good.kind, totalLength: good.totalLength, index: 0, count: good.count, data: flipped)))
        XCTAssertNil(try tampered.add(parts[1]))
        XCTAssertThrowsError(try tampered.add(parts[2])) { XCTAssertEqual($0 as? ConsensusWireError, .partDigestMismatch) }
    }

    func testAssemblerHoldsAtMostTwoMessagesPerPeer() throws {
        var assembler = PartAssembler()
        let messages = try (0..<3).map { try MessagePart.split(kind: .message, body: proposal(payloadBytes: 100_000 + $0).body) }
        for m in messages { XCTAssertNil(try assembler.add(m[0])) }
        XCTAssertNil(try assembler.add(messages[0][1]), "the oldest assembly was dropped: its second part starts it again")
        XCTAssertNotNil(try assembler.add(messages[2][1]))
    }

    func testMalformedWholeMessagesAreRefused() {
        XCTAssertThrowsError(try ConsensusWireMessage(kind: 9, body: [])) { XCTAssertEqual($0 as? ConsensusWireError, .unknownMessageType(9)) }
        XCTAssertThrowsError(try ConsensusWireMessage(kind: 3, body: [1, 2])) {
            XCTAssertEqual($0 as? ConsensusWireError, .malformed("decision request of 2 bytes, expected 8"))
        }
        XCTAssertThrowsError(try ConsensusWireMessage(kind: 4, body: [0, 0, 1, 0])) {
            XCTAssertEqual($0 as? ConsensusWireError, .malformed("certificate of 256 bytes in a 4-byte decision"))
        }
        XCTAssertThrowsError(try ConsensusWireMessage(kind: 1, body: [0x07])) { XCTAssertNotNil($0 as? ConsensusWireError) }
    }

    func testDispatcherDisconnectsAPeerWhoseMessageIsMalformed() throws {
        var logged: [String] = []
        var disconnected: [PeerID] = []
        let dispatcher = PeerDispatcher(log: { logged.append($0) })
        dispatcher.disconnect = { peer, _ in disconnected.append(peer) }
        dispatcher.register(EvidenceChannel(pool: Chain.EvidencePool(), verify: { _ in true }, peers: { nil }, logger: Logger(level: .error)))
        let peer = PeerID(key.address)
        dispatcher.handle(.message(peer, try Envelope(channel: .evidence, messageType: 1, body: [1, 2, 3])))
        XCTAssertEqual(disconnected, [peer])
        XCTAssertEqual(logged.count, 1)
        XCTAssertTrue(logged[0].hasPrefix("p2p: disconnecting peer \(peer): bad evidence message type 1:"), logged[0])
        dispatcher.handle(.message(peer, try Envelope(channel: .mempool, messageType: 1, body: [])))
        XCTAssertEqual(dispatcher.unroutedEnvelopes, 1, "a channel nobody registered is dropped, not a reason to disconnect")
        XCTAssertEqual(disconnected.count, 1)
    }

    func testEvidenceFromPeersGoesToTheChainsPoolOnceAndUnknownHeightsAreIgnored() throws {
        let domain = SignDomain(chainID: 1, genesisHash: .zero)
        func vote(_ block: Hash32?) -> SignedVote {
            let v = Vote(type: .prevote, height: 3, round: 0, blockHash: block, validator: key.address)
            return SignedVote(vote: v, signature: key.sign(Keccak256.hash(v.signBytes(domain))))
        }
        let evidence = DuplicateVoteEvidence(vote(nil), vote(Keccak256.hash([1])))
        let envelope = try Envelope(channel: .evidence, messageType: 1, body: evidence.encoded)
        let peer = PeerID(key.address)
        let pool = Chain.EvidencePool()
        var known = false
        let channel = EvidenceChannel(pool: pool, verify: { _ in known }, peers: { nil }, logger: Logger(level: .error))
        try channel.receive(envelope, from: peer)
        XCTAssertEqual(pool.count, 0, "a height whose validators are unknown is neither pooled nor a reason to disconnect")
        known = true
        try channel.receive(envelope, from: peer)
        try channel.receive(envelope, from: peer)
        XCTAssertEqual(pool.take(), [evidence.encoded])
        pool.remove([evidence.encoded])
        try channel.receive(envelope, from: peer)
        channel.submit(evidence)
        XCTAssertEqual(pool.count, 0, "evidence a block already carried (it left the pool) is not pooled again")
        let refusing = EvidenceChannel(pool: pool, verify: { _ in throw EvidenceError.sameBlock }, peers: { nil }, logger: Logger(level: .error))
        XCTAssertThrowsError(try refusing.receive(envelope, from: peer))
        XCTAssertThrowsError(try channel.receive(try Envelope(channel: .evidence, messageType: 2, body: evidence.encoded), from: peer))
    }

    private func block(evidence: [[UInt8]]) throws -> Block {
        let header = Header(parentHash: .zero, coinbase: key.address, stateRoot: .zero, transactionsRoot: .zero, receiptsRoot: .zero,
                            logsBloom: Bloom(), number: 1, gasLimit: 30_000_000, gasUsed: 0, timestamp: 1, baseFeePerGas: UInt256(7),
                            validatorsHash: .zero, nextValidatorsHash: .zero, evidenceHash: Block.evidenceHash(evidence))
        return Block(header: header, transactions: [], evidence: evidence)
    }

    func testBlockPayloadCarriesTheBlocksEvidence() throws {
        for evidence in [[], [[0xC1, 0x80], [1, 2, 3]]] as [[[UInt8]]] {
            let b = try block(evidence: evidence)
            let decoded = try BlockPayload.decode(BlockPayload.encode(b), expectedHash: b.hash)
            XCTAssertEqual(decoded.header, b.header)
            XCTAssertEqual(decoded.rawTransactions, [])
            XCTAssertEqual(decoded.evidence, evidence)
        }
    }

    func testMalformedBlockPayloadsAreRefusedByName() throws {
        let b = try block(evidence: [[1, 2]])
        let header = try RLP.decode(b.header.rlp)
        func refused(_ payload: [UInt8], _ expected: String, line: UInt = #line) {
            XCTAssertThrowsError(try BlockPayload.decode(payload, expectedHash: b.hash), line: line) {
                XCTAssertTrue("\($0)".contains(expected), "\($0)", line: line)
            }
        }
        refused(RLP.encode(.list([header, .list([])])), "invalid block payload: block must have 3 parts (header, transactions, evidence), got 2")
        refused(RLP.encode(.list([header, .list([]), .bytes([1])])), "evidence must be an RLP list")
        refused(RLP.encode(.list([header, .list([]), .list([.list([])])])), "evidence[0] must be an RLP string")
        refused(RLP.encode(.list([header, .list([]), .list([]), .list([])])), "invalid block payload: block must have 3 parts")
        XCTAssertThrowsError(try BlockPayload.decode(BlockPayload.encode(try block(evidence: [])), expectedHash: b.hash)) {
            XCTAssertEqual($0 as? BlockPayloadError, .hashMismatch(got: try! block(evidence: []).hash, expected: b.hash))
        }
    }
}
