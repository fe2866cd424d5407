import Chain

/// The native modules every node runs, at their reserved addresses (../shared/DESIGN.md's
/// system-address table). The registry is built once, before the chain starts, and never
/// changes (`NativeHandlerRegistry`).
public enum StandardModules {
    /// One instance of each module, in address order; the inference modules run under
    /// `inference` (the genesis budget, the node's kernel threads and session cache).
    public static func all(inference: InferenceSettings = InferenceSettings()) -> [NativeModule] {
        let models: ModelResolver = NoModelRegistry()
        return [Notary(), InferencePrecompile(models: models, settings: inference), InferenceHub(), Supply()]
    }

    /// The registry of `all(inference:)`.
    public static func registry(inference: InferenceSettings = InferenceSettings()) -> NativeHandlerRegistry {
        NativeHandlerRegistry(all(inference: inference))
    }

    /// The module called `name` (case-insensitive).
    public static func named(_ name: String) -> NativeModule? {
        all().first { $0.name.lowercased() == name.lowercased() }
    }
}

/// The resolver of a build without the model registry at `0x…00F3`: it knows no model.
/// The registry replaces it in `all(inference:)` when it is merged (issue 9 §2).
final class NoModelRegistry: ModelResolver {
    func model(_ modelID: String, context: NativeCallContext) throws -> RegisteredModel {
        throw NativeRevert("unknown model ID \(modelID): this build has no model registry")
    }

    func modelBytes(_ model: RegisteredModel, context: NativeCallContext) throws -> [UInt8] {
        throw NativeRevert("unknown model ID \(model.id): this build has no model registry")
    }
}
