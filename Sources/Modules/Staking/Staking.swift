import Chain
import Crypto
import Primitives

/// The staking module at `0x…00F6`: providers, verifiers and validators bond $OPG stake,
/// unbond it after a waiting period, and are jailed, slashed and tombstoned by the
/// modules that prove their faults. docs/staking.md describes every function, event,
/// parameter and storage slot; the ABI is docs/abi/Staking.json.
///
/// Stake is in no balance: `register`/`addStake` move the value sent into the supply
/// ledger's `staked` total (`NativeCallContext.bond`), `withdraw` and slashing take it out,
/// so `sum(balances) + staked == genesis + minted − burned` holds after every block.
public final class Staking: SelectorDispatchedModule {
    /// The module's address.
    public static let address = Address(lowByte: 0xF6)
    /// Modules allowed to call `slash`, `jail`, `tombstone` and `recordAttestations`: the
    /// jobs module (`0x…00F7`) that proves faults.
    public static let authorizedCallers = [Address(lowByte: 0xF7)]
    /// Most model ids one operator declares.
    public static let maxModels = 16
    /// Longest model id, in bytes.
    public static let maxModelIDBytes = 128
    /// Longest hardware class, in bytes (it fits one storage slot).
    public static let maxHardwareClassBytes = 31
    /// Longest slashing, jailing or tombstoning reason, in bytes.
    public static let maxReasonBytes = 256
    /// The domain tag of the consensus-key proof (docs/staking.md, "Consensus keys").
    public static let consensusKeyTag = Array("OPG-CONSENSUS-KEY-V1".utf8)
    /// Gas for checking the consensus-key proof's signature (the ecrecover precompile's price).
    public static let signatureCheckGas: UInt64 = 3_000

    public let address: Address = Staking.address
    public let name = "Staking"

    public init() {}

    // MARK: Storage layout (Solidity order; docs/staking.md, "Storage")

    enum Slot {
        static let parameterCount: UInt64 = 11
        /// `address[] operatorList`: every registered address, in registration order.
        static let operatorList = Hash32.slot(11)
        /// `mapping(address => Operator) operators`.
        static let operators = Hash32.slot(12)
        /// `mapping(string => address[]) modelOperators`: who declared each model id.
        static let modelOperators = Hash32.slot(13)
        /// `address[] validatorList`: every registered validator, in registration order.
        static let validatorList = Hash32.slot(14)
        /// `uint64[] setHeights`: heights from which a new validator set applies, ascending.
        static let setHeights = Hash32.slot(15)
        /// `mapping(uint64 => ValidatorEntry[]) validatorSets`: {address, power} by height.
        static let validatorSets = Hash32.slot(16)
        /// `bool validatorsPending`: a validator's desired power differs from its power.
        static let validatorsPending = Hash32.slot(17)
        /// `mapping(bytes32 => address) consensusKeyOwners`: keccak256(key) to its validator.
        static let consensusKeyOwners = Hash32.slot(18)
    }

    /// Fields of the `Operator` struct, one slot each, in order.
    enum Field: UInt64 {
        case role = 0, stake, eligibleFromEpoch, unbonding, unbondingReleaseBlock, jailed, jailReleaseBlock, tombstoned,
             attestations, faults, registeredAt, hardwareClass, models, consensusKey, power
    }

    // MARK: ABI

    /// The `getOperator` return tuple (docs/staking.md lists its fields).
    public static let operatorInfoType = ABIType.tuple([.uint(8), .uint(256), .uint(64), .uint(256), .uint(64), .bool, .uint(64), .bool,
                                                 .uint(64), .uint(64), .uint(64), .string, .array(.string), .bytes, .uint(64)])
    /// The `parameters()` return tuple.
    public static let parametersType = ABIType.tuple([ABIType](repeating: .uint(256), count: Int(Slot.parameterCount)))

