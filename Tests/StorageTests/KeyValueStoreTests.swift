import Foundation
import XCTest
@testable import Storage

/// One behavioural suite, run against both implementations.
class KeyValueStoreContract: XCTestCase {
    func makeStore() throws -> KeyValueStore { MemoryStore() }

    func testPutGetDelete() throws {
        let store = try makeStore()
        XCTAssertNil(try store.get([1]))
        try store.put([1], [9, 9])
        XCTAssertEqual(try store.get([1]), [9, 9])
        XCTAssertTrue(try store.has([1]))
        try store.put([], [])
        XCTAssertEqual(try store.get([]), [])
        try store.delete([1])
        try store.delete([1])
        XCTAssertNil(try store.get([1]))
    }

    func testBatchIsOrderedAndAtomic() throws {
        let store = try makeStore()
        var batch = WriteBatch()
        batch.put([1], [1])
        batch.put([2], [2])
        batch.delete([1])
        batch.put([2], [3])
        try store.write(batch, sync: true)
        XCTAssertNil(try store.get([1]))
        XCTAssertEqual(try store.get([2]), [3])
    }

    func testScanIsInByteOrderWithinThePrefix() throws {
        let store = try makeStore()
        var batch = WriteBatch()
        for k: [UInt8] in [[0x61, 0xFF], [0x61], [0x62, 0], [0x61, 0x00, 0x01], [0x60, 0xFF], [0x61, 0x80]] { batch.put(k, k) }
        try store.write(batch, sync: false)
        var seen: [[UInt8]] = []
        try store.scan(prefix: [0x61]) { k, v in
            XCTAssertEqual(k, v)
            seen.append(k)
            return true
        }
        XCTAssertEqual(seen, [[0x61], [0x61, 0x00, 0x01], [0x61, 0x80], [0x61, 0xFF]])
        var first: [[UInt8]] = []
        try store.scan(prefix: []) { k, _ in first.append(k); return first.count < 2 }
        XCTAssertEqual(first, [[0x60, 0xFF], [0x61]])
    }

    func testLargeValuesAndManyKeys() throws {
        let store = try makeStore()
        let big = [UInt8]((0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try store.put([7], big)
        XCTAssertEqual(try store.get([7]), big)
        var batch = WriteBatch()
        for i in 0..<5_000 { batch.put([0xAA] + withUnsafeBytes(of: UInt32(i).bigEndian, Array.init), [UInt8(i & 0xFF)]) }
        try store.write(batch, sync: false)
        var count = 0
        try store.scan(prefix: [0xAA]) { _, _ in count += 1; return true }
        XCTAssertEqual(count, 5_000)
    }
}

final class MemoryStoreTests: KeyValueStoreContract {}

final class LevelDBStoreTests: KeyValueStoreContract {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("opg-leveldb-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    override func makeStore() throws -> KeyValueStore { try LevelDBStore(path: directory.path) }

    func testDataSurvivesReopen() throws {
        do {
            let store = try LevelDBStore(path: directory.path)
            var batch = WriteBatch()
            batch.put(Array("head".utf8), [1, 2, 3])
            try store.write(batch, sync: true)
        }
        let reopened = try LevelDBStore(path: directory.path)
        XCTAssertEqual(try reopened.get(Array("head".utf8)), [1, 2, 3])
    }

    func testOpenErrorsNameTheProblem() throws {
        let first = try LevelDBStore(path: directory.path)
        XCTAssertThrowsError(try LevelDBStore(path: directory.path), "LevelDB holds a lock per directory") { error in
            XCTAssertEqual((error as? StorageError)?.operation, "open")
            XCTAssertTrue("\(error)".contains("lock"), "\(error)")
        }
        _ = first
        XCTAssertThrowsError(try LevelDBStore(path: "/proc/opg-cannot-create"))
    }
}
