import Crypto
import Modules
import Primitives
import Storage
import XCTest
@testable import Chain

/// Block production, validation, storage and the supply invariant over a real
/// `ChainService` on an in-memory store, with real signed transactions.
final class BlockTests: XCTestCase {
    static let chainId: UInt64 = 5197895
    let validator = try! PrivateKey(Keccak256.digest(Array("test validator".utf8)))
    let users = (0..<12).map { try! PrivateKey(Keccak256.digest(Array("test user \($0)".utf8))) }
    let reward = UInt256(2_000_000_000_000_000_000)

    func makeChain(store: KeyValueStore = MemoryStore()) throws -> (ChainService, GenesisSpec) {
        let spec = GenesisSpec(config: ChainConfig(chainId: Self.chainId, blockReward: reward, validators: try ValidatorSet([Validator(address: validator.address, consensusSigner: validator)])),
                               timestamp: 0, gasLimit: 30_000_000, initialBaseFee: UInt256(1_000_000_000), extraData: [],
                               alloc: users.map { ($0.address, try! UInt256(decimal: "1000000000000000000000000")) })
        let db = try ChainDatabase(store: store)
        if db.head == nil {
            let (block, batch) = try spec.genesisBlock(nodes: db.nodes)
            try db.commit(block: block, receipts: [], stateBatch: batch, genesis: [])
        }
        let service = ChainService(config: spec.config, database: db, handlers: StandardModules.registry(),
                                   encodeRevert: ABI.encodeRevert, poolLimits: MempoolLimits(maxPerAccount: 1000, pendingSlots: 100_000))
        return (service, spec)
    }

    func transfer(_ key: PrivateKey, nonce: UInt64, to: Address, value: UInt64, tip: UInt64 = 1_000_000_000,
                  data: [UInt8] = [], gas: UInt64 = 21_000, type: TransactionType = .dynamicFee) throws -> SignedTransaction {
        let tx = Transaction(type: type, chainId: Self.chainId, nonce: nonce, maxPriorityFeePerGas: UInt256(type == .dynamicFee ? tip : 20_000_000_000),
                             maxFeePerGas: UInt256(20_000_000_000), gasLimit: gas, to: to, value: UInt256(value), data: data, accessList: [])
        return try tx.signed(with: key)
    }

    func testHeaderRLPRoundTripAndBaseFee() throws {
        var h = Header(parentHash: Keccak256.hash([1]), coinbase: validator.address, stateRoot: Keccak256.hash([2]),
                       transactionsRoot: MerklePatriciaTrie.emptyRoot, receiptsRoot: MerklePatriciaTrie.emptyRoot, logsBloom: Bloom(),
                       number: 7, gasLimit: 30_000_000, gasUsed: 15_000_000, timestamp: 99, baseFeePerGas: UInt256(1_000_000_000),
                       validatorsHash: Keccak256.hash([3]), nextValidatorsHash: Keccak256.hash([4]))
        XCTAssertEqual(try Header(rlp: h.rlp), h)
        let fields = try RLP.decode(h.rlp).list()
        XCTAssertEqual(fields.count, 18, "Ethereum's 16 London fields, then the two validator-set hashes")
        XCTAssertEqual(try fields[16].bytes(), Keccak256.hash([3]).bytes)
        XCTAssertEqual(try fields[17].bytes(), Keccak256.hash([4]).bytes)
        XCTAssertEqual(h.nextBaseFee, UInt256(1_000_000_000), "at target the base fee holds")
        h.gasUsed = 30_000_000
        XCTAssertEqual(h.nextBaseFee, UInt256(1_125_000_000), "a full block raises it by 1/8")
        h.gasUsed = 0
        XCTAssertEqual(h.nextBaseFee, UInt256(875_000_000), "an empty block lowers it by 1/8")
        XCTAssertThrowsError(try Header(rlp: Array(h.rlp.dropLast())))
    }

