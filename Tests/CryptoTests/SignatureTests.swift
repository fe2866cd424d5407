import XCTest
import Primitives
@testable import Crypto

final class SignatureTests: XCTestCase {
    func testKnownKeyToAddress() throws {
        // The EIP-155 example key.
        let key = try PrivateKey(hex: "0x4646464646464646464646464646464646464646464646464646464646464646")
        XCTAssertEqual(key.address.checksummed, "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F")
        XCTAssertEqual(try PrivateKey(hex: "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318").address.checksummed,
                       "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23")
    }

    func testSignRecoverRoundTrip() throws {
        for _ in 0..<50 {
            let key = try PrivateKey.generate()
            let hash = Keccak256.hash(key.bytes + [1])
            let signature = key.sign(hash)
            XCTAssertNoThrow(try signature.validate())
            XCTAssertLessThanOrEqual(signature.sValue, RecoverableSignature.halfCurveOrder, "libsecp256k1 signs with low s")
            XCTAssertEqual(try signature.recoverAddress(hash), key.address)
            XCTAssertNotEqual(try? signature.recoverAddress(Keccak256.hash([2])), key.address)
        }
    }

    func testSignatureRulesAreEnforced() throws {
        let key = try PrivateKey.generate()
        let hash = Keccak256.hash([7])
        let good = key.sign(hash)
        let highS = RecoverableSignature(r: good.rValue, s: RecoverableSignature.curveOrder - good.sValue, recoveryID: 1 - good.recoveryID)
        XCTAssertThrowsError(try highS.recoverAddress(hash)) { XCTAssertEqual($0 as? CryptoError, CryptoError.highS) }
        for bad in [
            RecoverableSignature(r: .zero, s: good.sValue, recoveryID: 0),
            RecoverableSignature(r: good.rValue, s: .zero, recoveryID: 0),
            RecoverableSignature(r: RecoverableSignature.curveOrder, s: good.sValue, recoveryID: 0),
            RecoverableSignature(r: good.rValue, s: good.sValue, recoveryID: 2),
        ] {
            XCTAssertThrowsError(try bad.recoverAddress(hash))
        }
        XCTAssertThrowsError(try PrivateKey([UInt8](repeating: 0, count: 32)))
        XCTAssertThrowsError(try PrivateKey([UInt8](repeating: 0xFF, count: 32)))
        XCTAssertThrowsError(try PrivateKey(hex: "0x1234"))
    }

    func testSHA256() {
        XCTAssertEqual(Hex.encode(SHA256.hash(Array("abc".utf8))), "0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
