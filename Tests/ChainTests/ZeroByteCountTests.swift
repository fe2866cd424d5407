import XCTest
@testable import Chain

/// The word-at-a-time zero-byte count behind intrinsic gas equals counting byte by byte,
/// for every byte value, every alignment and length, and random data.
final class ZeroByteCountTests: XCTestCase {
    func naive(_ bytes: [UInt8]) -> Int { bytes.filter { $0 == 0 }.count }

    func testEqualsCountingByteByByte() {
        var cases: [[UInt8]] = [[], [0], [1], [0x80], [0xFF], (0...255).map { UInt8($0) }, [UInt8](repeating: 0, count: 1_000)]
        for length in 0...40 {  // every tail length, zeros and each byte value in every lane
            for value: UInt8 in [0, 1, 0x7F, 0x80, 0x81, 0xFE, 0xFF] {
                cases.append([UInt8](repeating: value, count: length))
                if length > 0 { var b = [UInt8](repeating: 0xFF, count: length); b[length / 2] = 0; cases.append(b) }
            }
        }
        var state: UInt64 = 7
        for _ in 0..<500 {
            let length = Int(state % 300)
            cases.append((0..<length).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let r = UInt8(truncatingIfNeeded: state >> 56)
                return r < 96 ? 0 : r  // about 37% zeros, the rest spread over 96…255
            })
        }
        for bytes in cases {
            XCTAssertEqual(bytes.withUnsafeBufferPointer(GasSchedule.zeroByteCount), naive(bytes), "\(bytes.count) bytes")
            // From an odd offset too (unaligned words).
            if bytes.count > 1 {
                let unaligned = bytes.withUnsafeBufferPointer { GasSchedule.zeroByteCount(UnsafeBufferPointer(rebasing: $0[1...])) }
                XCTAssertEqual(unaligned, naive(Array(bytes.dropFirst())))
            }
        }
        XCTAssertEqual(GasSchedule.intrinsicGas(data: [0, 1, 0, 2]), 21_000 + 2 * 4 + 2 * 16)
    }
}
