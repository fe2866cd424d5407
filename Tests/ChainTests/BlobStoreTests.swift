import Crypto
import Foundation
import Primitives
import Storage
import XCTest
@testable import Chain

/// Module blobs (docs/storage.md, "Module blobs") through a real chain service, on a memory
/// store and on LevelDB: written in the block's batch, visible to later transactions of the
/// block, undone with a reverted call, priced per byte, capped, deleted, and the same on a
/// node that imports the block.
final class BlobStoreTests: XCTestCase {
    /// Command byte, then a 32-byte key, then data: 1 store data, 2 return the blob,
    /// 3 store data then revert, 4 delete, 5 join the blobs whose keys follow into key.
    final class BlobKeeper: NativeHandler {
        let address = Address(lowByte: 0x90)
        let name = "BlobKeeper"
        func call(_ context: NativeCallContext) throws -> [UInt8] {
            let input = context.input
            guard input.count >= 33 else { throw NativeRevert("short input") }
            let key = try Hash32(Array(input[1..<33]))
            let rest = Array(input[33...])
            switch input[0] {
            case 1: try context.storeBlob(rest, at: key)
            case 2: return try context.blob(key) ?? []
            case 3:
                try context.storeBlob(rest, at: key)
                throw NativeRevert("undo")
            case 4: try context.deleteBlob(key)
            default:
                let parts = try stride(from: 0, to: rest.count, by: 32).map { try Hash32(Array(rest[$0..<$0 + 32])) }
                return try context.joinBlobs(parts, into: key)
            }
            return []
        }
    }

    static let sender = try! PrivateKey(Keccak256.digest(Array("blob sender".utf8)))
    static let validator = try! PrivateKey(Keccak256.digest(Array("blob validator".utf8)))
    static let keeper = Address(lowByte: 0x90)
    static let blobs = BlobParameters(gasPerByte: 8, maxBytes: 1000, uploadExpiryBlocks: 10)
    var directories: [URL] = []

    override func tearDown() { for d in directories { try? FileManager.default.removeItem(at: d) } }

    func makeChain(_ store: KeyValueStore) throws -> ChainService {
        let spec = GenesisSpec(config: ChainConfig(chainId: 1, blockReward: .zero, validators: try ValidatorSet([Validator(address: Self.validator.address, consensusSigner: Self.validator)]), blobs: Self.blobs),
                               timestamp: 0, gasLimit: 30_000_000, initialBaseFee: .zero, extraData: [], alloc: [(Self.sender.address, UInt256(1))])
        let db = try ChainDatabase(store: store)
        if db.head == nil {
            let (block, batch) = try spec.genesisBlock(nodes: db.nodes)
            try db.commit(block: block, receipts: [], stateBatch: batch, genesis: [])
        }
        return ChainService(config: spec.config, database: db, handlers: NativeHandlerRegistry([BlobKeeper()]), encodeRevert: { Array($0.utf8) })
    }

    func levelDB() throws -> LevelDBStore {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("opg-blobs-\(UUID().uuidString)")
        directories.append(dir)
        return try LevelDBStore(path: dir.path)
    }

    static func key(_ n: UInt64) -> Hash32 { Hash32(word: UInt256(n)) }

    /// Produces a block of `inputs` on `producer`, imports it into `importer`, returns the results.
    func block(_ producer: ChainService, _ importer: ChainService, _ inputs: [[UInt8]]) throws -> [TransactionResult] {
        let nonce = producer.pendingNonce(of: Self.sender.address)
        for (i, input) in inputs.enumerated() {
            try producer.submit(try Transaction(type: .dynamicFee, chainId: 1, nonce: nonce + UInt64(i), maxPriorityFeePerGas: 0, maxFeePerGas: 0,
                                                gasLimit: 1_000_000, to: Self.keeper, value: .zero, data: input).signed(with: Self.sender))
        }
        let executed = try producer.produceBlock(timestamp: producer.head.timestamp + 1, coinbase: Self.validator.address)
        XCTAssertEqual(executed.block.transactions.count, inputs.count)
        try importer.importBlock(executed.block)
        XCTAssertEqual(producer.head, importer.head)
        return executed.results
    }

