import Primitives

/// The native module that checks and applies the evidence a block carries
/// (`Block.evidence`, docs/chain.md, "Evidence"): on this chain the staking module, which
/// verifies a duplicate vote and slashes and tombstones the validator. The chain treats
/// evidence as opaque bytes; this protocol is the one place it hands them over.
public protocol BlockEvidenceHandler: NativeHandler {
    /// Checks one evidence item of the block in `context` (the handler's own, with no
    /// transaction; `context.block.coinbase` is the proposer who included it) and applies
    /// its penalty. `genesisHash` completes the consensus sign-bytes domain with
    /// `context.block.chainId`. Throws `NativeRevert` naming the rule the item breaks:
    /// its changes are then undone and the block that carries it is invalid.
    func applyEvidence(_ evidence: [UInt8], genesisHash: Hash32, context: NativeCallContext) throws
}

extension TransactionExecutor {
    /// Applies one evidence item of `block` with the chain's evidence handler, before the
    /// block's first transaction, with `GasSchedule.blockHook` gas. Returns nil when it
    /// was applied, or the reason it was refused (nothing changed). Events the handler
    /// emits are not kept: evidence has no receipt; the block's evidence list and the
    /// handler's state record what happened.
    public func applyEvidence(_ evidence: [UInt8], genesisHash: Hash32, block: BlockEnvironment, state: ExecutionState) -> String? {
        guard let handler = handlers.all.lazy.compactMap({ $0 as? BlockEvidenceHandler }).first else {
            return "this chain has no module that handles evidence"
        }
        let runner = NativeCallRunner(handlers: handlers, encodeRevert: encodeRevert, state: state, block: block, transaction: nil)
        let outcome = runner.runHook(handler, gas: GasSchedule.blockHook, eventsAllowed: true) { _, context in
            try handler.applyEvidence(evidence, genesisHash: genesisHash, context: context)
        }
        return outcome.revertReason
    }
}
