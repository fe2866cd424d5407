import Chain
import Inference
import Modules
import JSON
import Primitives

/// genesis.json (genesis/README.md describes every field) parsed into a `GenesisSpec`.
public enum GenesisFile {
    /// The least block gas limit a genesis may set: one plain transfer must fit.
    public static let minGasLimit: UInt64 = 21_000

    static let fields = ["chainId", "networkName", "timestamp", "gasLimit", "initialBaseFee", "blockReward", "extraData", "validators", "alloc",
                         "blobs", "kernelSpecVersions", "inferenceGasPerBlock", "staking",
                         "jobs", "modelRegistry"]

    /// Parses genesis JSON bytes; errors name the field (`alloc.0x1234: …`).
    public static func parse(_ bytes: [UInt8]) throws -> GenesisSpec {
        let value: JSONValue
        do { value = try JSONParser.parse(bytes) } catch { throw ConfigError("genesis: \(error)") }
        return try parse(value)
    }

    /// The `networkName` of genesis bytes `parse` accepted (informational, not part of block 0):
    /// what the chain is called for people and wallets; nil when the file names none.
    public static func networkName(_ bytes: [UInt8]) -> String? {
        (try? JSONParser.parse(bytes))?["networkName"]?.stringValue
    }

    /// Reads and parses a genesis file.
    public static func load(_ path: String) throws -> (spec: GenesisSpec, bytes: [UInt8]) {
        let (value, bytes) = try readJSONFile(path, what: "genesis")
        do { return (try parse(value), bytes) } catch let e as ConfigError { throw ConfigError("genesis \(path): \(e.message)") }
    }

    static func parse(_ value: JSONValue) throws -> GenesisSpec {
        let r = try FieldReader(value, path: "")
        try r.rejectUnknown(fields)
        let chainId = try r.integer("chainId", in: 1...(UInt64(1) << 53), required: true)!
        _ = try r.string("networkName")
        let timestamp = try r.integer("timestamp", in: 0...UInt64(Int64.max)) ?? 0
        let gasLimit = try r.integer("gasLimit", in: minGasLimit...UInt64(Int64.max), required: true)!
        let baseFee = try r.amount("initialBaseFee", required: true)!
        let reward = try r.amount("blockReward") ?? .zero
        let inferenceGas = try r.integer("inferenceGasPerBlock", in: 0...UInt64(Int64.max)) ?? ChainConfig.defaultInferenceGasPerBlock
        var extra: [UInt8] = []
        if let text = try r.string("extraData") {
            do { extra = try Hex.decode(text) } catch { throw ConfigError("extraData: \(error)") }
            guard extra.count <= 32 else { throw ConfigError("extraData: at most 32 bytes, got \(extra.count)") }
        }
        let listedValidators = try validatorList(try r.array("validators"))
        var alloc: [(address: Address, balance: UInt256)] = []
        if let allocReader = try r.object("alloc") {
            for key in allocReader.object.keys {
                guard let a = try? Address(hex: key) else { throw ConfigError("alloc: key \"\(key)\" is not a 20-byte hex address") }
                guard !alloc.contains(where: { $0.address == a }) else { throw ConfigError("alloc: \(key) is listed twice") }
                guard !NativeHandlerRegistry.isReserved(a) else {
                    throw ConfigError("alloc: \(key) is in the native-handler range 0x…0001–0x…00FF")
                }
                let entry = try FieldReader(allocReader.object[key]!, path: "alloc.\(key)")
                try entry.rejectUnknown(["balance"])
                alloc.append((a, try entry.amount("balance", required: true)!))
            }
        }
        var blobs = BlobParameters.default
        if let b = try r.object("blobs") {
            try b.rejectUnknown(["gasPerByte", "maxBytes", "uploadExpiryBlocks"])
            blobs.gasPerByte = try b.integer("gasPerByte", in: 0...1_000_000) ?? blobs.gasPerByte
            blobs.maxBytes = Int(try b.integer("maxBytes", in: 1...(UInt64(1) << 32)) ?? UInt64(blobs.maxBytes))
            blobs.uploadExpiryBlocks = try b.integer("uploadExpiryBlocks", in: 1...(UInt64(1) << 32)) ?? blobs.uploadExpiryBlocks
        }
        let schedule = try kernelSpecSchedule(try r.array("kernelSpecVersions"))
        let staking = try stakingGenesis(try r.object("staking"), listedValidators: listedValidators)
        let validators = try validatorSet(staking.validators ?? listedValidators ?? [DevNet.validator])
        let jobs = try jobsGenesis(try r.object("jobs")) + (try modelRegistryGenesis(try r.object("modelRegistry")))
        let spec = GenesisSpec(config: ChainConfig(chainId: chainId, blockReward: reward, validators: validators, blobs: blobs,
                                                   kernelSpecSchedule: schedule, inferenceGasPerBlock: inferenceGas),
                               timestamp: timestamp,
                               gasLimit: gasLimit, initialBaseFee: baseFee, extraData: extra, alloc: alloc,
                               moduleStorage: staking.words + jobs, staked: staking.staked, validatorsFromStaking: staking.validators != nil)
        guard spec.totalAlloc != nil else { throw ConfigError("alloc: the balances and genesis stakes sum to more than 2^256 - 1 wei") }
        return spec
    }