    func testReceiptEncodingRoundTripsAndRejectsNonCanonicalForms() throws {
        let log = Log(address: validator.address, topics: [Keccak256.hash([7])], data: [1, 2, 3])
        for type in [TransactionType.legacy, .accessList, .dynamicFee] {
            let r = Receipt(type: type, success: type != .accessList, cumulativeGasUsed: 63_000, logs: [log])
            XCTAssertEqual(try Receipt(encoded: r.encoded), r)
            XCTAssertEqual(try Receipt(stored: r.storedEncoding), r, "the stored form rebuilds the bloom")
            XCTAssertLessThanOrEqual(r.storedEncoding.count + 256, r.encoded.count)
        }
        let body = Receipt(type: .legacy, success: true, cumulativeGasUsed: 21_000, logs: []).encoded
        // Type byte 0 would decode to a legacy receipt that encodes without it.
        XCTAssertThrowsError(try Receipt(encoded: [0] + body)) { XCTAssertTrue("\($0)".contains("receipt type 0")) }
        // Status is 0 or 1; any other value would re-encode as 1 (found by Fuzz/FuzzChainData).
        let badStatus = RLP.encode(.list([.uint(UInt64(2)), .uint(UInt64(21_000)), .bytes(Bloom().bytes), .list([])]))
        XCTAssertThrowsError(try Receipt(encoded: [2] + badStatus)) { XCTAssertTrue("\($0)".contains("status must be 0 or 1")) }
        XCTAssertThrowsError(try Receipt(encoded: []))
        XCTAssertThrowsError(try Receipt(encoded: [2] + body.dropLast()))
    }

    func testBloom() throws {
        var bloom = Bloom()
        bloom.insert(validator.address.bytes)
        XCTAssertTrue(bloom.mightContain(validator.address.bytes))
        XCTAssertFalse(bloom.mightContain(users[0].address.bytes))
        XCTAssertEqual(bloom.bytes.filter { $0 != 0 }.count <= 3, true)
        XCTAssertThrowsError(try Bloom([UInt8](repeating: 0, count: 255)))
    }

    func testProposeValidateAndReimport() throws {
        let (chain, _) = try makeChain()
        for i in 0..<5 { try chain.submit(try transfer(users[0], nonce: UInt64(i), to: users[1].address, value: 1)) }
        try chain.submit(try transfer(users[2], nonce: 0, to: users[1].address, value: 1, type: .legacy))
        let executed = try chain.produceBlock(timestamp: 10, coinbase: validator.address)
        XCTAssertEqual(executed.block.transactions.count, 6)
        XCTAssertEqual(executed.block.header.gasUsed, 6 * 21_000)
        XCTAssertEqual(chain.mempool.count, 0)

        // A second chain imports the block from its raw transactions and reaches the same state.
        let (other, _) = try makeChain()
        let raws = executed.block.transactions.map(\.raw)
        let txs = try BlockBuilder.recoverSenders(raws).map { try $0.get() }
        try other.importBlock(Block(header: executed.block.header, transactions: txs))
        XCTAssertEqual(other.head.hash, chain.head.hash)

        // Tampering with any checked header field is caught.
        var bad = executed.block.header
        bad.stateRoot = Keccak256.hash([9])
        let (third, _) = try makeChain()
        XCTAssertThrowsError(try third.importBlock(Block(header: bad, transactions: txs))) { XCTAssertTrue("\($0)".contains("stateRoot")) }
        bad = executed.block.header
        bad.coinbase = users[0].address
        XCTAssertThrowsError(try third.importBlock(Block(header: bad, transactions: txs))) { XCTAssertTrue("\($0)".contains("validator")) }
        XCTAssertEqual(third.head.number, 0, "nothing was committed")
    }

