import Crypto
import Foundation
import Inference
import Primitives
import Storage
import XCTest
@testable import Chain
@testable import Modules

/// Models served from the kernel's test fixtures (Tests/InferenceTests/Fixtures/models) and
/// this target's own (Fixtures/text_and_counts.onnx, written by
/// tools/onnx/make_inference_fixtures.py), id = file name without `.onnx`: a mock of the
/// model registry beneath these tests (the
/// real registry is exercised end to end, Tests/e2e/test_inference.py). Counts byte reads.
final class FixtureModels: ModelResolver, @unchecked Sendable {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("InferenceTests/Fixtures/models")
    private let lock = NSLock()
    private var reads = 0

    var byteReads: Int { lock.lock(); defer { lock.unlock() }; return reads }

    /// Model ids served as models registered by reference, each with the fixture file whose
    /// reference it is (its bytes not on chain: `model` refuses it as the registry does).
    let references: [String: String]
    /// The reference version in force, and whether the references carry their schedule
    /// root (version 2) or not (registered under version 1).
    let version: UInt64
    let scheduleRoots: Bool

    init(references: [String: String] = [:], referenceVersion: UInt64 = 2, scheduleRoots: Bool = true) {
        self.references = references
        version = referenceVersion
        self.scheduleRoots = scheduleRoots
    }

    static let ownDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func bytes(_ id: String) throws -> [UInt8] {
        let files = [directory, ownDirectory].map { $0.appendingPathComponent("\(id).onnx").path }
        guard let data = files.lazy.compactMap({ FileManager.default.contents(atPath: $0) }).first else {
            throw NativeRevert("unknown model ID \(id)")
        }
        return Array(data)
    }

    func model(_ modelID: String, context: NativeCallContext) throws -> RegisteredModel {
        _ = try context.load(.zero)  // charged like the registry's record read
        if references[modelID] != nil { throw NativeRevert("model \(modelID) is registered by reference: its bytes are not on chain") }
        let bytes = try Self.bytes(modelID)
        return RegisteredModel(id: modelID, fileHash: try Hash32(SHA256.hash(bytes)), size: bytes.count, kernelSpecVersion: KernelSpec.version)
    }

    func jobModelID(_ modelID: String, context: NativeCallContext) throws -> String {
        references[modelID] != nil ? modelID : try model(modelID, context: context).id
    }

    func reference(_ modelID: String, context: NativeCallContext) throws -> ModelReference {
        _ = try context.load(.zero)
        guard let file = references[modelID] else { throw NativeRevert("unknown model reference \(modelID)") }
        let bytes = try Self.bytes(file)
        let claim = try ModelReferenceClaim.of(file: bytes, uris: ["https://models.example/\(file).onnx"])
        return ModelReference(id: modelID, fileHash: claim.fileHash, size: claim.size, initializerRoot: claim.initializerRoot,
                              initializerCount: claim.initializerCount, nodesRoot: claim.nodesRoot, nodeCount: claim.nodeCount,
                              kernelSpecVersion: KernelSpec.version, scheduleRoot: scheduleRoots ? claim.scheduleRoot : .zero)
    }

    func referenceVersion(context: NativeCallContext) -> UInt64 { version }

    func modelBytes(_ model: RegisteredModel, context: NativeCallContext) throws -> [UInt8] {
        lock.lock()
        reads += 1
        lock.unlock()
        return try Self.bytes(model.id)
    }
}

final class InferenceModuleTests: XCTestCase {
    let env = BlockEnvironment(number: 1, timestamp: 1, coinbase: .zero, baseFee: 0, gasLimit: 30_000_000, chainId: 1)
    let precompile = Address(lowByte: 0xF4), hub = Address(lowByte: 0xF5)

    func executor(_ models: ModelResolver = FixtureModels(), _ settings: InferenceSettings = InferenceSettings()) -> TransactionExecutor {
        TransactionExecutor(handlers: NativeHandlerRegistry([InferencePrecompile(models: models, settings: settings), InferenceHub()]),
                            encodeRevert: ABI.encodeRevert)
    }

    func freshState() -> StateDB {
        StateDB(root: MerklePatriciaTrie.emptyRoot, nodes: TrieNodeStore(store: MemoryStore()), flatReads: false)
    }

