import Foundation
import XCTest
import HTTPServer

final class WorkerPoolTests: XCTestCase {
    private final class Payload {}

    /// Finished work is freed at once: a closure (and the request body it captured) must not
    /// stay in the queue until it compacts. Before this was fixed, 20 refused 5 MB
    /// transactions sent through the heavy lane left 100 MB resident.
    func testFinishedWorkReleasesWhatItCaptured() {
        let pool = WorkerPool(name: "test-pool", threads: 1)
        weak var captured: Payload?
        let done = DispatchSemaphore(value: 0)
        do {
            let payload = Payload()
            captured = payload
            pool.submit {
                _ = payload
                done.signal()
            }
        }
        done.wait()
        let deadline = Date().addingTimeInterval(5)
        while captured != nil && Date() < deadline { usleep(1_000) }
        XCTAssertNil(captured, "the pool still holds finished work")
        pool.shutdown()
    }

    func testWorkRunsInArrivalOrderOnOneThread() {
        let pool = WorkerPool(name: "test-order", threads: 1)
        let lock = NSLock()
        var seen: [Int] = []
        for i in 0..<2_000 { pool.submit { lock.withLock { seen.append(i) } } }
        pool.shutdown()
        XCTAssertEqual(seen, Array(0..<2_000))
    }
}
