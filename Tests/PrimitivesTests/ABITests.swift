import Foundation
import JSON
import XCTest
@testable import Primitives

final class ABITests: XCTestCase {
    func testSelectorsAndTopics() {
        XCTAssertEqual(Hex.encode(ABI.selector("transfer(address,uint256)")), "0xa9059cbb")
        XCTAssertEqual(Hex.encode(ABI.selector("Error(string)")), "0x08c379a0")
        XCTAssertEqual(ABI.eventTopic("Transfer(address,address,uint256)").hex,
                       "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")
    }

    func testRevertRoundTrip() {
        let data = ABI.encodeRevert("already notarized")
        XCTAssertEqual(Array(data.prefix(4)), [0x08, 0xc3, 0x79, 0xa0])
        XCTAssertEqual(ABI.decodeRevert(data), "already notarized")
        XCTAssertNil(ABI.decodeRevert([0xde, 0xad, 0xbe, 0xef]))
        XCTAssertNil(ABI.decodeRevert(Array(data.dropLast())))
    }

    func testTypeParsing() throws {
        for text in ["uint256", "int8", "bytes32", "address[]", "(uint8,string)[2]", "((bool,bytes)[],int256)"] {
            XCTAssertEqual(try ABIType(parsing: text).description, text)
        }
        XCTAssertEqual(try ABIType(parsing: "uint").description, "uint256")
        for bad in ["uint7", "uint264", "bytes0", "bytes33", "int", "(uint8", "uint8[", "foo", "uint8[0]", ""] where bad != "int" {
            XCTAssertThrowsError(try ABIType(parsing: bad), bad)
        }
        let (name, types) = try ABIType.parseSignature("notarize(bytes32,string)")
        XCTAssertEqual(name, "notarize")
        XCTAssertEqual(types, [.fixedBytes(32), .string])
    }

    /// 400 random type lists and values encoded by eth-abi
    /// (tools/crosscheck/make_abi_fixtures.py): we encode to the same bytes and decode
    /// them back to the same values.
    func testRoundTripsAgainstEthAbi() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/abi_cases.json")
        let doc = try JSONParser.parse([UInt8](try Data(contentsOf: url)))
        let cases = try XCTUnwrap(doc["cases"]?.arrayValue)
        XCTAssertEqual(cases.count, 400)
        for (i, c) in cases.enumerated() {
            let types = try XCTUnwrap(c["types"]?.arrayValue).map { try ABIType(parsing: $0.stringValue!) }
            let values = try zip(types, XCTUnwrap(c["values"]?.arrayValue)).map { try Self.value($0.0, $0.1) }
            let expected = try Hex.decode(XCTUnwrap(c["encoded"]?.stringValue))
            XCTAssertEqual(try ABI.encode(types, values), expected, "case \(i) \(types)")
            XCTAssertEqual(try ABI.decode(types, expected), values, "case \(i) \(types)")
        }
    }

    func testStrictDecodingRejectsMalformedData() throws {
        let types: [ABIType] = [.uint(8), .string]
        let good = try ABI.encode(types, [.uint(UInt256(7)), .string("hi")])
        XCTAssertNoThrow(try ABI.decode(types, good))
        XCTAssertThrowsError(try ABI.decode(types, Array(good.dropLast())), "truncated")
        var dirty = good
        dirty[0] = 1  // uint8 with high bits set
        XCTAssertThrowsError(try ABI.decode(types, dirty), "dirty high bits")
        var offset = good
        offset[63] = 0xff  // string offset past the end
        XCTAssertThrowsError(try ABI.decode(types, offset), "offset out of range")
        var padding = good
        padding[padding.count - 1] = 1  // non-zero padding after the string
        XCTAssertThrowsError(try ABI.decode(types, padding), "non-zero padding")
        var bool = try ABI.encode([.bool], [.bool(true)])
        bool[31] = 2
        XCTAssertThrowsError(try ABI.decode([.bool], bool), "bool must be 0 or 1")
        // A huge array length must fail on bounds, not allocate.
        var huge = try ABI.encode([.array(.uint(256))], [.array([])])
        for i in 32..<64 { huge[i] = 0xff }
        XCTAssertThrowsError(try ABI.decode([.array(.uint(256))], huge))
    }

    /// Builds an `ABIValue` from a fixture's JSON form.
    static func value(_ type: ABIType, _ json: JSONValue) throws -> ABIValue {
        switch type {
        case .uint: return .uint(try UInt256(decimal: json.stringValue!))
        case .int: return try ABIValue.signed(decimal: json.stringValue!)
        case .address: return .address(try Address(hex: json.stringValue!))
        case .bool: return .bool(json.boolValue!)
        case .fixedBytes: return .fixedBytes(try Hex.decode(json.stringValue!))
        case .bytes: return .bytes(try Hex.decode(json.stringValue!))
        case .string: return .string(json.stringValue!)
        case .array(let t), .fixedArray(let t, _): return .array(try json.arrayValue!.map { try value(t, $0) })
        case .tuple(let ts): return .tuple(try zip(ts, json.arrayValue!).map { try value($0.0, $0.1) })
        }
    }
}