    public var abiJSON: String { embeddedABI(PackageResources.Staking_json) }
    public let functions = [
        ModuleFunction("registerProvider(string[],string)", .payable),
        ModuleFunction("registerVerifier(string[],string)", .payable),
        ModuleFunction("registerValidator(bytes,bytes)", .payable),
        ModuleFunction("addStake()", .payable),
        ModuleFunction("unbond(uint256)", .nonpayable),
        ModuleFunction("withdraw()", .nonpayable),
        ModuleFunction("unjail()", .nonpayable),
        ModuleFunction("slash(address,uint16,string,address)", .nonpayable),
        ModuleFunction("jail(address,string)", .nonpayable),
        ModuleFunction("tombstone(address,string)", .nonpayable),
        ModuleFunction("recordAttestations(address,uint64)", .nonpayable),
        ModuleFunction("getOperator(address)", .view),
        ModuleFunction("operatorCount()", .view),
        ModuleFunction("operatorAt(uint256)", .view),
        ModuleFunction("parameters()", .view),
        ModuleFunction("currentEpoch()", .view),
        ModuleFunction("eligibleOperators(string,uint8,uint64)", .view),
        ModuleFunction("validatorsAt(uint64)", .view),
        ModuleFunction("consensusKeyDigest(address,bytes)", .view),
    ]
    /// The events' canonical signatures, in `events` order.
    enum Event {
        static let registered = "Registered(address,uint8,uint256,uint64)"
        static let stakeAdded = "StakeAdded(address,uint256,uint256)"
        static let unbonding = "Unbonding(address,uint256,uint64)"
        static let withdrawn = "Withdrawn(address,uint256)"
        static let slashed = "Slashed(address,address,uint256,uint256,string)"
        static let jailed = "Jailed(address,uint64,string)"
        static let unjailed = "Unjailed(address,uint64)"
        static let tombstoned = "Tombstoned(address,string)"
        static let attestationsRecorded = "AttestationsRecorded(address,uint64,uint64)"
    }

    public let events = [Event.registered, Event.stakeAdded, Event.unbonding, Event.withdrawn, Event.slashed, Event.jailed,
                         Event.unjailed, Event.tombstoned, Event.attestationsRecorded]

    public func perform(_ function: ModuleFunction, arguments: [UInt8], context: NativeCallContext) throws -> [UInt8] {
        switch function.name {
        case "registerProvider", "registerVerifier":
            let values = try decodeArguments([.array(.string), .string], arguments)
            guard case .array(let items) = values[0], let hardware = values[1].stringValue else { throw NativeRevert("invalid arguments") }
            let models = items.compactMap(\.stringValue)
            let role: OperatorRole = function.name == "registerProvider" ? .provider : .verifier
            return try register(role, models: models, hardwareClass: hardware, consensusKey: [], context)
        case "registerValidator":
            let values = try decodeArguments([.bytes, .bytes], arguments)
            guard let key = values[0].bytesValue, let proof = values[1].bytesValue else { throw NativeRevert("invalid arguments") }
            try Self.checkConsensusKey(key)
            try context.chargeHashing(byteCount: Self.consensusKeyTag.count + 32 + 20 + 20 + key.count + 60)
            try context.useGas(Self.signatureCheckGas)
            try Self.checkProof(proof, key: key, account: context.caller, chainId: context.block.chainId)
            return try register(.validator, models: [], hardwareClass: "", consensusKey: key, context)
        case "addStake": return try addStake(context)
        case "unbond":
            let values = try decodeArguments([.uint(256)], arguments)
            return try unbond(values[0].uintValue ?? .zero, context)
        case "withdraw": return try withdraw(context)
        case "unjail": return try unjail(context)
        case "slash":
            let values = try decodeArguments([.address, .uint(16), .string, .address], arguments)
            guard let target = values[0].addressValue, let bps = values[1].uintValue?.uint64, let reason = values[2].stringValue,
                  let beneficiary = values[3].addressValue else { throw NativeRevert("invalid arguments") }
            return try slash(target, bps: bps, reason: reason, beneficiary: beneficiary, context)
        case "jail", "tombstone":
            let values = try decodeArguments([.address, .string], arguments)
            guard let target = values[0].addressValue, let reason = values[1].stringValue else { throw NativeRevert("invalid arguments") }
            return function.name == "jail" ? try jail(target, reason: reason, context) : try tombstone(target, reason: reason, context)
        case "recordAttestations":
            let values = try decodeArguments([.address, .uint(64)], arguments)
            guard let target = values[0].addressValue, let count = values[1].uintValue?.uint64 else { throw NativeRevert("invalid arguments") }
            return try recordAttestations(target, count: count, context)
        case "getOperator":
            let values = try decodeArguments([.address], arguments)
            return try ABI.encode([Self.operatorInfoType], [try operatorInfo(values[0].addressValue ?? .zero, context)])
        case "operatorCount": return try context.loadWord(Slot.operatorList).bigEndianBytes32
        case "operatorAt":
            let values = try decodeArguments([.uint(256)], arguments)
            let slot = try context.arrayElementSlot(Slot.operatorList, index: values[0].uintValue ?? .zero)
            return try ABI.encode([.address], [.address(try context.loadAddress(slot))])
        case "parameters":
            return try ABI.encode([Self.parametersType], [.tuple(try parameters(context).words.map(ABIValue.uint))])
        case "currentEpoch":
            return UInt256(context.block.number / (try parameters(context).epochBlocks)).bigEndianBytes32
        case "eligibleOperators":
            let values = try decodeArguments([.string, .uint(8), .uint(64)], arguments)
            guard let model = values[0].stringValue, let roleByte = values[1].uintValue?.uint64, let epoch = values[2].uintValue?.uint64 else {
                throw NativeRevert("invalid arguments")
            }
            let eligible = try eligibleOperators(model: model, role: roleByte, epoch: epoch, context)
            return try ABI.encode([.array(.address), .array(.uint(256))],
                                  [.array(eligible.map { .address($0.address) }), .array(eligible.map { .uint($0.stake) })])
        case "validatorsAt":
            let values = try decodeArguments([.uint(64)], arguments)
            let set = try validators(at: values[0].uintValue?.uint64 ?? 0, context)
            return try ABI.encode([.array(.address), .array(.bytes), .array(.uint(64))],
                                  [.array(set.map { .address($0.address) }), .array(set.map { .bytes($0.consensusKey) }),
                                   .array(set.map { .uint(UInt256($0.power)) })])
        default:  // consensusKeyDigest
            let values = try decodeArguments([.address, .bytes], arguments)
            guard let account = values[0].addressValue, let key = values[1].bytesValue else { throw NativeRevert("invalid arguments") }
            try context.chargeHashing(byteCount: Self.consensusKeyTag.count + 32 + 20 + 20 + key.count)
            return Self.consensusKeyDigest(account: account, key: key, chainId: context.block.chainId).bytes
        }
    }

