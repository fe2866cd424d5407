import Crypto
import Foundation
import Inference
import Primitives
import Storage
import XCTest
@testable import Chain
@testable import Modules

/// The model registry through the real chain service: uploads in signed transactions,
/// blocks produced and re-validated by a second node, on LevelDB and in memory.
final class ModelRegistryTests: XCTestCase {
    static let models = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("InferenceTests/Fixtures/models")
    static let validator = try! PrivateKey(Keccak256.digest(Array("registry validator".utf8)))
    static let registry = Address(lowByte: 0xF3)

    /// A chain with `blobs`, and a second one that imports every block the first makes.
    final class Harness {
        let producer: ChainService
        let importer: ChainService
        var nonce: UInt64 = 0
        var time: UInt64 = 0
        private let directories: [URL]

        /// A chain whose genesis runs reference version `referenceVersion` from block
        /// `referenceVersionFrom` (nil: a genesis that wrote no version, as before versions).
        init(blobs: BlobParameters = .default, gasLimit: UInt64 = 30_000_000, levelDB: Bool,
             referenceVersion: UInt64? = ModelRegistry.latestReferenceVersion, referenceVersionFrom: UInt64 = 0) throws {
            var directories: [URL] = []
            func make() throws -> ChainService {
                let store: KeyValueStore
                if levelDB {
                    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("registry-\(UUID().uuidString)")
                    directories.append(dir)
                    store = try LevelDBStore(path: dir.path)
                } else {
                    store = MemoryStore()
                }
                let spec = GenesisSpec(config: ChainConfig(chainId: 1, blockReward: .zero, validators: try ValidatorSet([Validator(address: validator.address, consensusSigner: validator)]), blobs: blobs),
                                       timestamp: 0, gasLimit: gasLimit, initialBaseFee: .zero, extraData: [],
                                       alloc: [(TestSigner.alice.address, UInt256(1_000_000))],
                                       moduleStorage: try referenceVersion.map { try ModelRegistry.genesisStorage(referenceVersion: $0, fromBlock: referenceVersionFrom) } ?? [])
                let db = try ChainDatabase(store: store)
                let (block, batch) = try spec.genesisBlock(nodes: db.nodes)
                try db.commit(block: block, receipts: [], stateBatch: batch, genesis: [])
                return ChainService(config: spec.config, database: db, handlers: StandardModules.registry(), encodeRevert: ABI.encodeRevert,
                                    poolLimits: MempoolLimits(maxPerAccount: 1000))
            }
            producer = try make()
            importer = try make()
            self.directories = directories
        }

        deinit { for d in directories { try? FileManager.default.removeItem(at: d) } }

        /// Sends one transaction per call in one block; returns the results.
        @discardableResult
        func block(_ calls: [(String, [ABIValue])], gas: UInt64 = 5_000_000) throws -> [TransactionResult] {
            for (signature, values) in calls {
                try producer.submit(try TestSigner.transaction(nonce: nonce, to: registry, data: ABI.encodeCall(signature, values), gas: gas))
                nonce += 1
            }
            time += 1
            let executed = try producer.produceBlock(timestamp: time, coinbase: validator.address)
            XCTAssertEqual(executed.block.transactions.count, calls.count, "every call is included")
            try importer.importBlock(executed.block)
            return executed.results
        }

        /// A view call at the head.
        func view(_ signature: String, _ values: [ABIValue], _ types: [ABIType]) throws -> [ABIValue] {
            let head = producer.head
            let env = producer.builder.environment(parent: head, timestamp: head.timestamp, coinbase: .zero)
            let r = producer.builder.executor.call(from: TestSigner.alice.address, to: registry, value: .zero,
                                                   data: try ABI.encodeCall(signature, values), gasLimit: 100_000_000,
                                                   state: producer.database.state(at: head), block: env)
            if let reason = r.revertReason { throw NativeRevert(reason) }
            return try ABI.decode(types, r.returnData)
        }

        func blobCount() throws -> Int {
            var n = 0
            try producer.database.store.scan(prefix: [0x78]) { _, _ in n += 1; return true }
            return n
        }

