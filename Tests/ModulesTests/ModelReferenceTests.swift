import Crypto
import Foundation
import Inference
import Primitives
import XCTest
@testable import Chain
@testable import Modules

/// Models registered by reference (docs/models.md): recorded through real blocks that a
/// second node re-validates, readable by every id form, refused by the in-block
/// precompile and refused at registration with named reasons.
final class ModelReferenceTests: XCTestCase {
    typealias Harness = ModelRegistryTests.Harness
    static let register = ModelRegistry.registerReference.signature

    func claim(_ name: String = "encoder_block.onnx") throws -> ModelReferenceClaim {
        try ModelReferenceClaim.of(file: try ModelRegistryTests.model(name), uris: ["https://models.example/encoder_block.onnx"], name: "enc")
    }

    func testAReferenceIsRecordedAndReadableButThePrecompileRefusesIt() throws {
        let h = try Harness(levelDB: true)
        let file = try ModelRegistryTests.model("encoder_block.onnx")
        let claim = try claim()
        let session = try InferenceSession(bytes: file)
        XCTAssertEqual(claim.nodeCount, UInt64(session.model.graph.nodes.count))
        XCTAssertEqual(claim.initializerRoot, try InitializerCommitment(graph: session.model.graph).root)
        XCTAssertEqual(claim.nodesRoot, try NodeCommitment(file: file).root)
        XCTAssertTrue(claim.operators.contains("MatMul"))
        let r = try h.block([(Self.register, claim.abiArguments)])
        XCTAssertTrue(r[0].success, r[0].revertReason ?? "")
        XCTAssertEqual(try ABI.decode([.string, .string], r[0].returnData), [.string(claim.cid.v0), .string(claim.cid.v1)])
        XCTAssertEqual(r[0].logs.first?.topics, [ModelRegistry.modelReferencedTopic, claim.fileHash, Hash32(word: TestSigner.alice.address)])
        XCTAssertEqual(h.producer.head, h.importer.head, "the importer computes the same state")
        for id in [claim.cid.v0, claim.cid.v1, claim.fileHash.hex] {
            let info = try h.view("getModelReference(string)", [.string(id)], [ModelRegistry.referenceInfoType])
            XCTAssertEqual(info[0], .tuple([
                .string(claim.cid.v0), .string(claim.cid.v1), .fixedBytes(claim.fileHash.bytes), .uint(UInt256(claim.size)),
                .address(TestSigner.alice.address), .string("enc"), .string(""), .uint(UInt256(UInt64(h.producer.head.number))),
                .uint(UInt256(UInt64(KernelSpec.version))), .fixedBytes(claim.initializerRoot.bytes), .uint(UInt256(claim.initializerCount)),
                .fixedBytes(claim.nodesRoot.bytes), .uint(UInt256(claim.nodeCount)), .array(claim.operators.map { .string($0) }), .array([.string("https://models.example/encoder_block.onnx")]),
                .fixedBytes(claim.scheduleRoot.bytes),
            ]))
        }
        // Another module (a jobs module) reads the record through its own context.
        let registry = ModelRegistry()
        let state = h.producer.database.state(at: h.producer.head)
        let env = h.producer.builder.environment(parent: h.producer.head, timestamp: 99, coinbase: .zero)
        let runner = NativeCallRunner(handlers: StandardModules.registry(), encodeRevert: ABI.encodeRevert, state: state, block: env, transaction: nil)
        let context = NativeCallContext(address: Address(lowByte: 0xF4), caller: .zero, value: .zero, input: [], isStatic: true, depth: 0,
                                        gas: 1_000_000, eventsAllowed: false, runner: runner)
        XCTAssertEqual(try registry.reference(claim.cid.v1, context: context),
                       ModelReference(id: claim.cid.v0, fileHash: claim.fileHash, size: claim.size, initializerRoot: claim.initializerRoot,
                                      initializerCount: claim.initializerCount, nodesRoot: claim.nodesRoot, nodeCount: claim.nodeCount, kernelSpecVersion: KernelSpec.version,
                                      scheduleRoot: claim.scheduleRoot))
        let refusal = "model \(claim.cid.v0) is registered by reference: its bytes are not on chain, so jobs can run it but the in-block inference precompile cannot (getModelReference reads its record)"
        XCTAssertThrowsError(try registry.model(claim.cid.v0, context: context)) { XCTAssertEqual(($0 as? NativeRevert)?.reason, refusal) }
        // Jobs name it (any id form gives its CIDv0); an id nobody registered is still refused.
        for id in [claim.cid.v0, claim.cid.v1, claim.fileHash.hex] {
            XCTAssertEqual(try registry.jobModelID(id, context: context), claim.cid.v0)
        }
        XCTAssertThrowsError(try registry.jobModelID("0x" + String(repeating: "ab", count: 32), context: context)) {
            XCTAssertEqual(($0 as? NativeRevert)?.reason, "unknown model ID 0x" + String(repeating: "ab", count: 32))
        }
        XCTAssertThrowsError(try h.view("getModel(string)", [.string(claim.fileHash.hex)], [ModelRegistry.modelInfoType])) {
            XCTAssertEqual(($0 as? NativeRevert)?.reason, refusal)
        }
        XCTAssertThrowsError(try registry.reference("0x" + String(repeating: "ab", count: 32), context: context)) {
            XCTAssertEqual(($0 as? NativeRevert)?.reason, "unknown model reference 0x" + String(repeating: "ab", count: 32))
        }
        // The precompile itself, called as a transaction would call it.
        let call = try ABI.encodeCall(InferenceABI.runModelInference, [.tuple([.uint(0), .string(claim.cid.v0), .tuple([.array([]), .array([])])])])
        let precompile = h.producer.builder.executor.call(from: TestSigner.alice.address, to: Address(lowByte: 0xF4), value: .zero, data: call,
                                                          gasLimit: 10_000_000, state: state, block: env)
        XCTAssertEqual(precompile.revertReason, refusal)
    }

