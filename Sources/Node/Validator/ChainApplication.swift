import Chain
import Consensus
import Foundation
import Primitives

/// The engine's application: the node's `ChainService`. A value is a block (``BlockPayload``);
/// `proposeValue` builds one on the head, `verify` executes a proposal on the head without
/// committing it, `commit` writes the decided block with its commit certificate.
///
/// Executed blocks are kept by hash between `verify`/`proposeValue` and `commit`, so the decided
/// block is not executed twice; `ChainService.commit` refuses one whose parent is no longer the head,
/// and the block is then executed again on the new head.
final class ChainApplication: ConsensusApplication {
    private let chain: ChainService
    private let validators: ConsensusValidatorSets
    private let logger: Logger
    /// Our consensus address (nil: an observer that never proposes).
    private let me: Address?
    /// Reads the clock for block timestamps (seconds); the one clock a block may depend on.
    private let now: () -> UInt64
    private var executed: [Hash32: ExecutedBlock] = [:]

    /// The most executed blocks kept for commit (proposals of several rounds).
    static let executedCacheLimit = 16
    /// How far past this node's clock a proposal's timestamp may be (seconds) for it to prevote
    /// the block (docs/consensus.md, "Block timestamps").
    static let maximumFutureSeconds: UInt64 = 10

    init(chain: ChainService, validators: ConsensusValidatorSets, me: Address?, logger: Logger,
         now: @escaping () -> UInt64 = { UInt64(max(0, Date().timeIntervalSince1970)) }) {
        self.chain = chain
        self.validators = validators
        self.logger = logger
        self.me = me
        self.now = now
    }

    var committedHeight: UInt64 { chain.head.number }

    func validatorSet(height: UInt64) throws -> Consensus.ValidatorSet { try validators.consensusSet(height: height) }

    func proposeValue(height: UInt64, round: UInt32) throws -> ProposalValue {
        let head = chain.head
        if height <= head.number { throw HeightAlreadyCommitted(height: height, head: head.number) }
        guard height == head.number + 1 else { throw ValidatorAdapterError.unknownHeight(height) }
        guard let me, let coinbase = try validators.account(ofConsensusAddress: me, height: height) else {
            throw ValidatorAdapterError.unknownHeight(height)
        }
        let block = try chain.propose(timestamp: max(now(), head.timestamp), proposer: coinbase)
        keep(block)
        logger.debug("block proposed", ["number": height, "round": round, "txs": block.block.transactions.count, "hash": block.block.hash.hex])
        return ProposalValue(blockHash: block.block.hash, payload: BlockPayload.encode(block.block))
    }

    func verify(height: UInt64, value: ProposalValue) -> Bool {
        do {
            guard height == chain.head.number + 1 else { throw ValidatorAdapterError.unknownHeight(height) }
            if executed[value.blockHash]?.block.header.parentHash == chain.head.hash { return true }
            let payload = try BlockPayload.decode(value.payload, expectedHash: value.blockHash)
            let latest = now() + Self.maximumFutureSeconds
            guard payload.header.timestamp <= latest else {
                throw FutureTimestampError(timestamp: payload.header.timestamp, latest: latest, allowed: Self.maximumFutureSeconds)
            }
            keep(try execute(payload))
            return true
        } catch {
            logger.warn("proposal rejected", ["number": height, "hash": value.blockHash.hex, "error": error])
            return false
        }
    }

    func commit(_ decision: Decision) throws {
        if try alreadyCommitted(decision) { return }
        do {
            var block = executed[decision.value.blockHash]
            if block?.block.header.parentHash != chain.head.hash {
                block = try execute(try BlockPayload.decode(decision.value.payload, expectedHash: decision.value.blockHash))
            }
            try chain.commit(block!, certificate: decision.certificate.encoded)
        } catch {
            // Block sync may have committed this height between the check above and the commit.
            guard try alreadyCommitted(decision) else { throw error }
        }
        executed = [:]
        logger.debug("block committed", ["number": decision.height, "round": decision.certificate.round,
                                         "signers": decision.certificate.signatures.count, "hash": decision.value.blockHash.hex])
    }

    /// Whether the chain already holds the decided height (a recovered height, or one block sync
    /// committed first); throws when it holds another block there.
    private func alreadyCommitted(_ decision: Decision) throws -> Bool {
        guard decision.height <= chain.head.number else { return false }
        let stored = try chain.database.hash(number: decision.height)
        guard stored == decision.value.blockHash else {
            throw CommitConflictError(height: decision.height, decided: decision.value.blockHash, stored: stored)
        }
        return true
    }

    /// Executes a decoded value on the head (any validator of the set may be its coinbase:
    /// a value re-proposed in a later round keeps the coinbase of the round that built it).
    private func execute(_ payload: (header: Header, rawTransactions: [[UInt8]], evidence: [[UInt8]])) throws -> ExecutedBlock {
        try chain.verify(header: payload.header, rawTransactions: payload.rawTransactions, evidence: payload.evidence, proposer: nil)
    }

    private func keep(_ block: ExecutedBlock) {
        if executed.count >= Self.executedCacheLimit { executed = [:] }
        executed[block.block.hash] = block
    }
}

/// The engine asked for a value at a height the chain already holds (block sync got there first):
/// nothing to propose; the engine decides that height from the stored block on its next input.
struct HeightAlreadyCommitted: Error, CustomStringConvertible {
    let height: UInt64
    let head: UInt64

    var description: String { "height \(height) is already committed (head \(head), from block sync)" }
}

/// A proposal's timestamp is further ahead of this node's clock than validators accept.
struct FutureTimestampError: Error, CustomStringConvertible {
    let timestamp: UInt64
    let latest: UInt64
    let allowed: UInt64

    var description: String {
        "invalid block: timestamp \(timestamp) is more than \(allowed) s ahead of this node's clock (at most \(latest))"
    }
}

/// The engine decided a block at a height the chain already holds with another block: the
/// node's chain and its consensus state disagree, and it must not go on.
struct CommitConflictError: Error, CustomStringConvertible {
    let height: UInt64
    let decided: Hash32
    let stored: Hash32?

    var description: String {
        "consensus decided block \(decided.hex) at height \(height), but the chain holds \(stored?.hex ?? "nothing") there"
    }
}
