import Foundation
import XCTest
@testable import JSON

final class JSONTests: XCTestCase {
    func testParsesAndWritesBackCompactly() throws {
        let text = #"{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0xab",true,null,-1.5e3,[],{}],"n":1000000000000000000000000}"#
        let v = try JSONParser.parse(text)
        XCTAssertEqual(v["method"]?.stringValue, "eth_getBalance")
        XCTAssertEqual(v["id"]?.numberValue?.int64, 1)
        XCTAssertEqual(v["n"]?.numberValue?.text, "1000000000000000000000000", "big integers keep every digit")
        XCTAssertEqual(v.serialized(), text)
        XCTAssertEqual(try JSONParser.parse(" \n\t[1 , 2]\r\n "), [1, 2])
    }

    func testStringsAndEscapes() throws {
        XCTAssertEqual(try JSONParser.parse(#""a\"b\\c\/d\b\f\n\r\t\u0041\u00e9\ud83d\ude00""#), .string("a\"b\\c/d\u{8}\u{c}\n\r\tAé😀"))
        XCTAssertEqual(try JSONParser.parse("\"héllo\""), .string("héllo"))
        let tricky: JSONValue = .string("quote\" back\\ nl\n ctl\u{1} é")
        XCTAssertEqual(tricky.serialized(), #""quote\" back\\ nl\n ctl\u0001 é""#)
        XCTAssertEqual(try JSONParser.parse(tricky.serialized()), tricky)
    }

    func testDuplicateKeysKeepTheLastValueAtTheFirstPosition() throws {
        XCTAssertEqual(try JSONParser.parse(#"{"method":"a","id":1,"method":"b"}"#), .object(["method": "b", "id": 1]))
        let many = (0..<40).map { #""k\#($0)":\#($0)"# } + (0..<40).map { #""k\#($0)":"x\#($0)""# }
        let parsed = try JSONParser.parse("{" + many.joined(separator: ",") + "}")
        XCTAssertEqual(parsed.objectValue?.keys, (0..<40).map { "k\($0)" }, "an object past the indexed size keeps one member per key")
        XCTAssertEqual(parsed["k39"], "x39")
        XCTAssertEqual(parsed["k0"], "x0")
    }

    func testManyKeysParseInLinearTime() throws {
        let keys = (0..<100_000).map { #""k\#($0)":0"# }.joined(separator: ",")
        let started = Date()
        XCTAssertEqual(try JSONParser.parse("{" + keys + "}").objectValue?.members.count, 100_000)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10, "a quadratic duplicate check would take minutes")
    }

    func testRejectsEveryMalformedForm() {
        let bad: [String: String] = [
            "": "end of input", "{": "object", "[1,]": "value", "{\"a\":1,}": "string key", "01": "leading zeros",
            "1.": "fraction", "1e": "exponent", "-": "digits", "+1": "unexpected", "'a'": "unexpected", "tru": "literal",
            "\"abc": "unterminated", "\"\\x\"": "invalid escape", "\"\\u12\"": "four hex", "\"\\ud800\"": "surrogate",
            "\"\\udc00\"": "lone low", "\"a\u{1}\"": "control", "[1] 2": "after", "{\"a\" 1}": "':'", "[1 2]": "','",
            "nul": "literal", "NaN": "unexpected", "[" + String(repeating: "[", count: 200) + String(repeating: "]", count: 201): "nesting",
        ]
        for (input, rule) in bad {
            XCTAssertThrowsError(try JSONParser.parse(input), input) { error in
                XCTAssertTrue("\(error)".contains(rule), "\(input): \(error)")
            }
        }
        XCTAssertThrowsError(try JSONParser.parse([0x22, 0xC3, 0x28, 0x22])) { XCTAssertTrue("\($0)".contains("UTF-8")) }
        XCTAssertThrowsError(try JSONParser.parse([0x22, 0x5C, 0x6E, 0xFF, 0x22])) { XCTAssertTrue("\($0)".contains("UTF-8")) }
    }

    func testRandomValuesRoundTrip() throws {
        var rng = SystemRandomNumberGenerator()
        func random(_ depth: Int) -> JSONValue {
            switch rng.next() % (depth > 3 ? 4 : 6) {
            case 0: return .null
            case 1: return .bool(rng.next() % 2 == 0)
            case 2: return .int(Int64(bitPattern: rng.next()))
            case 3: return .string(String((0..<Int(rng.next() % 12)).map { _ in Character(Unicode.Scalar(UInt8(rng.next() % 0x7F + 1))) }) + "é😀")
            case 4: return .array((0..<Int(rng.next() % 5)).map { _ in random(depth + 1) })
            default: return .object(JSONObject((0..<Int(rng.next() % 5)).map { ("k\($0)", random(depth + 1)) }))
            }
        }
        for _ in 0..<500 {
            let v = random(0)
            XCTAssertEqual(try JSONParser.parse(v.serializedBytes()), v)
            // Foundation agrees that our output is JSON.
            XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(v.serializedBytes()), options: .fragmentsAllowed))
        }
    }
}
