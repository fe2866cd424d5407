import Foundation
import Primitives
import Storage
import XCTest
@testable import Chain

/// A reader of the head state sees one block's state even while later blocks are
/// committed under it (ChainDatabase.state(at:)): each block here moves $OPG between two
/// accounts, so their sum is the same in every block and a mixed read breaks it.
final class StateConsistencyTests: XCTestCase {
    let a = Address(lowByte: 0xA1), b = Address(lowByte: 0xB2)
    let total = UInt256(1_000_000)
    var directory: URL!

    override func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("opg-consistency-\(UUID().uuidString)")
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    /// A database whose block 0 gives everything to `a`.
    private func makeDatabase() throws -> ChainDatabase {
        let db = try ChainDatabase(store: LevelDBStore(path: directory.path))
        let state = StateDB(root: MerklePatriciaTrie.emptyRoot, nodes: db.nodes, flatReads: false)
        state.setBalance(total, of: a)
        try commit(state, number: 0, parent: nil, into: db)
        return db
    }

    private func commit(_ state: StateDB, number: UInt64, parent: Header?, into db: ChainDatabase) throws {
        var batch = WriteBatch()
        let root = try state.commit(into: &batch)
        let header = Header(parentHash: parent?.hash ?? .zero, coinbase: .zero, stateRoot: root, transactionsRoot: MerklePatriciaTrie.emptyRoot,
                            receiptsRoot: MerklePatriciaTrie.emptyRoot, logsBloom: Bloom(), number: number, gasLimit: 30_000_000,
                            gasUsed: 0, timestamp: number, baseFeePerGas: 1, validatorsHash: .zero, nextValidatorsHash: .zero)
        try db.commit(block: Block(header: header, transactions: []), receipts: [], stateBatch: batch, sync: false)
    }

    /// Commits the next block, moving `amount` from `a` to `b` (or back when negative).
    private func commitTransfer(_ db: ChainDatabase, seed: UInt64) throws {
        let head = try XCTUnwrap(db.head)
        let state = db.state(at: head)
        let (from, to) = seed % 2 == 0 ? (a, b) : (b, a)
        let amount = state.balance(of: from) / 2 + UInt256(seed % 7)
        let moved = amount > state.balance(of: from) ? state.balance(of: from) : amount
        state.setBalance(state.balance(of: from) - moved, of: from)
        state.setBalance(state.balance(of: to) + moved, of: to)
        try commit(state, number: head.number + 1, parent: head, into: db)
    }

    func testAReadThatSpansACommitStaysOnItsBlock() throws {
        let db = try makeDatabase()
        try commitTransfer(db, seed: 0)
        let head = try XCTUnwrap(db.head)
        let reader = db.state(at: head)
        let balanceA = reader.balance(of: a)
        try commitTransfer(db, seed: 1)
        XCTAssertNotEqual(db.head?.number, head.number)
        XCTAssertEqual(balanceA + reader.balance(of: b), total, "the second read must come from block \(head.number)")
        XCTAssertEqual(reader.balance(of: b), db.state(at: head).balance(of: b))
    }

    func testReadersNeverMixBlocksWhileManyAreCommitted() throws {
        let db = try makeDatabase()
        let blocks: UInt64 = 400
        let watch = ReaderWatch()
        let (a, b, total) = (self.a, self.b, self.total)
        let readers = (0..<2).map { _ in
            Thread {
                while !watch.finished {
                    guard let head = db.head else { continue }
                    let state = db.state(at: head)
                    let first = state.balance(of: a)
                    sched_yield()
                    let second = state.balance(of: b)
                    watch.record(first + second == total ? nil : "block \(head.number): \(first) + \(second)")
                }
            }
        }
        readers.forEach { $0.start() }
        for seed in 0..<blocks { try commitTransfer(db, seed: seed) }
        watch.finish()
        while !readers.allSatisfy(\.isFinished) { usleep(1_000) }
        XCTAssertEqual(db.head?.number, blocks)
        XCTAssertEqual(watch.mixed, [])
        XCTAssertGreaterThan(watch.reads, 0)
    }
}

/// What the reader threads saw, behind a lock.
private final class ReaderWatch: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    private var mixedReads: [String] = []
    private var count = 0

    var finished: Bool { lock.withLock { done } }
    var mixed: [String] { lock.withLock { mixedReads } }
    var reads: Int { lock.withLock { count } }
    func finish() { lock.withLock { done = true } }
    func record(_ failure: String?) {
        lock.withLock {
            count += 1
            if let failure { mixedReads.append(failure) }
        }
    }
}
