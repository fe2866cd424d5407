import Foundation
import Primitives

/// The outcome of one included transaction.
public struct TransactionResult: Equatable {
    /// True when the call succeeded (receipt status 1).
    public let success: Bool
    /// Gas charged to the sender.
    public let gasUsed: UInt64
    /// Events emitted (empty when the call reverted).
    public let logs: [Log]
    /// Return data of a native call (the encoded revert reason when it reverted).
    public let returnData: [UInt8]
    /// The revert reason, when the call reverted.
    public let revertReason: String?
    /// Price per gas the sender paid: baseFee + min(tipCap, feeCap − baseFee).
    public let effectiveGasPrice: UInt256
}

/// The outcome of an `eth_call` or gas estimation: nothing is kept.
public struct CallResult: Equatable {
    /// Return data, or the encoded `Error(string)` when reverted.
    public let returnData: [UInt8]
    /// Gas the call used, intrinsic gas included.
    public let gasUsed: UInt64
    /// The revert reason, when the call reverted or ran out of gas.
    public let revertReason: String?
}

/// Applies transactions to state by the rules of docs/execution.md: Ethereum's fee
/// market (EIP-1559 base fee burned, tip to the proposer), value transfers, and native
/// handlers at reserved addresses. It never reads the clock and iterates nothing
/// unordered, so every validator computes the same state.
public struct TransactionExecutor {
    /// Native handlers by address.
    public let handlers: NativeHandlerRegistry
    /// Encodes a revert reason as return data (Solidity's `Error(string)`).
    let encodeRevert: (String) -> [UInt8]
    /// Receives one line per failed block hook and per note a hook left (the node's log).
    let hookNotice: @Sendable (String) -> Void