        /// Uploads `file` in full (begin, every chunk, finalize) over a few blocks.
        func upload(_ file: [UInt8], name: String = "model") throws -> [TransactionResult] {
            let hash = Self.sha(file)
            try block([("beginUpload(bytes32,uint64,string,string)", [.fixedBytes(hash), .uint(UInt256(UInt64(file.count))), .string(name), .string("")])])
            try block(Self.chunks(file).enumerated().map { ("putChunk(bytes32,uint32,bytes)", [.fixedBytes(hash), .uint(UInt256(UInt64($0))), .bytes($1)]) })
            return try block([("finalizeUpload(bytes32)", [.fixedBytes(hash)])])
        }

        static func sha(_ file: [UInt8]) -> [UInt8] { SHA256.hash(file) }

        static func chunks(_ file: [UInt8]) -> [[UInt8]] {
            stride(from: 0, to: file.count, by: ModelRegistry.chunkBytes).map { Array(file[$0..<min(file.count, $0 + ModelRegistry.chunkBytes)]) }
        }
    }

    static func model(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: models.appendingPathComponent(name))) }

    func testMultiChunkUploadRegistersTheModelOnBothStores() throws {
        for levelDB in [false, true] {
            let h = try Harness(levelDB: levelDB)
            let file = try Self.model("encoder_block.onnx")
            XCTAssertEqual(Harness.chunks(file).count, 2)
            let results = try h.upload(file)
            XCTAssertTrue(results[0].success, results[0].revertReason ?? "")
            let cid = ContentID.of(file: file)
            let decoded = try ABI.decode([.string, .string], results[0].returnData)
            XCTAssertEqual(decoded[0].stringValue, cid.v0)
            XCTAssertEqual(decoded[1].stringValue, cid.v1)
            XCTAssertEqual(h.producer.head, h.importer.head, "the importer computes the same state")
            // Every id form finds the model; the resolver gives its bytes.
            let registry = ModelRegistry()
            for id in [cid.v0, cid.v1, Hex.encode(Harness.sha(file))] {
                let info = try h.view("getModel(string)", [.string(id)], [ModelRegistry.modelInfoType])
                guard case .tuple(let f) = info[0] else { return XCTFail("no tuple") }
                XCTAssertEqual(f[0].stringValue, cid.v0)
                XCTAssertEqual(f[3].uintValue, UInt256(UInt64(file.count)))
                XCTAssertEqual(f[5].stringValue, "model")
                XCTAssertEqual(f[8].uintValue, UInt256(UInt64(KernelSpec.version)))
            }
            let state = h.producer.database.state(at: h.producer.head)
            XCTAssertEqual(state.blob(of: Self.registry, key: try Hash32(Harness.sha(file))), file, "the model's bytes are one blob")
            XCTAssertEqual(try h.blobCount(), 1, "the chunks are gone")
            let env = h.producer.builder.environment(parent: h.producer.head, timestamp: 9, coinbase: .zero)
            let runner = NativeCallRunner(handlers: StandardModules.registry(), encodeRevert: ABI.encodeRevert, state: state, block: env, transaction: nil)
            let context = NativeCallContext(address: Address(lowByte: 0xF4), caller: .zero, value: .zero, input: [], isStatic: true, depth: 0,
                                            gas: 1_000_000, eventsAllowed: false, runner: runner)
            let resolved = try registry.model(cid.v1, context: context)
            XCTAssertEqual(resolved, RegisteredModel(id: cid.v0, fileHash: try Hash32(Harness.sha(file)), size: file.count, kernelSpecVersion: KernelSpec.version))
            XCTAssertEqual(try registry.modelBytes(resolved, context: context), file)
            XCTAssertThrowsError(try registry.model("QmNotAnId", context: context)) { XCTAssertTrue("\($0)".contains("malformed model id")) }
            XCTAssertThrowsError(try registry.model("0x" + String(repeating: "ab", count: 32), context: context)) {
                XCTAssertEqual(($0 as? NativeRevert)?.reason, "unknown model ID 0x" + String(repeating: "ab", count: 32))
            }
        }
    }

    func testUploadIsResumableAndRefusesBadInputWithNamedReasons() throws {
        let h = try Harness(levelDB: false)
        let file = try Self.model("encoder_block.onnx")
        let hash = Harness.sha(file)
        let chunks = Harness.chunks(file)
        let begin = ("beginUpload(bytes32,uint64,string,string)", [ABIValue.fixedBytes(hash), .uint(UInt256(UInt64(file.count))), .string("enc"), .string("d")])
        let statusTypes: [ABIType] = [.uint(64), .uint(32), .uint(32), .uint(64), .array(.uint(32))]
        let status = { try h.view("uploadStatus(address,bytes32)", [.address(TestSigner.alice.address), .fixedBytes(hash)], statusTypes) }
        var r = try h.block([("putChunk(bytes32,uint32,bytes)", [.fixedBytes(hash), .uint(0), .bytes(chunks[0])])])
        XCTAssertEqual(r[0].revertReason, "no upload of this file by \(TestSigner.alice.address): call beginUpload first")
        try h.block([begin])
        XCTAssertEqual(try status()[4], .array([.uint(0), .uint(1)]))
        r = try h.block([("putChunk(bytes32,uint32,bytes)", [.fixedBytes(hash), .uint(1), .bytes(chunks[1])]),
                         ("putChunk(bytes32,uint32,bytes)", [.fixedBytes(hash), .uint(2), .bytes(chunks[1])]),
                         ("putChunk(bytes32,uint32,bytes)", [.fixedBytes(hash), .uint(0), .bytes(chunks[1])]),
                         ("finalizeUpload(bytes32)", [.fixedBytes(hash)])])
        XCTAssertTrue(r[0].success)
        XCTAssertEqual(r[1].revertReason, "chunk index 2 out of range: the upload has 2 chunks")
        XCTAssertEqual(r[2].revertReason, "chunk 0 must be \(ModelRegistry.chunkBytes) bytes, got \(chunks[1].count)")
        XCTAssertEqual(r[3].revertReason, "upload incomplete: 1 of 2 chunks received")
        XCTAssertEqual(try status()[4], .array([.uint(0)]), "only chunk 0 is missing: a client resumes from here")
        // A wrong chunk 0 (right length) fails the hash check; resending it fixes the upload.
        r = try h.block([("putChunk(bytes32,uint32,bytes)", [.fixedBytes(hash), .uint(0), .bytes([UInt8](repeating: 7, count: chunks[0].count))]),
                         ("finalizeUpload(bytes32)", [.fixedBytes(hash)])])
        XCTAssertTrue(r[0].success)
        XCTAssertTrue(r[1].revertReason?.hasPrefix("file hash mismatch: the chunks hash to 0x") ?? false, r[1].revertReason ?? "")
        r = try h.block([("putChunk(bytes32,uint32,bytes)", [.fixedBytes(hash), .uint(0), .bytes(chunks[0])]), ("finalizeUpload(bytes32)", [.fixedBytes(hash)])])
        XCTAssertTrue(r[1].success, r[1].revertReason ?? "")
        r = try h.block([begin])
        XCTAssertEqual(r[0].revertReason, "model already registered: \(ContentID.of(file: file).v0)")
        XCTAssertEqual(try status()[0], .uint(0), "the upload record is cleared")
        let count = try h.view("modelCount()", [], [.uint(256)])
        XCTAssertEqual(count[0], .uint(1))
        XCTAssertEqual(try h.view("modelAt(uint256)", [.uint(0)], [.fixedBytes(32)])[0], .fixedBytes(hash))
        XCTAssertThrowsError(try h.view("modelAt(uint256)", [.uint(1)], [.fixedBytes(32)])) { XCTAssertEqual(($0 as? NativeRevert)?.reason, "model index 1 out of range") }
    }

    func testRefusesOversizedAndInvalidModelsWithTheKernelsMessage() throws {
        let h = try Harness(blobs: BlobParameters(gasPerByte: 8, maxBytes: 100_000, uploadExpiryBlocks: 100), levelDB: false)
        let big = [UInt8](repeating: 1, count: 100_001)
        var r = try h.block([("beginUpload(bytes32,uint64,string,string)", [.fixedBytes(Harness.sha(big)), .uint(100_001), .string(""), .string("")]),
                             ("beginUpload(bytes32,uint64,string,string)", [.fixedBytes(Harness.sha(big)), .uint(0), .string(""), .string("")]),
                             ("beginUpload(bytes32,uint64,string,string)", [.fixedBytes(Harness.sha(big)), .uint(1), .string(String(repeating: "n", count: 129)), .string("")])])
        XCTAssertEqual(r[0].revertReason, "model of 100001 bytes exceeds the size cap of 100000 bytes")
        XCTAssertEqual(r[1].revertReason, "model size must be at least 1 byte")
        XCTAssertEqual(r[2].revertReason, "name longer than 128 bytes")
        let garbage = Array("not an onnx model".utf8)
        r = try h.upload(garbage)
        XCTAssertFalse(r[0].success)
        XCTAssertThrowsError(try ModelValidation.validate(garbage)) { XCTAssertEqual(r[0].revertReason, ($0 as? ONNXError)?.message) }
        XCTAssertEqual(try h.blobCount(), 1, "a refused finalize keeps the chunk for the expiry to delete")
    }

    func testAbandonedUploadExpiresAndItsChunksAreDeleted() throws {
        let h = try Harness(blobs: BlobParameters(gasPerByte: 8, maxBytes: 32 << 20, uploadExpiryBlocks: 3), levelDB: true)
        let file = try Self.model("encoder_block.onnx")
        let hash = Harness.sha(file)
        try h.block([("beginUpload(bytes32,uint64,string,string)", [.fixedBytes(hash), .uint(UInt256(UInt64(file.count))), .string(""), .string("")])])
        try h.block([("putChunk(bytes32,uint32,bytes)", [.fixedBytes(hash), .uint(0), .bytes(Harness.chunks(file)[0])])])
        XCTAssertEqual(try h.blobCount(), 1)
        try h.block([])
        let r = try h.block([("putChunk(bytes32,uint32,bytes)", [.fixedBytes(hash), .uint(1), .bytes(Harness.chunks(file)[1])])])
        XCTAssertEqual(r[0].revertReason, "upload expired at block 4: call beginUpload again to resume")
        XCTAssertEqual(try h.blobCount(), 0, "the end-block hook of block 4 deleted the chunk")
        XCTAssertEqual(h.producer.head, h.importer.head)
        let status = try h.view("uploadStatus(address,bytes32)", [.address(TestSigner.alice.address), .fixedBytes(hash)],
                                [.uint(64), .uint(32), .uint(32), .uint(64), .array(.uint(32))])
        XCTAssertEqual(status[0], .uint(0), "the record is gone")
    }

    func testCancelDeletesTheChunksAndARebegunUploadOutlivesItsFirstExpiry() throws {
        let h = try Harness(blobs: BlobParameters(gasPerByte: 8, maxBytes: 32 << 20, uploadExpiryBlocks: 3), levelDB: false)
        let file = try Self.model("encoder_block.onnx")
        let hash = Harness.sha(file)
        let begin = ("beginUpload(bytes32,uint64,string,string)", [ABIValue.fixedBytes(hash), .uint(UInt256(UInt64(file.count))), .string(""), .string("")])
        try h.block([begin, ("putChunk(bytes32,uint32,bytes)", [.fixedBytes(hash), .uint(0), .bytes(Harness.chunks(file)[0])])])
        var r = try h.block([("cancelUpload(bytes32)", [.fixedBytes(hash)]), ("cancelUpload(bytes32)", [.fixedBytes(hash)])])
        XCTAssertTrue(r[0].success)
        XCTAssertEqual(r[1].revertReason, "no upload of this file by \(TestSigner.alice.address)")
        XCTAssertEqual(try h.blobCount(), 0)
        // Begun at block 3 (expires at 6), re-begun at block 5 (expires at 8): the sweep at 6 skips it.
        try h.block([begin, ("putChunk(bytes32,uint32,bytes)", [.fixedBytes(hash), .uint(0), .bytes(Harness.chunks(file)[0])])])
        try h.block([])
        try h.block([begin])
        try h.block([])
        XCTAssertEqual(h.producer.head.number, 6)
        XCTAssertEqual(try h.blobCount(), 1, "the first expiry no longer applies")
        r = try h.block([("putChunk(bytes32,uint32,bytes)", [.fixedBytes(hash), .uint(1), .bytes(Harness.chunks(file)[1])]),
                         ("finalizeUpload(bytes32)", [.fixedBytes(hash)])])
        XCTAssertTrue(r[1].success, r[1].revertReason ?? "")
        try h.block([])
        try h.block([])
        XCTAssertEqual(try h.blobCount(), 1, "the registered model's blob stays after its upload's expiry")
        XCTAssertEqual(h.producer.head, h.importer.head)
    }

    /// docs/models.md, "Gas": a full chunk of non-zero bytes costs about 2.44 M gas, so 12
    /// fit in a 30 M block.
    func testAFullChunkCostsWhatTheDocsSay() throws {
        let h = try Harness(levelDB: false)
        var generator = SystemRandomNumberGenerator()
        let file = (0..<(2 * ModelRegistry.chunkBytes)).map { _ in UInt8.random(in: 1...255, using: &generator) }
        let hash = Harness.sha(file)
        try h.block([("beginUpload(bytes32,uint64,string,string)", [.fixedBytes(hash), .uint(UInt256(UInt64(file.count))), .string(""), .string("")])])
        let r = try h.block(Harness.chunks(file).enumerated().map { ("putChunk(bytes32,uint32,bytes)", [.fixedBytes(hash), .uint(UInt256(UInt64($0))), .bytes($1)]) })
        for result in r {
            XCTAssertTrue(result.success)
            XCTAssertGreaterThan(result.gasUsed, 2_400_000)
            XCTAssertLessThan(result.gasUsed, 2_480_000)
            XCTAssertEqual(30_000_000 / result.gasUsed, 12)
        }
    }

    /// More expired uploads than one end-block hook's gas can delete: the sweep stops with
    /// gas in hand and goes on in the next block, the same on the importing node.
    func testASweepTooLargeForOneHookGoesOnInTheNextBlock() throws {
        let h = try Harness(blobs: BlobParameters(gasPerByte: 8, maxBytes: 32 << 20, uploadExpiryBlocks: 2), gasLimit: 200_000_000, levelDB: false)
        let files = (0..<200).map { (i: Int) -> [UInt8] in [UInt8(i), 1] }
        var calls: [(String, [ABIValue])] = []
        for file in files {
            calls.append(("beginUpload(bytes32,uint64,string,string)", [.fixedBytes(Harness.sha(file)), .uint(2), .string(""), .string("")]))
            calls.append(("putChunk(bytes32,uint32,bytes)", [.fixedBytes(Harness.sha(file)), .uint(0), .bytes(file)]))
        }
        let r = try h.block(calls, gas: 400_000)
        XCTAssertTrue(r.allSatisfy(\.success))
        XCTAssertEqual(try h.blobCount(), 200)
        try h.block([])
        try h.block([])
        let left = try h.blobCount()
        XCTAssertGreaterThan(left, 0, "one hook cannot delete 200 uploads")
        XCTAssertLessThan(left, 200)
        try h.block([])
        XCTAssertEqual(try h.blobCount(), 0, "the next block's hook finished the sweep")
        XCTAssertEqual(h.producer.head, h.importer.head)
    }

    func testBlobWritesAreUndoneWithARevertedCall() throws {
        let state = StateDB(root: MerklePatriciaTrie.emptyRoot, nodes: TrieNodeStore(store: MemoryStore()), flatReads: false)
        let key = Hash32(word: UInt256(9))
        state.setBlob([1, 2, 3], of: Self.registry, key: key)
        let mark = state.snapshot()
        state.setBlob([4], of: Self.registry, key: key)
        state.setBlob(nil, of: Self.registry, key: Hash32(word: UInt256(10)))
        state.revert(to: mark)
        XCTAssertEqual(state.blob(of: Self.registry, key: key), [1, 2, 3])
        var batch = WriteBatch()
        let root = try state.commit(into: &batch)
        XCTAssertEqual(root, MerklePatriciaTrie.emptyRoot, "blobs are outside the state trie")
    }
}
