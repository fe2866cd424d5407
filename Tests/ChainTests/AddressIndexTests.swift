import Crypto
import Primitives
import Storage
import XCTest
@testable import Chain

/// The address index (`Schema.addressTransaction`): every block's batch indexes each
/// transaction under its sender and its recipient; `ChainDatabase.transactions(of:)` pages
/// them newest first, and a page resumes exactly where the one before stopped.
extension BlockTests {
    func testAddressIndexPagesNewestFirstAndIsWrittenWithTheBlock() throws {
        let store = MemoryStore()
        let (chain, _) = try makeChain(store: store)
        let (a, b, c) = (users[0], users[1], users[2])
        var expected: [Hash32] = []
        for round in 0..<3 {
            let first = try transfer(a, nonce: UInt64(2 * round), to: b.address, value: 1)
            let second = try transfer(a, nonce: UInt64(2 * round + 1), to: a.address, value: 1)
            try chain.submit(first)
            try chain.submit(second)
            let executed = try chain.produceBlock(timestamp: UInt64(10 + round), coinbase: validator.address)
            XCTAssertEqual(executed.block.transactions.map(\.hash), [first.hash, second.hash])
            expected = [second.hash, first.hash] + expected
        }
        let database = chain.database
        XCTAssertEqual(try database.transactions(of: a.address, limit: 100).items.map(\.hash), expected,
                       "a self-transfer is indexed once; newest block first, then the later index first")
        XCTAssertEqual(try database.transactions(of: b.address, limit: 100).items.map(\.hash), stride(from: 1, to: 6, by: 2).map { expected[$0] })
        XCTAssertEqual(try database.transactions(of: c.address, limit: 100).items, [])
        var walked: [Hash32] = []
        var from: (blockNumber: UInt64, index: UInt32)?
        repeat {
            let page = try database.transactions(of: a.address, from: from, limit: 4)
            walked += page.items.map(\.hash)
            from = page.next
        } while from != nil
        XCTAssertEqual(walked, expected)
        let newest = try database.transactions(of: a.address, limit: 1)
        XCTAssertEqual(newest.items.first?.blockNumber, 3)
        XCTAssertEqual(newest.items.first?.index, 1)
        XCTAssertEqual(newest.next?.blockNumber, 3)
        XCTAssertEqual(newest.next?.index, 0)
        var reopened: [Hash32] = []
        try ChainDatabase(store: store).transactions(of: b.address, limit: 100).items.forEach { reopened.append($0.hash) }
        XCTAssertEqual(reopened.count, 3, "the index is in the store, not only in memory")
    }

    func testDamagedAddressIndexEntryIsAnErrorNotACrash() throws {
        let store = MemoryStore()
        let (chain, _) = try makeChain(store: store)
        try store.put(Schema.addressTransactionPrefix(users[3].address) + [1, 2, 3], [9])
        XCTAssertThrowsError(try chain.database.transactions(of: users[3].address, limit: 10)) { error in
            XCTAssertTrue("\(error)".contains("address index entry"), "\(error)")
        }
    }
}