    // MARK: Consensus keys

    /// The digest a validator's account signs to register `key` (docs/staking.md):
    /// keccak256("OPG-CONSENSUS-KEY-V1" ‖ uint256 chainId ‖ staking address ‖ account ‖ key).
    /// The account signs it as an EIP-191 personal message (`personal_sign` of the 32 bytes).
    public static func consensusKeyDigest(account: Address, key: [UInt8], chainId: UInt64) -> Hash32 {
        Keccak256.hash(consensusKeyTag + UInt256(chainId).bigEndianBytes32 + address.bytes + account.bytes + key)
    }

    /// The hash the account's signature is over: EIP-191's personal-message hash of the digest.
    public static func consensusKeyProofHash(account: Address, key: [UInt8], chainId: UInt64) -> Hash32 {
        Keccak256.hash(Array("\u{19}Ethereum Signed Message:\n32".utf8) + consensusKeyDigest(account: account, key: key, chainId: chainId).bytes)
    }

    /// The 33-byte compressed encoding of `key` (0x02 or 0x03 by the parity of y, then x).
    public static func compressed(_ key: PublicKey) -> [UInt8] {
        [key.uncompressed[64] & 1 == 0 ? 2 : 3] + Array(key.uncompressed[1...32])
    }

    /// The `keyProof` of `registerValidator`: `account`'s signature r ‖ s ‖ v (v = 27 or 28)
    /// over `consensusKeyProofHash`.
    public static func consensusKeyProof(account: PrivateKey, key: [UInt8], chainId: UInt64) -> [UInt8] {
        let signature = account.sign(consensusKeyProofHash(account: account.address, key: key, chainId: chainId))
        return signature.r + signature.s + [signature.recoveryID + 27]
    }

    static func checkConsensusKey(_ key: [UInt8]) throws {
        guard key.count == 33, key[0] == 2 || key[0] == 3 else {
            throw NativeRevert("consensus key must be a 33-byte compressed secp256k1 key (0x02 or 0x03 first), got \(key.count) bytes")
        }
        guard (try? PublicKey(bytes: key)) != nil else { throw NativeRevert("consensus key is not a point on secp256k1") }
    }

    static func checkProof(_ proof: [UInt8], key: [UInt8], account: Address, chainId: UInt64) throws {
        guard proof.count == 65 else { throw NativeRevert("consensus key proof must be a 65-byte signature r ‖ s ‖ v, got \(proof.count) bytes") }
        let v = proof[64]
        guard v == 27 || v == 28 || v <= 1 else { throw NativeRevert("consensus key proof: v must be 27, 28, 0 or 1, got \(v)") }
        let signature = RecoverableSignature(r: Array(proof[0..<32]), s: Array(proof[32..<64]), recoveryID: v >= 27 ? v - 27 : v)
        let signer: Address
        do { signer = try signature.recoverAddress(consensusKeyProofHash(account: account, key: key, chainId: chainId)) } catch {
            throw NativeRevert("consensus key proof: invalid signature: \(error)")
        }
        guard signer == account else {
            throw NativeRevert("consensus key proof is signed by \(signer.checksummed), not the registering account \(account.checksummed)")
        }
    }

