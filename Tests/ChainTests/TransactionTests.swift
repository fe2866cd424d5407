import Foundation
import XCTest
import Crypto
import Primitives
@testable import Chain

final class TransactionTests: XCTestCase {
    static let vectors = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/vectors/ethereum-tests/TransactionTests")

    /// ethereum/tests TransactionTests: for every London-or-later row, we accept exactly the
    /// valid transactions, and compute their hash, sender and (Shanghai rules) intrinsic gas.
    func testEthereumTransactionVectors() throws {
        var checked = 0, valid = 0
        let files = try FileManager.default.subpathsOfDirectory(atPath: Self.vectors.path).filter { $0.hasSuffix(".json") }.sorted()
        XCTAssertGreaterThan(files.count, 30)
        for file in files {
            let tests = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.vectors.appendingPathComponent(file))) as! [String: Any]
            for (name, body) in tests.sorted(by: { $0.key < $1.key }) {
                let test = body as! [String: Any]
                let raw = try Hex.decode(test["txbytes"] as! String)
                let results = test["result"] as! [String: [String: String]]
                for fork in ["London", "Paris", "Shanghai", "Cancun"] {
                    guard let expected = results[fork] else { continue }
                    checked += 1
                    let outcome = Result { () -> SignedTransaction in
                        let tx = try SignedTransaction(raw: raw)
                        XCTAssertEqual(tx.canonicalEncoding, raw, "\(name): only canonical encodings are accepted")
                        try TransactionRules.checkStateless(tx)
                        return tx
                    }
                    if let exception = expected["exception"] {
                        if case .success = outcome { XCTFail("\(file) \(name) \(fork): accepted, expected \(exception)") }
                    } else {
                        guard case .success(let tx) = outcome else {
                            XCTFail("\(file) \(name) \(fork): rejected: \(outcome)")
                            continue
                        }
                        valid += 1
                        XCTAssertEqual(tx.hash.hex, expected["hash"], "\(name)")
                        XCTAssertEqual(tx.sender.hex, expected["sender"]?.lowercased(), "\(name)")
                        if fork == "Shanghai" || fork == "Cancun" {  // EIP-3860 initcode cost starts at Shanghai
                            XCTAssertEqual(Hex.quantity(tx.intrinsicGas), expected["intrinsicGas"], "\(name)")
                        }
                    }
                }
            }
        }
        XCTAssertEqual(checked, 152)
        XCTAssertEqual(valid, 48)
    }

    /// The worked example in the EIP-155 text.
    func testEIP155Example() throws {
        let key = try PrivateKey(hex: "0x4646464646464646464646464646464646464646464646464646464646464646")
        let tx = Transaction(type: .legacy, chainId: 1, nonce: 9, maxPriorityFeePerGas: 20_000_000_000, maxFeePerGas: 20_000_000_000,
                             gasLimit: 21_000, to: try Address(hex: "0x3535353535353535353535353535353535353535"),
                             value: try UInt256(decimal: "1000000000000000000"))
        XCTAssertEqual(tx.signingHash.hex, "0xdaf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53")
        let signed = try tx.signed(with: key)
        XCTAssertEqual(Hex.encode(signed.raw), "0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83")
        XCTAssertEqual(signed.v, 37)
        XCTAssertEqual(signed.sender, key.address)
        XCTAssertEqual(try SignedTransaction(raw: signed.raw), signed)
    }

    /// ≥1,000 random transactions of all three types signed by eth-account
    /// (tools/crosscheck/make_tx_fixtures.py): same hash and sender for every one.
    func testEthAccountCrossCheck() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/eth-account-transactions.jsonl")
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        XCTAssertGreaterThanOrEqual(lines.count, 1000)
        var types = Set<UInt8>()
        for line in lines {
            let row = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: String]
            let tx = try SignedTransaction(raw: Hex.decode(row["raw"]!))
            XCTAssertEqual(tx.hash.hex, row["hash"])
            XCTAssertEqual(tx.sender.checksummed, row["sender"])
            XCTAssertEqual(tx.canonicalEncoding, tx.raw)
            types.insert(tx.transaction.type.rawValue)
        }
        XCTAssertEqual(types, [0, 1, 2])
    }

    func testMalformedTransactionsNameTheRule() throws {
        let key = try PrivateKey.generate()
        let good = try Transaction(type: .dynamicFee, chainId: 7, nonce: 1, maxPriorityFeePerGas: 1, maxFeePerGas: 2, gasLimit: 21_000,
                                   to: Address(lowByte: 9), value: 3).signed(with: key)
        let cases: [([UInt8], String)] = [
            ([], "empty"),
            ([0x03] + good.raw.dropFirst(), "type 3"),
            ([0x02, 0xC0], "12 fields"),
            (Array(good.raw.dropLast()), "rlp"),
            (good.raw + [0x00], "rlp"),
            ([0xC0], "9 fields"),
        ]
        for (raw, rule) in cases {
            XCTAssertThrowsError(try SignedTransaction(raw: raw), rule) { XCTAssertTrue("\($0)".contains(rule), "\(rule): \($0)") }
        }
        // A high-s twin of a valid signature recovers but breaks EIP-2.
        let highS = RecoverableSignature.curveOrder - UInt256(word: try Hash32(good.s))
        XCTAssertThrowsError(try SignedTransaction(transaction: good.transaction, r: good.r, s: highS.bigEndianBytes32, yParity: 1 - good.yParity)) {
            XCTAssertTrue("\($0)".contains("EIP-2"), "\($0)")
        }
    }
}
