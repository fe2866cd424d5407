import Foundation
import XCTest
import Primitives
@testable import Crypto

final class KeystoreTests: XCTestCase {
    private func fixture(_ name: String) throws -> (keystore: String, password: String, key: String) {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name).json")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let keystore = String(decoding: try JSONSerialization.data(withJSONObject: object["keystore"]!), as: UTF8.self)
        return (keystore, object["password"] as! String, object["key"] as! String)
    }

    func testDecryptsEthAccountFiles() throws {
        for name in ["eth-account-scrypt-light", "eth-account-scrypt-standard", "eth-account-pbkdf2"] {
            let f = try fixture(name)
            XCTAssertEqual(try Keystore.decrypt(f.keystore, password: f.password), try PrivateKey(hex: f.key), name)
            XCTAssertThrowsError(try Keystore.decrypt(f.keystore, password: "wrong"), name) {
                XCTAssertTrue("\($0)".contains("MAC mismatch"))
            }
        }
    }

    func testRoundTripAndEthAccountReadsOurs() throws {
        let key = try PrivateKey.generate()
        let text = try Keystore.encrypt(key, password: "pässword", scrypt: .light)
        XCTAssertEqual(try Keystore.decrypt(text, password: "pässword"), key)
        XCTAssertEqual(try Keystore.address(of: text), key.address)
        let python = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".venv/bin/python")
        guard FileManager.default.isExecutableFile(atPath: python.path) else { return }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ks-\(UUID().uuidString).json")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = python
        process.arguments = [python.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("tools/crosscheck/keystore_decrypt.py").path, file.path, "pässword"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let printed = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(printed.trimmingCharacters(in: .whitespacesAndNewlines), key.address.checksummed)
    }

    func testMalformedFilesNameTheField() {
        let cases: [(String, String)] = [
            ("{", "keystore"), (#"{"version":2}"#, "version"), (#"{"version":3}"#, "crypto"),
            (#"{"version":3,"crypto":{"cipher":"aes-256-gcm"}}"#, "cipher"),
            (#"{"version":3,"crypto":{"cipher":"aes-128-ctr","ciphertext":"zz"}}"#, "ciphertext"),
            (#"{"version":3,"crypto":{"cipher":"aes-128-ctr","ciphertext":"00","cipherparams":{"iv":"00"},"mac":"00","kdfparams":{"salt":"00","dklen":32},"kdf":"argon"}}"#, "kdf"),
            (#"{"version":3,"crypto":{"cipher":"aes-128-ctr","ciphertext":"00","cipherparams":{"iv":"00"},"mac":"00","kdfparams":{"salt":"00","dklen":32,"n":3,"r":8,"p":1},"kdf":"scrypt"}}"#, "power of two"),
        ]
        for (text, field) in cases {
            XCTAssertThrowsError(try Keystore.decrypt(text, password: "x"), text) { XCTAssertTrue("\($0)".contains(field), "\($0)") }
        }
    }
}