    // MARK: Validation shared with the genesis file

    /// Checks a provider's or verifier's declaration.
    static func checkDeclaration(models: [String], hardwareClass: String) throws {
        guard !models.isEmpty else { throw NativeRevert("declare at least one model id") }
        guard models.count <= maxModels else { throw NativeRevert("\(models.count) model ids is over the limit of \(maxModels)") }
        for (i, model) in models.enumerated() {
            let bytes = Array(model.utf8)
            guard (1...maxModelIDBytes).contains(bytes.count), bytes.allSatisfy({ (0x21...0x7e).contains($0) }) else {
                throw NativeRevert("model id \(i) must be 1…\(maxModelIDBytes) printable ASCII characters without spaces")
            }
            guard !models[..<i].contains(model) else { throw NativeRevert("model id \(model) is declared twice") }
        }
        let hardware = Array(hardwareClass.utf8)
        guard (1...maxHardwareClassBytes).contains(hardware.count), hardware.allSatisfy({ (0x21...0x7e).contains($0) }) else {
            throw NativeRevert("hardware class must be 1…\(maxHardwareClassBytes) printable ASCII characters without spaces")
        }
    }

    private static func checkReason(_ reason: String) throws {
        guard (1...maxReasonBytes).contains(reason.utf8.count) else { throw NativeRevert("reason must be 1…\(maxReasonBytes) bytes") }
    }

    /// A validator's voting power: its stake in whole $OPG (at most Int64.max, as CometBFT's).
    public static func power(ofStake stake: UInt256) -> UInt64 {
        let whole = stake / StakingParameters.opg
        return min(whole.uint64 ?? UInt64(Int64.max), UInt64(Int64.max))
    }

    // MARK: Transactions

    private func register(_ role: OperatorRole, models: [String], hardwareClass: String, consensusKey: [UInt8],
                          _ context: NativeCallContext) throws -> [UInt8] {
        if role != .validator { try Self.checkDeclaration(models: models, hardwareClass: hardwareClass) }
        let params = try parameters(context)
        let caller = context.caller
        let base = try operatorSlot(caller, context)
        if let existing = OperatorRole(rawValue: UInt8(truncatingIfNeeded: try context.loadWord(field(base, .role)).uint64 ?? 0)) {
            throw NativeRevert("\(caller.checksummed) is already registered as a \(existing.name)")
        }
        let minimum = params.minimumStake(role)
        guard context.value >= minimum else {
            throw NativeRevert("stake \(context.value) wei is below the \(role.name) minimum of \(minimum) wei")
        }
        if role == .validator {
            let ownerSlot = try context.mappingSlot(Slot.consensusKeyOwners, key: Keccak256.hash(consensusKey))
            let owner = try context.loadAddress(ownerSlot)
            guard owner == .zero else { throw NativeRevert("consensus key is already registered by \(owner.checksummed)") }
            try context.storeAddress(caller, at: ownerSlot)
            try context.storeBytes(consensusKey, at: field(base, .consensusKey))
            try context.storeAddress(caller, at: try context.pushArrayElement(Slot.validatorList))
            try context.storeWord(.one, at: Slot.validatorsPending)
        } else {
            try context.storeBytes(Array(hardwareClass.utf8), at: field(base, .hardwareClass))
            for model in models {
                try context.storeBytes(Array(model.utf8), at: try context.pushArrayElement(field(base, .models)))
                let list = try context.mappingSlot(Slot.modelOperators, bytesKey: Array(model.utf8))
                try context.storeAddress(caller, at: try context.pushArrayElement(list))
            }
        }
        let epoch = context.block.number / params.epochBlocks + 1
        try context.storeWord(UInt256(UInt64(role.rawValue)), at: field(base, .role))
        try context.storeWord(context.value, at: field(base, .stake))
        try context.storeWord(UInt256(epoch), at: field(base, .eligibleFromEpoch))
        try context.storeWord(UInt256(context.block.number), at: field(base, .registeredAt))
        try context.storeAddress(caller, at: try context.pushArrayElement(Slot.operatorList))
        try context.bond(context.value)
        try context.emit(topics: [SignatureCache.topic(Event.registered), Hash32(word: caller)],
                         data: try ABI.encode([.uint(8), .uint(256), .uint(64)], [.uint(UInt256(UInt64(role.rawValue))), .uint(context.value), .uint(UInt256(epoch))]))
        return []
    }

