import Primitives

/// The transaction a native call belongs to.
public struct TransactionInfo: Equatable, Sendable {
    /// The transaction's hash.
    public let hash: Hash32
    /// Its index in the block.
    public let index: Int

    /// Creates the record.
    public init(hash: Hash32, index: Int) {
        self.hash = hash
        self.index = index
    }
}

/// What a native call returned to the module that made it (`NativeCallContext.call`).
public struct NativeCallOutcome: Equatable {
    /// True when the callee returned; false when it reverted, ran out of gas or could
    /// not be entered (depth limit, value not covered).
    public let success: Bool
    /// Return data, or the encoded `Error(string)` of a revert.
    public let returnData: [UInt8]
    /// The reason, when the call failed.
    public let revertReason: String?
    /// Gas the callee used.
    public let gasUsed: UInt64
}

/// What a native handler sees and may do during one call: the caller, value and
/// input, the block and transaction, gas metering, its own storage (raw words and
/// Solidity-layout helpers), events, its own account's balance (pay out, mint, burn)
/// and calls to other modules.
///
/// In a static context — a `view` function, a `staticCall`, or anything called from
/// one — every state change (storage, value, mint, burn) and every event reverts with
/// `write protection: …`. Static-ness passes down to every nested call.
///
/// A context belongs to one call on one thread; it is not shared.
public final class NativeCallContext {
    /// Raised when a call needs more gas than it has left.
    public struct OutOfGas: Error, Equatable {
        /// Creates the error (a module rethrows it when a module it called ran out of gas).
        public init() {}
    }

    /// Deepest nesting of module-to-module calls (the outermost call is depth 0).
    public static let maxDepth = 64

    /// The module's own address (storage, balance and events are its).
    public let address: Address
    /// The transaction sender (or `eth_call`'s `from`), or the calling module for a
    /// nested call; the zero address in block hooks.
    public let caller: Address
    /// Value sent with the call, already credited to the handler's account.
    public let value: UInt256
    /// The calldata.
    public let input: [UInt8]
    /// The block the call executes in.
    public let block: BlockEnvironment
    /// The transaction being executed; nil in `eth_call`, gas estimation and block hooks.
    public let transaction: TransactionInfo?
    /// Nesting depth: 0 for the call the transaction makes.
    public let depth: Int
    /// True when the call runs only to measure its gas (`eth_estimateGas`): its result is
    /// discarded. A handler may then skip work whose gas it has already charged and
    /// whose outcome cannot change the gas still to be charged (the inference kernel,
    /// when the output's size is known from shapes), so that it charges exactly what
    /// the real call would without doing the work.
    public var isEstimatingGas: Bool { runner.estimatingGas }
    /// Gas still available.
    public private(set) var gasLeft: UInt64
    /// Events emitted so far (nested calls' included), in order.
    public private(set) var logs: [Log] = []
    /// Diagnostics for the node's log (`note`): no part of state or consensus.
    public private(set) var notes: [String] = []

    private let staticFrame: Bool
    private var staticScopes = 0
    private let eventsAllowed: Bool
    let runner: NativeCallRunner

    init(address: Address, caller: Address, value: UInt256, input: [UInt8], isStatic: Bool, depth: Int, gas: UInt64,
         eventsAllowed: Bool, runner: NativeCallRunner) {
        self.address = address
        self.caller = caller
        self.value = value
        self.input = input
        self.block = runner.block
        self.transaction = runner.transaction
        self.staticFrame = isStatic
        self.depth = depth
        self.gasLeft = gas
        self.eventsAllowed = eventsAllowed
        self.runner = runner
    }

    private var state: ExecutionState { runner.state }

    /// True when the call must not change state.
    public var isStatic: Bool { staticFrame || staticScopes > 0 }

    /// Runs `body` as a static call (a `view` function): state changes and events in it,
    /// and in anything it calls, revert.
    public func withStaticScope<T>(_ body: () throws -> T) rethrows -> T {
        staticScopes += 1
        defer { staticScopes -= 1 }
        return try body()
    }

    /// Charges `amount` gas.
    public func useGas(_ amount: UInt64) throws {
        guard amount <= gasLeft else {
            gasLeft = 0
            throw OutOfGas()
        }
        gasLeft -= amount
    }