    /// Creates an executor dispatching to `handlers`; hook failures and notes go to
    /// `hookNotice`, standard error by default.
    public init(handlers: NativeHandlerRegistry, encodeRevert: @escaping (String) -> [UInt8],
                hookNotice: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data("\($0)\n".utf8)) }) {
        self.handlers = handlers
        self.encodeRevert = encodeRevert
        self.hookNotice = hookNotice
    }

    /// Applies `tx` (sent by `tx.sender`, at position `index` of `block`), drawing its gas
    /// limit from `gasLeft`. Throws `InvalidTransaction` (`TransactionRules`, execution
    /// stage) — leaving state untouched — when the transaction cannot be included at all.
    public func apply<T: ExecutableTransaction>(_ tx: T, index: Int, state: ExecutionState, block: BlockEnvironment,
                                                gasLeft: inout UInt64) throws -> TransactionResult {
        try TransactionRules.check(tx, state: state, context: TransactionRuleContext(stage: .execution, chainId: block.chainId,
                                                                                   baseFee: block.baseFee, gasAvailable: gasLeft))
        // The rules guarantee a recipient, a tip (fee cap ≥ base fee) and the funds.
        let to = tx.to ?? .zero
        let tip = tx.effectiveTip(baseFee: block.baseFee) ?? .zero
        let nonce = state.nonce(of: tx.sender)
        let balance = state.balance(of: tx.sender)

        // Buy all the gas up front at the effective price; refund what is unused.
        let price = block.baseFee + tip
        let prepaid = UInt256(tx.gasLimit) * price
        state.setBalance(balance - prepaid, of: tx.sender)
        state.setNonce(nonce + 1, of: tx.sender)

        let runner = NativeCallRunner(handlers: handlers, encodeRevert: encodeRevert, state: state, block: block,
                                      transaction: TransactionInfo(hash: tx.hash, index: index))
        let outcome = runner.run(from: tx.sender, to: to, value: tx.value, input: tx.data, gas: tx.gasLimit,
                                 intrinsicGas: tx.intrinsicGas, isStatic: false, depth: 0)
        let refund = UInt256(tx.gasLimit - outcome.gasUsed) * price
        state.setBalance(state.balance(of: tx.sender) + refund, of: tx.sender)
        let burned = UInt256(outcome.gasUsed) * block.baseFee
        state.setBalance(state.balance(of: block.coinbase) + UInt256(outcome.gasUsed) * tip, of: block.coinbase)
        SupplyLedger(state).recordBurn(burned)
        gasLeft -= outcome.gasUsed
        return TransactionResult(success: outcome.revertReason == nil, gasUsed: outcome.gasUsed, logs: outcome.logs,
                                 returnData: outcome.returnData, revertReason: outcome.revertReason, effectiveGasPrice: price)
    }

    /// Runs every handler's begin-block hook, in address order (before the block's first
    /// transaction).
    public func beginBlock(_ block: BlockEnvironment, state: ExecutionState) {
        runHooks("begin-block", block, state) { try $0.beginBlock($1) }
    }

    /// Runs every handler's end-block hook, in address order (after the block's last
    /// transaction, before `finalize`).
    public func endBlock(_ block: BlockEnvironment, state: ExecutionState) {
        runHooks("end-block", block, state) { try $0.endBlock($1) }
    }

    /// Hooks have no transaction and no receipt: a failed hook's changes are undone and
    /// the block goes on (the failure is deterministic, so every validator agrees). The
    /// failure and the hook's notes go to `hookNotice`, never silently.
    private func runHooks(_ phase: String, _ block: BlockEnvironment, _ state: ExecutionState,
                          _ hook: (NativeHandler, NativeCallContext) throws -> Void) {
        let runner = NativeCallRunner(handlers: handlers, encodeRevert: encodeRevert, state: state, block: block, transaction: nil)
        for handler in handlers.all {
            let outcome = runner.runHook(handler, gas: GasSchedule.blockHook, hook)
            for note in outcome.notes { hookNotice("block \(block.number): \(handler.name) \(phase) hook: \(note)") }
            if let reason = outcome.revertReason {
                hookNotice("block \(block.number): \(handler.name) \(phase) hook failed (\(reason)); its state changes were undone")
            }
        }
    }

    /// Mints the block reward to the proposer and records it in the supply ledger.
    public func finalize(block: BlockEnvironment, reward: UInt256, state: ExecutionState) {
        guard !reward.isZero else { return }
        state.setBalance(state.balance(of: block.coinbase) + reward, of: block.coinbase)
        SupplyLedger(state).recordMint(reward)
    }

    /// Executes a call without keeping any change (`eth_call`, `eth_estimateGas`). The
    /// sender pays no fee; `value`, if any, must be covered by its balance. With
    /// `isStatic`, any state change or event reverts the call. With `estimatingGas`, the
    /// call runs only to measure its gas (`NativeCallContext.isEstimatingGas`).
    public func call(from: Address, to: Address, value: UInt256, data: [UInt8], gasLimit: UInt64,
                     state: ExecutionState, block: BlockEnvironment, isStatic: Bool = false, estimatingGas: Bool = false) -> CallResult {
        let snapshot = state.snapshot()
        defer { state.revert(to: snapshot) }
        let intrinsic = GasSchedule.intrinsicGas(data: data)
        guard gasLimit >= intrinsic else {
            return CallResult(returnData: [], gasUsed: gasLimit, revertReason: "intrinsic gas too low: have \(gasLimit), want \(intrinsic)")
        }
        guard state.balance(of: from) >= value else {
            return CallResult(returnData: [], gasUsed: intrinsic, revertReason: "insufficient funds for transfer")
        }
        let runner = NativeCallRunner(handlers: handlers, encodeRevert: encodeRevert, state: state, block: block, transaction: nil,
                                      estimatingGas: estimatingGas)
        let outcome = runner.run(from: from, to: to, value: value, input: data, gas: gasLimit, intrinsicGas: intrinsic,
                                 isStatic: isStatic, depth: 0)
        return CallResult(returnData: outcome.returnData, gasUsed: outcome.gasUsed, revertReason: outcome.revertReason)
    }
}