    func testRegistrationRefusesBadClaimsWithNamedReasons() throws {
        let h = try Harness(levelDB: false)
        let good = try claim()
        func reason(_ change: (inout ModelReferenceClaim) -> Void) throws -> String? {
            var c = good
            change(&c)
            return try h.block([(Self.register, c.abiArguments)])[0].revertReason
        }
        XCTAssertEqual(try reason { $0.size = 0 }, "model size must be at least 1 byte")
        XCTAssertEqual(try reason { $0.nodeCount = 0 }, "node count must be at least 1")
        XCTAssertEqual(try reason { $0.nodesRoot = .zero }, "nodes root must not be zero: a model has nodes")
        XCTAssertEqual(try reason { $0.initializerRoot = .zero },
                       "initializer root must be zero exactly when the model has no initializers (count \(good.initializerCount), root \(Hash32.zero))")
        XCTAssertEqual(try reason { $0.operators = [] }, "a reference lists 1 to 256 operators, got 0")
        XCTAssertEqual(try reason { $0.operators = ["Unique"] }, "unsupported operator Unique: the kernel cannot run it, so no job on this model could be exact")
        XCTAssertEqual(try reason { $0.operators = ["MatMul", "Add"] }, "operators must be sorted and distinct: MatMul before Add")
        XCTAssertEqual(try reason { $0.uris = [] }, "a reference lists 1 to 16 URIs, got 0")
        XCTAssertEqual(try reason { $0.uris = ["ftp://x"] }, "URI \"ftp://x\" must start with https://, http:// or ipfs:// and name something")
        XCTAssertEqual(try reason { $0.uris = ["https://"] }, "URI \"https://\" must start with https://, http:// or ipfs:// and name something")
        XCTAssertEqual(try reason { $0.name = String(repeating: "n", count: 129) }, "name longer than 128 bytes")
        var sha = good.abiArguments
        sha[1] = .string(good.fileHash.hex)
        XCTAssertEqual(try h.block([(Self.register, sha)])[0].revertReason, "cid must be the file's content id (Qm… or bafy…), not its SHA-256")
        sha[1] = .string("QmNotAnId")
        XCTAssertTrue(try h.block([(Self.register, sha)])[0].revertReason?.contains("malformed model id") ?? false)
        // Once, then never again: not by reference, not by the same CID under another hash.
        XCTAssertNil(try reason { _ in })
        XCTAssertEqual(try reason { _ in }, "model already registered: \(good.cid.v0)")
        XCTAssertEqual(try reason { $0.fileHash = Keccak256.hash([1]) }, "model already registered: \(good.cid.v0)")
        let count = try h.view("modelCount()", [], [.uint(256)])
        XCTAssertEqual(count[0], .uint(0), "a reference is not a stored model")
    }

