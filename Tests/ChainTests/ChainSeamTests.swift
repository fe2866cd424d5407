import Crypto
import Foundation
import Primitives
import Storage
import XCTest
@testable import Chain

/// The seam a consensus engine drives (propose, verify, commit with a certificate), the
/// header rules, the validator set's canonical hash and the block-listener queue, over a
/// real `ChainService` on an in-memory store.
extension BlockTests {
    func testProposeVerifyAndCommitWithACertificate() throws {
        let (chain, _) = try makeChain()
        let (peer, _) = try makeChain()
        try chain.submit(try transfer(users[0], nonce: 0, to: users[1].address, value: 5))
        let proposal = try chain.propose(timestamp: 3, proposer: validator.address)
        XCTAssertEqual(chain.head.number, 0, "propose does not commit")
        XCTAssertEqual(proposal.block.transactions.count, 1)

        let verified = try peer.verify(proposal.block, proposer: validator.address)
        XCTAssertEqual(peer.head.number, 0, "verify does not commit")
        XCTAssertEqual(verified.block.hash, proposal.block.hash)

        let certificate: [UInt8] = [0xC0, 1, 2, 3]
        try chain.commit(proposal, certificate: certificate)
        try peer.commit(verified, certificate: certificate)
        for c in [chain, peer] {
            XCTAssertEqual(c.head.hash, proposal.block.hash)
            XCTAssertEqual(try c.database.certificate(number: 1), certificate)
            XCTAssertNil(try c.database.certificate(number: 0), "block 0 has no certificate")
        }
        XCTAssertEqual(chain.mempool.count, 0, "commit prunes the pool")

        // The proposer of the round is the caller's to name.
        let (other, _) = try makeChain()
        XCTAssertThrowsError(try other.verify(proposal.block, proposer: users[0].address)) {
            XCTAssertTrue("\($0)".contains("is not the round's proposer"), "\($0)")
        }
        XCTAssertThrowsError(try other.propose(timestamp: 3, proposer: users[0].address)) {
            XCTAssertTrue("\($0)".contains("is not a validator"), "\($0)")
        }
    }

    /// A block executed on a head that has since moved carries flat-index entries of the
    /// old state: the database refuses it, writing nothing.
    func testACommitOnAStaleParentIsRefused() throws {
        let (chain, _) = try makeChain()
        let first = try chain.propose(timestamp: 1, proposer: validator.address)
        let rival = try chain.propose(timestamp: 2, proposer: validator.address)
        try chain.commit(first, certificate: [])
        XCTAssertThrowsError(try chain.commit(rival, certificate: [])) { error in
            let stale = error as? StaleBlockError
            XCTAssertEqual(stale?.number, 1)
            XCTAssertEqual(stale?.headNumber, 1)
            XCTAssertEqual(stale?.headHash, first.block.hash)
            XCTAssertTrue("\(error)".contains("does not extend the head 1"), "\(error)")
        }
        XCTAssertEqual(chain.head.hash, first.block.hash)
        XCTAssertEqual(try chain.database.hash(number: 1), first.block.hash, "the refused block wrote nothing")

        let empty = try ChainDatabase(store: MemoryStore())
        XCTAssertThrowsError(try empty.commit(block: first.block, receipts: [], stateBatch: WriteBatch())) {
            XCTAssertEqual(($0 as? StaleBlockError)?.headNumber, nil)
            XCTAssertTrue("\($0)".contains("no genesis yet"))
        }
    }

    /// Every header rule, each broken on its own, is refused with the rule's name before
    /// anything is executed or committed.
    func testHeaderRules() throws {
        let (chain, _) = try makeChain()
        let good = try chain.propose(timestamp: 1, proposer: validator.address).block
        let cases: [(String, (inout Header) -> Void)] = [
            ("ommersHash", { $0.ommersHash = .zero }),
            ("difficulty", { $0.difficulty = .one }),
            ("nonce", { $0.nonce = [0, 0, 0, 0, 0, 0, 0, 1] }),
            ("nonce", { $0.nonce = [0, 0, 0, 0] }),
            ("mixHash", { $0.mixHash = Keccak256.hash([1]) }),
            ("extraData", { $0.extraData = [UInt8](repeating: 1, count: 33) }),
            ("is not a validator", { $0.coinbase = Address(lowByte: 0x42) }),
            ("validatorsHash", { $0.validatorsHash = Keccak256.hash([2]) }),
            ("nextValidatorsHash", { $0.nextValidatorsHash = Keccak256.hash([3]) }),
            ("parentHash", { $0.parentHash = Keccak256.hash([4]) }),
            ("number", { $0.number = 2 }),
            ("gasLimit", { $0.gasLimit += 1 }),
            ("baseFeePerGas", { $0.baseFeePerGas = .one }),
        ]
        for (rule, tamper) in cases {
            var header = good.header
            tamper(&header)
            XCTAssertThrowsError(try chain.verify(Block(header: header, transactions: []))) { error in
                XCTAssertTrue(error is InvalidBlock && "\(error)".contains(rule), "\(rule): \(error)")
            }
            XCTAssertThrowsError(try chain.verify(header: header, rawTransactions: [])) { XCTAssertTrue("\($0)".contains(rule), "\(rule): \($0)") }
        }
        XCTAssertEqual(try chain.verify(good).block.hash, good.hash)
        XCTAssertEqual(chain.head.number, 0)
    }

