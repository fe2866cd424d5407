import Foundation
import JSON
import Primitives
import XCTest
@testable import Modules

/// Model ids against published IPFS vectors (Fixtures/unixfs_cids.json says where each
/// came from): kubo's own ids for `ipfs add` with its defaults, and js-unixfs's for the
/// same balanced layout written with CIDv1 links.
final class ContentIDTests: XCTestCase {
    static let fixtures: JSONValue = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/unixfs_cids.json")
        return try! JSONParser.parse(Array(try! Data(contentsOf: url)))
    }()

    /// The bytes a fixture's `content` recipe describes.
    private func content(_ recipe: JSONValue?) throws -> [UInt8] {
        let recipe = try XCTUnwrap(recipe)
        if let text = recipe["text"]?.stringValue { return Array(text.utf8) }
        if let hex = recipe["hex"]?.stringValue { return try Hex.decode("0x" + hex) }
        if let length = recipe["cycle16"]?.numberValue?.uint64 {
            var bytes: [UInt8] = Array(0..<16)
            while bytes.count < Int(length) { bytes += bytes }  // doubled, as the vectors' recipe builds them
            return Array(bytes.prefix(Int(length)))
        }
        var bytes: [UInt8] = []
        for run in try XCTUnwrap(recipe["fill"]?.arrayValue) {
            let pair = try XCTUnwrap(run.arrayValue)
            let byte = try XCTUnwrap(pair[0].numberValue?.uint64), count = try XCTUnwrap(pair[1].numberValue?.uint64)
            bytes += [UInt8](repeating: UInt8(byte), count: Int(count))
        }
        return bytes
    }

    func testIpfsAddDefaultsMatchKubo() throws {
        let cases = try XCTUnwrap(Self.fixtures["ipfsAddDefaults"]?.arrayValue)
        XCTAssertEqual(cases.count, 7)
        for c in cases {
            let id = ContentID.of(file: try content(c["content"]))
            XCTAssertEqual(id.v0, c["cid"]?.stringValue, c["name"]?.stringValue ?? "")
        }
    }

    func testBalancedLayoutWithV1LinksMatchesJsUnixFS() throws {
        for c in try XCTUnwrap(Self.fixtures["v1Links"]?.arrayValue) {
            let name = c["name"]?.stringValue ?? ""
            let chunkSize = Int(try XCTUnwrap(c["chunkSize"]?.numberValue?.uint64))
            let importer = UnixFSImporter(chunkSize: chunkSize, maxLinks: 174, linksAreV1: true)
            let file = try content(c["content"])
            let root = importer.root(of: file)
            XCTAssertEqual(ContentID(rootDigest: try Hash32(root.digest)).v1, c["cid"]?.stringValue, name)
            XCTAssertEqual(root.dagSize, c["dagSize"]?.numberValue?.uint64, name)
            XCTAssertEqual(root.fileSize, UInt64(file.count), name)
            // A one-chunk file is its own leaf, so each leaf's id is the id of its chunk alone.
            for (i, leaf) in (c["leaves"]?.arrayValue ?? []).enumerated() {
                let chunk = Array(file[i * chunkSize..<min((i + 1) * chunkSize, file.count)])
                XCTAssertEqual(ContentID(rootDigest: try Hash32(importer.root(of: chunk).digest)).v1, leaf.stringValue, "\(name) leaf \(i)")
            }
        }
    }

    func testV1IsTheSameRootInBase32() throws {
        // `ipfs cid base32 QmbFMke1…` prints js-unixfs's id of the empty file: a leaf has no links.
        let empty = ContentID.of(file: [])
        XCTAssertEqual(empty.v1, "bafybeif7ztnhq65lumvvtr4ekcwd2ifwgm3awq4zfr3srh462rwyinlb4y")
        let hello = ContentID.of(file: Array("hello world".utf8))
        XCTAssertEqual(try ModelIDForm.parse(hello.v0), .content(hello))
        XCTAssertEqual(try ModelIDForm.parse(hello.v1), .content(hello))
        XCTAssertTrue(hello.v1.hasPrefix("bafybei"))
    }

    func testSHA256IdsParse() throws {
        let hex = "0x" + String(repeating: "ab", count: 32)
        XCTAssertEqual(try ModelIDForm.parse(hex), .fileSHA256(try Hash32(hex: hex)))
    }

    func testMalformedIdsNameTheRule() {
        let cases: [(String, String)] = [
            ("", "want a CIDv0 (Qm…), a CIDv1 in base32 (bafy…) or 0x + the file's SHA-256"),
            ("model.onnx", "want a CIDv0"),
            ("0x1234", "a SHA-256 id is 0x followed by 64 hex digits"),
            ("0x" + String(repeating: "zz", count: 32), "a SHA-256 id is 0x followed by 64 hex digits"),
            ("Qm0OIl", "not base58btc"),
            ("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQ", "is not a sha2-256 multihash of 32 bytes"),
            ("bafybeif7ztnhq65lumvvtr4ekcwd2ifwgm3awq4zfr3srh462rwyinlb4Y", "not lowercase base32"),
            ("bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e", "has codec 0x55, want 0x70 (dag-pb)"),
            ("b" + String(repeating: "a", count: 200), "not lowercase base32"),
            ("bciqa", "CID version"),
        ]
        for (text, reason) in cases {
            XCTAssertThrowsError(try ModelIDForm.parse(text), text) { error in
                let message = (error as? ContentIDError)?.message ?? "\(error)"
                XCTAssertTrue(message.contains(reason), "\(text): \(message)")
            }
        }
    }

    func testBase58AndBase32RoundTrip() {
        for length in [0, 1, 2, 5, 31, 32, 34, 36, 63] {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 167 &+ 13) }
            let withZeros = [0, 0] + bytes
            XCTAssertEqual(Base58.decode(Base58.encode(withZeros)), withZeros)
            XCTAssertEqual(Base32.decode(Substring(Base32.encode(bytes))), bytes)
        }
        XCTAssertEqual(Base58.encode([0, 0, 0xFF]), "115Q")
    }
}
