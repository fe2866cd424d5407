import Foundation
import XCTest
@testable import Inference

/// OpenGradient fixed-point conversion: decimal → float32 must equal glibc's correctly
/// rounded strtof on the same decimal; float32 → decimal must round-trip and be as short
/// as Swift's shortest representation.
final class FixedPointTests: XCTestCase {
    typealias N = FixedPoint.Number

    func decimalString(_ n: N) -> String { "\(n.value)e\(-n.decimals)" }

    func testKnownValues() throws {
        XCTAssertEqual(FixedPoint.float(N(value: 1, decimals: 1)), Float(0.1))
        XCTAssertEqual(FixedPoint.float(N(value: -15, decimals: 1)), -1.5)
        XCTAssertEqual(FixedPoint.float(N(value: 0, decimals: 12)).bitPattern, Float(0).bitPattern)
        XCTAssertEqual(FixedPoint.float(N(value: 34028235, decimals: -31)), .greatestFiniteMagnitude)
        XCTAssertEqual(FixedPoint.float(N(value: 34028235677, decimals: -28)), .greatestFiniteMagnitude)  // just below the boundary
        XCTAssertEqual(FixedPoint.float(N(value: 34028235678, decimals: -28)), .infinity)  // just above it
        XCTAssertEqual(FixedPoint.float(N(value: 34028236, decimals: -32)), .infinity)
        XCTAssertEqual(FixedPoint.float(N(value: 1, decimals: 46)), 0)  // below half the smallest subnormal
        XCTAssertEqual(FixedPoint.float(N(value: 1, decimals: 45)), .leastNonzeroMagnitude)
        XCTAssertEqual(FixedPoint.float(N(value: .max, decimals: .max)), 0)
        XCTAssertEqual(FixedPoint.float(N(value: .min, decimals: .min)), -.infinity)
        // Ties to even: 2^24 + 1 lies halfway between two floats and rounds to the even one.
        XCTAssertEqual(FixedPoint.float(N(value: 16_777_217, decimals: 0)), 16_777_216)
        XCTAssertEqual(FixedPoint.float(N(value: 16_777_219, decimals: 0)), 16_777_220)

        XCTAssertEqual(try FixedPoint.number(0.1), N(value: 1, decimals: 1))
        XCTAssertEqual(try FixedPoint.number(-2.5), N(value: -25, decimals: 1))
        XCTAssertEqual(try FixedPoint.number(100), N(value: 100, decimals: 0))
        XCTAssertEqual(try FixedPoint.number(-0.0), N(value: 0, decimals: 0))
        XCTAssertEqual(try FixedPoint.number(1e-45), N(value: 1, decimals: 45))
        XCTAssertEqual(try FixedPoint.number(.greatestFiniteMagnitude), N(value: 34028235, decimals: -31))
        XCTAssertThrowsError(try FixedPoint.number(.nan))
        XCTAssertThrowsError(try FixedPoint.number(-.infinity))
    }

    func testDecimalToFloatMatchesStrtof() {
        var g = DeterminismTests.Generator(state: 11)
        for _ in 0..<5000 {
            let digits = g.int(1...30)
            var v: Int128 = 0
            for _ in 0..<digits { v = v * 10 + Int128(g.int(0...9)) }
            if g.int(0...1) == 1 { v = -v }
            let n = N(value: v, decimals: Int128(g.int(-45...60)))
            let expected = Float(decimalString(n))!
            XCTAssertEqual(FixedPoint.float(n).bitPattern, expected.bitPattern, "\(n) = \(decimalString(n))")
        }
    }

    func testFloatToDecimalIsShortestAndRoundTrips() throws {
        var g = DeterminismTests.Generator(state: 12)
        for i in 0..<5000 {
            var x = Float(bitPattern: UInt32(truncatingIfNeeded: g.next()))
            if i % 3 == 0 { x = Float(g.int(-100000...100000)) / 1000 }
            guard x.isFinite else { continue }
            let n = try FixedPoint.number(x)
            XCTAssertEqual(FixedPoint.float(n).bitPattern, x == 0 ? 0 : x.bitPattern, "\(x) → \(n)")
            XCTAssertEqual(Float(decimalString(n))!.bitPattern, x == 0 ? 0 : x.bitPattern)
            // As short as Swift's own shortest form (significant digits).
            let swiftDigits = significantDigits(x.description)
            XCTAssertEqual(significantDigits(String(n.value.magnitude)), swiftDigits, "\(x) → \(n), Swift prints \(x.description)")
        }
    }

    func significantDigits(_ s: String) -> Int {
        let mantissa = s.split(separator: "e").first.map(String.init) ?? s
        var digits = mantissa.filter(\.isNumber)
        while digits.hasPrefix("0") { digits.removeFirst() }
        while digits.hasSuffix("0") { digits.removeLast() }
        return max(digits.count, 1)
    }

    func testTensorsRoundTrip() throws {
        let t = Tensor.float([0.5, -1.25, 3e-7, 123456.79], shape: [2, 2])
        let (values, shape) = try FixedPoint.numbers(t)
        XCTAssertEqual(shape, [2, 2])
        XCTAssertEqual(values[0], N(value: 5, decimals: 1))
        XCTAssertEqual(try FixedPoint.tensor(values, shape: shape), t)
        XCTAssertThrowsError(try FixedPoint.tensor(values, shape: [3])) { XCTAssertTrue("\($0)".contains("needs 3 values, 4 given")) }
        XCTAssertThrowsError(try FixedPoint.tensor([], shape: [UInt32.max, UInt32.max])) { XCTAssertTrue("\($0)".contains("more than")) }
    }
}