    /// The pipelined import (senders recovered on worker threads while executing, the
    /// transactions root from raw bytes) reaches the producer's block for blocks that
    /// span several recovery chunks, and refuses a block with a bad transaction whole.
    func testPipelinedRawImportMatchesProducer() throws {
        let (chain, _) = try makeChain()
        var nonces = [UInt64](repeating: 0, count: users.count)
        for i in 0..<300 {
            let u = i % users.count
            try chain.submit(try transfer(users[u], nonce: nonces[u], to: users[(u + 1) % users.count].address, value: UInt64(i + 1),
                                          type: [TransactionType.legacy, .accessList, .dynamicFee][i % 3]))
            nonces[u] += 1
        }
        let executed = try chain.produceBlock(timestamp: 10, coinbase: validator.address)
        XCTAssertEqual(executed.block.transactions.count, 300)
        let raws = executed.block.transactions.map(\.raw)

        let (other, _) = try makeChain()
        let imported = try other.importBlock(header: executed.block.header, rawTransactions: raws)
        XCTAssertEqual(other.head.hash, chain.head.hash)
        XCTAssertEqual(imported.block.transactions.map(\.sender), executed.block.transactions.map(\.sender))
        XCTAssertEqual(imported.receipts, executed.receipts)

        let (third, _) = try makeChain()
        var broken = raws
        broken[200] = Array(broken[200].dropLast())
        XCTAssertThrowsError(try third.importBlock(header: executed.block.header, rawTransactions: broken)) {
            XCTAssertTrue("\($0)".contains("transaction 200 is invalid"), "\($0)")
        }
        var swapped = raws
        swapped.swapAt(3, 4)
        XCTAssertThrowsError(try third.importBlock(header: executed.block.header, rawTransactions: swapped))
        XCTAssertThrowsError(try third.importBlock(header: executed.block.header, rawTransactions: Array(raws.dropLast()))) {
            XCTAssertTrue("\($0)".contains("does not match"), "\($0)")
        }
        XCTAssertEqual(third.head.number, 0, "nothing was committed")
        let empty = try third.produceBlock(timestamp: 11, coinbase: validator.address)
        let (fourth, _) = try makeChain()
        try fourth.importBlock(header: empty.block.header, rawTransactions: [])
        XCTAssertEqual(fourth.head.hash, empty.block.hash)
    }

    /// A proposal's transactions that the verifier's pool holds are taken from the pool (their
    /// senders recovered at admission) and give the producer's block; a lookup answering with a
    /// transaction whose raw bytes differ from the block's is ignored, and the block's own bytes
    /// are recovered.
    func testVerifyTakesPooledTransactionsOnlyWhenTheirBytesMatch() throws {
        let (chain, _) = try makeChain()
        let (verifier, _) = try makeChain()
        for i in 0..<130 {
            let u = i % users.count
            let tx = try transfer(users[u], nonce: UInt64(i / users.count), to: users[(u + 1) % users.count].address, value: UInt64(i + 1))
            try chain.submit(tx)
            if i % 2 == 0 { try verifier.submit(tx) }
        }
        let executed = try chain.produceBlock(timestamp: 10, coinbase: validator.address)
        let raws = executed.block.transactions.map(\.raw)
        XCTAssertEqual(raws.count, 130)
        let verified = try verifier.verify(header: executed.block.header, rawTransactions: raws)
        XCTAssertEqual(verified.block.transactions.map(\.sender), executed.block.transactions.map(\.sender))
        XCTAssertEqual(verified.receipts, executed.receipts)
        try verifier.commit(verified, certificate: [])
        XCTAssertEqual(verifier.head.hash, chain.head.hash)

        let (third, _) = try makeChain()
        let impostor = try transfer(users[0], nonce: 0, to: users[1].address, value: 999)
        let checked = try third.builder.validate(header: executed.block.header, rawTransactions: raws, parent: third.head,
                                                 known: { _ in impostor })
        XCTAssertEqual(checked.block.transactions.map(\.raw), raws)
        XCTAssertEqual(checked.receipts, executed.receipts)
    }

