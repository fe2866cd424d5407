import XCTest
@testable import Primitives

final class KeccakTests: XCTestCase {
    func testKnownDigests() {
        XCTAssertEqual(Keccak256.hash([]).hex, "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
        XCTAssertEqual(Keccak256.hash(Array("abc".utf8)).hex, "0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45")
        // RLP of the empty string, whose hash is the empty trie root.
        XCTAssertEqual(Keccak256.hash([0x80]).hex, "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
        XCTAssertEqual(
            Keccak256.hash(Array("The quick brown fox jumps over the lazy dog".utf8)).hex,
            "0x4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15")
    }

    func testBlockBoundariesMatchIncrementalSponge() {
        // Lengths around the 136-byte rate exercise padding in the same and in a new block.
        for length in [0, 1, 55, 56, 134, 135, 136, 137, 271, 272, 273, 1000] {
            let input = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            var sponge = KeccakSponge()
            var i = 0
            while i < input.count {
                let n = min(13, input.count - i)
                sponge.absorb(Array(input[i..<(i + n)]))
                i += n
            }
            XCTAssertEqual(sponge.finish(), Keccak256.digest(input), "length \(length)")
        }
    }

    func testPaddingAtRateMinusOne() {
        // 135 bytes: the 0x01 and 0x80 pad bits share the last byte (0x81).
        XCTAssertEqual(
            Keccak256.hash([UInt8](repeating: 0x61, count: 135)).hex,
            "0x34367dc248bbd832f4e3e69dfaac2f92638bd0bbd18f2912ba4ef454919cf446")
    }

    func testMultiBlockDigestsMatchEthUtils() {
        // Digests of the pattern i·31+7 computed with eth_utils.keccak (pycryptodome).
        let expected = [
            136: "eaccfc5aa7bf6bf1941809ef7cc9ee6a2fa306a7dd1de3f2e8504849b0a5e3c4",
            273: "b47ca693c8d675afa3b0b644da6dc96613f07c6f8971f9a0077ed6b7c994561d",
            1000: "c77d9bffcae9f0984e6dff7eea63cc14cad5f367f791e27b08a1953f192f30a5",
        ]
        for (length, digest) in expected.sorted(by: { $0.key < $1.key }) {
            let input = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            XCTAssertEqual(Keccak256.hash(input).hex, "0x" + digest, "length \(length)")
        }
    }
}
