import XCTest
@testable import Primitives

/// The Merkle tree of docs/traces.md: roots by the written rules, proofs of every leaf,
/// and malformed proofs refused with the rule they break.
final class MerkleTreeTests: XCTestCase {
    func leaves(_ n: Int) -> [[UInt8]] { (0..<n).map { [UInt8(truncatingIfNeeded: $0), 0xAB] } }

    func testRootsFollowTheWrittenRules() {
        let h = leaves(5).map(MerkleTree.leafHash)
        XCTAssertEqual(MerkleTree(leaves: []).root, .zero)
        XCTAssertEqual(MerkleTree(leaves: leaves(1)).root, h[0])
        XCTAssertEqual(h[0], Keccak256.hash([0x00, 0x00, 0xAB]))
        XCTAssertEqual(MerkleTree.innerHash(h[0], h[1]), Keccak256.hash([0x01] + h[0].bytes + h[1].bytes))
        XCTAssertEqual(MerkleTree(leaves: leaves(2)).root, MerkleTree.innerHash(h[0], h[1]))
        // An odd last node is promoted, never paired with itself.
        XCTAssertEqual(MerkleTree(leaves: leaves(3)).root, MerkleTree.innerHash(MerkleTree.innerHash(h[0], h[1]), h[2]))
        XCTAssertEqual(MerkleTree(leaves: leaves(5)).root,
                       MerkleTree.innerHash(MerkleTree.innerHash(MerkleTree.innerHash(h[0], h[1]), MerkleTree.innerHash(h[2], h[3])), h[4]))
        XCTAssertNotEqual(MerkleTree(leaves: leaves(3)).root, MerkleTree(leaves: leaves(3) + [leaves(3)[2]]).root)
        // A vector for other implementations (tools/onnx/trace_check.py recomputes it).
        XCTAssertEqual(MerkleTree(leaves: [[], [1], [2, 3]]).root.hex,
                       MerkleTree.innerHash(MerkleTree.innerHash(MerkleTree.leafHash([]), MerkleTree.leafHash([1])), MerkleTree.leafHash([2, 3])).hex)
    }

    func testEveryLeafOfEveryTreeSizeProves() throws {
        for n in 1...40 {
            let tree = MerkleTree(leaves: leaves(n))
            for i in 0..<n {
                let proof = try XCTUnwrap(tree.proof(ofLeaf: i))
                XCTAssertEqual(proof.siblings.count, MerkleProof.siblingCount(leafIndex: i, leafCount: n))
                XCTAssertNoThrow(try proof.verify(leaf: leaves(n)[i], root: tree.root), "leaf \(i) of \(n)")
            }
            XCTAssertNil(tree.proof(ofLeaf: n))
            XCTAssertNil(tree.proof(ofLeaf: -1))
        }
    }

    func testMalformedProofsAreRefusedByName() throws {
        let tree = MerkleTree(leaves: leaves(7))
        let good = try XCTUnwrap(tree.proof(ofLeaf: 5))
        func refusal(_ proof: MerkleProof, leaf: [UInt8]? = nil) -> String {
            do {
                try proof.verify(leaf: leaf ?? leaves(7)[5], root: tree.root)
                return "accepted"
            } catch let e as PrimitivesError where e.kind == .merkleProof { return e.message } catch { return "\(error)" }
        }
        var p = good
        p.leafCount = 0
        XCTAssertEqual(refusal(p), "leaf count is zero: an empty tree has no proofs")
        p = good
        p.leafIndex = 7
        XCTAssertEqual(refusal(p), "leaf index 7 is out of range for 7 leaves")
        p.leafIndex = -1
        XCTAssertEqual(refusal(p), "leaf index -1 is out of range for 7 leaves")
        p = good
        p.leafCount = 1 << 50
        XCTAssertEqual(refusal(p), "leaf count 1125899906842624 exceeds the limit of 281474976710656")
        p = good
        p.siblings.append(.zero)
        XCTAssertEqual(refusal(p), "proof has 4 siblings, leaf 5 of 7 needs 3")
        p = good
        p.siblings.removeLast()
        XCTAssertEqual(refusal(p), "proof has 2 siblings, leaf 5 of 7 needs 3")
        // Leaf 6 of 7 is promoted at the first level: it needs one sibling fewer.
        p = good
        p.leafIndex = 6
        XCTAssertEqual(refusal(p), "proof has 3 siblings, leaf 6 of 7 needs 2")
        p = good
        p.leafIndex = 4
        XCTAssertTrue(refusal(p).hasPrefix("proof leads to root 0x"))
        p = good
        p.siblings[1] = Keccak256.hash([1])
        XCTAssertTrue(refusal(p).hasPrefix("proof leads to root 0x"))
        XCTAssertTrue(refusal(good, leaf: leaves(7)[4]).hasPrefix("proof leads to root 0x"))
        // The count shapes the path: a verifier takes it from what it knows (the model's
        // node count, the header's chunk count), never from the prover alone.
        p = good
        p.leafCount = 6
        XCTAssertEqual(refusal(p), "proof has 3 siblings, leaf 5 of 6 needs 2")
        XCTAssertTrue(refusal(good, leaf: [9]).hasPrefix("proof leads to root 0x"))
        XCTAssertEqual(refusal(good), "accepted")
    }
}
