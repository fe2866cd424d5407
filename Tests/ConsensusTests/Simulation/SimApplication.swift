import Consensus
import Primitives

/// A chain for the simulation: values are payloads whose hash is the block hash; a payload that
/// starts with ``invalidMarker`` is invalid (a byzantine proposer sends such values). Commits are
/// durable (the real chain commits in one LevelDB batch), so a crash keeps them.
final class SimApplication: ConsensusApplication {
    static let invalidMarker: UInt8 = 0xBA

    let node: Int
    let genesis: ValidatorSet
    private(set) var chain: [Decision] = []
    private var sets: [ValidatorSet]
    /// Called on every commit, before it is kept (the simulation checks agreement, validity and the certificate).
    var onCommit: (Int, Decision) -> Void = { _, _ in }

    init(node: Int, genesis: ValidatorSet) {
        self.node = node
        self.genesis = genesis
        sets = [genesis]
    }

    var committedHeight: UInt64 { UInt64(chain.count) }

    func validatorSet(height: UInt64) throws -> ValidatorSet {
        while sets.count < Int(height) { sets.append(sets[sets.count - 1].advanced()) }
        return sets[Int(height) - 1]
    }

    func proposeValue(height: UInt64, round: UInt32) throws -> ProposalValue {
        Self.value(Array("block h=\(height) r=\(round) by \(node)".utf8))
    }

    func verify(height: UInt64, value: ProposalValue) -> Bool { Self.isValid(value) }

    func commit(_ decision: Decision) throws {
        let h = Int(decision.height)
        if h <= chain.count {
            precondition(chain[h - 1].value == decision.value, "recommit of a different block")
            return
        }
        precondition(h == chain.count + 1, "commit skips a height")
        onCommit(node, decision)
        chain.append(decision)
    }

    static func value(_ payload: [UInt8]) -> ProposalValue { ProposalValue(blockHash: Keccak256.hash(payload), payload: payload) }

    static func isValid(_ value: ProposalValue) -> Bool {
        Keccak256.hash(value.payload) == value.blockHash && value.payload.first != invalidMarker
    }
}
