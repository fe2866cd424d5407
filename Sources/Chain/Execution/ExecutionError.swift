import Primitives

/// Why a transaction cannot be included in a block at all (as opposed to a failed
/// transaction, which is included with status 0 and pays for its gas).
public enum InvalidTransaction: Error, Equatable, CustomStringConvertible {
    /// The nonce is not the sender's next nonce.
    case nonceMismatch(expected: UInt64, got: UInt64)
    /// The sender cannot pay gasLimit × maxFeePerGas + value.
    case insufficientFunds(have: UInt256, want: UInt256?)
    /// The block has less gas left than the transaction's limit.
    case blockGasExhausted(left: UInt64, wanted: UInt64)
    /// The fee cap is below the block's base fee.
    case feeCapBelowBaseFee(feeCap: UInt256, baseFee: UInt256)
    /// The tip cap exceeds the fee cap.
    case tipAboveFeeCap
    /// The gas limit does not cover the intrinsic gas.
    case intrinsicGasTooLow(limit: UInt64, intrinsic: UInt64)
    /// The transaction creates a contract; this chain has no EVM.
    case contractCreation

    public var description: String {
        switch self {
        case let .nonceMismatch(expected, got): return "nonce \(got) is not the sender's next nonce \(expected)"
        case let .insufficientFunds(have, want): return "insufficient funds for gas * price + value: have \(have) want \(want.map { "\($0)" } ?? "more than 2^256-1")"
        case let .blockGasExhausted(left, wanted): return "block has \(left) gas left, transaction wants \(wanted)"
        case let .feeCapBelowBaseFee(feeCap, baseFee): return "max fee per gas less than block base fee: maxFeePerGas: \(feeCap), baseFee: \(baseFee)"
        case .tipAboveFeeCap: return "max priority fee per gas higher than max fee per gas"
        case let .intrinsicGasTooLow(limit, intrinsic): return "intrinsic gas too low: have \(limit), want \(intrinsic)"
        case .contractCreation: return "contract creation is not supported: opg runs native handlers, not an EVM"
        }
    }
}