    /// Runs `body` in a state snapshot with at most `gasCap` of the gas left. Returns nil
    /// when it succeeded, or the reason it failed (a revert, or running out of its cap)
    /// after undoing its state changes and events: a failure costs the gas it used and
    /// nothing else, so a block hook can isolate one item of its work from the others.
    public func attempt(gasCap: UInt64, _ body: () throws -> Void) -> String? {
        let snapshot = state.snapshot()
        let logCount = logs.count
        let spare = gasLeft - Swift.min(gasCap, gasLeft)
        gasLeft -= spare
        defer { gasLeft += spare }
        do {
            try body()
            return nil
        } catch {
            state.revert(to: snapshot)
            logs.removeSubrange(logCount...)
            switch error {
            case let revert as NativeRevert: return revert.reason
            case is OutOfGas: return "out of gas"
            default: return "\(error)"
            }
        }
    }

    /// Records a diagnostic for the node's log (a block hook's work that failed or was
    /// deferred); it never changes state or gas.
    public func note(_ message: String) { notes.append(message) }

    /// Runs `body` as a read-only look ahead whose result the caller uses only as a cache of
    /// pure work (a signature recovered over a digest it will compute again in order): no
    /// gas is charged and every state change or event in it reverts, so the call's gas,
    /// state and events are those of a call that never ran it.
    public func speculatively<T>(_ body: () throws -> T) rethrows -> T {
        let saved = gasLeft
        gasLeft = .max
        staticScopes += 1
        defer {
            gasLeft = saved
            staticScopes -= 1
        }
        return try body()
    }

    private func requireWritable(_ what: String) throws {
        if isStatic { throw NativeRevert("write protection: \(what) in a static call") }
    }

    // MARK: - Storage

    /// Reads `slot` of the handler's storage.
    public func load(_ slot: Hash32) throws -> Hash32 {
        try useGas(GasSchedule.storageRead)
        return state.storage(of: address, slot: slot)
    }

    /// Reads `slot` of another module's storage (read-only, like a contract reading a
    /// public variable of another): one storage read.
    public func load(_ slot: Hash32, of account: Address) throws -> Hash32 {
        try useGas(GasSchedule.storageRead)
        return state.storage(of: account, slot: slot)
    }

    /// Reads `slot` of `account`'s storage without charging gas: for a version switch that
    /// decides whether a rule applies at all, so that a chain made before the rule pays
    /// exactly what it paid before it (the rule charges its own reads once it applies).
    public func uncheckedStorage(_ slot: Hash32, of account: Address) -> Hash32 {
        state.storage(of: account, slot: slot)
    }

    /// Writes `slot` of the handler's storage.
    public func store(_ value: Hash32, at slot: Hash32) throws {
        try requireWritable("state change")
        let current = state.storage(of: address, slot: slot)
        try useGas(current == .zero && value != .zero ? GasSchedule.storageSet : GasSchedule.storageUpdate)
        state.setStorage(value, of: address, slot: slot)
    }

    /// Charges for hashing `byteCount` bytes (per 32-byte word, rounded up).
    public func chargeHashing(byteCount: Int) throws {
        try useGas(GasSchedule.hashWord * UInt64((byteCount + 31) / 32))
    }

    // MARK: - Blobs

    /// Blob `key` of the module, nil when absent: bytes kept outside the storage trie
    /// (the module commits to them in its storage). Charged as one storage read, whatever
    /// the size.
    public func blob(_ key: Hash32) throws -> [UInt8]? {
        try useGas(GasSchedule.storageRead)
        return state.blob(of: address, key: key)
    }

    /// Blob `key` of `account`, read without charging gas: for reads whose cost must not
    /// depend on whether they happen at all (a compiled-model cache miss), which the
    /// caller pays for by rules of its own.
    public func uncheckedBlob(_ key: Hash32, of account: Address) -> [UInt8]? {
        state.blob(of: account, key: key)
    }

    /// Stores `bytes` as blob `key` (replacing any), charged a storage set plus
    /// `block.blobs.gasPerByte` per byte. Refuses bytes over `block.blobs.maxBytes`.
    public func storeBlob(_ bytes: [UInt8], at key: Hash32) throws {
        try requireWritable("blob write")
        try checkBlobSize(bytes.count)
        let (perByte, overflow) = block.blobs.gasPerByte.multipliedReportingOverflow(by: UInt64(bytes.count))
        try useGas(overflow ? .max : GasSchedule.storageSet.addingReportingOverflow(perByte).partialValue)
        state.setBlob(bytes, of: address, key: key)
    }

