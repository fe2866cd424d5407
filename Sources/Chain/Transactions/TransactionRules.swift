import Primitives

/// Where a transaction is checked, and the facts it is checked against.
public struct TransactionRuleContext: Sendable {
    /// Admission (RPC, the mempool, gossip) or execution in a block.
    public enum Stage: Sendable {
        /// Entering the pool: a nonce ahead of the account's is allowed (it waits), an
        /// unprotected legacy transaction is not, and the gas limit is compared with the
        /// block gas limit.
        case admission
        /// Executed in a block: the nonce must be the account's, and the gas limit is
        /// compared with the gas left in the block.
        case execution
    }

    /// Admission or execution.
    public var stage: Stage
    /// This chain's EIP-155 id.
    public var chainId: UInt64
    /// The base fee of the block the transaction would enter.
    public var baseFee: UInt256
    /// The block gas limit at admission; the gas left in the block at execution.
    public var gasAvailable: UInt64

    /// A context.
    public init(stage: Stage, chainId: UInt64, baseFee: UInt256, gasAvailable: UInt64) {
        self.stage = stage
        self.chainId = chainId
        self.baseFee = baseFee
        self.gasAvailable = gasAvailable
    }
}

/// The validity rules of a transaction, in one place: RPC admission and the mempool
/// (`Mempool.add`), gossip, and execution (`TransactionExecutor.apply`) all call `check`,
/// so a transaction the pool admits is one a block may include. Pool policy (duplicates,
/// replacement, per-account limits, the sender's other pooled transactions) is the
/// mempool's own, on top of these rules.
public enum TransactionRules {
    /// The rules that need neither state nor chain: EIP-2681's nonce cap, tip ≤ fee cap,
    /// gasLimit × fee cap representable, and the intrinsic gas.
    public static func checkStateless<T: PoolTransaction>(_ tx: T) throws {
        guard tx.nonce < UInt64.max else { throw InvalidTransaction.nonceMax(sender: tx.sender, nonce: tx.nonce) }
        guard tx.maxPriorityFeePerGas <= tx.maxFeePerGas else {
            throw InvalidTransaction.tipAboveFeeCap(sender: tx.sender, tip: tx.maxPriorityFeePerGas, feeCap: tx.maxFeePerGas)
        }
        guard !UInt256(tx.gasLimit).multipliedReportingOverflow(by: tx.maxFeePerGas).overflow else {
            throw InvalidTransaction.gasCostOverflow(gasLimit: tx.gasLimit, feeCap: tx.maxFeePerGas)
        }
        guard tx.gasLimit >= tx.intrinsicGas else { throw InvalidTransaction.intrinsicGasTooLow(have: tx.gasLimit, want: tx.intrinsicGas) }
    }

    /// Every rule, in order: chain id (and replay protection at admission), no contract
    /// creation, the stateless rules, gas against the block, fee cap against the base fee,
    /// nonce and funds against `state`. Throws `InvalidTransaction` with the values compared.
    public static func check<T: PoolTransaction>(_ tx: T, state: PoolStateReader, context: TransactionRuleContext) throws {
        if let chainId = tx.chainId {
            guard chainId == context.chainId else { throw InvalidTransaction.wrongChainId(got: chainId, want: context.chainId) }
        } else if context.stage == .admission {
            throw InvalidTransaction.unprotected
        }
        guard tx.to != nil else { throw InvalidTransaction.contractCreation }
        try checkStateless(tx)
        guard tx.gasLimit <= context.gasAvailable else {
            switch context.stage {
            case .admission: throw InvalidTransaction.exceedsBlockGasLimit(gas: tx.gasLimit, limit: context.gasAvailable)
            case .execution: throw InvalidTransaction.blockGasExhausted(left: context.gasAvailable, wanted: tx.gasLimit)
            }
        }
        guard tx.maxFeePerGas >= context.baseFee else {
            throw InvalidTransaction.feeCapBelowBaseFee(sender: tx.sender, feeCap: tx.maxFeePerGas, baseFee: context.baseFee)
        }
        let nonce = state.nonce(of: tx.sender)
        guard tx.nonce >= nonce else { throw InvalidTransaction.nonceTooLow(sender: tx.sender, got: tx.nonce, state: nonce) }
        if context.stage == .execution && tx.nonce > nonce {
            throw InvalidTransaction.nonceTooHigh(sender: tx.sender, got: tx.nonce, state: nonce)
        }
        let balance = state.balance(of: tx.sender)
        guard let cost = tx.maxCost, cost <= balance else {
            throw InvalidTransaction.insufficientFunds(sender: tx.sender, have: balance, want: tx.maxCost)
        }
    }
}
