import Chain
import Primitives

/// The inference hub at `0x…00F5`: the contract OpenGradient's SDK calls
/// (`og.Alpha(...).infer` sends `run` and reads `InferenceResult` from the receipt).
///
/// - `run(string modelId, uint8 mode, ModelInput input) returns (ModelOutput)`: calls the
///   precompile's `runModelInference` (which runs the model and emits
///   `ModelInferenceEvent` from `0x…00F4`), then emits `InferenceResult(ModelOutput)`.
///   A revert in the precompile reverts `run` with the same reason. The call data carries
///   `run`'s caller after the arguments, for the precompile's trust record.
/// - `runLLMCompletion`, `runLLMChat`: revert (LLMs are not run inside blocks).
///
/// The hub keeps no state.
public final class InferenceHub: SelectorDispatchedModule {
    /// The hub's reserved address.
    public static let reservedAddress = Address(lowByte: 0xF5)
    public let address = InferenceHub.reservedAddress
    public let name = "InferenceHub"

    /// Creates the hub; it runs models through the precompile at `0x…00F4`.
    public init() {}

    public var abiJSON: String { embeddedABI(PackageResources.InferenceHub_json) }
    public let functions = [ModuleFunction(InferenceABI.hubRun, .nonpayable), ModuleFunction(InferenceABI.runLLMCompletion, .nonpayable),
                            ModuleFunction(InferenceABI.runLLMChat, .nonpayable)]
    public let events = [InferenceABI.inferenceResult]
    /// Topic 0 of `InferenceResult`.
    public static let inferenceResultTopic = ABI.eventTopic(InferenceABI.inferenceResult)

    public func perform(_ function: ModuleFunction, arguments: [UInt8], context: NativeCallContext) throws -> [UInt8] {
        switch function.signature {
        case InferenceABI.hubRun:
            let call = try ModelInferenceRequest.hubCall(arguments, caller: context.caller)
            let outcome = try context.call(InferencePrecompile.reservedAddress, input: call)
            guard outcome.success else {
                if outcome.revertReason == "out of gas" { throw NativeCallContext.OutOfGas() }
                throw NativeRevert(outcome.revertReason ?? "inference failed")
            }
            // The precompile returns abi.encode(ModelOutput): exactly the event's data.
            try context.emit(topics: [Self.inferenceResultTopic], data: outcome.returnData)
            return outcome.returnData
        default:
            try InferenceABI.refuseLLM(function.signature, arguments)
        }
    }
}
