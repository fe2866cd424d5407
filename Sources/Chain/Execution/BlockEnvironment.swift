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
    /// The inference kernel's spec version at this height (`KernelSpecSchedule`): the
    /// arithmetic every model run in this block follows.
    public var kernelSpecVersion: Int

    /// Creates an environment (the node's come from `ChainConfig.environment`, which takes
    /// the kernel spec version from the chain's schedule).
    public init(number: UInt64, timestamp: UInt64, coinbase: Address, baseFee: UInt256, gasLimit: UInt64, chainId: UInt64,
                kernelSpecVersion: Int = 1) {
        self.number = number
        self.timestamp = timestamp
        self.coinbase = coinbase
        self.baseFee = baseFee
        self.gasLimit = gasLimit
        self.chainId = chainId
        self.kernelSpecVersion = kernelSpecVersion
    }
}