    func testAStoredModelCannotAlsoBeRegisteredByReference() throws {
        let h = try Harness(levelDB: false)
        let file = try ModelRegistryTests.model("digits_mlp.onnx")
        XCTAssertTrue(try h.upload(file)[0].success)
        let claim = try ModelReferenceClaim.of(file: file, uris: ["ipfs://\(ContentID.of(file: file).v0)"])
        XCTAssertEqual(try h.block([(Self.register, claim.abiArguments)])[0].revertReason, "model already registered: \(claim.cid.v0)")
    }

    /// Reference versions (docs/models.md): version 1 — a chain whose genesis wrote none,
    /// or before `referenceVersionFromBlock` — takes the call without a schedule root and
    /// refuses the one with it; version 2 the reverse. A version-1 record reads as before
    /// with a zero schedule root; a version-2 record has its root.
    func testReferenceVersionsPinTheOldAndNewRegistrations() throws {
        let versionOne = ModelRegistry.registerReferenceVersionOne.signature
        let first = try claim(), second = try claim("digits_mlp.onnx")
        for h in [try Harness(levelDB: false, referenceVersion: nil), try Harness(levelDB: false, referenceVersion: 1)] {
            XCTAssertEqual(try h.block([(Self.register, first.abiArguments)])[0].revertReason,
                           "registerReference with a schedule root needs reference version 2; this chain runs version 1 in block 1")
            let r = try h.block([(versionOne, first.versionOneArguments)])
            XCTAssertTrue(r[0].success, r[0].revertReason ?? "")
            let info = try h.view("getModelReference(string)", [.string(first.cid.v0)], [ModelRegistry.referenceInfoType])
            guard case .tuple(let fields) = info[0] else { return XCTFail("no record") }
            XCTAssertEqual(fields[12], .uint(UInt256(first.nodeCount)), "the version-1 fields where they were")
            XCTAssertEqual(fields[15], .fixedBytes(Hash32.zero.bytes), "no schedule root")
        }
        let h = try Harness(levelDB: false, referenceVersion: 2, referenceVersionFrom: 3)
        XCTAssertTrue(try h.block([(versionOne, first.versionOneArguments)])[0].success, "block 1 runs version 1")
        _ = try h.block([])
        XCTAssertEqual(try h.block([(versionOne, second.versionOneArguments)])[0].revertReason,
                       "registerReference without a schedule root is retired (reference version 2): send the schedule root `opg model ref` computes")
        XCTAssertTrue(try h.block([(Self.register, second.abiArguments)])[0].success)
        let info = try h.view("getModelReference(string)", [.string(second.cid.v0)], [ModelRegistry.referenceInfoType])
        guard case .tuple(let fields) = info[0] else { return XCTFail("no record") }
        XCTAssertEqual(fields[15], .fixedBytes(second.scheduleRoot.bytes))
        var decodeLoop = try claim("digits_cnn.onnx")
        decodeLoop.scheduleRoot = .zero
        XCTAssertTrue(try h.block([(Self.register, decodeLoop.abiArguments)])[0].success, "a zero root: jobs that are not one pass (--no-schedule)")
        XCTAssertEqual(h.producer.head, h.importer.head, "the importer computes the same state")
        XCTAssertThrowsError(try ModelRegistry.genesisStorage(referenceVersion: 3)) {
            XCTAssertEqual(($0 as? NativeRevert)?.reason, "referenceVersion: 3 is not a version this node implements (1…2); upgrade opgd")
        }
    }

    func testAClaimIsRefusedForAModelTheKernelCannotRun() {
        XCTAssertThrowsError(try ModelReferenceClaim.of(file: Array("not onnx".utf8), uris: ["https://x/y"])) { XCTAssertTrue($0 is ONNXError) }
    }
}
