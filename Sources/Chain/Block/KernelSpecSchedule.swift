/// Which version of the inference kernel's arithmetic spec (docs/determinism.md) each
/// block runs under. Results of a model are consensus, so a new spec version (new bits)
/// activates at a block height named in the genesis (`kernelSpecVersions`), and replay
/// and sync run every block with the version active at its height. The chain knows only
/// numbers; the node refuses at start a schedule naming a version its kernel does not
/// implement (`Inference.KernelSpec.implementedVersions`).
public struct KernelSpecSchedule: Equatable, Sendable {
    /// From `fromBlock` on (until the next activation), blocks run spec `version`.
    public struct Activation: Equatable, Sendable {
        /// The first block of the version.
        public let fromBlock: UInt64
        /// The spec version.
        public let version: Int

        /// Declares an activation.
        public init(fromBlock: UInt64, version: Int) {
            self.fromBlock = fromBlock
            self.version = version
        }
    }

    /// The activations, by ascending block; the first is at block 0.
    public let activations: [Activation]

    /// Version 1 from genesis on: the schedule of a genesis that names none.
    public static let initial = KernelSpecSchedule(checked: [Activation(fromBlock: 0, version: 1)])

    /// A schedule; throws `KernelSpecScheduleError` unless the first activation is at block
    /// 0 and blocks and versions both strictly increase (versions start at 1).
    public init(_ activations: [Activation]) throws {
        guard let first = activations.first else { throw KernelSpecScheduleError("at least one activation is required") }
        guard first.fromBlock == 0 else { throw KernelSpecScheduleError("the first activation must be at block 0, not \(first.fromBlock)") }
        guard first.version >= 1 else { throw KernelSpecScheduleError("versions start at 1, got \(first.version)") }
        for (earlier, later) in zip(activations, activations.dropFirst()) {
            guard later.fromBlock > earlier.fromBlock else {
                throw KernelSpecScheduleError("activation at block \(later.fromBlock) does not come after block \(earlier.fromBlock)")
            }
            guard later.version > earlier.version else {
                throw KernelSpecScheduleError("version \(later.version) at block \(later.fromBlock) is not above version \(earlier.version)")
            }
        }
        self.activations = activations
    }

    private init(checked activations: [Activation]) { self.activations = activations }

    /// The version block `number` runs under.
    public func version(at number: UInt64) -> Int {
        activations.last { $0.fromBlock <= number }!.version  // the first activation is at block 0
    }
}

/// A kernel spec schedule that breaks one of its rules.
public struct KernelSpecScheduleError: Error, Equatable, CustomStringConvertible {
    /// The rule broken.
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
