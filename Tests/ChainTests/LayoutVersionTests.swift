import Crypto
import Foundation
import Primitives
import Storage
import XCTest
@testable import Chain

/// The database's layout version (docs/storage.md, "Layout versions"), on both stores:
/// stamped with genesis, an unversioned database migrated when opened, a newer or
/// damaged record refused before anything is read.
final class LayoutVersionTests: XCTestCase {
    var directory: URL!

    override func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("opg-layout-\(UUID().uuidString)")
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    /// Runs `body` on a memory store and on a LevelDB store; `open` opens the same store
    /// again (for LevelDB, the previous handle must be gone: it locks the directory).
    private func forEachStore(_ body: (_ open: () throws -> KeyValueStore) throws -> Void) throws {
        let memory = MemoryStore()
        try body { memory }
        try body { try LevelDBStore(path: self.directory.path) }
    }

    private func setLayoutRecord(_ bytes: [UInt8], in store: KeyValueStore) throws {
        var batch = WriteBatch()
        batch.put(Schema.layoutVersion, bytes)
        try store.write(batch, sync: true)
    }

    private func commitBlockZero(_ db: ChainDatabase, genesis: [UInt8]?) throws {
        let header = Header(parentHash: .zero, coinbase: .zero, stateRoot: MerklePatriciaTrie.emptyRoot, transactionsRoot: MerklePatriciaTrie.emptyRoot,
                            receiptsRoot: MerklePatriciaTrie.emptyRoot, logsBloom: Bloom(), number: 0, gasLimit: 30_000_000,
                            gasUsed: 0, timestamp: 0, baseFeePerGas: 1, validatorsHash: .zero, nextValidatorsHash: .zero)
        try db.commit(block: Block(header: header, transactions: []), receipts: [], stateBatch: WriteBatch(), sync: false, genesis: genesis)
    }

    func testGenesisRecordsTheCurrentLayout() throws {
        try forEachStore { open in
            do {
                let store = try open()
                XCTAssertNil(try ChainDatabase.storedLayoutVersion(store))
                let db = try ChainDatabase(store: store)
                XCTAssertNil(try store.get(Schema.layoutVersion), "an empty store is stamped with genesis, not when opened")
                try commitBlockZero(db, genesis: Array("{}".utf8))
                XCTAssertEqual(try ChainDatabase.storedLayoutVersion(store), ChainDatabase.layoutVersion)
            }
            XCTAssertEqual(try ChainDatabase(store: open()).head?.number, 0)
        }
    }

    /// Layout 2 added the validator-set hashes to every header, which changes every block
    /// hash: a layout-0 or layout-1 database cannot be migrated and is refused, untouched.
    func testALayoutBeforeValidatorHashesIsRefusedAndLeftAsItIs() throws {
        for (old, record) in [(UInt64(0), nil), (1, Schema.be(1))] as [(UInt64, [UInt8]?)] {
            try forEachStore { open in
                do {
                    let store = try open()
                    try commitBlockZero(try ChainDatabase(store: store), genesis: nil)
                    var batch = WriteBatch()
                    if let record { batch.put(Schema.layoutVersion, record) } else { batch.delete(Schema.layoutVersion) }
                    try store.write(batch, sync: true)
                    XCTAssertEqual(try ChainDatabase.storedLayoutVersion(store), old)
                }
                let reopened = try open()
                XCTAssertThrowsError(try ChainDatabase(store: reopened)) { error in
                    XCTAssertTrue("\(error)".hasPrefix("the database was written with layout version 1 or older, whose headers lack validatorsHash and nextValidatorsHash"), "\(error)")
                    XCTAssertTrue("\(error)".hasSuffix("start from an empty --datadir and run opgd init again"), "\(error)")
                }
                XCTAssertEqual(try ChainDatabase.storedLayoutVersion(reopened), old, "a refused database is not touched")
            }
            try? FileManager.default.removeItem(at: directory)
        }
    }