    private func addStake(_ context: NativeCallContext) throws -> [UInt8] {
        guard !context.value.isZero else { throw NativeRevert("addStake needs value: send the $OPG to add") }
        let (base, role) = try registered(context.caller, context)
        guard try context.loadWord(field(base, .tombstoned)).isZero else { throw NativeRevert("\(context.caller.checksummed) is tombstoned") }
        let params = try parameters(context)
        let before = try context.loadWord(field(base, .stake))
        let (after, overflow) = before.addingReportingOverflow(context.value)
        guard !overflow else { throw NativeRevert("stake would overflow") }
        try context.storeWord(after, at: field(base, .stake))
        let minimum = params.minimumStake(role)
        if before < minimum && after >= minimum {
            try context.storeWord(UInt256(context.block.number / params.epochBlocks + 1), at: field(base, .eligibleFromEpoch))
        }
        if role == .validator { try context.storeWord(.one, at: Slot.validatorsPending) }
        try context.bond(context.value)
        try context.emit(topics: [SignatureCache.topic(Event.stakeAdded), Hash32(word: context.caller)],
                         data: try ABI.encode([.uint(256), .uint(256)], [.uint(context.value), .uint(after)]))
        return []
    }

    private func unbond(_ amount: UInt256, _ context: NativeCallContext) throws -> [UInt8] {
        let (base, role) = try registered(context.caller, context)
        let params = try parameters(context)
        let stake = try context.loadWord(field(base, .stake))
        guard !amount.isZero else { throw NativeRevert("unbond amount must be above zero") }
        guard amount <= stake else { throw NativeRevert("unbond amount \(amount) exceeds the stake of \(stake) wei") }
        let remaining = stake - amount
        let minimum = params.minimumStake(role)
        guard remaining.isZero || remaining >= minimum else {
            throw NativeRevert("unbonding \(amount) wei would leave \(remaining) wei, below the \(role.name) minimum of \(minimum) wei; unbond all or less")
        }
        let release = context.block.number.addingReportingOverflow(params.unbondingBlocks)
        let releaseBlock = release.overflow ? UInt64.max : release.partialValue
        let pending = try context.loadWord(field(base, .unbonding))
        try context.storeWord(remaining, at: field(base, .stake))
        try context.storeWord(pending + amount, at: field(base, .unbonding))
        try context.storeWord(UInt256(releaseBlock), at: field(base, .unbondingReleaseBlock))
        if role == .validator { try context.storeWord(.one, at: Slot.validatorsPending) }
        try context.emit(topics: [SignatureCache.topic(Event.unbonding), Hash32(word: context.caller)],
                         data: try ABI.encode([.uint(256), .uint(64)], [.uint(amount), .uint(UInt256(releaseBlock))]))
        return []
    }

    private func withdraw(_ context: NativeCallContext) throws -> [UInt8] {
        let (base, _) = try registered(context.caller, context)
        let amount = try context.loadWord(field(base, .unbonding))
        guard !amount.isZero else { throw NativeRevert("nothing to withdraw: no stake is unbonding") }
        let release = try context.loadWord(field(base, .unbondingReleaseBlock)).uint64 ?? .max
        guard context.block.number >= release else {
            throw NativeRevert("stake is unbonding until block \(release) (now \(context.block.number))")
        }
        try context.storeWord(.zero, at: field(base, .unbonding))
        try context.storeWord(.zero, at: field(base, .unbondingReleaseBlock))
        try context.releaseBond(amount, to: context.caller)
        try context.emit(topics: [SignatureCache.topic(Event.withdrawn), Hash32(word: context.caller)], data: amount.bigEndianBytes32)
        return []
    }

    private func unjail(_ context: NativeCallContext) throws -> [UInt8] {
        let (base, role) = try registered(context.caller, context)
        guard try context.loadWord(field(base, .tombstoned)).isZero else {
            throw NativeRevert("\(context.caller.checksummed) is tombstoned and can never be unjailed")
        }
        guard !(try context.loadWord(field(base, .jailed))).isZero else { throw NativeRevert("\(context.caller.checksummed) is not jailed") }
        let release = try context.loadWord(field(base, .jailReleaseBlock)).uint64 ?? .max
        guard context.block.number >= release else { throw NativeRevert("jailed until block \(release) (now \(context.block.number))") }
        let params = try parameters(context)
        let stake = try context.loadWord(field(base, .stake))
        guard stake >= params.minimumStake(role) else {
            throw NativeRevert("stake \(stake) wei is below the \(role.name) minimum of \(params.minimumStake(role)) wei; addStake first")
        }
        let epoch = context.block.number / params.epochBlocks + 1
        try context.storeWord(.zero, at: field(base, .jailed))
        try context.storeWord(.zero, at: field(base, .jailReleaseBlock))
        try context.storeWord(UInt256(epoch), at: field(base, .eligibleFromEpoch))
        if role == .validator { try context.storeWord(.one, at: Slot.validatorsPending) }
        try context.emit(topics: [SignatureCache.topic(Event.unjailed), Hash32(word: context.caller)], data: UInt256(epoch).bigEndianBytes32)
        return []
    }

