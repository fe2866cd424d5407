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
}