    func testANewerLayoutIsRefusedAndLeftAsItIs() throws {
        try forEachStore { open in
            do {
                let store = try open()
                try commitBlockZero(try ChainDatabase(store: store), genesis: Array("{}".utf8))
                try setLayoutRecord(Schema.be(4), in: store)
            }
            let reopened = try open()
            XCTAssertThrowsError(try ChainDatabase(store: reopened)) { error in
                XCTAssertEqual("\(error)", "database layout version 4 is newer than this node's (3): run a newer opgd, or start from an empty --datadir")
            }
            XCTAssertEqual(try ChainDatabase.storedLayoutVersion(reopened), 4, "a refused database is not touched")
        }
    }

    /// Layout 3 lets a block carry evidence (a 19th header field and an `e` entry); a
    /// layout-2 database has none and keeps its 18-field headers and hashes, so it is
    /// migrated by writing the new record only.
    func testALayoutTwoDatabaseIsMigratedWithItsHashesUnchanged() throws {
        try forEachStore { open in
            let head: Header?
            do {
                let store = try open()
                let db = try ChainDatabase(store: store)
                try commitBlockZero(db, genesis: Array("{}".utf8))
                head = db.head
                try setLayoutRecord(Schema.be(2), in: store)
                XCTAssertEqual(try ChainDatabase.storedLayoutVersion(store), 2)
            }
            let reopened = try open()
            let db = try ChainDatabase(store: reopened)
            XCTAssertEqual(try ChainDatabase.storedLayoutVersion(reopened), 3)
            XCTAssertEqual(db.head, head)
            XCTAssertEqual(try db.hash(number: 0), head?.hash)
            XCTAssertEqual(try db.evidence(number: 0), [])
        }
    }

    /// Layout 3 also indexes transactions by address: migrating a layout-2 database builds
    /// the index for the blocks it already holds, in the same batch as the new record.
    func testMigratingToLayoutThreeIndexesTheStoredTransactionsByAddress() throws {
        let key = try PrivateKey(Keccak256.digest(Array("layout test".utf8)))
        let recipient = Address(lowByte: 0x42)
        let tx = try Transaction(type: .dynamicFee, chainId: 1, nonce: 0, maxPriorityFeePerGas: UInt256(1), maxFeePerGas: UInt256(2),
                                 gasLimit: 21_000, to: recipient, value: UInt256(5), data: [], accessList: []).signed(with: key)
        try forEachStore { open in
            do {
                let store = try open()
                let db = try ChainDatabase(store: store)
                try commitBlockZero(db, genesis: Array("{}".utf8))
                var header = db.head!
                header.parentHash = header.hash
                header.number = 1
                try db.commit(block: Block(header: header, transactions: [tx]), receipts: [], stateBatch: WriteBatch(), sync: false)
                for address in [tx.sender, recipient] { try store.delete(Schema.addressTransaction(address, number: 1, index: 0)) }
                XCTAssertEqual(try db.transactions(of: recipient, limit: 10).items, [], "a layout-2 database has no address index")
                try setLayoutRecord(Schema.be(2), in: store)
            }
            let db = try ChainDatabase(store: try open())
            for address in [tx.sender, recipient] {
                XCTAssertEqual(try db.transactions(of: address, limit: 10).items.map(\.hash), [tx.hash], "\(address)")
            }
        }
    }

    func testADamagedRecordIsRefused() throws {
        try forEachStore { open in
            do {
                let store = try open()
                try commitBlockZero(try ChainDatabase(store: store), genesis: Array("{}".utf8))
                try setLayoutRecord([1, 2, 3], in: store)
            }
            XCTAssertThrowsError(try ChainDatabase(store: open())) { error in
                XCTAssertTrue("\(error)".contains("layout version record is 3 bytes, want 8"), "\(error)")
            }
        }
    }
}