    /// `validators`: `[{"address", "consensusKey", "power"}]` (power default 1), in file
    /// order; nil when the field is absent.
    static func validatorList(_ items: [JSONValue]?) throws -> [Validator]? {
        guard let items else { return nil }
        guard !items.isEmpty else { throw ConfigError("validators: at least one validator is required") }
        var validators: [Validator] = []
        for (i, item) in items.enumerated() {
            let v = try FieldReader(item, path: "validators[\(i)]")
            try v.rejectUnknown(["address", "consensusKey", "power"])
            let text = try v.string("address", required: true)!
            guard let a = try? Address(hex: text) else { throw ConfigError("validators[\(i)].address: \"\(text)\" is not a 20-byte hex address") }
            guard !validators.contains(where: { $0.address == a }) else { throw ConfigError("validators[\(i)].address: \(a) is listed twice") }
            let keyText = try v.string("consensusKey", required: true)!
            let key: [UInt8]
            do { key = try Hex.decode(keyText) } catch { throw ConfigError("validators[\(i)].consensusKey: \(error)") }
            let power = try v.integer("power", in: 1...ValidatorSet.maxTotalPower) ?? 1
            do { validators.append(try Validator(address: a, consensusKey: key, power: power)) } catch let e as ValidatorSetError {
                throw ConfigError("validators[\(i)].consensusKey: \(e.message)")
            }
        }
        return validators
    }

    /// The validator set of `validators`, or a ConfigError naming the rule it breaks.
    static func validatorSet(_ validators: [Validator]) throws -> ValidatorSet {
        do { return try ValidatorSet(validators) } catch let e as ValidatorSetError { throw ConfigError("validators: \(e.message)") }
    }

