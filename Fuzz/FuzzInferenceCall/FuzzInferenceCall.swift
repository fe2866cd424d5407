import Chain
import Crypto
import Foundation
import Inference
import Modules
import Primitives
import Storage

/// The models a fuzzed call can name: the kernel's fixture models, named by file name and
/// read once from the repository (tools/fuzz.sh runs from its root). Every id a call names
/// also goes through the model-id parser. A mock of the registry beneath the fuzzer (the
/// real one is fuzzed through FuzzONNX's registration check and FuzzJSONRPC).
final class FixtureModels: ModelResolver {
    static let names = ["digits_mlp", "digits_logreg_zipmap", "diabetes_gbr", "digits_cnn"]
    let files: [(name: String, bytes: [UInt8], hash: Hash32)]

    init() {
        files = Self.names.map { name in
            let path = "Tests/InferenceTests/Fixtures/models/\(name).onnx"
            guard let data = FileManager.default.contents(atPath: path) else { fatalError("run from the repository root: no \(path)") }
            return (name, Array(data), try! Hash32(SHA256.hash(Array(data))))
        }
    }

    func model(_ modelID: String, context: NativeCallContext) throws -> RegisteredModel {
        _ = try? ModelIDForm.parse(modelID)
        guard let file = files.first(where: { $0.name == modelID }) else { throw NativeRevert("unknown model ID \(modelID)") }
        return RegisteredModel(id: modelID, fileHash: file.hash, size: file.bytes.count, kernelSpecVersion: KernelSpec.version)
    }

    func modelBytes(_ model: RegisteredModel, context: NativeCallContext) throws -> [UInt8] {
        files.first { $0.hash == model.fileHash }!.bytes
    }
}

/// The precompile and hub over the fixture models, built once in `initialize`.
nonisolated(unsafe) var executor: TransactionExecutor!
/// OpenGradient's `ModelInput` and `ModelOutput` (docs/abi/InferencePrecompile.json).
let modelInputText = "((string,(int128,int128)[],uint32[])[],(string,string[])[])"
nonisolated(unsafe) var modelOutput: ABIType!
let block = BlockEnvironment(number: 1, timestamp: 1, coinbase: .zero, baseFee: 0, gasLimit: 30_000_000, chainId: 1)
let targets = [Address(lowByte: 0xF4), Address(lowByte: 0xF5)]

/// LeakSanitizer's switch (ASan's runtime): allocations made while it is off are never reported.
@_silgen_name("__lsan_disable") func leakCheckingOff()
@_silgen_name("__lsan_enable") func leakCheckingOn()

/// libFuzzer calls this once before any input. The modules' ABI types (an indirect enum
/// whose boxes LeakSanitizer cannot see through tagged pointers) and the compiled-session
/// cache are made here with leak checking off; what inputs allocate is checked.
@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    leakCheckingOff()
    executor = TransactionExecutor(handlers: NativeHandlerRegistry([InferencePrecompile(models: FixtureModels(), settings: InferenceSettings()),
                                                                    InferenceHub()]),
                                   encodeRevert: ABI.encodeRevert)
    modelOutput = try! ABIType(parsing: "((string,(int128,int128)[],uint32[])[],(string,string[])[],(string,string)[],bool)")
    // One call per model fills the session cache (compiled sessions are kept, by design).
    let request = try! ABIType(parsing: "(uint8,string,\(modelInputText))")
    for name in FixtureModels.names {
        _ = run(target: targets[0], data: ABI.selector("runModelInference(\(request))")
            + (try! ABI.encode([request], [.tuple([.uint(0), .string(name), .tuple([.array([]), .array([])])])])))
    }
    leakCheckingOn()
    return 0
}

func run(target: Address, data: [UInt8]) -> CallResult {
    let state = StateDB(root: MerklePatriciaTrie.emptyRoot, nodes: TrieNodeStore(store: MemoryStore()), flatReads: false)
    return executor.call(from: Address(lowByte: 0xAA), to: target, value: .zero, data: data, gasLimit: 10_000_000, state: state, block: block)
}

/// libFuzzer entry: the first byte picks the precompile or the hub, the rest is calldata
/// (OpenGradient's ABI: seeds are real calls of the fixture models). Whatever it holds,
/// the call reverts with a reason or returns a well-formed `ModelOutput`, within its gas:
/// never a crash, hang or trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInferenceCall(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let result = run(target: targets[Int(data[0]) % 2], data: Array(UnsafeBufferPointer(start: data + 1, count: size - 1)))
    guard result.gasUsed <= 10_000_000 else { fatalError("gas used \(result.gasUsed) over the call's limit") }
    if result.revertReason == nil, (try? ABI.decode([modelOutput], result.returnData)) == nil {
        fatalError("a call succeeded without returning a ModelOutput")
    }
    return 0
}
