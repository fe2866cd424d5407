import Chain
import Primitives

/// OpenGradient's inference interface as ABI types: the structs its `TensorLib` and
/// inference contracts declare (docs/abi/InferencePrecompile.json, docs/abi/InferenceHub.json),
/// shared by the precompile at `0x…00F4` and the hub at `0x…00F5`.
enum InferenceABI {
    /// `TensorLib.Number`: value × 10^−decimals.
    static let number = ABIType.tuple([.int(128), .int(128)])
    /// `TensorLib.MultiDimensionalNumberTensor`: name, flat values, shape.
    static let numberTensor = ABIType.tuple([.string, .array(number), .array(.uint(32))])
    /// `TensorLib.StringTensor`: name, flat values (no shape: the model's declared shape gives it).
    static let stringTensor = ABIType.tuple([.string, .array(.string)])
    /// `TensorLib.JsonScalar`: name, JSON text.
    static let jsonScalar = ABIType.tuple([.string, .string])
    /// `ModelInput`: number tensors, string tensors.
    static let modelInput = ABIType.tuple([.array(numberTensor), .array(stringTensor)])
    /// `ModelOutput`: number tensors, string tensors, JSON scalars, is-simulation flag.
    static let modelOutput = ABIType.tuple([.array(numberTensor), .array(stringTensor), .array(jsonScalar), .bool])
    /// `ModelInferenceRequest`: mode, model id, input.
    static let modelInferenceRequest = ABIType.tuple([.uint(8), .string, modelInput])
    /// `LLMCompletionRequest` (accepted only to be refused).
    static let llmCompletionRequest = ABIType.tuple([.uint(8), .string, .string, .uint(32), .array(.string), .uint(32)])
    static let toolCall = ABIType.tuple([.string, .string, .string])
    static let chatMessage = ABIType.tuple([.string, .string, .string, .string, .array(toolCall)])
    static let toolDefinition = ABIType.tuple([.string, .string, .string])
    /// `LLMChatRequest` (accepted only to be refused).
    static let llmChatRequest = ABIType.tuple([.uint(8), .string, .array(chatMessage), .array(toolDefinition), .string, .uint(32),
                                               .array(.string), .uint(32)])

    /// `ModelInferenceEvent`'s fields: inference id, request, response.
    static let modelInferenceEventFields: [ABIType] = [.string, modelInferenceRequest, modelOutput]

    /// `runModelInference(ModelInferenceRequest)`.
    static let runModelInference = "runModelInference(\(modelInferenceRequest))"
    /// `runLLMCompletion(LLMCompletionRequest)`.
    static let runLLMCompletion = "runLLMCompletion(\(llmCompletionRequest))"
    /// `runLLMChat(LLMChatRequest)`.
    static let runLLMChat = "runLLMChat(\(llmChatRequest))"
    /// The hub's `run(string modelId, uint8 mode, ModelInput input)`.
    static let hubRun = "run(string,uint8,\(modelInput))"
    /// `ModelInferenceEvent(string inferenceID, ModelInferenceRequest request, ModelOutput response)`.
    static let modelInferenceEvent = "ModelInferenceEvent(string,\(modelInferenceRequest),\(modelOutput))"
    /// The hub's `InferenceResult(ModelOutput output)`.
    static let inferenceResult = "InferenceResult(\(modelOutput))"

    /// Reverts an LLM call: malformed calldata with the codec's reason, anything else with `llmRefusal`.
    static func refuseLLM(_ signature: String, _ arguments: [UInt8]) throws -> Never {
        _ = try decodeArguments([signature == runLLMCompletion ? llmCompletionRequest : llmChatRequest], arguments)
        throw NativeRevert(llmRefusal)
    }

    /// The reason every LLM function reverts with.
    static let llmRefusal = "LLMs are not run inside blocks: opg executes ONNX models with its deterministic kernel only (runModelInference, or the hub's run)"
}

/// OpenGradient's `ModelInferenceMode`.
enum InferenceMode: UInt8 {
    case vanilla = 0, zkml = 1, tee = 2

    /// Checks the mode: ZKML and TEE revert saying what is offered instead, as does any
    /// other number.
    static func requireVanilla(_ raw: UInt8) throws {
        switch InferenceMode(rawValue: raw) {
        case .vanilla: return
        case .zkml:
            throw NativeRevert("ZKML mode is not offered: opg runs VANILLA (0) only; every validator re-executes the model with the deterministic kernel, so the result needs no proof")
        case .tee:
            throw NativeRevert("TEE mode is not offered: opg runs VANILLA (0) only; every validator re-executes the model with the deterministic kernel, so the result needs no enclave")
        case nil:
            throw NativeRevert("unknown inference mode \(raw): opg runs VANILLA (0) only")
        }
    }
}
