import Foundation
import XCTest
@testable import Primitives

/// ethereum/tests RLPTests, loaded from ../shared/vectors.
final class RLPVectorTests: XCTestCase {
    /// Builds the expected item from a test's `in` value (see the vectors' README).
    private func item(from value: Any) throws -> RLPItem {
        if let list = value as? [Any] { return .list(try list.map(item(from:))) }
        if let text = value as? String {
            if text.hasPrefix("#") { return .bytes(bigEndianBytes(decimal: text.dropFirst())) }
            return .bytes(Array(text.utf8))
        }
        if let number = value as? NSNumber { return .uint(number.uint64Value) }
        throw PrimitivesError(.rlp, "unexpected vector input \(value)")
    }

    /// Arbitrary-precision decimal to minimal big-endian bytes (RLP integers are unbounded).
    private func bigEndianBytes(decimal: Substring) -> [UInt8] {
        var out: [UInt8] = []
        for digit in decimal.utf8 {
            var carry = Int(digit - UInt8(ascii: "0"))
            for i in stride(from: out.count - 1, through: 0, by: -1) {
                let v = Int(out[i]) * 10 + carry
                out[i] = UInt8(v & 0xFF)
                carry = v >> 8
            }
            while carry > 0 { out.insert(UInt8(carry & 0xFF), at: 0); carry >>= 8 }
        }
        return out
    }

    private func bytes(_ hex: String) throws -> [UInt8] { try Hex.decodeLenient(hex) }

    func testValidEncodings() throws {
        let cases = try VectorPaths.json("ethereum-tests/RLPTests/rlptest.json")
        XCTAssertGreaterThan(cases.count, 20)
        for (name, body) in cases.sorted(by: { $0.key < $1.key }) {
            let test = body as! [String: Any]
            let expected = try item(from: test["in"]!)
            let out = try bytes(test["out"] as! String)
            XCTAssertEqual(RLP.encode(expected), out, name)
            XCTAssertEqual(RLP.encodedSize(expected), out.count, name)
            XCTAssertEqual(try RLP.decode(out), expected, name)
        }
    }

    func testInvalidEncodingsAreRejected() throws {
        let cases = try VectorPaths.json("ethereum-tests/RLPTests/invalidRLPTest.json")
        XCTAssertEqual(cases.count, 26)
        for (name, body) in cases.sorted(by: { $0.key < $1.key }) {
            let test = body as! [String: Any]
            let raw = test["out"] as! String
            // Some `out` values are not valid hex at all; those are rejected one level up.
            guard let input = try? bytes(raw) else { continue }
            XCTAssertThrowsError(try RLP.decode(input), name) { error in
                XCTAssertTrue(error is PrimitivesError, name)
            }
        }
    }

    func testRandomValidEncodingsDecode() throws {
        let cases = try VectorPaths.json("ethereum-tests/RLPTests/RandomRLPTests/example.json")
        for (name, body) in cases {
            let out = try bytes((body as! [String: Any])["out"] as! String)
            let decoded = try RLP.decode(out)
            XCTAssertEqual(RLP.encode(decoded), out, name)
        }
    }

    func testCanonicalRules() {
        let rejects: [(String, [UInt8])] = [
            ("empty input", []),
            ("wrapped single byte", [0x81, 0x05]),
            ("long form for short string", [0xB8, 0x01, 0xFF]),
            ("leading zero in length", [0xB9, 0x00, 0x40] + [UInt8](repeating: 1, count: 64)),
            ("trailing bytes", [0x01, 0x02]),
            ("truncated string", [0x83, 0x01]),
            ("list payload overrun", [0xC2, 0x83, 0x01, 0x02, 0x03]),
            ("length of length past end", [0xBA, 0x01]),
            ("huge length", [0xBF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
        ]
        for (name, input) in rejects { XCTAssertThrowsError(try RLP.decode(input), name) }
        XCTAssertThrowsError(try RLPItem.bytes([0x00, 0x01]).uint64(), "leading zero integer")
        XCTAssertThrowsError(try RLPItem.bytes([UInt8](repeating: 1, count: 9)).uint64(), "overflow")
        let deep = [UInt8](repeating: 0xC1, count: 10_000) + [0xC0]
        XCTAssertThrowsError(try RLP.decode(deep), "nesting beyond the cap")
    }
}
