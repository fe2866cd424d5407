import Chain
import Foundation
import Primitives
import XCTest
@testable import RPC

/// The filter store on its own: cap, expiry (injected clock and the real timer), the
/// shared hash logs and their backlog.
final class FilterManagerTests: XCTestCase {
    private func hash(_ i: Int) -> Hash32 { Keccak256.hash(UInt256(UInt64(i)).bigEndianBytes32) }

    private func hashes(_ changes: FilterManager.Changes) -> [Hash32] {
        guard case .hashes(let h) = changes else { XCTFail("expected hashes"); return [] }
        return h
    }

    func testCapRefusesOneMoreUntilOneIsRemoved() throws {
        let filters = FilterManager(maxFilters: 3, timeoutSeconds: 300, startTimer: false)
        let ids = try (0..<3).map { _ in try filters.install(.pending) }
        XCTAssertThrowsError(try filters.install(.blocks)) { error in
            XCTAssertEqual((error as? RPCError)?.code, -32005)
            XCTAssertEqual((error as? RPCError)?.message, "too many filters installed: limit 3")
        }
        XCTAssertTrue(filters.uninstall(ids[0]))
        XCTAssertNoThrow(try filters.install(.blocks))
    }

    func testUnpolledFiltersExpireOnTheInjectedClock() throws {
        var now: UInt64 = 0
        let filters = FilterManager(maxFilters: 10, timeoutSeconds: 5, clock: { now }, startTimer: false)
        let polled = try filters.install(.pending)
        let idle = try filters.install(.blocks)
        now = 4_000_000_000
        _ = try filters.takeChanges(polled)
        now = 6_000_000_000
        filters.expireStale()
        XCTAssertEqual(filters.count, 1)
        XCTAssertThrowsError(try filters.takeChanges(idle))
        now = 9_000_000_000
        XCTAssertThrowsError(try filters.takeChanges(polled), "past its timeout even before the timer runs")
    }

    func testTheTimerExpiresFiltersWithoutAnyOtherCall() throws {
        let filters = FilterManager(maxFilters: 10, timeoutSeconds: 1)
        _ = try filters.install(.pending)
        let deadline = Date().addingTimeInterval(5)
        while filters.count > 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertEqual(filters.count, 0)
    }

    func testManyFiltersShareOneLogAndEachSeesEveryHashOnce() throws {
        let filters = FilterManager(maxFilters: 5_000, timeoutSeconds: 300, startTimer: false)
        let early = try (0..<2_000).map { _ in try filters.install(.pending) }
        for i in 0..<100 { filters.transactionAdded(hash(i)) }
        let late = try filters.install(.pending)
        for i in 100..<150 { filters.transactionAdded(hash(i)) }
        filters.blockAdded(hash(1_000_000))
        XCTAssertEqual(hashes(try filters.takeChanges(early[0])), (0..<150).map(hash))
        XCTAssertEqual(hashes(try filters.takeChanges(early[1999])).count, 150)
        XCTAssertEqual(hashes(try filters.takeChanges(late)), (100..<150).map(hash))
        XCTAssertEqual(hashes(try filters.takeChanges(early[0])), [], "changes are returned once")
    }

    func testHashesAreNotLoggedWhenNoFilterWantsThemAndTheBacklogIsBounded() throws {
        let filters = FilterManager(maxFilters: 10, timeoutSeconds: 300, startTimer: false)
        for i in 0..<10 { filters.transactionAdded(hash(i)) }
        let id = try filters.install(.pending)
        XCTAssertEqual(hashes(try filters.takeChanges(id)), [])
        let total = 3 * QueryLimits.filterBacklog + 7
        for i in 0..<total { filters.transactionAdded(hash(i)) }
        let got = hashes(try filters.takeChanges(id))
        XCTAssertEqual(got.count, QueryLimits.filterBacklog, "a filter that fell behind keeps the most recent hashes")
        XCTAssertEqual(got.last, hash(total - 1))
        XCTAssertEqual(got.first, hash(total - QueryLimits.filterBacklog))
    }
}
