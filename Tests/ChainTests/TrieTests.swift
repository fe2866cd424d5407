import Primitives
import Storage
import XCTest
@testable import Chain

final class TrieTests: XCTestCase {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    func testEmptyRootAndKnownRoot() throws {
        XCTAssertEqual(MerklePatriciaTrie.emptyRoot.hex, "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
        let trie = MerklePatriciaTrie(nodes: nil)
        XCTAssertEqual(trie.rootHash, MerklePatriciaTrie.emptyRoot)
        // The classic example from the Ethereum wiki and ethereum/tests trietest "puppy".
        for (k, v) in [("do", "verb"), ("horse", "stallion"), ("doge", "coin"), ("dog", "puppy")] { try trie.put(bytes(k), bytes(v)) }
        XCTAssertEqual(trie.rootHash.hex, "0x5991bb8c6514148a29db676a14ac506cd2cd5775ace63c30a4fe457715e9ac84")
        XCTAssertEqual(try trie.get(bytes("doge")), bytes("coin"))
        XCTAssertNil(try trie.get(bytes("d")))
        XCTAssertNil(try trie.get(bytes("doges")))
    }

    func testDogglesworth() throws {
        let trie = MerklePatriciaTrie(nodes: nil)
        for (k, v) in [("doe", "reindeer"), ("dog", "puppy"), ("dogglesworth", "cat")] { try trie.put(bytes(k), bytes(v)) }
        XCTAssertEqual(trie.rootHash.hex, "0x8aad789dff2f538bca5d8ea56e8abe10f4c7ba3a5dea95fea4cd6e7c3a1168d3")
    }

    /// Random inserts, overwrites and deletes against a dictionary reference; the root is
    /// independent of insertion order and deleting back returns the earlier root.
    func testRandomAgainstReferenceAndOrderIndependence() throws {
        var rng = SystemRandomNumberGenerator()
        var reference: [[UInt8]: [UInt8]] = [:]
        let trie = MerklePatriciaTrie(nodes: nil)
        for _ in 0..<2000 {
            let key = (0..<Int.random(in: 1...4, using: &rng)).map { _ in UInt8.random(in: 0...7, using: &rng) }
            if Bool.random(using: &rng) || reference[key] == nil {
                let value = (0..<Int.random(in: 1...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                reference[key] = value
                try trie.put(key, value)
            } else {
                reference[key] = nil
                try trie.delete(key)
            }
        }
        for (k, v) in reference { XCTAssertEqual(try trie.get(k), v) }
        let shuffled = MerklePatriciaTrie(nodes: nil)
        for (k, v) in reference.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }).shuffled() { try shuffled.put(k, v) }
        XCTAssertEqual(shuffled.rootHash, trie.rootHash)

        let before = trie.rootHash
        try trie.put([9, 9, 9, 9, 9], [1])
        XCTAssertNotEqual(trie.rootHash, before)
        try trie.delete([9, 9, 9, 9, 9])
        XCTAssertEqual(trie.rootHash, before)
    }

    func testCommitReloadAndProof() throws {
        let store = MemoryStore()
        let nodes = TrieNodeStore(store: store)
        let trie = SecureTrie(root: MerklePatriciaTrie.emptyRoot, nodes: nodes)
        for i in 0..<300 { try trie.put(Array("key \(i)".utf8), Array("value \(i)".utf8)) }
        var batch = WriteBatch()
        let root = trie.trie.commit(into: &batch)
        try store.write(batch, sync: false)
        let reloaded = SecureTrie(root: root, nodes: TrieNodeStore(store: store))
        XCTAssertEqual(try reloaded.get(Array("key 123".utf8)), Array("value 123".utf8))
        // Every proof node hashes into the path from the root.
        let proof = try reloaded.proof(Array("key 7".utf8))
        XCTAssertEqual(Keccak256.hash(proof[0]), root)
        XCTAssertFalse(try reloaded.proof(Array("absent".utf8)).isEmpty)
        // A missing node is an error, not a crash or a wrong answer.
        let broken = SecureTrie(root: Keccak256.hash([1, 2, 3]), nodes: TrieNodeStore(store: MemoryStore()))
        XCTAssertThrowsError(try broken.get(Array("key 1".utf8)))
    }

    func testOrderedRootOfNoItemsIsEmptyRoot() {
        XCTAssertEqual(MerklePatriciaTrie.orderedRoot([]), MerklePatriciaTrie.emptyRoot)
    }

    /// The sorted-key builder behind `orderedRoot` gives the root that inserting the
    /// same rlp(index) keys one by one gives, across the sizes where rlp(i) changes
    /// length (1, 128, 256) and with items short enough to be embedded in their parent.
    func testOrderedRootMatchesInsertionBuiltTrie() throws {
        var rng = SystemRandomNumberGenerator()
        for count in [1, 2, 3, 15, 16, 17, 127, 128, 129, 200, 255, 256, 257, 1000, 2047, 2048, 2049, 4100] {
            let items: [[UInt8]] = (0..<count).map { i in
                let length = i % 3 == 0 ? 1 + Int(rng.next() % 8) : 20 + Int(rng.next() % 200)
                return (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
            let trie = MerklePatriciaTrie(nodes: nil)
            for (i, item) in items.enumerated() { try trie.put(RLP.encode(.uint(UInt64(i))), item) }
            XCTAssertEqual(MerklePatriciaTrie.orderedRoot(items), trie.rootHash, "\(count) items")
        }
    }
}
