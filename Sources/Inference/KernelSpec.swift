/// The version of the arithmetic spec (docs/determinism.md) this kernel implements.
/// Results are consensus once models run in blocks: any change of result bits is a new
/// version, activated on a chain at a height its genesis names (`KernelSpecSchedule` in
/// Chain), never a quiet edit. Version 1 is the spec as of the on-chain inference issue
/// (issue 9): the golden hashes in Tests/InferenceTests/Fixtures/golden.json pin it.
public enum KernelSpec {
    /// The version this build computes.
    public static let version = 1
    /// Every version this build can run (a node refuses a chain scheduling any other).
    public static let implementedVersions: [Int] = [1]
}