    /// `staking` (docs/staking.md, "Genesis"): the staking module's parameters, defaults for
    /// those left out, and `operators` bonded from block 0. Every genesis writes the
    /// parameters, so staking is enabled on every chain made from a genesis file.
    ///
    /// When the operators include a validator, staking supplies the chain's validator set:
    /// each entry of the top-level `listedValidators` not among the operators is bonded as
    /// a validator with `power` whole OPG of stake, an entry among them must agree with it
    /// (same consensus key, power = stake in whole OPG), and `validators` is staking's set of
    /// height 0. Otherwise `validators` is nil and the genesis set signs every block.
    static func stakingGenesis(_ reader: FieldReader?, listedValidators: [Validator]?) throws
        -> (words: [GenesisStorageWord], staked: UInt256, validators: [Validator]?) {
        var params = StakingParameters.default
        var operators: [GenesisOperator] = []
        if let s = reader {
            try s.rejectUnknown(["providerMinStake", "verifierMinStake", "validatorMinStake", "epochBlocks", "unbondingBlocks", "jailBlocks",
                                 "slashRewardBps", "wrongProviderSlashBps", "losingVerifierSlashBps", "equivocationSlashBps",
                                 "doubleSignSlashBps", "operators"])
            params.providerMinStake = try s.amount("providerMinStake") ?? params.providerMinStake
            params.verifierMinStake = try s.amount("verifierMinStake") ?? params.verifierMinStake
            params.validatorMinStake = try s.amount("validatorMinStake") ?? params.validatorMinStake
            let blocks = UInt64(1)...(UInt64(1) << 40)
            params.epochBlocks = try s.integer("epochBlocks", in: blocks) ?? params.epochBlocks
            params.unbondingBlocks = try s.integer("unbondingBlocks", in: 0...(UInt64(1) << 40)) ?? params.unbondingBlocks
            params.jailBlocks = try s.integer("jailBlocks", in: 0...(UInt64(1) << 40)) ?? params.jailBlocks
            params.slashRewardBps = try s.integer("slashRewardBps", in: 0...10_000) ?? params.slashRewardBps
            params.wrongProviderSlashBps = try s.integer("wrongProviderSlashBps", in: 0...10_000) ?? params.wrongProviderSlashBps
            params.losingVerifierSlashBps = try s.integer("losingVerifierSlashBps", in: 0...10_000) ?? params.losingVerifierSlashBps
            params.equivocationSlashBps = try s.integer("equivocationSlashBps", in: 0...10_000) ?? params.equivocationSlashBps
            params.doubleSignSlashBps = try s.integer("doubleSignSlashBps", in: 0...10_000) ?? params.doubleSignSlashBps
            for (i, item) in (try s.array("operators") ?? []).enumerated() {
                let o = try FieldReader(item, path: "staking.operators[\(i)]")
                try o.rejectUnknown(["address", "role", "stake", "models", "hardwareClass", "consensusKey"])
                let text = try o.string("address", required: true)!
                guard let address = try? Address(hex: text) else { throw ConfigError("\(o.name("address")): \"\(text)\" is not a 20-byte hex address") }
                let roleName = try o.string("role", required: true)!
                guard let role = OperatorRole(name: roleName) else {
                    throw ConfigError("\(o.name("role")): \"\(roleName)\" is not provider, verifier or validator")
                }
                var key: [UInt8] = []
                if let keyText = try o.string("consensusKey", required: role == .validator) {
                    do { key = try Hex.decode(keyText) } catch { throw ConfigError("\(o.name("consensusKey")): \(error)") }
                }
                operators.append(GenesisOperator(address: address, role: role, stake: try o.amount("stake", required: true)!,
                                                 models: try NodeConfig.strings(try o.array("models") ?? [], o.name("models")),
                                                 hardwareClass: try o.string("hardwareClass") ?? "", consensusKey: key))
            }
        }
        func storage(_ operators: [GenesisOperator]) throws -> (words: [GenesisStorageWord], staked: UInt256) {
            do { return try Staking.genesisStorage(parameters: params, operators: operators) } catch let revert as NativeRevert {
                throw ConfigError("staking: \(revert.reason)")
            }
        }
        var laid = try storage(operators)
        guard operators.contains(where: { $0.role == .validator }) else { return (laid.words, laid.staked, nil) }
        let bonded = operators.count
        for (i, listed) in (listedValidators ?? []).enumerated() {
            let stake = UInt256(listed.power) * StakingParameters.opg
            if let j = operators.firstIndex(where: { $0.address == listed.address }) {
                let op = operators[j]
                guard op.role == .validator, op.consensusKey == listed.consensusKey, Staking.power(ofStake: op.stake) == listed.power else {
                    throw ConfigError("validators[\(i)]: \(listed.address) is also staking.operators[\(j)], which differs (role, consensus key, or power \(listed.power) vs a stake of \(Staking.power(ofStake: op.stake)) OPG); list it once, or the same in both")
                }
            } else {
                guard stake >= params.validatorMinStake else {
                    throw ConfigError("validators[\(i)].power: \(listed.power) would bond \(listed.power) OPG in staking, below staking.validatorMinStake (\(params.validatorMinStake) wei); raise its power or list it in staking.operators")
                }
                operators.append(GenesisOperator(address: listed.address, role: .validator, stake: stake, consensusKey: listed.consensusKey))
            }
        }
        if operators.count > bonded { laid = try storage(operators) }
        var validators: [Validator] = []
        for op in operators where op.role == .validator {
            do { validators.append(try Validator(address: op.address, consensusKey: op.consensusKey, power: Staking.power(ofStake: op.stake))) }
            catch let e as ValidatorSetError { throw ConfigError("staking.operators: \(e.message)") }
        }
        return (laid.words, laid.staked, validators)
    }

