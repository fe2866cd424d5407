import Primitives

/// The facts of the block a transaction executes in.
public struct BlockEnvironment: Sendable {
    /// Block number.
    public var number: UInt64
    /// Block timestamp (seconds), chosen by the proposer.
    public var timestamp: UInt64
    /// The proposer, who receives tips and the block reward.
    public var coinbase: Address
    /// The block's base fee per gas (burned).
    public var baseFee: UInt256
    /// The block gas limit.
    public var gasLimit: UInt64
    /// The chain id transactions must be signed for.
    public var chainId: UInt64
    /// What module blobs cost and how large one may be (genesis parameters).
    public var blobs: BlobParameters
    /// The inference kernel's spec version at this height (`KernelSpecSchedule`): the
    /// arithmetic every model run in this block follows.
    public var kernelSpecVersion: Int
    /// The hash of the parent block (zero where no parent is known: `eth_call` on a
    /// reconstructed environment, tests). The jobs module seeds its draws with it.
    public var parentHash: Hash32 = .zero

    /// Creates an environment (the node's come from `ChainConfig.environment`, which takes
    /// the blob parameters and the kernel spec version from the chain's config).
    public init(number: UInt64, timestamp: UInt64, coinbase: Address, baseFee: UInt256, gasLimit: UInt64, chainId: UInt64,
                blobs: BlobParameters = .default, kernelSpecVersion: Int = 1) {
        self.blobs = blobs
        self.number = number
        self.timestamp = timestamp
        self.coinbase = coinbase
        self.baseFee = baseFee
        self.gasLimit = gasLimit
        self.chainId = chainId
        self.kernelSpecVersion = kernelSpecVersion
    }
}

/// Genesis parameters of module blobs: byte strings a module keeps outside its storage
/// trie (`NativeCallContext.storeBlob`), such as the model registry's ONNX files.
/// docs/models.md shows what they make a model upload cost.
public struct BlobParameters: Equatable, Sendable {
    /// Gas per byte written to a blob (on top of the calldata that carried it).
    public var gasPerByte: UInt64
    /// Largest blob, in bytes: the per-model size cap.
    public var maxBytes: Int
    /// Blocks a blob assembled from parts (a model upload) may stay unfinished before the
    /// module deletes its parts.
    public var uploadExpiryBlocks: UInt64

    /// Creates the parameters.
    public init(gasPerByte: UInt64, maxBytes: Int, uploadExpiryBlocks: UInt64) {
        self.gasPerByte = gasPerByte
        self.maxBytes = maxBytes
        self.uploadExpiryBlocks = uploadExpiryBlocks
    }

    /// 8 gas per byte, 32 MiB and 7,200 blocks, used for what the genesis file leaves out.
    public static let `default` = BlobParameters(gasPerByte: 8, maxBytes: 32 << 20, uploadExpiryBlocks: 7_200)
}