    /// Joins blobs `parts`, in order, into blob `key` and deletes the parts; returns the
    /// joined bytes. The bytes were paid for when the parts were stored, so this costs a
    /// storage set plus a storage update per part. Reverts when a part is missing or the
    /// result is over `block.blobs.maxBytes`.
    public func joinBlobs(_ parts: [Hash32], into key: Hash32) throws -> [UInt8] {
        try requireWritable("blob write")
        try useGas(GasSchedule.storageSet + GasSchedule.storageUpdate * UInt64(parts.count))
        var joined: [UInt8] = []
        for part in parts {
            guard let bytes = state.blob(of: address, key: part) else { throw NativeRevert("blob \(part) is missing") }
            try checkBlobSize(joined.count + bytes.count)
            joined += bytes
        }
        for part in parts { state.setBlob(nil, of: address, key: part) }
        state.setBlob(joined, of: address, key: key)
        return joined
    }

    /// Deletes blob `key` (a storage update).
    public func deleteBlob(_ key: Hash32) throws {
        try requireWritable("blob delete")
        try useGas(GasSchedule.storageUpdate)
        state.setBlob(nil, of: address, key: key)
    }

    private func checkBlobSize(_ size: Int) throws {
        guard size <= block.blobs.maxBytes else {
            throw NativeRevert("blob of \(size) bytes exceeds the cap of \(block.blobs.maxBytes) bytes")
        }
    }

    // MARK: - Events

    /// Emits an event with `topics` (at most four) and ABI-encoded `data`.
    public func emit(topics: [Hash32], data: [UInt8]) throws {
        try requireWritable("event")
        guard eventsAllowed else { throw NativeRevert("events cannot be emitted in block hooks: they have no receipt") }
        guard topics.count <= 4 else { throw NativeRevert("a log has at most four topics, got \(topics.count)") }
        try useGas(GasSchedule.log + GasSchedule.logTopic * UInt64(topics.count) + GasSchedule.logDataByte * UInt64(data.count))
        logs.append(Log(address: address, topics: topics, data: data))
    }

    // MARK: - Balances and supply

    /// The $OPG balance of `account`.
    public func balance(of account: Address) throws -> UInt256 {
        try useGas(GasSchedule.balanceRead)
        return state.balance(of: account)
    }

    /// Pays `amount` from the module's own account to `recipient`; reverts when the
    /// module holds less.
    public func transfer(_ amount: UInt256, to recipient: Address) throws {
        try requireWritable("value transfer")
        try useGas(GasSchedule.valueTransfer)
        try debitOwnAccount(amount)
        try credit(amount, to: recipient)
    }

    /// Creates `amount` new $OPG in `recipient`'s account and records it as minted in the
    /// supply ledger, so `sum(balances) == genesis + minted − burned` still holds.
    public func mint(_ amount: UInt256, to recipient: Address) throws {
        try requireWritable("mint")
        try useGas(GasSchedule.valueTransfer + GasSchedule.storageUpdate)
        let ledger = SupplyLedger(state)
        guard !ledger.minted.addingReportingOverflow(amount).overflow else { throw NativeRevert("mint overflows the minted total") }
        try credit(amount, to: recipient)
        ledger.recordMint(amount)
    }

    /// Destroys `amount` $OPG from the module's own account and records it as burned.
    public func burn(_ amount: UInt256) throws {
        try requireWritable("burn")
        try useGas(GasSchedule.storageUpdate)
        let ledger = SupplyLedger(state)
        guard !ledger.burned.addingReportingOverflow(amount).overflow else { throw NativeRevert("burn overflows the burned total") }
        try debitOwnAccount(amount)
        ledger.recordBurn(amount)
    }

    /// Moves `amount` from the module's own account into the bonded total of the supply
    /// ledger (stake: in no balance, so `sum(balances) + staked` is still the supply).
    public func bond(_ amount: UInt256) throws { try hold(amount, in: .staked) }

    /// Pays `amount` out of the bonded total to `recipient`'s balance.
    public func releaseBond(_ amount: UInt256, to recipient: Address) throws { try release(amount, from: .staked, to: recipient) }

    /// Destroys `amount` of the bonded total and records it as burned (slashing).
    public func burnBond(_ amount: UInt256) throws { try burnHeld(amount, from: .staked) }

