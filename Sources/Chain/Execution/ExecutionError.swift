import Primitives

/// Why a transaction is not valid where it was checked (`TransactionRules`): refused at
/// admission (RPC, gossip) or left out of a block, as opposed to a failed transaction,
/// which is included with status 0 and pays for its gas. Each case carries the values
/// compared; `description` is geth's wording for the rule, then those values.
public enum InvalidTransaction: Error, Equatable, CustomStringConvertible {
    /// A legacy transaction without an EIP-155 chain id, refused at admission.
    case unprotected
    /// The chain id is not this chain's.
    case wrongChainId(got: UInt64, want: UInt64)
    /// The transaction creates a contract; this chain has no EVM.
    case contractCreation
    /// EIP-2681: the nonce is 2^64 − 1, after which the account's nonce could not grow.
    case nonceMax(sender: Address, nonce: UInt64)
    /// The tip cap exceeds the fee cap.
    case tipAboveFeeCap(sender: Address, tip: UInt256, feeCap: UInt256)
    /// gasLimit × maxFeePerGas does not fit 256 bits.
    case gasCostOverflow(gasLimit: UInt64, feeCap: UInt256)
    /// The gas limit does not cover the intrinsic gas.
    case intrinsicGasTooLow(have: UInt64, want: UInt64)
    /// At admission: the gas limit exceeds the block gas limit.
    case exceedsBlockGasLimit(gas: UInt64, limit: UInt64)
    /// In a block: less gas is left in the block than the transaction's limit.
    case blockGasExhausted(left: UInt64, wanted: UInt64)
    /// The fee cap is below the block's base fee.
    case feeCapBelowBaseFee(sender: Address, feeCap: UInt256, baseFee: UInt256)
    /// The nonce is below the sender's account nonce.
    case nonceTooLow(sender: Address, got: UInt64, state: UInt64)
    /// In a block: the nonce is above the sender's account nonce.
    case nonceTooHigh(sender: Address, got: UInt64, state: UInt64)
    /// The sender cannot pay gasLimit × maxFeePerGas + value (`want` nil: more than 2^256 − 1).
    case insufficientFunds(sender: Address, have: UInt256, want: UInt256?)

    public var description: String {
        switch self {
        case .unprotected: return "only replay-protected (EIP-155) transactions allowed over RPC"
        case let .wrongChainId(got, want): return "invalid chain id for signer: have \(got) want \(want)"
        case .contractCreation: return "contract creation is not supported on this chain (transaction has no 'to')"
        case let .nonceMax(sender, nonce): return "nonce has max value: address \(sender), nonce: \(nonce)"
        case let .tipAboveFeeCap(sender, tip, feeCap):
            return "max priority fee per gas higher than max fee per gas: address \(sender), maxPriorityFeePerGas: \(tip), maxFeePerGas: \(feeCap)"
        case let .gasCostOverflow(gasLimit, feeCap): return "gas limit × fee cap overflows 256 bits: gas \(gasLimit), maxFeePerGas: \(feeCap)"
        case let .intrinsicGasTooLow(have, want): return "intrinsic gas too low: have \(have), want \(want)"
        case let .exceedsBlockGasLimit(gas, limit): return "exceeds block gas limit: gas \(gas), limit \(limit)"
        case let .blockGasExhausted(left, wanted): return "gas limit reached: block has \(left) gas left, transaction wants \(wanted)"
        case let .feeCapBelowBaseFee(sender, feeCap, baseFee):
            return "max fee per gas less than block base fee: address \(sender), maxFeePerGas: \(feeCap), baseFee: \(baseFee)"
        case let .nonceTooLow(sender, got, state): return "nonce too low: address \(sender), tx: \(got) state: \(state)"
        case let .nonceTooHigh(sender, got, state): return "nonce too high: address \(sender), tx: \(got) state: \(state)"
        case let .insufficientFunds(sender, have, want):
            return "insufficient funds for gas * price + value: address \(sender) have \(have) want \(want.map { "\($0)" } ?? "more than 2^256-1")"
        }
    }
}
