import Chain

/// The native modules every node runs, at their reserved addresses (../shared/DESIGN.md's
/// system-address table). The registry is built once, before the chain starts, and never
/// changes (`NativeHandlerRegistry`).
public enum StandardModules {
    /// One instance of each module, in address order; the inference modules run the models
    /// the registry holds, under `inference` (the genesis budget, the node's kernel threads
    /// and session cache).
    public static func all(inference: InferenceSettings = InferenceSettings()) -> [NativeModule] {
        let registry = ModelRegistry()
        return [Notary(), registry, InferencePrecompile(models: registry, settings: inference), InferenceHub(), Staking(), Jobs(models: registry, inference: inference), Supply()]
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
