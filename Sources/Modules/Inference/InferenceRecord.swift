import Chain
import Primitives

/// The trust record of one inference executed in a block (docs/inference.md, "Trust
/// records"), kept in the precompile's (`0x…00F4`) storage laid out as Solidity would:
///
/// - slot 1: `mapping(bytes32 inferenceID => Record) records`, six words per record:
///   `modelFileHash`, `inputHash`, `outputHash`, `transactionHash`,
///   `caller << 96 | blockNumber << 32 | kernelSpecVersion`,
///   `gas << 128 | transactionIndex << 64 | indexInBlock`;
/// - slot 2: `mapping(bytes32 modelFileHash => bytes32[] inferenceIDs)`, append-only.
///
/// Every word of a record is non-zero (a hash, a spec version ≥ 1, gas ≥ the base), so
/// writing one always costs `GasSchedule.storageSet` per word, in a transaction and in a
/// gas-estimation run alike.
public struct InferenceRecord: Equatable, Sendable {
    /// `0x` + Keccak-256(tx hash ‖ block number ‖ index of the inference in the block).
    public let inferenceID: Hash32
    /// SHA-256 of the model's ONNX file (the registry's key for it).
    public let modelFileHash: Hash32
    /// Keccak-256 of `TensorEncoding.canonical` over the inputs, in the graph's input order.
    public let inputHash: Hash32
    /// Keccak-256 of `TensorEncoding.canonical` over the outputs.
    public let outputHash: Hash32
    /// The account that asked for the inference (the hub's caller on the hub path).
    public let caller: Address
    /// The block the inference ran in.
    public let blockNumber: UInt64
    /// The transaction that ran it.
    public let transactionHash: Hash32
    /// That transaction's index in the block.
    public let transactionIndex: UInt64
    /// The inference's index among the block's inferences.
    public let indexInBlock: UInt64
    /// The inference gas charged for it (`InferenceGas`).
    public let gas: UInt64
    /// The kernel spec version the block ran under.
    public let kernelSpecVersion: UInt64

    /// Storage slot of the records mapping.
    public static let recordsSlot = Hash32(word: UInt256(1))
    /// Storage slot of the per-model index mapping.
    public static let byModelSlot = Hash32(word: UInt256(2))
    /// Words per record.
    static let wordCount = 6
    /// Gas one record adds to an inference in a transaction (docs/inference.md, "Trust
    /// records"): the record's words and the index element (new words), the index length
    /// (a new word for the model's first inference, an update after) and its read, and
    /// hashing the two mapping keys and the array slot.
    public static func addedGas(firstOfModel: Bool) -> UInt64 {
        UInt64(wordCount + 1) * GasSchedule.storageSet + (firstOfModel ? GasSchedule.storageSet : GasSchedule.storageUpdate)
            + GasSchedule.storageRead + 5 * GasSchedule.hashWord
    }

    /// Creates a record.
    public init(inferenceID: Hash32, modelFileHash: Hash32, inputHash: Hash32, outputHash: Hash32, caller: Address, blockNumber: UInt64,
                transactionHash: Hash32, transactionIndex: UInt64, indexInBlock: UInt64, gas: UInt64, kernelSpecVersion: UInt64) {
        self.inferenceID = inferenceID
        self.modelFileHash = modelFileHash
        self.inputHash = inputHash
        self.outputHash = outputHash
        self.caller = caller
        self.blockNumber = blockNumber
        self.transactionHash = transactionHash
        self.transactionIndex = transactionIndex
        self.indexInBlock = indexInBlock
        self.gas = gas
        self.kernelSpecVersion = kernelSpecVersion
    }

    /// The record's storage words, in slot order.
    var words: [Hash32] {
        let mask64 = UInt256(UInt64.max)
        let who = UInt256(word: Hash32(word: caller)) << 96 | (UInt256(blockNumber) & mask64) << 32 | UInt256(kernelSpecVersion & 0xFFFF_FFFF)
        let spent = UInt256(gas) << 128 | UInt256(transactionIndex) << 64 | UInt256(indexInBlock)
        return [modelFileHash, inputHash, outputHash, transactionHash, Hash32(word: who), Hash32(word: spent)]
    }

    /// The first slot of the record of `inferenceID`.
    public static func slot(of inferenceID: Hash32) -> Hash32 {
        SolidityStorage.mappingSlot(recordsSlot, key: inferenceID)
    }

    /// The slot of the per-model index (its length) of the model whose file hash is `modelFileHash`.
    public static func indexSlot(of modelFileHash: Hash32) -> Hash32 {
        SolidityStorage.mappingSlot(byModelSlot, key: modelFileHash)
    }

    /// Writes the record and appends its id to its model's index (charging storage gas).
    func write(_ context: NativeCallContext) throws {
        let base = try context.mappingSlot(Self.recordsSlot, key: inferenceID)
        for (k, word) in words.enumerated() { try context.store(word, at: SolidityStorage.offset(base, by: UInt256(UInt64(k)))) }
        let index = try context.mappingSlot(Self.byModelSlot, key: modelFileHash)
        try context.store(inferenceID, at: try context.pushArrayElement(index))
    }

    /// Reads the record of `inferenceID` through `load` (a state's storage of `0x…00F4`);
    /// nil when there is none.
    public static func read(_ inferenceID: Hash32, load: (Hash32) -> Hash32) -> InferenceRecord? {
        let base = slot(of: inferenceID)
        let w = (0..<wordCount).map { load(SolidityStorage.offset(base, by: UInt256(UInt64($0)))) }
        guard w[0] != .zero else { return nil }
        let who = UInt256(word: w[4]), spent = UInt256(word: w[5])
        let mask64 = UInt256(UInt64.max)
        return InferenceRecord(inferenceID: inferenceID, modelFileHash: w[0], inputHash: w[1], outputHash: w[2],
                               caller: Address(word: Hash32(word: who >> 96)), blockNumber: ((who >> 32) & mask64).uint64 ?? 0,
                               transactionHash: w[3], transactionIndex: ((spent >> 64) & mask64).uint64 ?? 0,
                               indexInBlock: (spent & mask64).uint64 ?? 0, gas: ((spent >> 128) & mask64).uint64 ?? 0,
                               kernelSpecVersion: (who & UInt256(UInt64(0xFFFF_FFFF))).uint64 ?? 0)
    }

    /// How many inferences the model with file hash `modelFileHash` has recorded.
    public static func count(ofModel modelFileHash: Hash32, load: (Hash32) -> Hash32) -> UInt64 {
        UInt256(word: load(indexSlot(of: modelFileHash))).uint64 ?? 0
    }

    /// The id of the model's `index`-th recorded inference (index below `count`).
    public static func id(ofModel modelFileHash: Hash32, at index: UInt64, load: (Hash32) -> Hash32) -> Hash32 {
        load(SolidityStorage.arrayElementSlot(indexSlot(of: modelFileHash), index: UInt256(index)))
    }
}
