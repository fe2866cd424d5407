import Primitives

/// What the mempool and `TransactionRules` need to know about a transaction whose
/// signature has been checked and whose sender has been recovered. `SignedTransaction` conforms; tests
/// may use lighter types.
public protocol PoolTransaction {
    /// The transaction hash (keccak of the raw encoding).
    var hash: Hash32 { get }
    /// The recovered sender.
    var sender: Address { get }
    /// The sender's nonce this transaction uses.
    var nonce: UInt64 { get }
    /// Gas limit.
    var gasLimit: UInt64 { get }
    /// Fee cap per gas (`gasPrice` for legacy and EIP-2930 transactions).
    var maxFeePerGas: UInt256 { get }
    /// Tip cap per gas (`gasPrice` for legacy and EIP-2930 transactions).
    var maxPriorityFeePerGas: UInt256 { get }
    /// Value transferred.
    var value: UInt256 { get }
    /// Size of the raw encoding in bytes.
    var encodedSize: Int { get }
    /// The EIP-155 chain id; nil for an unprotected legacy transaction.
    var chainId: UInt64? { get }
    /// The recipient; nil for contract creation, which this chain rejects.
    var to: Address? { get }
    /// Gas charged before execution (transaction, calldata and access-list costs).
    var intrinsicGas: UInt64 { get }
}

extension PoolTransaction {
    /// The most the transaction can cost its sender: gasLimit × maxFeePerGas + value.
    /// Nil when that overflows 256 bits (such a transaction can never be paid for).
    public var maxCost: UInt256? {
        let (gasCost, o1) = UInt256(gasLimit).multipliedReportingOverflow(by: maxFeePerGas)
        let (total, o2) = gasCost.addingReportingOverflow(value)
        return o1 || o2 ? nil : total
    }

    /// The tip per gas the proposer earns at `baseFee`: min(tipCap, feeCap − baseFee);
    /// nil when the fee cap is below the base fee.
    public func effectiveTip(baseFee: UInt256) -> UInt256? {
        let (headroom, below) = maxFeePerGas.subtractingReportingOverflow(baseFee)
        if below { return nil }
        return Swift.min(headroom, maxPriorityFeePerGas)
    }
}

/// The account facts admission checks against: the state at the current head.
public protocol PoolStateReader {
    /// The account's next nonce at the head.
    func nonce(of address: Address) -> UInt64
    /// The account's balance at the head.
    func balance(of address: Address) -> UInt256
}
