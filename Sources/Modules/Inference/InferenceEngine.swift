import Chain
import Inference
import Primitives

/// How a node runs models inside calls: the block's inference budget (a genesis
/// parameter), the kernel's thread count (never changes a result) and the compiled-session
/// cache (never changes gas).
public struct InferenceSettings {
    /// Inference gas (`InferenceGas`) all the inferences of one block may use together
    /// (the genesis `inferenceGasPerBlock`).
    public var blockGasBudget: UInt64
    /// Kernel threads per run.
    public var threads: Int
    /// Compiled sessions, shared by block execution and RPC.
    public var sessions: SessionCache

    /// Creates settings.
    public init(blockGasBudget: UInt64 = ChainConfig.defaultInferenceGasPerBlock, threads: Int = 1, sessions: SessionCache = SessionCache()) {
        self.blockGasBudget = blockGasBudget
        self.threads = threads
        self.sessions = sessions
    }
}

/// Runs one `ModelInferenceRequest` inside a call: resolves the model, checks the feeds,
/// charges the gas, draws on the block's budget, then runs the kernel (docs/inference.md).
/// Every refusal reverts with a reason naming the rule; nothing is charged for the
/// kernel before the gas is.
final class InferenceEngine {
    let models: ModelResolver
    let settings: InferenceSettings

    /// Storage slot of the block's inference meter: block number (64 bits) << 192 |
    /// inferences so far in that block (64 bits) << 128 | inference gas used (128 bits).
    static let meterSlot = Hash32.zero

    init(models: ModelResolver, settings: InferenceSettings) {
        self.models = models
        self.settings = settings
    }

    /// What one inference produced.
    struct Result {
        /// `0x` + Keccak-256(tx hash ‖ block number ‖ index of the inference in the block).
        let inferenceID: String
        /// The encoded `ModelOutput`.
        let output: ABIValue
    }

    /// Runs `input` on the model `modelID` (mode already checked) for `caller`; in a
    /// transaction, writes the inference's trust record (`InferenceRecord`). A
    /// gas-estimation run writes the record too, with placeholder hashes for what it does
    /// not know (the transaction, the output), so it pays the same storage gas; a plain
    /// call writes none.
    func run(modelID: String, input: ModelInput, caller: Address, context: NativeCallContext) throws -> Result {
        let model = try models.model(modelID, context: context)
        let session: InferenceSession
        do {
            session = try settings.sessions.session(model.fileHash, fileSize: model.size) {
                try InferenceSession(bytes: models.modelBytes(model, context: context))
            }
        } catch let revert as NativeRevert {
            throw revert
        } catch {
            throw NativeRevert("model \(model.id) does not compile: \(error)")
        }
        let feeds = try TensorConversion.feeds(input, for: session)
        let inputShapes = feeds.mapValues(\.shape)
        let (cost, gas) = settings.sessions.gas(model.fileHash, session: session, inputShapes: inputShapes)
        guard cost.isStatic else {
            throw NativeRevert("model \(model.id): its cost depends on input values (\(cost.dynamicReason ?? "a shape is not fixed")), so its gas cannot be known before it runs")
        }
        do { try session.limits.check(cost, context: "model \(model.id)") } catch { throw NativeRevert("\(error)") }
        try context.useGas(gas)
        let index = try drawBudget(gas, context)
        let output: ABIValue
        var outputHash = Self.placeholderHash
        if context.isEstimatingGas, let placeholder = TensorConversion.placeholderOutput(session, inputShapes: inputShapes) {
            output = placeholder
        } else {
            let tensors: [Tensor]
            do { tensors = try session.run(feeds, options: RunOptions(threads: settings.threads)) } catch { throw NativeRevert("\(error)") }
            output = try TensorConversion.modelOutput(tensors)
            outputHash = Keccak256.hash(TensorEncoding.canonical(tensors))
        }
        var seed = (context.transaction?.hash ?? .zero).bytes
        seed += UInt256(context.block.number).bigEndianBytes32.suffix(8) + UInt256(index).bigEndianBytes32.suffix(8)
        try context.chargeHashing(byteCount: seed.count)
        let inferenceID = Keccak256.hash(seed)
        if context.transaction != nil || context.isEstimatingGas {
            let record = InferenceRecord(
                inferenceID: inferenceID, modelFileHash: model.fileHash,
                inputHash: Keccak256.hash(TensorEncoding.canonical(session.inputs.compactMap { feeds[$0.name] })),
                outputHash: outputHash, caller: caller, blockNumber: context.block.number,
                transactionHash: context.transaction?.hash ?? Self.placeholderHash, transactionIndex: UInt64(context.transaction?.index ?? 0),
                indexInBlock: index, gas: gas, kernelSpecVersion: UInt64(context.block.kernelSpecVersion))
            try record.write(context)
        }
        return Result(inferenceID: inferenceID.hex, output: output)
    }

    /// What a gas-estimation run records for the hashes it cannot know: non-zero, so the
    /// storage gas equals a transaction's.
    static let placeholderHash = Keccak256.hash([])

    /// Adds `gas` to the block's meter; in a transaction, reverts when it would pass the
    /// budget (calls — `eth_call`, estimation — run on a block already built, so they only
    /// meter, with the same storage gas). Returns the index of this inference in its block.
    private func drawBudget(_ gas: UInt64, _ context: NativeCallContext) throws -> UInt64 {
        let word = UInt256(word: try context.load(Self.meterSlot))
        let block = context.block.number
        let sameBlock = (word >> 192).uint64 == block
        let index = sameBlock ? ((word >> 128) & UInt256(UInt64.max)).uint64! : 0
        let used = sameBlock ? (word & ((UInt256.one << 128) - .one)).uint64 ?? .max : 0
        let budget = settings.blockGasBudget
        guard gas <= budget else {
            throw NativeRevert("inference needs \(gas) inference gas, more than the block's inference budget of \(budget)")
        }
        guard context.transaction == nil || used <= budget - gas else {
            throw NativeRevert("block inference budget exhausted: \(used) of \(budget) used, this inference needs \(gas); retry in a later block")
        }
        let next = UInt256(block) << 192 | UInt256(index + 1) << 128 | UInt256(used + gas)
        try context.store(Hash32(word: next), at: Self.meterSlot)
        return index
    }
}
