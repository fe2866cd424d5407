import XCTest
@testable import Primitives

final class UInt256Tests: XCTestCase {
    func testArithmeticAgainstDecimalText() throws {
        let a = try UInt256(decimal: "115792089237316195423570985008687907853269984665640564039457584007913129639935")
        XCTAssertEqual(a, .max)
        XCTAssertTrue(UInt256.max.addingReportingOverflow(.one).overflow)
        XCTAssertTrue(UInt256.zero.subtractingReportingOverflow(.one).overflow)
        let big = try UInt256(decimal: "340282366920938463463374607431768211456") // 2^128
        XCTAssertEqual(big.multipliedReportingOverflow(by: big).partialValue, .zero)
        XCTAssertTrue(big.multipliedReportingOverflow(by: big).overflow)
        XCTAssertEqual((big * UInt256(3)).description, "1020847100762815390390123822295304634368")
        let (q, r) = try UInt256(decimal: "1000000000000000000000000007").quotientAndRemainder(dividingBy: try UInt256(decimal: "1000000000000000000000"))
        XCTAssertEqual(q.description, "1000000")
        XCTAssertEqual(r.description, "7")
        XCTAssertThrowsError(try UInt256(decimal: "115792089237316195423570985008687907853269984665640564039457584007913129639936"))
        XCTAssertThrowsError(try UInt256(decimal: "-1"))
        XCTAssertThrowsError(try UInt256.max.checkedAdding(.one))
    }

    func testRandomRoundTrips() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let v = UInt256(limbs: (rng.next(), rng.next() >> (rng.next() % 64), rng.next() % 3, rng.next() >> 3))
            XCTAssertEqual(try UInt256(decimal: v.description), v)
            XCTAssertEqual(try UInt256(hexQuantity: v.hexQuantity), v)
            XCTAssertEqual(try UInt256(bigEndian: v.minimalBigEndianBytes), v)
            XCTAssertEqual(try UInt256(bigEndian: v.bigEndianBytes32), v)
            let d = UInt256(limbs: (rng.next() | 1, rng.next() % 5, 0, 0))
            let (q, r) = v.quotientAndRemainder(dividingBy: d)
            XCTAssertLessThan(r, d)
            XCTAssertEqual(q * d + r, v)
            XCTAssertEqual((v >> 7) << 7, v - (v % UInt256(128)))
        }
    }

    func testCarriesBorrowsAndByteFormsAtLimbEdges() throws {
        let edges: [UInt256] = [.zero, .one, UInt256(255), UInt256(256), UInt256(UInt64.max), UInt256(limbs: (0, 1, 0, 0)),
                                UInt256(limbs: (.max, .max, 0, 0)), UInt256(limbs: (0, 0, 0, 1)), .max]
        for a in edges {
            // Minimal bytes: no leading zero, and as long as the value needs.
            let minimal = a.minimalBigEndianBytes
            XCTAssertNotEqual(minimal.first, 0)
            XCTAssertEqual(minimal.count, (a.bitWidth + 7) / 8)
            XCTAssertEqual(RLP.encode(.uint(a)), a.uint64.map { RLP.encode(.uint($0)) } ?? RLP.encode(.uint(a)))
            for b in edges {
                let (sum, carry) = a.addingReportingOverflow(b)
                let (back, borrow) = sum.subtractingReportingOverflow(b)
                XCTAssertEqual(back, a)
                XCTAssertEqual(carry, borrow, "a carry out of the sum is a borrow on the way back")
                let (product, overflow) = a.multipliedReportingOverflow(by: b)
                if !overflow, !b.isZero { XCTAssertEqual(product / b, a) }
            }
        }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<1000 {
            let x = rng.next() as UInt64, y = rng.next() as UInt64
            let (hi, lo) = x.multipliedFullWidth(by: y)
            XCTAssertEqual(UInt256(x) * UInt256(y), UInt256(limbs: (lo, hi, 0, 0)))
            XCTAssertEqual(RLP.encode(.uint(x)), RLP.encode(.uint(UInt256(x))))
        }
    }
}