    private func requireAuthorized(_ context: NativeCallContext, _ function: String) throws {
        guard Self.authorizedCallers.contains(context.caller) else {
            throw NativeRevert("\(function) may be called only by the modules that prove faults, not \(context.caller.checksummed)")
        }
    }

    private func slash(_ target: Address, bps: UInt64, reason: String, beneficiary: Address, _ context: NativeCallContext) throws -> [UInt8] {
        try requireAuthorized(context, "slash")
        return try applySlash(target, bps: bps, reason: reason, beneficiary: beneficiary, context).bigEndianBytes32
    }

    /// `slash` once the caller is known to be allowed (an authorized module, or this
    /// module's own evidence handling); returns the amount slashed.
    func applySlash(_ target: Address, bps: UInt64, reason: String, beneficiary: Address, _ context: NativeCallContext) throws -> UInt256 {
        guard (1...10_000).contains(bps) else { throw NativeRevert("slash fraction \(bps) basis points is not in 1…10000") }
        try Self.checkReason(reason)
        let (base, role) = try registered(target, context)
        let params = try parameters(context)
        let stake = try context.loadWord(field(base, .stake))
        let unbonding = try context.loadWord(field(base, .unbonding))
        let amount = (stake + unbonding) * UInt256(bps) / 10_000
        let fromStake = min(amount, stake)
        try context.storeWord(stake - fromStake, at: field(base, .stake))
        if amount > fromStake { try context.storeWord(unbonding - (amount - fromStake), at: field(base, .unbonding)) }
        let reward = beneficiary == .zero ? .zero : amount * UInt256(params.slashRewardBps) / 10_000
        if !reward.isZero { try context.releaseBond(reward, to: beneficiary) }
        if amount > reward { try context.burnBond(amount - reward) }
        try context.storeWord(try context.loadWord(field(base, .faults)) + .one, at: field(base, .faults))
        if role == .validator { try context.storeWord(.one, at: Slot.validatorsPending) }
        try context.emit(topics: [SignatureCache.topic(Event.slashed), Hash32(word: target), Hash32(word: beneficiary)],
                         data: try ABI.encode([.uint(256), .uint(256), .string], [.uint(amount - reward), .uint(reward), .string(reason)]))
        return amount
    }

    private func jail(_ target: Address, reason: String, _ context: NativeCallContext) throws -> [UInt8] {
        try requireAuthorized(context, "jail")
        try Self.checkReason(reason)
        let (base, role) = try registered(target, context)
        guard try context.loadWord(field(base, .jailed)).isZero else { throw NativeRevert("\(target.checksummed) is already jailed") }
        let params = try parameters(context)
        let release = context.block.number.addingReportingOverflow(params.jailBlocks)
        let releaseBlock = release.overflow ? UInt64.max : release.partialValue
        try context.storeWord(.one, at: field(base, .jailed))
        try context.storeWord(UInt256(releaseBlock), at: field(base, .jailReleaseBlock))
        if role == .validator { try context.storeWord(.one, at: Slot.validatorsPending) }
        try context.emit(topics: [SignatureCache.topic(Event.jailed), Hash32(word: target)],
                         data: try ABI.encode([.uint(64), .string], [.uint(UInt256(releaseBlock)), .string(reason)]))
        return []
    }

    private func tombstone(_ target: Address, reason: String, _ context: NativeCallContext) throws -> [UInt8] {
        try requireAuthorized(context, "tombstone")
        try applyTombstone(target, reason: reason, context)
        return []
    }

    /// `tombstone` once the caller is known to be allowed.
    func applyTombstone(_ target: Address, reason: String, _ context: NativeCallContext) throws {
        try Self.checkReason(reason)
        let (base, role) = try registered(target, context)
        guard try context.loadWord(field(base, .tombstoned)).isZero else { throw NativeRevert("\(target.checksummed) is already tombstoned") }
        try context.storeWord(.one, at: field(base, .tombstoned))
        try context.storeWord(.one, at: field(base, .jailed))
        try context.storeWord(UInt256(UInt64.max), at: field(base, .jailReleaseBlock))
        if role == .validator { try context.storeWord(.one, at: Slot.validatorsPending) }
        try context.emit(topics: [SignatureCache.topic(Event.tombstoned), Hash32(word: target)], data: try ABI.encode([.string], [.string(reason)]))
    }