    /// The fixture's input tensor.
    func inputTensor(_ id: String) throws -> Tensor {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: FixtureModels.directory.appendingPathComponent("\(id).input.pb").path))
        return try ModelReader.readTensor(Array(data))
    }

    /// `ModelInput` of float tensors, through the kernel's fixed-point conversion.
    func modelInput(_ tensors: [Tensor]) throws -> ABIValue {
        .tuple([.array(try tensors.map { t in
            let (values, shape) = try FixedPoint.numbers(t)
            return .tuple([.string(t.name), .array(values.map { .tuple([.int(TensorConversion.word($0.value)), .int(TensorConversion.word($0.decimals))]) }),
                           .array(shape.map { .uint(UInt256(UInt64($0))) })])
        }), .array([])])
    }

    func runCalldata(_ model: String, _ input: ABIValue, mode: UInt64 = 0) throws -> [UInt8] {
        try ABI.encodeCall(InferenceABI.runModelInference, [.tuple([.uint(UInt256(mode)), .string(model), input])])
    }

    func hubCalldata(_ model: String, _ input: ABIValue, mode: UInt64 = 0) throws -> [UInt8] {
        try ABI.encodeCall(InferenceABI.hubRun, [.string(model), .uint(UInt256(mode)), input])
    }

    /// The fixture's input under the model's declared input name.
    func fixtureInput(_ id: String) throws -> ABIValue {
        var t = try inputTensor(id)
        t.name = try InferenceSession(bytes: FixtureModels.bytes(id)).inputs[0].name
        return try modelInput([t])
    }

    func expectedOutput(_ id: String) throws -> [UInt8] {
        let session = try InferenceSession(bytes: FixtureModels.bytes(id))
        var t = try inputTensor(id)
        t.name = session.inputs[0].name
        return try ABI.encode([InferenceABI.modelOutput], [TensorConversion.modelOutput(session.run([t.name: t]))])
    }

    static let fixtures = ["digits_mlp", "digits_logreg", "digits_logreg_zipmap", "digits_cnn", "diabetes_gbr", "diabetes_forest",
                           "diabetes_scaled_ridge", "digits_scaled_logreg"]

    func testOutputsEqualTheKernelRunDirectly() throws {
        let executor = executor()
        for id in Self.fixtures {
            let r = executor.call(from: .zero, to: precompile, value: 0, data: try runCalldata(id, fixtureInput(id)), gasLimit: 10_000_000,
                                  state: freshState(), block: env)
            XCTAssertNil(r.revertReason, id)
            XCTAssertEqual(r.returnData, try expectedOutput(id), id)
        }
    }

    func testLabelsAreWholeNumbersAndZipMapIsJSONInClassOrder() throws {
        let r = executor().call(from: .zero, to: precompile, value: 0, data: try runCalldata("digits_logreg_zipmap", fixtureInput("digits_logreg_zipmap")),
                                gasLimit: 10_000_000, state: freshState(), block: env)
        let output = try ABI.decode([InferenceABI.modelOutput], r.returnData)[0]
        guard case .tuple(let parts) = output, case .array(let numbers) = parts[0], case .array(let jsons) = parts[2],
              case .tuple(let label) = numbers[0], case .array(let labelValues) = label[1], case .tuple(let json) = jsons[0] else {
            return XCTFail("\(output)")
        }
        XCTAssertEqual(labelValues.count, 16, "one label per row of the batch")
        guard case .tuple(let pair) = labelValues[0] else { return XCTFail() }
        XCTAssertEqual(pair[1], .int(.zero), "labels carry decimals 0")
        let text = try XCTUnwrap(json[1].stringValue)
        XCTAssertTrue(text.hasPrefix("[{\"0\":"), text)
        XCTAssertTrue(text.contains(",\"9\":"), text)
    }

    func testThePrecompileEmitsRequestAndResponseAndTheHubItsResult() throws {
        let id = "digits_mlp"
        let input = try fixtureInput(id)
        let state = freshState()
        let tx = try TestSigner.transaction(nonce: 0, to: hub, data: try hubCalldata(id, input), gas: 5_000_000)
        state.setBalance(UInt256(10_000_000), of: tx.sender)
        var gas = env.gasLimit
        let r = try executor().apply(tx, index: 0, state: state, block: env, gasLeft: &gas)
        XCTAssertTrue(r.success, "\(r)")
        let expected = try expectedOutput(id)
        XCTAssertEqual(r.returnData, expected)
        XCTAssertEqual(r.logs.map(\.address), [precompile, hub])
        XCTAssertEqual(r.logs.map { $0.topics }, [[InferencePrecompile.modelInferenceTopic], [InferenceHub.inferenceResultTopic]])
        XCTAssertEqual(r.logs[1].data, expected)
        let event = try ABI.decode([.string, InferenceABI.modelInferenceRequest, InferenceABI.modelOutput], r.logs[0].data)
        var seed = tx.hash.bytes + UInt256(1).bigEndianBytes32.suffix(8) + UInt256(0).bigEndianBytes32.suffix(8)
        XCTAssertEqual(event[0].stringValue, Keccak256.hash(seed).hex, "inference id = keccak(tx hash ‖ block ‖ index in block)")
        XCTAssertEqual(event[1], .tuple([.uint(0), .string(id), input]))
        XCTAssertEqual(try ABI.encode([InferenceABI.modelOutput], [event[2]]), expected)
        // The second inference of the block gets the next index.
        let tx2 = try TestSigner.transaction(nonce: 1, to: precompile, data: try runCalldata(id, input), gas: 5_000_000)
        let r2 = try executor().apply(tx2, index: 1, state: state, block: env, gasLeft: &gas)
        seed = tx2.hash.bytes + UInt256(1).bigEndianBytes32.suffix(8) + UInt256(1).bigEndianBytes32.suffix(8)
        XCTAssertEqual(try ABI.decode([.string], r2.logs[0].data)[0].stringValue, Keccak256.hash(seed).hex)
    }

    func testGasIsThePureScheduleChargedBeforeTheKernelRuns() throws {
        let id = "digits_mlp"
        let data = try runCalldata(id, fixtureInput(id))
        let models = FixtureModels()
        let executor = executor(models)
        let full = executor.call(from: .zero, to: precompile, value: 0, data: data, gasLimit: 10_000_000, state: freshState(), block: env)
        XCTAssertNil(full.revertReason)
        // Inference gas is the schedule's function of the cost at these shapes.
        let session = try InferenceSession(bytes: FixtureModels.bytes(id))
        let t = try inputTensor(id)
        let cost = session.cost(inputShapes: [session.inputs[0].name: t.shape])
        let inferenceGas = InferenceGas.gas(session, inputShapes: [session.inputs[0].name: t.shape]).gas
        XCTAssertGreaterThan(inferenceGas, InferenceGas.base)
        // Just enough for everything before the inference gas: out of gas, and no output.
        let before = GasSchedule.intrinsicGas(data: data) + GasSchedule.nativeCall + GasSchedule.storageRead
        let short = executor.call(from: .zero, to: precompile, value: 0, data: data, gasLimit: before + inferenceGas - 1, state: freshState(), block: env)
        XCTAssertEqual(short.revertReason, "out of gas")
        XCTAssertEqual(short.gasUsed, before + inferenceGas - 1)
        // The full call used: that, the meter's read and first write, hashing the id's 48 bytes and the event.
        let request = try ABI.decode([InferenceABI.modelInferenceRequest], Array(data.dropFirst(4)))[0]
        let output = try ABI.decode([InferenceABI.modelOutput], full.returnData)[0]
        let eventBytes = try ABI.encode([.string, InferenceABI.modelInferenceRequest, InferenceABI.modelOutput],
                                        [.string(Keccak256.hash([]).hex), request, output]).count
        let event = GasSchedule.log + GasSchedule.logTopic + GasSchedule.logDataByte * UInt64(eventBytes)
        XCTAssertEqual(full.gasUsed, before + inferenceGas + GasSchedule.storageRead + GasSchedule.storageSet + 2 * GasSchedule.hashWord + event)
    }

    func testGasDoesNotDependOnTheCacheAndEvictionKeepsTheCap() throws {
        let models = FixtureModels()
        let small = SessionCache(capacityBytes: SessionCache.weight(fileSize: 27_560) + SessionCache.weight(fileSize: 6_261))
        let cold = executor(models, InferenceSettings(sessions: small))
        let ids = ["digits_mlp", "digits_logreg", "digits_mlp", "digits_cnn", "digits_mlp"]
        var gas: [String: UInt64] = [:]
        for id in ids {
            let r = cold.call(from: .zero, to: precompile, value: 0, data: try runCalldata(id, fixtureInput(id)), gasLimit: 10_000_000,
                              state: freshState(), block: env)
            XCTAssertNil(r.revertReason, id)
            if let g = gas[id] { XCTAssertEqual(g, r.gasUsed, "\(id): same gas cold and warm") }
            gas[id] = r.gasUsed
        }
        // The cap holds mlp and cnn: mlp, logreg, mlp (a hit), cnn evicts logreg (least recent), mlp (a hit).
        XCTAssertEqual(models.byteReads, 3)
        let mlpHash = try Hash32(SHA256.hash(FixtureModels.bytes("digits_mlp")))
        let cnnHash = try Hash32(SHA256.hash(FixtureModels.bytes("digits_cnn")))
        XCTAssertEqual(small.cachedHashes, [mlpHash, cnnHash])
        // A fresh node (no cache at all) charges the same.
        let uncached = executor(FixtureModels(), InferenceSettings(sessions: SessionCache(capacityBytes: 0)))
        for (id, g) in gas {
            let r = uncached.call(from: .zero, to: precompile, value: 0, data: try runCalldata(id, fixtureInput(id)), gasLimit: 10_000_000,
                                  state: freshState(), block: env)
            XCTAssertEqual(r.gasUsed, g, id)
        }
    }

    func testRememberedGasIsTheScheduleAtEachShape() throws {
        let bytes = try FixtureModels.bytes("digits_mlp")
        let hash = try Hash32(SHA256.hash(bytes))
        let cache = SessionCache()
        let session = try cache.session(hash, fileSize: bytes.count) { try InferenceSession(bytes: bytes) }
        let width = try XCTUnwrap(try inputTensor("digits_mlp").shape.last)
        for batch in [1, 1, 3, 1, 3, 3] {
            let shapes = [session.inputs[0].name: [batch, width]]
            let remembered = cache.gas(hash, session: session, inputShapes: shapes), direct = InferenceGas.gas(session, inputShapes: shapes)
            XCTAssertEqual(remembered.gas, direct.gas, "batch \(batch)")
            XCTAssertEqual(remembered.cost, direct.cost, "batch \(batch)")
        }
    }

    func testConcurrentCallsShareTheCacheAndAgree() throws {
        let models = FixtureModels()
        let executor = executor(models)
        let calls = try Self.fixtures.map { try runCalldata($0, fixtureInput($0)) }
        let expected = try Self.fixtures.map(expectedOutput)
        let results = UnsafeMutableBufferPointer<[UInt8]>.allocate(capacity: 32)
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 32) { i in
            let r = executor.call(from: .zero, to: precompile, value: 0, data: calls[i % calls.count], gasLimit: 10_000_000,
                                  state: freshState(), block: env)
            (results.baseAddress! + i).initialize(to: r.returnData)
        }
        for i in 0..<32 { XCTAssertEqual(results[i], expected[i % calls.count], Self.fixtures[i % calls.count]) }
        XCTAssertLessThanOrEqual(models.byteReads, 2 * Self.fixtures.count, "compiled once per model, or twice when two threads raced")
    }

    func testEstimationChargesExactlyWhatTheCallDoes() throws {
        let executor = executor()
        for id in Self.fixtures {
            // Numeric outputs of known shape: estimation skips the kernel; ZipMap's JSON needs the run.
            let session = try InferenceSession(bytes: FixtureModels.bytes(id))
            let placeholder = TensorConversion.placeholderOutput(session, inputShapes: [session.inputs[0].name: try inputTensor(id).shape])
            XCTAssertEqual(placeholder == nil, id.hasSuffix("zipmap"), id)
            for (to, data) in [(precompile, try runCalldata(id, fixtureInput(id))), (hub, try hubCalldata(id, fixtureInput(id)))] {
                // A transaction (which writes the trust record) uses exactly the estimate.
                let tx = try TestSigner.transaction(nonce: 0, to: to, data: data, gas: 10_000_000)
                let state = freshState()
                state.setBalance(UInt256(100_000_000), of: tx.sender)
                var gas = env.gasLimit
                let real = try executor.apply(tx, index: 0, state: state, block: env, gasLeft: &gas)
                XCTAssertTrue(real.success, id)
                let estimate = executor.call(from: tx.sender, to: to, value: 0, data: data, gasLimit: 10_000_000, state: freshState(), block: env,
                                             estimatingGas: true)
                XCTAssertNil(estimate.revertReason, id)
                XCTAssertEqual(estimate.gasUsed, real.gasUsed, id)
                // A plain call writes no record: it costs the record's storage less.
                let call = executor.call(from: tx.sender, to: to, value: 0, data: data, gasLimit: 10_000_000, state: freshState(), block: env)
                XCTAssertEqual(call.gasUsed + InferenceRecord.addedGas(firstOfModel: true), real.gasUsed, id)
            }
        }
    }

    func testStaticCallsRefuseTheWrites() throws {
        let r = executor().call(from: .zero, to: precompile, value: 0, data: try runCalldata("digits_mlp", fixtureInput("digits_mlp")),
                                gasLimit: 10_000_000, state: freshState(), block: env, isStatic: true)
        XCTAssertEqual(r.revertReason, "write protection: state change in a static call")
    }

    func testModesAndLLMsAreRefusedWithWhatIsOffered() throws {
        let executor = executor()
        let input = try fixtureInput("digits_mlp")
        for (mode, word) in [(1, "ZKML"), (2, "TEE"), (7, "unknown inference mode 7")] {
            for (to, data) in [(precompile, try runCalldata("digits_mlp", input, mode: UInt64(mode))), (hub, try hubCalldata("digits_mlp", input, mode: UInt64(mode)))] {
                let r = executor.call(from: .zero, to: to, value: 0, data: data, gasLimit: 1_000_000, state: freshState(), block: env)
                XCTAssertTrue(r.revertReason?.contains(word) ?? false, "\(r)")
                XCTAssertTrue(r.revertReason?.contains("VANILLA (0)") ?? false, "\(r)")
            }
        }
        let completion = try ABI.encodeCall(InferenceABI.runLLMCompletion, [.tuple([.uint(0), .string("m"), .string("hi"), .uint(10), .array([]), .uint(0)])])
        let chat = try ABI.encodeCall(InferenceABI.runLLMChat, [.tuple([.uint(0), .string("m"), .array([]), .array([]), .string(""), .uint(10), .array([]), .uint(0)])])
        for to in [precompile, hub] {
            for data in [completion, chat] {
                let r = executor.call(from: .zero, to: to, value: 0, data: data, gasLimit: 1_000_000, state: freshState(), block: env)
                XCTAssertEqual(r.revertReason, InferenceABI.llmRefusal)
            }
        }
    }

    func testMalformedRequestsRevertNamingTheRule() throws {
        let executor = executor()
        let good = try runCalldata("digits_mlp", fixtureInput("digits_mlp"))
        let session = try InferenceSession(bytes: FixtureModels.bytes("digits_mlp"))
        let name = session.inputs[0].name
        func reason(_ data: [UInt8], to: Address? = nil) -> String {
            executor.call(from: .zero, to: to ?? precompile, value: 0, data: data, gasLimit: 10_000_000, state: freshState(), block: env).revertReason ?? "success"
        }
        XCTAssertTrue(reason(Array(good.prefix(100))).hasPrefix("invalid calldata: "), reason(Array(good.prefix(100))))
        XCTAssertTrue(reason(Array(good.prefix(4))).hasPrefix("invalid calldata: "))
        XCTAssertTrue(reason(Array(try hubCalldata("digits_mlp", fixtureInput("digits_mlp")).dropLast(40)), to: hub).hasPrefix("invalid calldata: "))
        XCTAssertEqual(reason(try runCalldata("nosuch", fixtureInput("digits_mlp"))), "unknown model ID nosuch")
        let t = try inputTensor("digits_mlp")
        var renamed = t
        renamed.name = "pixels"
        XCTAssertEqual(reason(try runCalldata("digits_mlp", modelInput([renamed]))), "'pixels' is not an input of the model (inputs: \(name))")
        XCTAssertEqual(reason(try runCalldata("digits_mlp", .tuple([.array([]), .array([])]))), "input '\(name)' is not given (inputs: \(name))")
        var named = t
        named.name = name
        XCTAssertEqual(reason(try runCalldata("digits_mlp", modelInput([named, named]))), "input '\(name)' is given more than once")
        var reshaped = named
        reshaped.shape = [2, 512]
        let shapeReason = reason(try runCalldata("digits_mlp", modelInput([reshaped])))
        XCTAssertTrue(shapeReason.hasPrefix("input '\(name)': dimension 1 is 512, the model declares 64"), shapeReason)
        let wrongCount: ABIValue = .tuple([.array([.tuple([.string(name), .array([]), .array([.uint(1), .uint(64)])])]), .array([])])
        XCTAssertEqual(reason(try runCalldata("digits_mlp", wrongCount)), "input '\(name)': shape [1, 64] needs 64 values, 0 given")
        let strings: ABIValue = .tuple([.array([]), .array([.tuple([.string(name), .array([.string("a")])])])])
        XCTAssertEqual(reason(try runCalldata("digits_mlp", strings)), "input '\(name)' is FLOAT: string tensors feed STRING inputs only")
        // A revert in the precompile reaches the hub's caller unchanged.
        XCTAssertEqual(reason(try hubCalldata("nosuch", fixtureInput("digits_mlp")), to: hub), "unknown model ID nosuch")
    }

    /// Integer inputs take whole numbers only; decimal text and int128 words are exact.
    func testFixedPointHelpers() throws {
        XCTAssertEqual(TensorConversion.wholeNumber(FixedPoint.Number(value: 1200, decimals: 2)), 12)
        XCTAssertEqual(TensorConversion.wholeNumber(FixedPoint.Number(value: -12, decimals: -2)), -1200)
        XCTAssertNil(TensorConversion.wholeNumber(FixedPoint.Number(value: 5, decimals: 1)))
        XCTAssertNil(TensorConversion.wholeNumber(FixedPoint.Number(value: .max, decimals: -1)))
        XCTAssertEqual(TensorConversion.decimalText(FixedPoint.Number(value: -5, decimals: 3)), "-0.005")
        XCTAssertEqual(TensorConversion.decimalText(FixedPoint.Number(value: 125, decimals: 1)), "12.5")
        XCTAssertEqual(TensorConversion.decimalText(FixedPoint.Number(value: 3, decimals: -2)), "300")
        XCTAssertEqual(TensorConversion.int128(TensorConversion.word(-7)), -7)
        XCTAssertEqual(TensorConversion.word(-1), .max)
    }

    func testTheBlockBudgetRefusesInferencesPastIt() throws {
        let id = "digits_mlp"
        let data = try runCalldata(id, fixtureInput(id))
        let once = executor().call(from: .zero, to: precompile, value: 0, data: data, gasLimit: 10_000_000, state: freshState(), block: env)
        let session = try InferenceSession(bytes: FixtureModels.bytes(id))
        let t = try inputTensor(id)
        let shapes = [session.inputs[0].name: t.shape]
        let need = InferenceGas.gas(session, inputShapes: shapes).gas
        XCTAssertNil(once.revertReason)
        let executor = executor(FixtureModels(), InferenceSettings(blockGasBudget: need * 2 - 1))
        let state = freshState()
        state.setBalance(UInt256(100_000_000), of: TestSigner.alice.address)
        var gas = env.gasLimit
        let first = try executor.apply(TestSigner.transaction(nonce: 0, to: precompile, data: data, gas: 2_000_000), index: 0, state: state, block: env, gasLeft: &gas)
        XCTAssertTrue(first.success)
        let second = try executor.apply(TestSigner.transaction(nonce: 1, to: precompile, data: data, gas: 2_000_000), index: 1, state: state, block: env, gasLeft: &gas)
        XCTAssertEqual(second.revertReason, "block inference budget exhausted: \(need) of \(need * 2 - 1) used, this inference needs \(need); retry in a later block")
        // eth_call and estimation on that block's state are not refused: they are no part of it.
        let call = executor.call(from: .zero, to: precompile, value: 0, data: data, gasLimit: 10_000_000, state: state, block: env)
        XCTAssertNil(call.revertReason)
        XCTAssertEqual(call.gasUsed, first.gasUsed - GasSchedule.storageSet + GasSchedule.storageUpdate - InferenceRecord.addedGas(firstOfModel: true),
                       "a transaction's gas without the trust record, the meter's slot now set")
        let next = BlockEnvironment(number: 2, timestamp: 2, coinbase: .zero, baseFee: 0, gasLimit: 30_000_000, chainId: 1)
        gas = next.gasLimit
        let third = try executor.apply(TestSigner.transaction(nonce: 2, to: precompile, data: data, gas: 2_000_000), index: 0, state: state, block: next, gasLeft: &gas)
        XCTAssertTrue(third.success, "a new block has a fresh budget")
        let tiny = self.executor(FixtureModels(), InferenceSettings(blockGasBudget: need - 1))
        let refused = tiny.call(from: .zero, to: precompile, value: 0, data: data, gasLimit: 10_000_000, state: freshState(), block: env)
        XCTAssertEqual(refused.revertReason, "inference needs \(need) inference gas, more than the block's inference budget of \(need - 1)")
    }

    /// The same block of inference transactions gives the same state root whatever the
    /// kernel's thread count.
    func testStateRootDoesNotDependOnKernelThreads() throws {
        let validator = try PrivateKey(Keccak256.digest(Array("inference validator".utf8)))
        func chain(threads: Int) throws -> ChainService {
            try BlockHookChainTests.makeChain(validator, handlers: NativeHandlerRegistry([
                InferencePrecompile(models: FixtureModels(), settings: InferenceSettings(threads: threads)), InferenceHub()]))
        }
        let producer = try chain(threads: 1), importer = try chain(threads: 4)
        for (n, id) in ["digits_cnn", "digits_mlp", "diabetes_gbr", "digits_logreg_zipmap"].enumerated() {
            let tx = try Transaction(type: .dynamicFee, chainId: 1, nonce: UInt64(n), maxPriorityFeePerGas: 1, maxFeePerGas: UInt256(10_000_000_000),
                                     gasLimit: 3_000_000, to: n % 2 == 0 ? precompile : hub, value: 0,
                                     data: n % 2 == 0 ? try runCalldata(id, fixtureInput(id)) : try hubCalldata(id, fixtureInput(id)))
                .signed(with: TestSigner.alice)
            try producer.submit(tx)
        }
        let executed = try producer.produceBlock(timestamp: 1, coinbase: validator.address)
        XCTAssertEqual(executed.block.transactions.count, 4)
        XCTAssertTrue(executed.results.allSatisfy(\.success), "\(executed.results.map(\.revertReason))")
        let imported = try importer.importBlock(executed.block)
        XCTAssertEqual(imported.block.header.stateRoot, executed.block.header.stateRoot)
        XCTAssertEqual(imported.block.header.receiptsRoot, executed.block.header.receiptsRoot)
    }

    /// STRING and INT64 inputs; STRING, INT64 and FLOAT outputs.
    func testStringsAndIntegersInAndOut() throws {
        func number(_ v: Int128, _ d: Int128) -> ABIValue { .tuple([.int(TensorConversion.word(v)), .int(TensorConversion.word(d))]) }
        func input(_ counts: [ABIValue], texts: [String] = ["dog", "cat", "bird"]) -> ABIValue {
            .tuple([.array([.tuple([.string("count"), .array(counts), .array([.uint(UInt256(UInt64(counts.count)))])])]),
                    .array([.tuple([.string("text"), .array(texts.map { .string($0) })])])])
        }
        let executor = executor()
        let data = try runCalldata("text_and_counts", input([number(4, 0), number(1200, 2), number(-3, 0)]))
        let r = executor.call(from: .zero, to: precompile, value: 0, data: data, gasLimit: 1_000_000, state: freshState(), block: env)
        XCTAssertNil(r.revertReason)
        let expected: ABIValue = .tuple([
            .array([.tuple([.string("id"), .array([number(1, 0), number(0, 0), number(-1, 0)]), .array([.uint(3)])]),
                    .tuple([.string("half"), .array([number(2, 0), number(6, 0), number(-15, 1)]), .array([.uint(3)])])]),
            .array([.tuple([.string("echo"), .array([.string("dog"), .string("cat"), .string("bird")])])]),
            .array([]), .bool(false)])
        XCTAssertEqual(try ABI.decode([InferenceABI.modelOutput], r.returnData)[0], expected)
        // A string output's size depends on its values: estimation runs the kernel and still agrees.
        let estimate = executor.call(from: .zero, to: precompile, value: 0, data: data, gasLimit: 1_000_000, state: freshState(), block: env,
                                     estimatingGas: true)
        XCTAssertEqual(estimate.gasUsed, r.gasUsed + InferenceRecord.addedGas(firstOfModel: true), "the call's gas and the record a transaction writes")
        func reason(_ input: ABIValue) throws -> String? {
            executor.call(from: .zero, to: precompile, value: 0, data: try runCalldata("text_and_counts", input), gasLimit: 1_000_000,
                          state: freshState(), block: env).revertReason
        }
        XCTAssertEqual(try reason(input([number(5, 1), number(1, 0), number(1, 0)])),
                       "input 'count' element 0: (5, 1) is not a INT64 (a whole number in -9223372036854775808...9223372036854775807)")
        let asNumbers: ABIValue = .tuple([.array([.tuple([.string("text"), .array([number(1, 0)]), .array([.uint(1)])])]), .array([])])
        XCTAssertEqual(try reason(asNumbers), "input 'text' is STRING: number tensors feed FLOAT, integer and BOOL inputs")
    }

    /// Calldata with bytes changed at random (seeded) reverts or succeeds, never traps.
    func testMutatedCalldataNeverTraps() throws {
        let executor = executor()
        let valid = [try runCalldata("digits_logreg_zipmap", fixtureInput("digits_logreg_zipmap")),
                     try hubCalldata("text_and_counts", .tuple([
                        .array([.tuple([.string("count"), .array([.tuple([.int(.one), .int(.zero)])]), .array([.uint(1)])])]),
                        .array([.tuple([.string("text"), .array([.string("cat")])])])]))]
        var seed: UInt64 = 9
        func next() -> UInt64 {  // Knuth's MMIX LCG, seeded, so a failing round can be re-run
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return seed >> 16
        }
        var outcomes: [String: Int] = [:]
        for round in 0..<200 {
            var data = valid[round % 2]
            for _ in 0..<(1 + Int(next() % 4)) {
                let at = 4 + Int(next() % UInt64(data.count - 4))
                data[at] = UInt8(truncatingIfNeeded: next())
            }
            let r = executor.call(from: .zero, to: round % 2 == 0 ? precompile : hub, value: 0, data: data, gasLimit: 10_000_000,
                                  state: freshState(), block: env)
            outcomes[r.revertReason.map { String($0.prefix(20)) } ?? "success", default: 0] += 1
        }
        XCTAssertGreaterThan(outcomes.count, 2, "\(outcomes)")
    }

    /// A recorded inference re-runs off chain to the same bits; a changed output is found.
    func testRecordedInferencesVerifyOffChain() throws {
        let id = "digits_logreg_zipmap"
        let state = freshState()
        let tx = try TestSigner.transaction(nonce: 0, to: precompile, data: try runCalldata(id, fixtureInput(id)), gas: 5_000_000)
        var gas = env.gasLimit
        let r = try executor().apply(tx, index: 0, state: state, block: env, gasLeft: &gas)
        XCTAssertTrue(r.success)
        let record = try InferenceVerification.record(eventData: r.logs[0].data)
        XCTAssertEqual(record.modelID, id)
        XCTAssertEqual(record.outputEncoding, r.returnData)
        let local = try InferenceVerification.rerun(record, modelBytes: FixtureModels.bytes(id), threads: 2)
        XCTAssertNil(try InferenceVerification.firstDifference(recorded: record.outputEncoding, local: local))
        // Another model's output for the same input differs at the first probability.
        let other = try InferenceVerification.rerun(record, modelBytes: FixtureModels.bytes("digits_logreg"))
        let difference = try XCTUnwrap(InferenceVerification.firstDifference(recorded: record.outputEncoding, local: other))
        XCTAssertEqual(difference, "1 number tensors recorded, 2 computed")
        // A changed number is found by tensor and element.
        guard case .tuple(var parts) = try ABI.decode([InferenceABI.modelOutput], local)[0], case .array(var tensors) = parts[0],
              case .tuple(var label) = tensors[0], case .array(var values) = label[1] else { return XCTFail() }
        values[3] = .tuple([.int(TensorConversion.word(42)), .int(.zero)])
        label[1] = .array(values)
        tensors[0] = .tuple(label)
        parts[0] = .array(tensors)
        let tampered = try ABI.encode([InferenceABI.modelOutput], [.tuple(parts)])
        let found = try XCTUnwrap(InferenceVerification.firstDifference(recorded: tampered, local: local))
        XCTAssertTrue(found.hasPrefix("number tensor 'output_label' element 3: recorded (42, 0), computed ("), found)
    }

    // MARK: - Trust records

    func storage(_ state: StateDB) -> (Hash32) -> Hash32 { { state.storage(of: self.precompile, slot: $0) } }

    /// Transactions by the precompile and by the hub write a record each (the hub's
    /// caller, not the hub, as caller) and index it under the model; `eth_getProof` proves it.
    func testTransactionsWriteTrustRecordsProvableInStorage() throws {
        let id = "digits_mlp"
        let input = try fixtureInput(id)
        let store = MemoryStore()
        let state = StateDB(root: MerklePatriciaTrie.emptyRoot, nodes: TrieNodeStore(store: store), flatReads: false)
        let byPrecompile = try TestSigner.transaction(nonce: 0, to: precompile, data: try runCalldata(id, input), gas: 5_000_000)
        let byHub = try TestSigner.transaction(nonce: 1, to: hub, data: try hubCalldata(id, input), gas: 5_000_000)
        state.setBalance(UInt256(100_000_000), of: byPrecompile.sender)
        let block = BlockEnvironment(number: 7, timestamp: 1, coinbase: .zero, baseFee: 0, gasLimit: 30_000_000, chainId: 1, kernelSpecVersion: 1)
        var gas = block.gasLimit
        let executor = executor()
        var ids: [Hash32] = []
        for (index, tx) in [byPrecompile, byHub].enumerated() {
            let r = try executor.apply(tx, index: index, state: state, block: block, gasLeft: &gas)
            XCTAssertTrue(r.success, "\(r)")
            ids.append(try Hash32(hex: XCTUnwrap(try ABI.decode([.string], r.logs[0].data)[0].stringValue)))
        }
        let bytes = try FixtureModels.bytes(id)
        let fileHash = try Hash32(SHA256.hash(bytes))
        let session = try InferenceSession(bytes: bytes)
        var t = try inputTensor(id)
        t.name = session.inputs[0].name
        let outputs = try session.run([t.name: t])
        let inferenceGas = InferenceGas.gas(session, inputShapes: [t.name: t.shape]).gas
        for (index, tx) in [byPrecompile, byHub].enumerated() {
            let record = try XCTUnwrap(InferenceRecord.read(ids[index], load: storage(state)))
            XCTAssertEqual(record, InferenceRecord(
                inferenceID: ids[index], modelFileHash: fileHash, inputHash: Keccak256.hash(TensorEncoding.canonical([t])),
                outputHash: Keccak256.hash(TensorEncoding.canonical(outputs)), caller: tx.sender, blockNumber: 7, transactionHash: tx.hash,
                transactionIndex: UInt64(index), indexInBlock: UInt64(index), gas: inferenceGas, kernelSpecVersion: 1))
        }
        XCTAssertEqual(InferenceRecord.count(ofModel: fileHash, load: storage(state)), 2)
        XCTAssertEqual((0..<2).map { InferenceRecord.id(ofModel: fileHash, at: $0, load: storage(state)) }, ids)
        XCTAssertEqual(InferenceRecord.count(ofModel: Keccak256.hash([1]), load: storage(state)), 0)
        // Committed, every word of a record is in the precompile's storage trie with a proof.
        var batch = WriteBatch()
        _ = try state.commit(into: &batch)
        try store.write(batch, sync: false)
        let base = InferenceRecord.slot(of: ids[1])
        let slots = (0..<6).map { SolidityStorage.offset(base, by: UInt256(UInt64($0))) }
        let proof = try state.proof(of: precompile, slots: slots)
        XCTAssertEqual(proof.storageProofs.map { Hash32(word: $0.value) }, slots.map { state.storage(of: precompile, slot: $0) })
        for p in proof.storageProofs { XCTAssertEqual(Keccak256.hash(try XCTUnwrap(p.proof.first)), proof.account.storageRoot) }
        XCTAssertEqual(Address(word: Hash32(word: proof.storageProofs[4].value >> 96)), byHub.sender)
    }

    /// `eth_call` writes no record; an unknown id reads as none; call data appended by
    /// anyone but the hub does not name the caller.
    func testCallsWriteNoRecordAndOnlyTheHubNamesACaller() throws {
        let id = "digits_logreg"
        let data = try runCalldata(id, fixtureInput(id))
        let state = freshState()
        let r = executor().call(from: TestSigner.alice.address, to: precompile, value: 0, data: data, gasLimit: 10_000_000, state: state, block: env)
        XCTAssertNil(r.revertReason)
        let fileHash = try Hash32(SHA256.hash(FixtureModels.bytes(id)))
        XCTAssertEqual(InferenceRecord.count(ofModel: fileHash, load: storage(state)), 0)
        XCTAssertNil(InferenceRecord.read(.zero, load: storage(state)))
        // A transaction appending someone else's address: recorded as its real sender, or refused.
        let spoofed = try TestSigner.transaction(nonce: 0, to: precompile, data: data + Address(lowByte: 0x99).bytes, gas: 5_000_000)
        state.setBalance(UInt256(100_000_000), of: spoofed.sender)
        var gas = env.gasLimit
        let s = try executor().apply(spoofed, index: 0, state: state, block: env, gasLeft: &gas)
        if s.success {
            let sid = try Hash32(hex: XCTUnwrap(try ABI.decode([.string], s.logs[0].data)[0].stringValue))
            XCTAssertEqual(InferenceRecord.read(sid, load: storage(state))?.caller, spoofed.sender)
        }
        // The hub's own call without its trailer is refused, naming the rule.
        let direct = executor().call(from: hub, to: precompile, value: 0, data: [UInt8](data.prefix(10)), gasLimit: 10_000_000, state: state, block: env)
        XCTAssertNotNil(direct.revertReason)
    }

    /// A reverted inference transaction leaves no record.
    func testRevertedInferenceLeavesNoRecord() throws {
        let id = "digits_mlp"
        let state = freshState()
        let tx = try TestSigner.transaction(nonce: 0, to: precompile, data: try runCalldata(id, fixtureInput(id), mode: 1), gas: 5_000_000)
        state.setBalance(UInt256(100_000_000), of: tx.sender)
        var gas = env.gasLimit
        let r = try executor().apply(tx, index: 0, state: state, block: env, gasLeft: &gas)
        XCTAssertFalse(r.success)
        XCTAssertEqual(InferenceRecord.count(ofModel: try Hash32(SHA256.hash(FixtureModels.bytes(id))), load: storage(state)), 0)
    }
}
