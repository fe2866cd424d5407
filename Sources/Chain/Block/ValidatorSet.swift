import Crypto
import Primitives

/// One validator: the account that proposes blocks and receives their rewards, the
/// secp256k1 key its consensus votes are signed with (separate from the account's key),
/// and its voting power.
public struct Validator: Equatable, Sendable {
    /// A compressed secp256k1 public key is 33 bytes.
    public static let consensusKeyLength = 33

    /// The operator's account: the block's coinbase when this validator proposes.
    public let address: Address
    /// The 33-byte compressed secp256k1 public key that signs consensus votes.
    public let consensusKey: [UInt8]
    /// Voting power (at least 1).
    public let power: UInt64

    /// A validator; throws `ValidatorSetError` when the key is not a compressed point on
    /// the curve or the power is zero.
    public init(address: Address, consensusKey: [UInt8], power: UInt64) throws {
        guard consensusKey.count == Self.consensusKeyLength, consensusKey[0] == 0x02 || consensusKey[0] == 0x03,
              (try? PublicKey(bytes: consensusKey)) != nil else {
            throw ValidatorSetError("validator \(address): consensus key must be a 33-byte compressed secp256k1 public key, got \(consensusKey.count) bytes that are not one")
        }
        guard power > 0 else { throw ValidatorSetError("validator \(address): power must be at least 1") }
        self.address = address
        self.consensusKey = consensusKey
        self.power = power
    }

    /// The validator whose votes `consensusSigner` signs (its compressed public key).
    public init(address: Address, consensusSigner: PrivateKey, power: UInt64 = 1) {
        self.address = address
        self.consensusKey = consensusSigner.publicKey.compressed
        self.power = max(power, 1)
    }

    /// `[address, consensusKey, power]`, the item the set's hash is taken over.
    var rlp: RLPItem { .list([.bytes(address.bytes), .bytes(consensusKey), .uint(power)]) }
}

/// The validators that sign a height, in canonical order: ascending by address
/// (addresses are unique within a set). The order is part of consensus: `hash` is
/// keccak256 of the RLP list `[[address, consensusKey, power], …]` in that order, and
/// every header carries the hash of the set that signs it and of the next one.
public struct ValidatorSet: Equatable, Sendable {
    /// The most total power a set may have, so that sums and the > 2/3 threshold of
    /// any certificate never overflow 64 bits.
    public static let maxTotalPower = UInt64(Int64.max) / 8

    /// The validators, ascending by address.
    public let validators: [Validator]
    /// The sum of the validators' power.
    public let totalPower: UInt64
    /// keccak256(rlp([[address, consensusKey, power], …])) in canonical order.
    public let hash: Hash32

    /// A set of `validators` in any order; throws `ValidatorSetError` when it is empty,
    /// lists an address twice or its power sums above `maxTotalPower`.
    public init(_ validators: [Validator]) throws {
        guard !validators.isEmpty else { throw ValidatorSetError("a validator set needs at least one validator") }
        let sorted = validators.sorted { $0.address < $1.address }
        var total: UInt64 = 0
        for (i, v) in sorted.enumerated() {
            if i > 0 && sorted[i - 1].address == v.address { throw ValidatorSetError("validator \(v.address) is listed twice") }
            total = total.addingReportingOverflow(v.power).partialValue
            guard total <= Self.maxTotalPower, v.power <= Self.maxTotalPower else {
                throw ValidatorSetError("the validators' power sums to more than \(Self.maxTotalPower)")
            }
        }
        self.validators = sorted
        self.totalPower = total
        self.hash = Keccak256.hash(RLP.encode(.list(sorted.map(\.rlp))))
    }

    /// The validator with account `address`, if it is in the set.
    public func validator(_ address: Address) -> Validator? { validators.first { $0.address == address } }

    /// True when `address` is a validator of this set.
    public func contains(_ address: Address) -> Bool { validator(address) != nil }
}

/// Why a validator or validator set is malformed.
public struct ValidatorSetError: Error, Equatable, CustomStringConvertible {
    /// The rule broken.
    public let message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Where the chain learns which validators sign a block: the genesis set
/// (`GenesisValidatorSets`) or the staking module's (`StakingValidatorSets` in Modules);
/// `ChainSetup.service` picks one by the genesis.
public protocol ValidatorSetProvider: Sendable {
    /// The set that signs the child of `parent` and the one that signs the block after
    /// it (the child's `validatorsHash` and `nextValidatorsHash`).
    func validatorSets(forChildOf parent: Header) throws -> (current: ValidatorSet, next: ValidatorSet)
}

/// The genesis validator set, for every height.
public struct GenesisValidatorSets: ValidatorSetProvider {
    /// The set from the genesis file.
    public let set: ValidatorSet

    /// The provider of `set` at every height.
    public init(_ set: ValidatorSet) { self.set = set }

    public func validatorSets(forChildOf parent: Header) -> (current: ValidatorSet, next: ValidatorSet) { (set, set) }
}
