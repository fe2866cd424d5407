import Chain

/// The native modules every node runs, at their reserved addresses (../shared/DESIGN.md's
/// system-address table). The registry is built once, before the chain starts, and never
/// changes (`NativeHandlerRegistry`).
public enum StandardModules {
    /// One instance of each module, in address order.
    public static func all() -> [NativeModule] { [Notary(), ModelRegistry(), Supply()] }

    /// The registry of `all()`.
    public static func registry() -> NativeHandlerRegistry { NativeHandlerRegistry(all()) }

    /// The module called `name` (case-insensitive).
    public static func named(_ name: String) -> NativeModule? {
        all().first { $0.name.lowercased() == name.lowercased() }
    }
}
