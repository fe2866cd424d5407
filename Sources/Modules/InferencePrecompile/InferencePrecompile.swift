import Chain
import Primitives

/// The inference precompile at `0x…00F4`, OpenGradient's `InferencePrecompile` interface
/// (docs/inference.md): every validator runs the model with the deterministic kernel while
/// it executes the block, and `eth_call` runs it the same way.
///
/// - `runModelInference((uint8 mode, string modelCID, ModelInput input)) returns (ModelOutput)`:
///   mode VANILLA (0) runs the kernel; ZKML (1) and TEE (2) revert saying what is offered.
///   Emits `ModelInferenceEvent(string inferenceID, ModelInferenceRequest request, ModelOutput response)`.
/// - `runLLMCompletion`, `runLLMChat`: revert (LLMs are not run inside blocks).
///
/// The hub (`0x…00F5`) calls `runModelInference` with its own caller's address appended
/// to the call data (20 bytes, as ERC-2771 forwarders do); the precompile takes that
/// address as the inference's caller only from the hub.
///
/// Storage: slot 0 is the block's inference meter (`InferenceEngine.meterSlot`); slots 1
/// and 2 hold the trust records and their per-model index (`InferenceRecord`).
public final class InferencePrecompile: SelectorDispatchedModule {
    /// The precompile's reserved address.
    public static let reservedAddress = Address(lowByte: 0xF4)
    public let address = InferencePrecompile.reservedAddress
    public let name = "InferencePrecompile"

    private let engine: InferenceEngine

    /// A precompile running models that `models` resolves, under `settings`.
    public init(models: ModelResolver, settings: InferenceSettings = InferenceSettings()) {
        engine = InferenceEngine(models: models, settings: settings)
    }

    public var abiJSON: String { embeddedABI(PackageResources.InferencePrecompile_json) }
    public let functions = [ModuleFunction(InferenceABI.runModelInference, .nonpayable), ModuleFunction(InferenceABI.runLLMCompletion, .nonpayable),
                            ModuleFunction(InferenceABI.runLLMChat, .nonpayable)]
    public let events = [InferenceABI.modelInferenceEvent]
    /// Topic 0 of `ModelInferenceEvent`.
    public static let modelInferenceTopic = ABI.eventTopic(InferenceABI.modelInferenceEvent)

    public func perform(_ function: ModuleFunction, arguments: [UInt8], context: NativeCallContext) throws -> [UInt8] {
        switch function.signature {
        case InferenceABI.runModelInference:
            var caller = context.caller, arguments = arguments
            if caller == InferenceHub.reservedAddress {
                guard arguments.count >= 20 else { throw NativeRevert("invalid arguments: the hub's call names no caller") }
                caller = try Address(Array(arguments.suffix(20)))
                arguments.removeLast(20)
            }
            let request = try ModelInferenceRequest.decode(arguments)
            try InferenceMode.requireVanilla(request.mode)
            let result = try engine.run(modelID: request.modelID, input: request.input, caller: caller, context: context)
            let response = try ABI.encode([InferenceABI.modelOutput], [result.output])
            try context.emit(topics: [Self.modelInferenceTopic], data: try request.eventData(inferenceID: result.inferenceID, response: response))
            return response
        default:
            try InferenceABI.refuseLLM(function.signature, arguments)
        }
    }
}
