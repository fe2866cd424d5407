import Chain
import Primitives

/// The staking module's genesis parameters (genesis `staking`, docs/staking.md). They
/// live in the module's storage slots 0…10, written at genesis, so a proof of the state
/// proves them too.
public struct StakingParameters: Equatable, Sendable {
    /// One $OPG in wei.
    public static let opg = UInt256(1_000_000_000_000_000_000)

    /// Least stake of a provider (default 10,000 OPG).
    public var providerMinStake: UInt256
    /// Least stake of a verifier (default 5,000 OPG).
    public var verifierMinStake: UInt256
    /// Least stake of a validator (default 10,000 OPG).
    public var validatorMinStake: UInt256
    /// Blocks per epoch (default 100); providers and verifiers become eligible at the next.
    public var epochBlocks: UInt64
    /// Blocks between `unbond` and `withdraw` (default 1,209,600: 14 days of 1 s blocks).
    public var unbondingBlocks: UInt64
    /// Blocks a jailed operator waits before `unjail` (default 600).
    public var jailBlocks: UInt64
    /// Share of a slashed amount paid to whoever proved the fault, in basis points
    /// (default 1,000 = 10%); the rest is burned.
    public var slashRewardBps: UInt64
    /// Stake share a provider with a wrong result loses (default 500 = 5%).
    public var wrongProviderSlashBps: UInt64
    /// Stake share a verifier on the losing side of a dispute loses (default 1,000 = 10%).
    public var losingVerifierSlashBps: UInt64
    /// Stake share a verifier that signs two reveals for one job loses (default 2,000 = 20%).
    public var equivocationSlashBps: UInt64
    /// Stake share a validator that signs two votes at one height and round loses (default 500 = 5%).
    public var doubleSignSlashBps: UInt64

    /// The defaults above.
    public static let `default` = StakingParameters(
        providerMinStake: opg * 10_000, verifierMinStake: opg * 5_000, validatorMinStake: opg * 10_000, epochBlocks: 100,
        unbondingBlocks: 14 * 24 * 3_600, jailBlocks: 600, slashRewardBps: 1_000, wrongProviderSlashBps: 500,
        losingVerifierSlashBps: 1_000, equivocationSlashBps: 2_000, doubleSignSlashBps: 500)

    /// Sets every parameter.
    public init(providerMinStake: UInt256, verifierMinStake: UInt256, validatorMinStake: UInt256, epochBlocks: UInt64,
                unbondingBlocks: UInt64, jailBlocks: UInt64, slashRewardBps: UInt64, wrongProviderSlashBps: UInt64,
                losingVerifierSlashBps: UInt64, equivocationSlashBps: UInt64, doubleSignSlashBps: UInt64) {
        self.providerMinStake = providerMinStake
        self.verifierMinStake = verifierMinStake
        self.validatorMinStake = validatorMinStake
        self.epochBlocks = epochBlocks
        self.unbondingBlocks = unbondingBlocks
        self.jailBlocks = jailBlocks
        self.slashRewardBps = slashRewardBps
        self.wrongProviderSlashBps = wrongProviderSlashBps
        self.losingVerifierSlashBps = losingVerifierSlashBps
        self.equivocationSlashBps = equivocationSlashBps
        self.doubleSignSlashBps = doubleSignSlashBps
    }

    /// The parameters' words, slot 0 first (the order of `parameters()`'s outputs).
    public var words: [UInt256] {
        [providerMinStake, verifierMinStake, validatorMinStake, UInt256(epochBlocks), UInt256(unbondingBlocks), UInt256(jailBlocks),
         UInt256(slashRewardBps), UInt256(wrongProviderSlashBps), UInt256(losingVerifierSlashBps), UInt256(equivocationSlashBps),
         UInt256(doubleSignSlashBps)]
    }

    /// Parameters from their words; nil when an integer parameter does not fit 64 bits.
    init?(words w: [UInt256]) {
        guard w.count == 11, let epoch = w[3].uint64, let unbonding = w[4].uint64, let jail = w[5].uint64, let reward = w[6].uint64,
              let provider = w[7].uint64, let verifier = w[8].uint64, let equivocation = w[9].uint64, let doubleSign = w[10].uint64
        else { return nil }
        self.init(providerMinStake: w[0], verifierMinStake: w[1], validatorMinStake: w[2], epochBlocks: epoch, unbondingBlocks: unbonding,
                  jailBlocks: jail, slashRewardBps: reward, wrongProviderSlashBps: provider, losingVerifierSlashBps: verifier,
                  equivocationSlashBps: equivocation, doubleSignSlashBps: doubleSign)
    }

    /// The rule a parameter set breaks, if any: an epoch of at least one block, fractions
    /// within 10,000 basis points, minimum stakes of at least 1 OPG.
    public func violation() -> String? {
        if epochBlocks == 0 { return "epochBlocks: must be at least 1" }
        for (name, bps) in [("slashRewardBps", slashRewardBps), ("wrongProviderSlashBps", wrongProviderSlashBps),
                            ("losingVerifierSlashBps", losingVerifierSlashBps), ("equivocationSlashBps", equivocationSlashBps),
                            ("doubleSignSlashBps", doubleSignSlashBps)] where bps > 10_000 {
            return "\(name): \(bps) basis points is over 10000"
        }
        for (name, stake) in [("providerMinStake", providerMinStake), ("verifierMinStake", verifierMinStake),
                              ("validatorMinStake", validatorMinStake)] where stake < Self.opg {
            return "\(name): must be at least 1 OPG (10^18 wei)"
        }
        return nil
    }

    /// The least stake of `role`.
    func minimumStake(_ role: OperatorRole) -> UInt256 {
        switch role {
        case .provider: return providerMinStake
        case .verifier: return verifierMinStake
        case .validator: return validatorMinStake
        }
    }
}

/// What an operator does; one role per address.
public enum OperatorRole: UInt8, Sendable, CaseIterable {
    case provider = 1, verifier = 2, validator = 3

    /// The role's name in docs, RPC and the CLI.
    public var name: String {
        switch self {
        case .provider: return "provider"
        case .verifier: return "verifier"
        case .validator: return "validator"
        }
    }

    /// The role called `name`.
    public init?(name: String) {
        guard let role = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = role
    }
}

/// An operator listed in the genesis file: registered, bonded and eligible from block 0.
public struct GenesisOperator: Equatable, Sendable {
    public var address: Address
    public var role: OperatorRole
    /// Stake in wei; at least the role's minimum.
    public var stake: UInt256
    /// Model ids served (providers and verifiers).
    public var models: [String]
    /// Hardware class (providers and verifiers).
    public var hardwareClass: String
    /// The 33-byte compressed consensus key (validators).
    public var consensusKey: [UInt8]

    /// Describes a genesis operator.
    public init(address: Address, role: OperatorRole, stake: UInt256, models: [String] = [], hardwareClass: String = "",
                consensusKey: [UInt8] = []) {
        self.address = address
        self.role = role
        self.stake = stake
        self.models = models
        self.hardwareClass = hardwareClass
        self.consensusKey = consensusKey
    }
}
