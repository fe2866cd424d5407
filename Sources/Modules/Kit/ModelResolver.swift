import Chain
import Primitives

/// A model held by the model registry (`0x…00F3`), as the inference modules need it.
public struct RegisteredModel: Equatable, Sendable {
    /// The canonical id: the file's CIDv0 (`Qm…`), as `ipfs add` prints it.
    public let id: String
    /// SHA-256 of the ONNX file: the key its bytes are stored and compiled sessions cached under.
    public let fileHash: Hash32
    /// The file's size in bytes.
    public let size: Int
    /// The kernel spec version the model was registered (compiled) under.
    public let kernelSpecVersion: Int

    /// Describes a registered model.
    public init(id: String, fileHash: Hash32, size: Int, kernelSpecVersion: Int) {
        self.id = id
        self.fileHash = fileHash
        self.size = size
        self.kernelSpecVersion = kernelSpecVersion
    }
}

/// Finds registered models for the modules that run them (the inference precompile and
/// hub take one at init; the model registry is the implementation every node runs).
/// Called from the block producer and RPC threads at once: implementations keep no
/// mutable state outside the chain state.
public protocol ModelResolver: AnyObject {
    /// The model registered under `modelID` — its CIDv0 (`Qm…`), CIDv1 base32 (`bafy…`) or
    /// `0x` + the SHA-256 of the file — or a `NativeRevert` naming why not
    /// (`unknown model ID`, `malformed model id …`). Reads the registry's storage through
    /// `context`, charged as storage reads.
    func model(_ modelID: String, context: NativeCallContext) throws -> RegisteredModel
    /// The ONNX file of `model`. Callers read it only when they hold no compiled session
    /// for `model.fileHash`; it is charged no gas, so that gas never depends on a cache.
    func modelBytes(_ model: RegisteredModel, context: NativeCallContext) throws -> [UInt8]
    /// The canonical id (CIDv0) of the model under `modelID` as the jobs module names it:
    /// a model stored in the registry, or one registered by reference, whose bytes the chain
    /// does not hold (docs/traces.md) — jobs can run it, the in-block precompile cannot.
    /// Reverts like `model` for an id nobody registered.
    func jobModelID(_ modelID: String, context: NativeCallContext) throws -> String
    /// The model registered by reference under `modelID` (docs/models.md), what a dispute
    /// over it proves the disputed node against; reverts `unknown model reference` when
    /// there is none. Reads the registry's storage through `context`.
    func reference(_ modelID: String, context: NativeCallContext) throws -> ModelReference
    /// The reference version in force in the context's block (1: references have no
    /// schedule root; 2: they do, and their disputes are decided). Charges no gas
    /// (`NativeCallContext.uncheckedStorage`).
    func referenceVersion(context: NativeCallContext) -> UInt64
}

extension ModelResolver {
    /// Resolvers that know no models by reference name only stored ones.
    public func jobModelID(_ modelID: String, context: NativeCallContext) throws -> String {
        try model(modelID, context: context).id
    }

    /// Resolvers that know no models by reference run version 1.
    public func referenceVersion(context: NativeCallContext) -> UInt64 { 1 }

    /// Resolvers that know no models by reference have none to give.
    public func reference(_ modelID: String, context: NativeCallContext) throws -> ModelReference {
        throw NativeRevert("unknown model reference \(modelID)")
    }
}
