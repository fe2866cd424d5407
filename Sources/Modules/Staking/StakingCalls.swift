import Chain
import Primitives

/// What other modules call inside block execution: each function makes a module-to-module
/// call to the staking module from `context` (the caller's), so gas, reverts and events
/// are the staking module's own. Mutations need the calling module in
/// `Staking.authorizedCallers`; a failed call throws its reason as a `NativeRevert`.
extension Staking {
    /// Slashes `fractionBps` basis points of `target`'s stake (bonded, then unbonding):
    /// `slashRewardBps` of it is paid to `beneficiary` (none when it is the zero address),
    /// the rest burned. Returns the amount slashed.
    @discardableResult
    public static func slash(_ target: Address, fractionBps: UInt16, reason: String, beneficiary: Address,
                             context: NativeCallContext) throws -> UInt256 {
        let output = try invoke("slash(address,uint16,string,address)",
                                [.address(target), .uint(UInt256(UInt64(fractionBps))), .string(reason), .address(beneficiary)], context)
        return try ABI.decode([.uint(256)], output)[0].uintValue ?? .zero
    }

    /// Jails `target` for `jailBlocks`: not eligible, out of the validator set, until it unjails.
    public static func jail(_ target: Address, reason: String, context: NativeCallContext) throws {
        _ = try invoke("jail(address,string)", [.address(target), .string(reason)], context)
    }

    /// Tombstones `target`: jailed for good; its stake can still be unbonded and withdrawn.
    public static func tombstone(_ target: Address, reason: String, context: NativeCallContext) throws {
        _ = try invoke("tombstone(address,string)", [.address(target), .string(reason)], context)
    }

    /// Adds `count` to `target`'s attestation counter.
    public static func recordAttestations(_ target: Address, count: UInt64, context: NativeCallContext) throws {
        _ = try invoke("recordAttestations(address,uint64)", [.address(target), .uint(UInt256(count))], context)
    }

    /// Operators of `role` (provider or verifier) eligible at `epoch` (the current or next)
    /// for `model`, in the order they declared it, with their stakes: the deterministic
    /// order committee and provider draws start from.
    public static func eligibleOperators(model: String, role: OperatorRole, epoch: UInt64,
                                         context: NativeCallContext) throws -> [(address: Address, stake: UInt256)] {
        let output = try invoke("eligibleOperators(string,uint8,uint64)",
                                [.string(model), .uint(UInt256(UInt64(role.rawValue))), .uint(UInt256(epoch))], context, isStatic: true)
        let values = try ABI.decode([.array(.address), .array(.uint(256))], output)
        guard case .array(let accounts) = values[0], case .array(let stakes) = values[1] else { return [] }
        return zip(accounts, stakes).map { ($0.addressValue ?? .zero, $1.uintValue ?? .zero) }
    }

    /// The parameters written at genesis (`parameters()`).
    public static func parameters(context: NativeCallContext) throws -> StakingParameters {
        let output = try invoke("parameters()", [], context, isStatic: true)
        guard case .tuple(let words) = try ABI.decode([parametersType], output)[0],
              let params = StakingParameters(words: words.compactMap(\.uintValue)) else {
            throw NativeRevert("staking: parameters() returned malformed words")
        }
        return params
    }

    /// The validator set at `height` (address, consensus key, power), in registration order.
    public static func validators(at height: UInt64, context: NativeCallContext) throws -> [Validator] {
        try decodeValidators(try invoke("validatorsAt(uint64)", [.uint(UInt256(height))], context, isStatic: true))
    }

    /// The validator set in `validatorsAt`'s return data.
    public static func decodeValidators(_ output: [UInt8]) throws -> [Validator] {
        let values = try ABI.decode([.array(.address), .array(.bytes), .array(.uint(64))], output)
        guard case .array(let accounts) = values[0], case .array(let keys) = values[1], case .array(let powers) = values[2],
              accounts.count == keys.count, keys.count == powers.count else { throw NativeRevert("validatorsAt returned a malformed set") }
        return (0..<accounts.count).map {
            Validator(address: accounts[$0].addressValue ?? .zero, consensusKey: keys[$0].bytesValue ?? [],
                      power: powers[$0].uintValue?.uint64 ?? 0)
        }
    }

    private static func invoke(_ signature: String, _ values: [ABIValue], _ context: NativeCallContext,
                               isStatic: Bool = false) throws -> [UInt8] {
        let input = try SignatureCache.encodeCall(signature, values)
        let outcome = isStatic ? try context.staticCall(address, input: input) : try context.call(address, input: input)
        guard outcome.success else { throw NativeRevert("staking: \(outcome.revertReason ?? "call failed")") }
        return outcome.returnData
    }
}
