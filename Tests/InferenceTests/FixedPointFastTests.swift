import Foundation
import XCTest
@testable import Inference

/// The fast fixed-point conversions against the reference (arbitrary-precision integers):
/// equal bit for bit on seeded samples and on every edge class (ties, subnormals, the
/// overflow boundary, decimals at and past the fast path's range, ±0, NaN and
/// infinities). The conversions are consensus: outputs, trust-record hashes and gas
/// follow them. OPG_FIXEDPOINT_SAMPLES scales the random samples (`make fixedpoint-check`).
final class FixedPointFastTests: XCTestCase {
    typealias N = FixedPoint.Number

    /// Random samples per test: a unit-test budget unless the environment asks for more
    /// (the reference float → decimal costs most; its tests take an eighth).
    var samples: Int { ProcessInfo.processInfo.environment["OPG_FIXEDPOINT_SAMPLES"].flatMap(Int.init) ?? 20_000 }

    func assertSameFloat(_ n: N, file: StaticString = #filePath, line: UInt = #line) {
        let fast = FixedPoint.float(n), reference = FixedPoint.referenceFloat(n)
        if fast.bitPattern != reference.bitPattern {
            XCTFail("\(n): fast \(fast) (\(fast.bitPattern)), reference \(reference) (\(reference.bitPattern))", file: file, line: line)
        }
    }

    func assertSameNumber(_ x: Float, file: StaticString = #filePath, line: UInt = #line) {
        let fast = Result { try FixedPoint.number(x) }, reference = Result { try FixedPoint.referenceNumber(x) }
        switch (fast, reference) {
        case (.success(let a), .success(let b)) where a == b: return
        case (.failure(let a), .failure(let b)) where "\(a)" == "\(b)": return
        default: XCTFail("\(x) (\(x.bitPattern)): fast \(fast), reference \(reference)", file: file, line: line)
        }
    }

    /// A random integer of `bits` bits at most.
    func randomMagnitude(_ g: inout DeterminismTests.Generator, bits: Int) -> UInt128 {
        let wide = UInt128(g.next()) << 64 | UInt128(g.next())
        return bits >= 128 ? wide : wide & ((1 << bits) - 1)
    }

    func testDecimalToFloatRandom() {
        var g = DeterminismTests.Generator(state: 91)
        for i in 0..<samples {
            let bits = g.int(1...127)
            var v = Int128(randomMagnitude(&g, bits: bits))
            if i % 2 == 1 { v = -v }
            // Mostly the decimals encoders produce, some anywhere in the reference's range.
            let decimals = i % 8 == 0 ? g.int(-45...105) : g.int(-40...40)
            assertSameFloat(N(value: v, decimals: Int128(decimals)))
        }
    }

    func testDecimalToFloatOfShortDecimals() {
        // What SDKs send: a float's shortest digits (up to 17) and their decimal point.
        var g = DeterminismTests.Generator(state: 92)
        for _ in 0..<samples {
            var v: Int128 = 0
            for _ in 0..<g.int(1...17) { v = v * 10 + Int128(g.int(0...9)) }
            assertSameFloat(N(value: g.int(0...1) == 1 ? -v : v, decimals: Int128(g.int(0...45))))
        }
    }

    func testDecimalToFloatTies() {
        // The exact midpoint between a float and the next, written as a decimal, and the
        // decimals one unit either side of it: ties to even, and the nearest either way.
        var g = DeterminismTests.Generator(state: 93)
        for i in 0..<samples / 4 {
            let x = Float(bitPattern: UInt32(truncatingIfNeeded: g.next()) & 0x7FFF_FFFF)
            guard x.isFinite, x < .greatestFiniteMagnitude else { continue }
            let (m, e) = FixedPoint.binaryParts(x)
            let odd = UInt128(2 * m + 1)  // midpoint = odd · 2^(e − 1)
            let k = 1 - e
            var midpoint: N? = nil
            if k <= 0 {
                if odd.leadingZeroBitCount > -k + 1 { midpoint = N(value: Int128(odd << -k), decimals: 0) }
            } else if k <= 55 {
                let (scaled, overflow) = odd.multipliedReportingOverflow(by: FixedPoint.powersOfFive[k])  // odd · 5^k / 10^k
                if !overflow && scaled <= UInt128(Int128.max) - 1 { midpoint = N(value: Int128(scaled), decimals: Int128(k)) }
            }
            guard let tie = midpoint else { continue }
            let sign: Int128 = i % 2 == 0 ? 1 : -1
            for delta: Int128 in [-1, 0, 1] {
                assertSameFloat(N(value: sign * (tie.value + delta), decimals: tie.decimals))
            }
        }
    }