    private func recordAttestations(_ target: Address, count: UInt64, _ context: NativeCallContext) throws -> [UInt8] {
        try requireAuthorized(context, "recordAttestations")
        guard count > 0 else { throw NativeRevert("attestation count must be above zero") }
        let (base, _) = try registered(target, context)
        let total = try context.loadWord(field(base, .attestations)) + UInt256(count)
        try context.storeWord(total, at: field(base, .attestations))
        try context.emit(topics: [SignatureCache.topic(Event.attestationsRecorded), Hash32(word: target)],
                         data: try ABI.encode([.uint(64), .uint(64)], [.uint(UInt256(count)), .uint(total)]))
        return []
    }

    // MARK: Reads

    /// The parameters written at genesis; reverts on a chain whose genesis wrote none.
    func parameters(_ context: NativeCallContext) throws -> StakingParameters {
        var words: [UInt256] = []
        for slot in 0..<Slot.parameterCount { words.append(try context.loadWord(Hash32.slot(slot))) }
        guard let params = StakingParameters(words: words), params.epochBlocks > 0 else {
            throw NativeRevert("staking is not enabled on this chain: its genesis wrote no staking parameters")
        }
        return params
    }

    func operatorSlot(_ account: Address, _ context: NativeCallContext) throws -> Hash32 {
        try context.mappingSlot(Slot.operators, key: Hash32(word: account))
    }

    func field(_ base: Hash32, _ field: Field) -> Hash32 { SolidityStorage.offset(base, by: UInt256(field.rawValue)) }

    private func registered(_ account: Address, _ context: NativeCallContext) throws -> (base: Hash32, role: OperatorRole) {
        let base = try operatorSlot(account, context)
        guard let role = OperatorRole(rawValue: UInt8(truncatingIfNeeded: try context.loadWord(field(base, .role)).uint64 ?? 0)) else {
            throw NativeRevert("\(account.checksummed) is not a registered operator")
        }
        return (base, role)
    }

    private func operatorInfo(_ account: Address, _ context: NativeCallContext) throws -> ABIValue {
        let (base, _) = try registered(account, context)
        var values: [ABIValue] = []
        for f in [Field.role, .stake, .eligibleFromEpoch, .unbonding, .unbondingReleaseBlock] { values.append(.uint(try context.loadWord(field(base, f)))) }
        values.append(.bool(!(try context.loadWord(field(base, .jailed))).isZero))
        values.append(.uint(try context.loadWord(field(base, .jailReleaseBlock))))
        values.append(.bool(!(try context.loadWord(field(base, .tombstoned))).isZero))
        for f in [Field.attestations, .faults, .registeredAt] { values.append(.uint(try context.loadWord(field(base, f)))) }
        values.append(.string(String(decoding: try context.loadBytes(field(base, .hardwareClass)), as: UTF8.self)))
        values.append(.array(try models(base, context).map(ABIValue.string)))
        values.append(.bytes(try context.loadBytes(field(base, .consensusKey))))
        values.append(.uint(try context.loadWord(field(base, .power))))
        return .tuple(values)
    }

    private func models(_ base: Hash32, _ context: NativeCallContext) throws -> [String] {
        let list = field(base, .models)
        let count = try context.loadWord(list).uint64 ?? 0
        var out: [String] = []
        for i in 0..<count {
            out.append(String(decoding: try context.loadBytes(try context.arrayElementSlot(list, index: UInt256(i))), as: UTF8.self))
        }
        return out
    }

    /// Operators of `role` (1 provider, 2 verifier) eligible at `epoch` (the current or the
    /// next) for `model`, in the order they declared it, with their stakes: registered for
    /// the model, eligible from an epoch not after `epoch`, not jailed, stake ≥ the minimum.
    private func eligibleOperators(model: String, role roleByte: UInt64, epoch: UInt64,
                                   _ context: NativeCallContext) throws -> [(address: Address, stake: UInt256)] {
        guard roleByte <= 2, let role = OperatorRole(rawValue: UInt8(roleByte)) else {
            throw NativeRevert("role \(roleByte) is not 1 (provider) or 2 (verifier)")
        }
        let params = try parameters(context)
        let current = context.block.number / params.epochBlocks
        guard epoch == current || epoch == current + 1 else {
            throw NativeRevert("epoch \(epoch) is not the current epoch \(current) or the next")
        }
        let list = try context.mappingSlot(Slot.modelOperators, bytesKey: Array(model.utf8))
        let count = try context.loadWord(list).uint64 ?? 0
        var out: [(address: Address, stake: UInt256)] = []
        for i in 0..<count {
            let account = try context.loadAddress(try context.arrayElementSlot(list, index: UInt256(i)))
            let base = try operatorSlot(account, context)
            guard try context.loadWord(field(base, .role)) == UInt256(roleByte),
                  try context.loadWord(field(base, .jailed)).isZero,
                  (try context.loadWord(field(base, .eligibleFromEpoch)).uint64 ?? .max) <= epoch else { continue }
            let stake = try context.loadWord(field(base, .stake))
            if stake >= params.minimumStake(role) { out.append((account, stake)) }
        }
        return out
    }