    /// Moves `amount` from the module's own account into the escrowed total of the supply
    /// ledger (job fees, collateral, bonds: in no balance until released or burned).
    public func escrow(_ amount: UInt256) throws { try hold(amount, in: .escrowed) }

    /// Pays `amount` out of the escrowed total to `recipient`'s balance.
    public func releaseEscrow(_ amount: UInt256, to recipient: Address) throws { try release(amount, from: .escrowed, to: recipient) }

    /// Destroys `amount` of the escrowed total and records it as burned.
    public func burnEscrow(_ amount: UInt256) throws { try burnHeld(amount, from: .escrowed) }

    private func hold(_ amount: UInt256, in total: SupplyLedger.HeldTotal) throws {
        try requireWritable(total.holdVerb)
        try useGas(GasSchedule.storageUpdate)
        let ledger = SupplyLedger(state)
        guard !ledger[total].addingReportingOverflow(amount).overflow else {
            throw NativeRevert("\(total.holdVerb) overflows the \(total.name) total")
        }
        try debitOwnAccount(amount)
        ledger[total] = ledger[total] + amount
    }

    private func release(_ amount: UInt256, from total: SupplyLedger.HeldTotal, to recipient: Address) throws {
        try requireWritable("\(total.holdVerb) release")
        try useGas(GasSchedule.valueTransfer + GasSchedule.storageUpdate)
        let ledger = SupplyLedger(state)
        guard ledger[total] >= amount else { throw NativeRevert("release of \(amount) exceeds the \(total.name) total \(ledger[total])") }
        try credit(amount, to: recipient)
        ledger[total] = ledger[total] - amount
    }

    private func burnHeld(_ amount: UInt256, from total: SupplyLedger.HeldTotal) throws {
        try requireWritable("burn")
        try useGas(2 * GasSchedule.storageUpdate)
        let ledger = SupplyLedger(state)
        guard ledger[total] >= amount else { throw NativeRevert("burn of \(amount) exceeds the \(total.name) total \(ledger[total])") }
        guard !ledger.burned.addingReportingOverflow(amount).overflow else { throw NativeRevert("burn overflows the burned total") }
        ledger[total] = ledger[total] - amount
        ledger.recordBurn(amount)
    }

    private func debitOwnAccount(_ amount: UInt256) throws {
        let have = state.balance(of: address)
        guard have >= amount else { throw NativeRevert("insufficient module balance: have \(have) want \(amount)") }
        state.setBalance(have - amount, of: address)
    }

    private func credit(_ amount: UInt256, to account: Address) throws {
        let (sum, overflow) = state.balance(of: account).addingReportingOverflow(amount)
        guard !overflow else { throw NativeRevert("balance of \(account) would overflow") }
        state.setBalance(sum, of: account)
    }

    // MARK: - Calls to other modules

    /// Calls the module at `target` with `input`, sending `value` from this module's
    /// account and at most `gas` (default: all that is left). The callee's caller is
    /// this module; a static context stays static. A failed callee undoes its own
    /// changes and is reported in the outcome, not thrown.
    public func call(_ target: Address, input: [UInt8], value: UInt256 = .zero, gas: UInt64? = nil) throws -> NativeCallOutcome {
        if !value.isZero { try requireWritable("value transfer") }
        return try nestedCall(target, input: input, value: value, gas: gas, isStatic: isStatic)
    }

    /// Calls the module at `target` statically: any state change or event in the callee
    /// (or anything it calls) reverts the callee.
    public func staticCall(_ target: Address, input: [UInt8], gas: UInt64? = nil) throws -> NativeCallOutcome {
        try nestedCall(target, input: input, value: .zero, gas: gas, isStatic: true)
    }

    private func nestedCall(_ target: Address, input: [UInt8], value: UInt256, gas: UInt64?, isStatic: Bool) throws -> NativeCallOutcome {
        try useGas(value.isZero ? GasSchedule.nativeCall : GasSchedule.nativeCall + GasSchedule.valueTransfer)
        guard depth < Self.maxDepth else {
            return failed("call depth limit \(Self.maxDepth) exceeded")
        }
        guard state.balance(of: address) >= value else { return failed("insufficient funds for transfer") }
        let granted = min(gas ?? gasLeft, gasLeft)
        let outcome = runner.run(from: address, to: target, value: value, input: input, gas: granted, intrinsicGas: 0,
                                 isStatic: isStatic, depth: depth + 1)
        gasLeft -= outcome.gasUsed
        if outcome.revertReason == nil { logs += outcome.logs }
        return NativeCallOutcome(success: outcome.revertReason == nil, returnData: outcome.returnData,
                                 revertReason: outcome.revertReason, gasUsed: outcome.gasUsed)
    }

