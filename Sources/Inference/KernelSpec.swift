/// The version of the kernel's written arithmetic (docs/determinism.md): what a given
/// model and input compute, bit for bit. Every change to a result — an operator's order
/// of operations, an elementary function, a fixed-point conversion — is a new version,
/// and the chain records the version each model was registered and run under.
public enum KernelSpec {
    /// The version this build implements.
    public static let version = 1
}
