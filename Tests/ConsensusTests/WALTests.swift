import Consensus
import Foundation
import Primitives
import XCTest

/// The WAL on a real file: round trip, torn tails truncated, corruption in the middle halts.
final class WALTests: XCTestCase {
    private func records() -> [WALRecord] {
        let value = TestChain.value("block one")
        return [
            .received(.vote(TestChain.vote(TestChain.keys[0], .prevote, block: value.blockHash))),
            .timeout(Timeout(kind: .propose, height: 1, round: 0)),
            .validity(height: 1, value: value.key, valid: true),
            .proposalValue(height: 1, round: 0, value: value),
            .own(.vote(TestChain.vote(TestChain.keys[1], .precommit, block: nil))),
            .endOfHeight(1),
        ]
    }

    private func writeLog(_ path: String) throws -> [Int] {
        let wal = WriteAheadLog(storage: try FileWALStorage(path: path))
        XCTAssertEqual(try wal.open(), [])
        var ends: [Int] = []
        var total = 0
        for r in records() {
            try wal.append(r)
            total += WriteAheadLog.frame(r).count
            ends.append(total)
        }
        try wal.sync()
        return ends
    }

    private func reopen(_ path: String) throws -> (WriteAheadLog, [WALRecord]) {
        let wal = WriteAheadLog(storage: try FileWALStorage(path: path))
        return (wal, try wal.open())
    }

    func testRecordsRoundTripThroughTheFile() throws {
        let path = TestChain.temporaryDirectory() + "/wal"
        _ = try writeLog(path)
        let (wal, read) = try reopen(path)
        XCTAssertEqual(read, records())
        XCTAssertEqual(wal.truncatedBytes, 0)
        try wal.compact(committed: 1)
        XCTAssertEqual(try reopen(path).1, [.endOfHeight(1)])
    }

    func testEveryTornTailIsTruncatedToTheLastWholeRecord() throws {
        let dir = TestChain.temporaryDirectory()
        let path = dir + "/wal"
        let ends = try writeLog(path)
        let full = try Data(contentsOf: URL(fileURLWithPath: path))
        for cut in 0..<full.count {
            try full.prefix(cut).write(to: URL(fileURLWithPath: path))
            let (wal, read) = try reopen(path)
            let whole = ends.filter { $0 <= cut }.count
            XCTAssertEqual(read, Array(records().prefix(whole)), "cut at \(cut)")
            let kept = whole == 0 ? 0 : ends[whole - 1]
            XCTAssertEqual(wal.truncatedBytes, cut - kept)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)).count, kept, "the torn tail is cut from the file")
        }
        // Zero-filled tail (a file extended but never written).
        try (full + Data(count: 40)).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try reopen(path).1, records())
    }

    func testABitFlipInTheMiddleHaltsAndInTheLastBodyIsATornTail() throws {
        let path = TestChain.temporaryDirectory() + "/wal"
        let ends = try writeLog(path)
        let full = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let lastStart = ends[ends.count - 2]
        for byte in 0..<full.count {
            do {
                var flipped = full
                flipped[byte] ^= 1 << (byte % 8)
                try Data(flipped).write(to: URL(fileURLWithPath: path))
                let recordStart = ([0] + ends).last { $0 <= byte }!
                let inHeader = byte - recordStart < 8 // the length and its CRC; the body's CRC belongs with the body
                do {
                    let (_, read) = try reopen(path)
                    XCTAssertTrue(byte >= lastStart && !inHeader, "flip at \(byte) accepted")
                    XCTAssertEqual(read, Array(records().dropLast()), "a damaged last record is dropped as a torn tail")
                } catch let error as WALError {
                    XCTAssertFalse(byte >= lastStart && !inHeader, "flip at \(byte) halted: \(error)")
                    switch error {
                    case .corruptHeader(let offset), .corruptRecord(let offset, _, _): XCTAssertEqual(offset, recordStart)
                    default: XCTFail("unexpected \(error)")
                    }
                }
            }
        }
    }
}