    private func failed(_ reason: String) -> NativeCallOutcome {
        NativeCallOutcome(success: false, returnData: runner.encodeRevert(reason), revertReason: reason, gasUsed: 0)
    }
}

/// Runs native calls against one state for one transaction, `eth_call` or block hook:
/// the executor's outermost call and every module-to-module call go through `run`.
final class NativeCallRunner {
    /// What a call did.
    struct Outcome {
        var gasUsed: UInt64
        var logs: [Log] = []
        var returnData: [UInt8] = []
        var revertReason: String?
        /// The call's `NativeCallContext.notes` (block hooks).
        var notes: [String] = []
    }

    let handlers: NativeHandlerRegistry
    let encodeRevert: (String) -> [UInt8]
    let state: ExecutionState
    let block: BlockEnvironment
    let transaction: TransactionInfo?
    /// True for `eth_estimateGas` runs (`NativeCallContext.isEstimatingGas`).
    let estimatingGas: Bool

    init(handlers: NativeHandlerRegistry, encodeRevert: @escaping (String) -> [UInt8], state: ExecutionState,
         block: BlockEnvironment, transaction: TransactionInfo?, estimatingGas: Bool = false) {
        self.handlers = handlers
        self.encodeRevert = encodeRevert
        self.state = state
        self.block = block
        self.transaction = transaction
        self.estimatingGas = estimatingGas
    }

    /// Moves `value` and runs the handler at `to`, if any, with `gas − intrinsicGas`. A
    /// revert or running out of gas undoes everything done here (value included).
    func run(from: Address, to: Address, value: UInt256, input: [UInt8], gas: UInt64, intrinsicGas: UInt64,
             isStatic: Bool, depth: Int) -> Outcome {
        let snapshot = state.snapshot()
        if !value.isZero {
            state.setBalance(state.balance(of: from) - value, of: from)
            state.setBalance(state.balance(of: to) + value, of: to)
        }
        guard let handler = handlers.handler(at: to) else { return Outcome(gasUsed: intrinsicGas) }
        let context = NativeCallContext(address: to, caller: from, value: value, input: input, isStatic: isStatic, depth: depth,
                                        gas: gas - intrinsicGas, eventsAllowed: true, runner: self)
        return guarded(handler, context, gas: gas, snapshot: snapshot) {
            try context.useGas(GasSchedule.nativeCall)
            return try handler.call(context)
        }
    }

    /// Runs a block hook of `handler` with `gas`; a failed hook's changes are undone.
    /// Events revert unless `eventsAllowed` (evidence, whose events the caller drops).
    func runHook(_ handler: NativeHandler, gas: UInt64, eventsAllowed: Bool = false,
                 _ hook: (NativeHandler, NativeCallContext) throws -> Void) -> Outcome {
        let context = NativeCallContext(address: handler.address, caller: .zero, value: .zero, input: [], isStatic: false, depth: 0,
                                        gas: gas, eventsAllowed: eventsAllowed, runner: self)
        return guarded(handler, context, gas: gas, snapshot: state.snapshot()) {
            try hook(handler, context)
            return []
        }
    }

    private func guarded(_ handler: NativeHandler, _ context: NativeCallContext, gas: UInt64, snapshot: Int,
                         _ body: () throws -> [UInt8]) -> Outcome {
        do {
            let output = try body()
            return Outcome(gasUsed: gas - context.gasLeft, logs: context.logs, returnData: output, notes: context.notes)
        } catch let revert as NativeRevert {
            state.revert(to: snapshot)
            return Outcome(gasUsed: gas - context.gasLeft, returnData: encodeRevert(revert.reason), revertReason: revert.reason,
                           notes: context.notes)
        } catch is NativeCallContext.OutOfGas {
            state.revert(to: snapshot)
            return Outcome(gasUsed: gas, revertReason: "out of gas", notes: context.notes)
        } catch {
            state.revert(to: snapshot)
            return Outcome(gasUsed: gas, revertReason: "\(handler.name): \(error)", notes: context.notes)
        }
    }
}