    func testReopenFromStoreKeepsHeadAndState() throws {
        let store = MemoryStore()
        let (chain, _) = try makeChain(store: store)
        try chain.submit(try transfer(users[3], nonce: 0, to: users[4].address, value: 777))
        try chain.produceBlock(timestamp: 5, coinbase: validator.address)
        let (reopened, _) = try makeChain(store: store)
        XCTAssertEqual(reopened.head, chain.head)
        let tx = try XCTUnwrap(reopened.database.transactions(number: 1)?.first)
        XCTAssertEqual(tx.sender, users[3].address)
        XCTAssertEqual(try reopened.database.location(ofTransaction: tx.hash)?.block, 1)
        XCTAssertEqual(reopened.database.state(at: reopened.head).nonce(of: users[3].address), 1)
    }

    /// Thousands of random transfers, calldata and Notary calls (some reverting) over
    /// many blocks: after each block the balances of every account sum to
    /// genesis supply + minted − burned, as the ledger in state says.
    func testSupplyInvariantUnderRandomWorkload() throws {
        let (chain, spec) = try makeChain()
        var generator = SystemRandomNumberGenerator()
        var nonces = [UInt64](repeating: 0, count: users.count)
        let notary = Address(lowByte: 1)
        var everyone = Set(users.map(\.address))
        everyone.insert(validator.address)
        everyone.insert(notary)
        var submitted = 0
        for block in 1...25 {
            for _ in 0..<120 {
                let s = Int.random(in: 0..<users.count, using: &generator)
                let tx: SignedTransaction
                switch Int.random(in: 0..<10, using: &generator) {
                case 0..<6:
                    let to = Bool.random(using: &generator) ? users.randomElement(using: &generator)!.address
                                                             : Address(lowByte: UInt8.random(in: 0x80...0xF0, using: &generator))
                    everyone.insert(to)
                    tx = try transfer(users[s], nonce: nonces[s], to: to, value: UInt64.random(in: 0...10_000_000, using: &generator),
                                      tip: UInt64.random(in: 0...3_000_000_000, using: &generator))
                case 6..<8:
                    let data = (0..<Int.random(in: 1...64, using: &generator)).map { _ in UInt8.random(in: 0...3, using: &generator) }
                    tx = try transfer(users[s], nonce: nonces[s], to: users[(s + 1) % users.count].address, value: 1, data: data, gas: 30_000)
                default:
                    // Digests from a small set, so that some notarizations revert ("already notarized").
                    let digest = Keccak256.digest([UInt8.random(in: 0...20, using: &generator)])
                    let data = try ABI.encodeCall("notarize(bytes32,string)", [.fixedBytes(digest), .string("n")])
                    tx = try transfer(users[s], nonce: nonces[s], to: notary, value: 0, data: data, gas: 200_000)
                }
                try chain.submit(tx)
                nonces[s] += 1
                submitted += 1
            }
            let executed = try chain.produceBlock(timestamp: UInt64(block), coinbase: validator.address)
            XCTAssertEqual(executed.excluded.count, 0)
            let state = chain.database.state(at: chain.head)
            let ledger = SupplyLedger(state)
            var sum = UInt256.zero
            for a in everyone.sorted() { sum = sum + state.balance(of: a) }
            XCTAssertEqual(sum, ledger.totalSupply, "block \(block)")
            XCTAssertEqual(ledger.genesisSupply, spec.totalAlloc)
            XCTAssertEqual(ledger.minted, reward * UInt256(UInt64(block)))
        }
        XCTAssertGreaterThanOrEqual(submitted, 3000)
        XCTAssertEqual(chain.mempool.count, 0)
        let receipts = (1...chain.head.number).flatMap { (try? chain.database.receipts(number: $0)) ?? [] }
        XCTAssertEqual(receipts.count, submitted)
        XCTAssertTrue(receipts.contains { !$0.success }, "some notarizations reverted")
        XCTAssertTrue(receipts.contains { !$0.logs.isEmpty })
    }
}
