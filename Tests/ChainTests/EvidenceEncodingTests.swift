import Primitives
import Storage
import XCTest
@testable import Chain

/// The evidence a block may carry, as the chain encodes and stores it (docs/chain.md,
/// "Evidence"): a block without evidence encodes exactly as in layout 2 (18 header
/// fields, pinned hash); one with evidence appends `evidenceHash` (19 fields) and stores
/// its items beside the body. Hashes pinned here were computed with Python's `rlp` and
/// `eth_utils.keccak`, independently of this code.
final class EvidenceEncodingTests: XCTestCase {
    static func header(evidenceHash: Hash32? = nil) -> Header {
        Header(parentHash: .zero, coinbase: .zero, stateRoot: MerklePatriciaTrie.emptyRoot, transactionsRoot: MerklePatriciaTrie.emptyRoot,
               receiptsRoot: MerklePatriciaTrie.emptyRoot, logsBloom: Bloom(), number: 0, gasLimit: 30_000_000, gasUsed: 0, timestamp: 0,
               baseFeePerGas: 1, validatorsHash: .zero, nextValidatorsHash: .zero, evidenceHash: evidenceHash)
    }

    func testAHeaderWithoutEvidenceIsLayoutTwosEighteenFields() throws {
        let h = Self.header()
        XCTAssertEqual(try RLP.decode(h.rlp).list("header").count, 18)
        XCTAssertEqual(h.hash, try Hash32(hex: "0xe367fa1c10617de81330c1e5b6eb2bceb5b541f4a907c3eed152c6341546c344"))
        XCTAssertEqual(try Header(rlp: h.rlp), h)
        XCTAssertNil(Block.evidenceHash([]))
    }

    func testEvidenceAppendsANineteenthField() throws {
        let evidence: [[UInt8]] = [[1, 2], [3]]
        let hash = try XCTUnwrap(Block.evidenceHash(evidence))
        XCTAssertEqual(hash, try Hash32(hex: "0xff00d620510620130992d593dfa375884a1d3a8b5d06f017998a9d180c024fa3"))
        let h = Self.header(evidenceHash: hash)
        XCTAssertEqual(try RLP.decode(h.rlp).list("header").count, 19)
        XCTAssertEqual(h.hash, try Hash32(hex: "0x1f0450e429bcaf6211310873b9ac32b1aa59d1b019b3ba8ab4824106390f7baa"))
        XCTAssertEqual(try Header(rlp: h.rlp), h)
        var fields = try RLP.decode(h.rlp).list("header")
        fields.append(.bytes([]))
        XCTAssertThrowsError(try Header(rlp: RLP.encode(.list(fields)))) { error in
            XCTAssertTrue("\(error)".contains("header must have 18 fields (19 with evidence), got 20"), "\(error)")
        }
    }

    func testTheShapeRulesNameWhatIsWrong() throws {
        let item: [UInt8] = [7, 7, 7]
        XCTAssertNoThrow(try HeaderRules.checkEvidence([item], header: Self.header(evidenceHash: Block.evidenceHash([item]))))
        let cases: [([[UInt8]], Hash32?, String)] = [
            ([], Block.evidenceHash([item]), "is not the hash of the block's evidence (absent: the block carries none)"),
            ([item], nil, "evidenceHash (absent) is not the hash"),
            ([item, item], Block.evidenceHash([item, item]), "evidence 1 repeats an earlier item"),
            ([[UInt8](repeating: 1, count: Block.maxEvidenceBytes + 1)], nil, "evidence 0 is 1025 bytes, over the limit of 1024"),
            ((0...Block.maxEvidence).map { [UInt8(truncatingIfNeeded: $0)] }, nil, "carries 33 evidence items, over the limit of 32"),
        ]
        for (evidence, hash, fragment) in cases {
            XCTAssertThrowsError(try HeaderRules.checkEvidence(evidence, header: Self.header(evidenceHash: hash))) { error in
                XCTAssertTrue("\(error)".contains(fragment), "\(error)")
            }
        }
    }

    func testEvidenceIsStoredBesideTheBlockOnBothStores() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("opg-evidence-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        for store in [MemoryStore(), try LevelDBStore(path: directory.path)] as [KeyValueStore] {
            let db = try ChainDatabase(store: store)
            let evidence: [[UInt8]] = [[1, 2], [3]]
            let block = Block(header: Self.header(evidenceHash: Block.evidenceHash(evidence)), transactions: [], evidence: evidence)
            try db.commit(block: block, receipts: [], stateBatch: WriteBatch(), sync: false, genesis: Array("{}".utf8))
            XCTAssertEqual(try db.evidence(number: 0), evidence)
            XCTAssertEqual(try db.block(number: 0), block)
            XCTAssertEqual(try db.evidence(number: 1), [], "a block that is not there has none")
        }
    }
}