    func testDecimalToFloatEdges() {
        var edges: [N] = [N(value: 0, decimals: 0), N(value: 0, decimals: -50), N(value: 0, decimals: 200)]
        for v: Int128 in [1, -1, 5, 9, 10, 16_777_215, 16_777_216, 16_777_217, 16_777_219, .max, .min, .max - 1, .min + 1,
                          34_028_235, 34_028_236, 34_028_235_677, 34_028_235_678, 11_754_942, 11_754_943, 14, 7, 701_411_835] {
            for d in [-41, -40, -39, -38, -37, -32, -31, -28, -1, 0, 1, 19, 20, 37, 38, 39, 40, 44, 45, 46, 47, 83, 100, 101] {
                edges.append(N(value: v, decimals: Int128(d)))
            }
            edges.append(N(value: v, decimals: .max))
            edges.append(N(value: v, decimals: .min))
        }
        // Either side of the overflow midpoint 2^128 − 2^103 = 340282356779733661637539395458142568448
        // and of half the smallest subnormal, 2^−150 = 7.00649232162408535461864791644958065640…e−46.
        edges += [N(value: 34_028_235_677_973_366_163_753_939_545_814_256_845, decimals: -1),
                  N(value: 34_028_235_677_973_366_163_753_939_545_814_256_844, decimals: -1),
                  N(value: 70_064_923_216_240_853_546_186_479_164_495_806_564, decimals: 83),
                  N(value: 70_064_923_216_240_853_546_186_479_164_495_806_565, decimals: 83)]
        for n in edges { assertSameFloat(n) }
        XCTAssertEqual(FixedPoint.float(N(value: -1, decimals: 46)).bitPattern, (-Float.zero).bitPattern)  // −0 keeps its sign
    }

    func testFloatToDecimalRandom() {
        var g = DeterminismTests.Generator(state: 94)
        for i in 0..<samples / 8 {
            var x = Float(bitPattern: UInt32(truncatingIfNeeded: g.next()))
            if i % 4 == 0 { x = Float(g.int(-100_000_000...100_000_000)) / Float(g.int(1...1_000_000)) }  // everyday magnitudes
            assertSameNumber(x)
        }
    }

    func testFloatToDecimalEdges() {
        var floats: [Float] = [0, -0, .nan, -.nan, .signalingNaN, .infinity, -.infinity, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                               .leastNormalMagnitude, .leastNonzeroMagnitude, 1, 0.1, 0.5, 1.17549435e-38]
        for bits: UInt32 in 1...300 { floats.append(Float(bitPattern: bits)) }  // the smallest subnormals
        for bits: UInt32 in 0x007F_FFC0...0x0080_0040 { floats.append(Float(bitPattern: bits)) }  // subnormal → normal
        for exponent in -149...127 { floats.append(Float(sign: .plus, exponent: exponent, significand: 1)) }  // powers of two
        for threshold in FixedPoint.powerOfTenThresholds {  // around every power of ten
            for delta in -3...3 where Int64(threshold) + Int64(delta) > 0 { floats.append(Float(bitPattern: UInt32(Int64(threshold) + Int64(delta)))) }
        }
        for x in floats {
            assertSameNumber(x)
            if x.isFinite { assertSameNumber(-x) }
        }
    }

    func testPowerOfTenThresholdsAreExact() {
        // Each entry is the smallest float ≥ 10^k: its predecessor lies below 10^k.
        for (i, bits) in FixedPoint.powerOfTenThresholds.enumerated() {
            let k = i - 45
            let ten = FixedPoint.referenceFloat(N(value: 1, decimals: Int128(-k)))
            XCTAssertTrue(bits == ten.bitPattern || bits == ten.bitPattern + 1, "10^\(k)")
            XCTAssertEqual(FixedPoint.decimalExponent(bits), k)
            if k > -45 { XCTAssertEqual(FixedPoint.decimalExponent(bits - 1), k - 1) }
        }
    }
}
