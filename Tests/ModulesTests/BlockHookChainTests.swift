import Crypto
import Primitives
import Storage
import XCTest
@testable import Chain
@testable import Modules

/// Block hooks through the real chain service: the producer and an importing node run
/// them identically, so a block whose state a hook changed validates elsewhere.
final class BlockHookChainTests: XCTestCase {
    /// Counts blocks in slot 0 (begin) and records the last block's transaction count's
    /// parity in slot 1 (end), so both hooks change the state root.
    final class BlockCounter: NativeHandler {
        let address = Address(lowByte: 0x80)
        let name = "BlockCounter"
        func call(_ context: NativeCallContext) throws -> [UInt8] { try context.load(.slot(0)).bytes }
        func beginBlock(_ context: NativeCallContext) throws { try context.storeWord(try context.loadWord(.slot(0)) + .one, at: .slot(0)) }
        func endBlock(_ context: NativeCallContext) throws { try context.storeWord(UInt256(context.block.number), at: .slot(1)) }
    }

    /// A chain in memory (chain id 1, 10 OPG for alice) proposed by `validator`, running `handlers`.
    static func makeChain(_ validator: PrivateKey, handlers: NativeHandlerRegistry) throws -> ChainService {
        let spec = GenesisSpec(config: ChainConfig(chainId: 1, blockReward: UInt256(7), validators: try ValidatorSet([Validator(address: validator.address, consensusSigner: validator)])), timestamp: 0,
                               gasLimit: 30_000_000, initialBaseFee: UInt256(1_000_000_000), extraData: [],
                               alloc: [(TestSigner.alice.address, UInt256(10).multipliedReportingOverflow(by: UInt256(1_000_000_000_000_000_000)).partialValue)])
        let db = try ChainDatabase(store: MemoryStore())
        let (block, batch) = try spec.genesisBlock(nodes: db.nodes)
        try db.commit(block: block, receipts: [], stateBatch: batch, genesis: [])
        return ChainService(config: spec.config, database: db, handlers: handlers, encodeRevert: ABI.encodeRevert)
    }

    func makeChain(_ validator: PrivateKey) throws -> ChainService {
        try Self.makeChain(validator, handlers: NativeHandlerRegistry(StandardModules.all() + [BlockCounter()]))
    }

    func testHooksRunWhenProposingAndWhenValidating() throws {
        let validator = try PrivateKey(Keccak256.digest(Array("hook validator".utf8)))
        let producer = try makeChain(validator), importer = try makeChain(validator)
        for n in 1...3 {
            let tx = try Transaction(type: .dynamicFee, chainId: 1, nonce: UInt64(n - 1), maxPriorityFeePerGas: 1,
                                     maxFeePerGas: UInt256(10_000_000_000), gasLimit: 21_000, to: Address(lowByte: 0xCC), value: 1)
                .signed(with: TestSigner.alice)
            try producer.submit(tx)
            let executed = try producer.produceBlock(timestamp: UInt64(n), coinbase: validator.address)
            XCTAssertEqual(executed.block.transactions.count, 1)
            try importer.importBlock(executed.block)
        }
        for chain in [producer, importer] {
            let state = chain.database.state(at: chain.head)
            XCTAssertEqual(UInt256(word: state.storage(of: Address(lowByte: 0x80), slot: .slot(0))), 3)
            XCTAssertEqual(UInt256(word: state.storage(of: Address(lowByte: 0x80), slot: .slot(1))), 3)
            let ledger = SupplyLedger(state)
            let sum = [TestSigner.alice.address, validator.address, Address(lowByte: 0xCC)].reduce(UInt256.zero) { $0 + state.balance(of: $1) }
            XCTAssertEqual(sum, ledger.totalSupply)
        }
        XCTAssertEqual(producer.head, importer.head)
    }
}