    func testBlobsOnBothStores() throws {
        for stores in [(MemoryStore() as KeyValueStore, MemoryStore() as KeyValueStore), (try levelDB(), try levelDB())] {
            let producer = try makeChain(stores.0), importer = try makeChain(stores.1)
            let a: [UInt8] = Array(repeating: 0xAA, count: 100), b: [UInt8] = Array(repeating: 0xBB, count: 200)
            var r = try block(producer, importer, [[1] + Self.key(1).bytes + a, [2] + Self.key(1).bytes, [3] + Self.key(2).bytes + b,
                                                   [1] + Self.key(3).bytes + b, [1] + Self.key(4).bytes + Array(repeating: 1, count: 1001)])
            XCTAssertTrue(r[0].success)
            XCTAssertEqual(r[1].returnData, a, "a later transaction of the block reads the blob")
            XCTAssertEqual(r[2].revertReason, "undo")
            XCTAssertEqual(r[3].gasUsed - r[0].gasUsed, GasSchedule.intrinsicGas(data: [1] + Self.key(3).bytes + b) - GasSchedule.intrinsicGas(data: [1] + Self.key(1).bytes + a) + 8 * 100,
                           "8 gas per stored byte")
            XCTAssertEqual(r[4].revertReason, "blob of 1001 bytes exceeds the cap of 1000 bytes")
            for chain in [producer, importer] {
                XCTAssertEqual(try chain.database.store.get(Schema.blob(Self.keeper, Self.key(1))), a, "committed in the block's batch")
                XCTAssertNil(try chain.database.store.get(Schema.blob(Self.keeper, Self.key(2))), "a reverted call leaves no blob")
                XCTAssertNil(try chain.database.store.get(Schema.blob(Self.keeper, Self.key(4))))
                XCTAssertEqual(chain.database.state(at: chain.head).blob(of: Self.keeper, key: Self.key(3)), b)
            }
            r = try block(producer, importer, [[5] + Self.key(5).bytes + Self.key(1).bytes + Self.key(3).bytes, [4] + Self.key(5).bytes,
                                               [5] + Self.key(6).bytes + Self.key(9).bytes])
            XCTAssertEqual(r[0].returnData, a + b)
            XCTAssertTrue(r[1].success)
            XCTAssertEqual(r[2].revertReason, "blob \(Self.key(9)) is missing")
            for chain in [producer, importer] {
                for n: UInt64 in [1, 3, 5, 6] { XCTAssertNil(try chain.database.store.get(Schema.blob(Self.keeper, Self.key(n))), "blob \(n)") }
            }
        }
    }

    func testBlobsSurviveReopeningLevelDB() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("opg-blobs-\(UUID().uuidString)")
        directories.append(dir)
        do {
            let producer = try makeChain(try LevelDBStore(path: dir.path)), importer = try makeChain(MemoryStore())
            try block(producer, importer, [[1] + Self.key(7).bytes + [1, 2, 3]])
        }
        let reopened = try makeChain(try LevelDBStore(path: dir.path))
        XCTAssertEqual(reopened.database.state(at: reopened.head).blob(of: Self.keeper, key: Self.key(7)), [1, 2, 3])
    }

    func testStaticCallsCannotWriteBlobs() throws {
        let chain = try makeChain(MemoryStore())
        let env = chain.builder.environment(parent: chain.head, timestamp: 1, coinbase: .zero)
        let r = chain.builder.executor.call(from: Self.sender.address, to: Self.keeper, value: .zero, data: [1] + Self.key(1).bytes + [1],
                                            gasLimit: 1_000_000, state: chain.database.state(at: chain.head), block: env, isStatic: true)
        XCTAssertEqual(r.revertReason, "write protection: blob write in a static call")
    }
}
