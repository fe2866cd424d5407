/// Why the pool's own policy refused a transaction that meets `TransactionRules`
/// (those rules throw `InvalidTransaction`). Messages are geth's, so wallets and scripts
/// that match on them work unchanged; JSON-RPC returns them with code -32000.
public struct MempoolError: Error, Equatable, CustomStringConvertible {
    /// The rule broken; `message` may add detail after the rule's text.
    public enum Rule: String, Sendable {
        /// The same transaction is already in the pool.
        case alreadyKnown = "already known"
        /// A same-nonce replacement does not raise both fee fields by the price bump.
        case replacementUnderpriced = "replacement transaction underpriced"
        /// The sender cannot pay gasLimit × maxFeePerGas + value on top of what its
        /// other pooled transactions may cost.
        case insufficientFunds = "insufficient funds for gas * price + value"
        /// The pool's slots are full and nothing cheaper than the transaction can be evicted.
        case poolFull = "txpool is full"
        /// The sender already holds the per-account maximum of transactions.
        case accountLimit = "account limit exceeded"
        /// The raw transaction is larger than `MempoolLimits.maxTransactionBytes`.
        case oversizedData = "oversized data"
        /// The nonce is so far ahead of the account nonce that it would never be mined soon.
        case nonceTooHigh = "nonce too high"
    }

    /// The rule broken.
    public let rule: Rule
    /// geth's text for the rule, with detail.
    public let message: String

    init(_ rule: Rule, _ detail: String? = nil) {
        self.rule = rule
        self.message = detail.map { "\(rule.rawValue): \($0)" } ?? rule.rawValue
    }

    public var description: String { message }
}