    /// A member of a validator set.
    public struct Validator: Equatable, Sendable {
        public let address: Address
        /// The 33-byte compressed secp256k1 consensus key.
        public let consensusKey: [UInt8]
        /// Voting power: stake in whole $OPG when the set was made.
        public let power: UInt64
    }

    /// The validator set that applies at `height`: the latest set made for a height at or
    /// below it, members in registration order.
    func validators(at height: UInt64, _ context: NativeCallContext) throws -> [Validator] {
        let count = try context.loadWord(Slot.setHeights).uint64 ?? 0
        var low: UInt64 = 0, high = count  // first index whose height is above `height`
        while low < high {
            let mid = (low + high) / 2
            let h = try context.loadWord(try context.arrayElementSlot(Slot.setHeights, index: UInt256(mid))).uint64 ?? .max
            if h <= height { low = mid + 1 } else { high = mid }
        }
        guard low > 0 else { return [] }
        let from = try context.loadWord(try context.arrayElementSlot(Slot.setHeights, index: UInt256(low - 1)))
        let entries = try context.mappingSlot(Slot.validatorSets, key: Hash32(word: from))
        let members = try context.loadWord(entries).uint64 ?? 0
        var out: [Validator] = []
        for i in 0..<members {
            let slot = try context.arrayElementSlot(entries, index: UInt256(i), wordsPerElement: 2)
            let account = try context.loadAddress(slot)
            let power = try context.loadWord(SolidityStorage.offset(slot, by: .one)).uint64 ?? 0
            let key = try context.loadBytes(field(try operatorSlot(account, context), .consensusKey))
            out.append(Validator(address: account, consensusKey: key, power: power))
        }
        return out
    }

    // MARK: Validator set changes

    /// At the end of block H, when a validator's stake, jail or tombstone changed, moves
    /// each validator's power toward its stake-derived power — the changes of one height
    /// adding up to less than a third of the current total power — and records the
    /// resulting set for height H + 2 (docs/staking.md, "Validator set").
    public func endBlock(_ context: NativeCallContext) throws {
        guard !(try context.loadWord(Slot.validatorsPending)).isZero else { return }
        let params = try parameters(context)
        let count = try context.loadWord(Slot.validatorList).uint64 ?? 0
        var members: [(address: Address, powerSlot: Hash32, current: UInt64, desired: UInt64)] = []
        var total: UInt64 = 0
        for i in 0..<count {
            let account = try context.loadAddress(try context.arrayElementSlot(Slot.validatorList, index: UInt256(i)))
            let base = try operatorSlot(account, context)
            let current = try context.loadWord(field(base, .power)).uint64 ?? 0
            let stake = try context.loadWord(field(base, .stake))
            let active = try context.loadWord(field(base, .jailed)).isZero && stake >= params.validatorMinStake
            members.append((account, field(base, .power), current, active ? Self.power(ofStake: stake) : 0))
            total = total.addingReportingOverflow(current).overflow ? .max : total + current
        }
        var budget = total == 0 ? UInt64.max : (total - 1) / 3
        var changed = false, residual = false
        for (i, m) in members.enumerated() where m.current != m.desired {
            let wanted = m.desired > m.current ? m.desired - m.current : m.current - m.desired
            let step = min(wanted, budget)
            if step < wanted { residual = true }
            guard step > 0 else { continue }
            budget -= step
            let next = m.desired > m.current ? m.current + step : m.current - step
            try context.storeWord(UInt256(next), at: m.powerSlot)
            members[i].current = next
            changed = true
        }
        if changed {
            let height = context.block.number + 2
            try context.storeWord(UInt256(height), at: try context.pushArrayElement(Slot.setHeights))
            let entries = try context.mappingSlot(Slot.validatorSets, key: Hash32(word: UInt256(height)))
            for m in members where m.current > 0 {
                let slot = try context.pushArrayElement(entries, wordsPerElement: 2)
                try context.storeAddress(m.address, at: slot)
                try context.storeWord(UInt256(m.current), at: SolidityStorage.offset(slot, by: .one))
            }
        }
        if !residual { try context.storeWord(.zero, at: Slot.validatorsPending) }
    }
}
