import Chain
import Consensus
import Crypto
import Foundation
import Primitives

/// The adapter between the chain's validator sets (accounts with consensus keys, hashed into
/// headers) and the engine's (consensus-key addresses with proposer priorities). The two types
/// stay separate: the engine knows validators only by the address of the key that signs votes,
/// the chain credits blocks to the operator's account.
///
/// Proposer priorities: the set of height h carries `P(h)`, the zero priorities of its set after
/// `(h − 1) mod totalPower` round-robin steps. For a set that has not changed since genesis this is
/// exactly the engine's rule `P(h + 1) = P(h)` after one step (over `totalPower` steps every
/// validator wins `power` times and the priorities return to zero); a changed set starts its own
/// rotation from the same formula. Every node computes the same priorities from the height and the
/// set alone (no history, no map order).
final class ConsensusValidatorSets: @unchecked Sendable {
    private let chain: ChainService
    private let lock = NSLock()
    private var cached: (height: UInt64, chainSetHash: Hash32, set: Consensus.ValidatorSet)?

    /// Sets of `chain`'s validator provider.
    init(chain: ChainService) { self.chain = chain }

    /// The chain's set that signs block `height` (known up to head + 2).
    func chainSet(height: UInt64) throws -> Chain.ValidatorSet {
        guard height >= 1 else { throw ValidatorAdapterError.noValidatorsAtGenesis }
        let head = chain.head
        if height <= head.number + 1 {
            guard let parent = try chain.database.header(number: height - 1) else { throw ValidatorAdapterError.unknownHeight(height) }
            return try chain.builder.validatorSets.validatorSets(forChildOf: parent).current
        }
        guard height == head.number + 2 else { throw ValidatorAdapterError.unknownHeight(height) }
        return try chain.builder.validatorSets.validatorSets(forChildOf: head).next
    }

    /// The engine's set of `height`, with its proposer priorities.
    func consensusSet(height: UInt64) throws -> Consensus.ValidatorSet {
        let chainSet = try chainSet(height: height)
        return try lock.withLock {
            if let c = cached, c.chainSetHash == chainSet.hash {
                if c.height == height { return c.set }
                if c.height + 1 == height { return remember(height, chainSet.hash, c.set.advanced()) }
            }
            var set = try Consensus.ValidatorSet(try chainSet.validators.map(Self.consensusValidator))
            let steps = (height - 1) % set.totalPower
            for _ in 0..<steps { set = set.advanced() }
            return remember(height, chainSet.hash, set)
        }
    }

    private func remember(_ height: UInt64, _ hash: Hash32, _ set: Consensus.ValidatorSet) -> Consensus.ValidatorSet {
        cached = (height, hash, set)
        return set
    }

    /// The account (coinbase) of the validator whose consensus key has `consensusAddress` at `height`.
    func account(ofConsensusAddress consensusAddress: Address, height: UInt64) throws -> Address? {
        try chainSet(height: height).validators.first { Self.consensusAddress(of: $0) == consensusAddress }?.address
    }

    /// The engine's view of one chain validator.
    static func consensusValidator(_ v: Chain.Validator) throws -> Consensus.Validator {
        guard let address = consensusAddress(of: v) else { throw ValidatorAdapterError.badConsensusKey(v.address) }
        return Consensus.Validator(address: address, power: v.power)
    }

    /// The address of a chain validator's consensus key (what its votes name).
    static func consensusAddress(of v: Chain.Validator) -> Address? {
        (try? PublicKey(bytes: v.consensusKey))?.address
    }
}

/// Why the chain's validators could not be given to the engine.
enum ValidatorAdapterError: Error, CustomStringConvertible {
    /// Block 0 is not signed.
    case noValidatorsAtGenesis
    /// The height is beyond what the chain knows (head + 2) or its parent is missing.
    case unknownHeight(UInt64)
    /// A validator's consensus key is not a public key (the chain checks this at genesis).
    case badConsensusKey(Address)

    var description: String {
        switch self {
        case .noValidatorsAtGenesis: return "validators: block 0 has no signers"
        case .unknownHeight(let h): return "validators: the set of height \(h) is not known yet"
        case .badConsensusKey(let a): return "validators: \(a) has a consensus key that is not a secp256k1 public key"
        }
    }
}