    /// `jobs` (docs/verification.md, "Parameters"): the jobs module's parameters, defaults
    /// for those left out. Every genesis writes them, so jobs are enabled on every chain
    /// made from a genesis file.
    static func jobsGenesis(_ reader: FieldReader?) throws -> [GenesisStorageWord] {
        var params = JobsParameters.default
        if let j = reader {
            try j.rejectUnknown(["acceptBlocks", "attestCommitBlocks", "attestRevealBlocks", "challengeBlocks", "committeeSize", "voteCapBps",
                                 "collateralBps", "timeoutPenaltyBps", "providerShareBps", "verifierShareBps", "burnShareBps", "challengeBond",
                                 "agendaVersion", "agendaVersionFromBlock", "settlementVersion", "settlementVersionFromBlock"])
            let window = UInt64(1)...100_000
            params.acceptBlocks = try j.integer("acceptBlocks", in: window) ?? params.acceptBlocks
            params.attestCommitBlocks = try j.integer("attestCommitBlocks", in: window) ?? params.attestCommitBlocks
            params.attestRevealBlocks = try j.integer("attestRevealBlocks", in: window) ?? params.attestRevealBlocks
            params.challengeBlocks = try j.integer("challengeBlocks", in: 0...1_000_000) ?? params.challengeBlocks
            params.committeeSize = try j.integer("committeeSize", in: 1...Jobs.maxCommitteeSize) ?? params.committeeSize
            params.voteCapBps = try j.integer("voteCapBps", in: 1...10_000) ?? params.voteCapBps
            params.collateralBps = try j.integer("collateralBps", in: 0...1_000_000) ?? params.collateralBps
            params.timeoutPenaltyBps = try j.integer("timeoutPenaltyBps", in: 0...10_000) ?? params.timeoutPenaltyBps
            params.providerShareBps = try j.integer("providerShareBps", in: 0...10_000) ?? params.providerShareBps
            params.verifierShareBps = try j.integer("verifierShareBps", in: 0...10_000) ?? params.verifierShareBps
            params.burnShareBps = try j.integer("burnShareBps", in: 0...10_000) ?? params.burnShareBps
            params.challengeBond = try j.amount("challengeBond") ?? params.challengeBond
            params.agendaVersion = try j.integer("agendaVersion", in: 1...Jobs.latestAgendaVersion) ?? params.agendaVersion
            params.agendaVersionFromBlock = try j.integer("agendaVersionFromBlock", in: 0...UInt64(Int64.max)) ?? params.agendaVersionFromBlock
            params.settlementVersion = try j.integer("settlementVersion", in: 1...Jobs.latestSettlementVersion) ?? params.settlementVersion
            params.settlementVersionFromBlock = try j.integer("settlementVersionFromBlock", in: 0...UInt64(Int64.max))
                ?? params.settlementVersionFromBlock
        }
        do { return try params.genesisStorage() } catch let revert as NativeRevert { throw ConfigError("jobs: \(revert.reason)") }
    }

    /// `modelRegistry` (docs/models.md, "Reference versions"): the reference version
    /// (default 2: references commit a schedule root and their disputes are decided) and
    /// the first block that runs it (default 0; version 1 before it).
    static func modelRegistryGenesis(_ reader: FieldReader?) throws -> [GenesisStorageWord] {
        var version = ModelRegistry.latestReferenceVersion, from: UInt64 = 0
        if let m = reader {
            try m.rejectUnknown(["referenceVersion", "referenceVersionFromBlock"])
            version = try m.integer("referenceVersion", in: 1...ModelRegistry.latestReferenceVersion) ?? version
            from = try m.integer("referenceVersionFromBlock", in: 0...UInt64(Int64.max)) ?? from
        }
        do { return try ModelRegistry.genesisStorage(referenceVersion: version, fromBlock: from) } catch let revert as NativeRevert {
            throw ConfigError("modelRegistry: \(revert.reason)")
        }
    }

    /// `kernelSpecVersions`: `[{"version", "fromBlock"}]` (default version 1 from block 0).
    /// Every version must be one this node's kernel implements.
    static func kernelSpecSchedule(_ items: [JSONValue]?) throws -> KernelSpecSchedule {
        guard let items else { return .initial }
        var activations: [KernelSpecSchedule.Activation] = []
        for (i, item) in items.enumerated() {
            let entry = try FieldReader(item, path: "kernelSpecVersions[\(i)]")
            try entry.rejectUnknown(["version", "fromBlock"])
            let version = Int(try entry.integer("version", in: 1...1_000_000, required: true)!)
            let from = try entry.integer("fromBlock", in: 0...UInt64(Int64.max), required: true)!
            guard KernelSpec.implementedVersions.contains(version) else {
                throw ConfigError("kernelSpecVersions[\(i)].version: this node's kernel does not implement spec version \(version) (it implements \(KernelSpec.implementedVersions.map(String.init).joined(separator: ", "))); upgrade opgd")
            }
            activations.append(KernelSpecSchedule.Activation(fromBlock: from, version: version))
        }
        do { return try KernelSpecSchedule(activations) } catch let e as KernelSpecScheduleError { throw ConfigError("kernelSpecVersions: \(e.message)") }
    }
}
