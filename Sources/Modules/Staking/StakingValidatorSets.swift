import Chain
import Primitives

/// The chain's validator sets taken from the staking module (docs/staking.md, "Validator
/// set"; docs/chain.md, "Validators"): the set that signs block H is the one staking
/// recorded for H, read from the state of H's parent through the module's own
/// `validatorsAt` view, so the headers' `validatorsHash` and `nextValidatorsHash`, RPC's
/// `opg_getValidators` and `eth_call` all agree. A change made in block H shows in the
/// next-set hash of block H + 1 and signs from block H + 2.
///
/// Staking's validator (account, consensus key, power) becomes the chain's `Validator`
/// field for field; members with power 0 are not in a recorded set.
public struct StakingValidatorSets: ValidatorSetProvider, @unchecked Sendable {
    /// Gas for each `validatorsAt` read: ample for the largest set the end-block hook can record.
    static let readGas: UInt64 = 1_000_000_000

    private let config: ChainConfig
    private let database: ChainDatabase
    private let executor: TransactionExecutor

    /// Sets read from `database`'s state with the modules of `handlers` (which must
    /// include the staking module). The database and handlers are thread-safe
    /// (ChainDatabase, NativeHandlerRegistry), which is why this value may be shared.
    public init(config: ChainConfig, database: ChainDatabase, handlers: NativeHandlerRegistry) {
        self.config = config
        self.database = database
        self.executor = TransactionExecutor(handlers: handlers, encodeRevert: ABI.encodeRevert)
    }

    public func validatorSets(forChildOf parent: Header) throws -> (current: ValidatorSet, next: ValidatorSet) {
        let state = database.state(at: parent)
        return (try set(at: parent.number + 1, parent: parent, state: state), try set(at: parent.number + 2, parent: parent, state: state))
    }

    private func set(at height: UInt64, parent: Header, state: StateDB) throws -> ValidatorSet {
        let env = config.environment(number: parent.number + 1, timestamp: parent.timestamp, coinbase: .zero, baseFee: .zero,
                                     gasLimit: Self.readGas)
        let result = executor.call(from: .zero, to: Staking.address, value: .zero,
                                   data: try ABI.encodeCall("validatorsAt(uint64)", [.uint(UInt256(height))]), gasLimit: Self.readGas,
                                   state: state, block: env, isStatic: true)
        if let reason = result.revertReason { throw ValidatorSetError("staking validatorsAt(\(height)) failed: \(reason)") }
        let members = try Staking.decodeValidators(result.returnData)
        do {
            return try ValidatorSet(try members.map { try Validator(address: $0.address, consensusKey: $0.consensusKey, power: $0.power) })
        } catch let error as ValidatorSetError {
            throw ValidatorSetError("the staking set of height \(height): \(error.message)")
        }
    }
}
