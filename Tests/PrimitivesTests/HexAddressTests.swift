import XCTest
@testable import Primitives

final class HexAddressTests: XCTestCase {
    func testDataHex() throws {
        XCTAssertEqual(Hex.encode([]), "0x")
        XCTAssertEqual(Hex.encode([0x00, 0xAB, 0xff]), "0x00abff")
        XCTAssertEqual(try Hex.decode("0x00ABff"), [0x00, 0xAB, 0xFF])
        XCTAssertEqual(try Hex.decode("0x"), [])
        for bad in ["", "00", "0x0", "0xzz", "0x 1"] {
            XCTAssertThrowsError(try Hex.decode(bad), bad)
        }
    }

    func testQuantities() throws {
        XCTAssertEqual(Hex.quantity(0), "0x0")
        XCTAssertEqual(Hex.quantity(1024), "0x400")
        XCTAssertEqual(try Hex.decodeQuantity("0x400"), 1024)
        XCTAssertEqual(try Hex.decodeQuantity("0x0"), 0)
        for bad in ["0x", "0x0400", "400", "0xfffffffffffffffff", "0xg"] {
            XCTAssertThrowsError(try Hex.decodeQuantity(bad), bad)
        }
        XCTAssertEqual(try UInt256(hexQuantity: "0x1bc16d674ec80000").description, "2000000000000000000")
        XCTAssertEqual(UInt256(0).hexQuantity, "0x0")
        XCTAssertEqual(try UInt256(decimal: "2000000000000000000").hexQuantity, "0x1bc16d674ec80000")
        XCTAssertEqual(UInt256.max.hexQuantity, "0x" + String(repeating: "f", count: 64))
        XCTAssertThrowsError(try UInt256(hexQuantity: "0x1" + String(repeating: "0", count: 64)))
    }

    func testEIP55() throws {
        // Examples from the EIP-55 text.
        let examples = [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ]
        for e in examples {
            let a = try Address(hex: e)
            XCTAssertEqual(a.checksummed, e)
            XCTAssertEqual(try Address(hex: e.lowercased()), a)
        }
        XCTAssertThrowsError(try Address(hex: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD")) { error in
            XCTAssertEqual((error as? PrimitivesError)?.kind, .checksum)
        }
        XCTAssertThrowsError(try Address(hex: "0x1234"))
        XCTAssertEqual(Address(lowByte: 0xF4).hex, "0x00000000000000000000000000000000000000f4")
    }
}