    /// The set's hash does not depend on the order validators are listed in, and the
    /// set refuses what it cannot hash soundly.
    func testValidatorSetCanonicalOrderAndHash() throws {
        let keys = (1...3).map { try! PrivateKey(Keccak256.digest([UInt8($0)])) }
        let validators = keys.enumerated().map { i, k in Validator(address: k.address, consensusSigner: k, power: UInt64(i + 1)) }
        let set = try ValidatorSet(validators)
        XCTAssertEqual(try ValidatorSet(validators.reversed()), set)
        XCTAssertEqual(set.validators.map(\.address), validators.map(\.address).sorted())
        XCTAssertEqual(set.totalPower, 6)
        let items = set.validators.map { RLPItem.list([.bytes($0.address.bytes), .bytes($0.consensusKey), .uint($0.power)]) }
        XCTAssertEqual(set.hash, Keccak256.hash(RLP.encode(.list(items))))
        XCTAssertNotEqual(try ValidatorSet(Array(validators.dropLast())).hash, set.hash)

        XCTAssertThrowsError(try ValidatorSet([]))
        XCTAssertThrowsError(try ValidatorSet([validators[0], validators[0]])) { XCTAssertTrue("\($0)".contains("listed twice")) }
        XCTAssertThrowsError(try Validator(address: keys[0].address, consensusKey: keys[0].publicKey.uncompressed, power: 1))
        XCTAssertThrowsError(try Validator(address: keys[0].address, consensusKey: keys[0].publicKey.compressed, power: 0))
        XCTAssertEqual(try Validator(address: keys[0].address, consensusKey: keys[0].publicKey.compressed, power: 1), validators[0])
    }

    /// Listeners run on their own thread, in commit order; a listener that falls more
    /// than the backlog behind loses the oldest blocks, with a notice.
    func testBlockListenersRunOffTheCommittingThread() throws {
        let (chain, _) = try makeChain()
        let committer = Thread.current
        let lock = NSLock()
        var seen: [UInt64] = []
        var onCommitter = false
        chain.onBlock { block in
            lock.withLock {
                seen.append(block.number)
                onCommitter = onCommitter || Thread.current == committer
            }
        }
        for t in 1...5 { try chain.produceBlock(timestamp: UInt64(t), coinbase: validator.address) }
        chain.waitForBlockListeners()
        XCTAssertEqual(lock.withLock { seen }, [1, 2, 3, 4, 5])
        XCTAssertFalse(lock.withLock { onCommitter })

        let notices = NSLock()
        var messages: [String] = []
        let gate = DispatchSemaphore(value: 0)
        let queue = BlockNotifications(capacity: 2) { m in notices.withLock { messages.append(m) } }
        var delivered: [UInt64] = []
        let entered = DispatchSemaphore(value: 0)
        queue.add { block in
            if block.number == 1 {
                entered.signal()
                gate.wait()
            }
            lock.withLock { delivered.append(block.number) }
        }
        let blocks = (1...5).map { n in
            var header = chain.head
            header.number = UInt64(n)
            return Block(header: header, transactions: [])
        }
        queue.enqueue(blocks[0])
        entered.wait()
        for b in blocks.dropFirst() { queue.enqueue(b) }  // block 1 is held by the listener: 2…5 wait, 2 places
        gate.signal()
        queue.waitUntilDelivered()
        XCTAssertEqual(lock.withLock { delivered }, [1, 4, 5], "the newest blocks are kept")
        XCTAssertEqual(notices.withLock { messages }.count, 2)
        XCTAssertTrue(notices.withLock { messages }.allSatisfy { $0.contains("block listeners are 2 blocks behind") })
    }
}
