import Foundation
import Primitives
import Storage

/// The node's chain: database, block builder and mempool, with the rules that tie
/// them together — transaction admission against the head state, and the seam a
/// consensus engine drives: `propose` (build a block on the head), `verify` (execute a
/// proposal without committing) and `commit` (write an executed block with its commit
/// certificate). Each runs under one lock, so a proposal, a verification and a commit
/// never interleave; `commit` refuses a block whose parent is no longer the head
/// (`StaleBlockError`). RPC and the block producer talk to this type only.
///
/// Thread-safe: admission and reads run on RPC threads. Block listeners run on a
/// thread of their own, fed through a bounded queue (`BlockNotifications`), never on
/// the thread that commits.
public final class ChainService {
    public let config: ChainConfig
    public let database: ChainDatabase
    public let builder: BlockBuilder
    public let mempool: Mempool<SignedTransaction>
    /// Evidence this node includes in the blocks it proposes (the consensus wiring adds
    /// what the engine reports; docs/chain.md, "Evidence").
    public let pendingEvidence = EvidencePool()

    /// Committed blocks that may wait for the block listeners before the oldest is dropped.
    public static let listenerBacklog = 256

    private let seamLock = NSLock()
    private let listenerLock = NSLock()
    private let notifications: BlockNotifications
    private var pendingListeners: [(Hash32) -> Void] = []

    /// A service over an initialised database. `validatorSets` defaults to the genesis
    /// set; `notice` receives warnings that are not errors (block listeners falling
    /// behind), standard error by default.
    public init(config: ChainConfig, database: ChainDatabase, handlers: NativeHandlerRegistry, encodeRevert: @escaping (String) -> [UInt8],
                poolLimits: MempoolLimits = MempoolLimits(), validatorSets: ValidatorSetProvider? = nil,
                notice: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data("\($0)\n".utf8)) }) {
        self.config = config
        self.database = database
        self.builder = BlockBuilder(config: config, database: database,
                                    executor: TransactionExecutor(handlers: handlers, encodeRevert: encodeRevert, hookNotice: notice),
                                    validatorSets: validatorSets)
        self.mempool = Mempool(limits: poolLimits)
        self.notifications = BlockNotifications(capacity: Self.listenerBacklog, notice: notice)
    }

    /// The head header (the database must be initialised).
    public var head: Header {
        guard let h = database.head else { preconditionFailure("ChainService over an uninitialised database") }
        return h
    }

    /// Calls `body` with each committed block, in order, on the block-listener thread.
    public func onBlock(_ body: @escaping (Block) -> Void) { notifications.add(body) }
    /// Returns once every block committed so far has reached the block listeners.
    public func waitForBlockListeners() { notifications.waitUntilDelivered() }
    /// Calls `body` with the hash of each newly admitted transaction.
    public func onPendingTransaction(_ body: @escaping (Hash32) -> Void) { listenerLock.withLock { pendingListeners.append(body) } }

    /// Checks and pools a raw signed transaction; returns its hash. Throws
    /// `TransactionError` when the bytes are not a signed transaction, `InvalidTransaction`
    /// when a transaction rule is broken, `MempoolError` when the pool's policy refuses it.
    @discardableResult
    public func submit(raw: [UInt8]) throws -> Hash32 {
        try MempoolLimits.checkSize(raw.count)
        let tx: SignedTransaction
        do {
            tx = try SignedTransaction(raw: raw)
        } catch let e as PrimitivesError {
            throw TransactionError("invalid transaction: \(e.message)")
        }
        return try submit(tx)
    }

    /// Checks (`TransactionRules`, admission stage, against the head) and pools a decoded
    /// transaction.
    @discardableResult
    public func submit(_ tx: SignedTransaction) throws -> Hash32 {
        let head = self.head
        let context = AdmissionContext(state: database.state(at: head), chainId: config.chainId, baseFee: head.nextBaseFee,
                                       blockGasLimit: head.gasLimit)
        _ = try mempool.add(tx, context: context)
        let listeners = listenerLock.withLock { pendingListeners }
        for l in listeners { l(tx.hash) }
        return tx.hash
    }

    /// The nonce `address`'s next transaction should use, counting pooled ones.
    public func pendingNonce(of address: Address) -> UInt64 {
        let accountNonce = database.state(at: head).nonce(of: address)
        return mempool.pendingNonce(of: address, accountNonce: accountNonce)
    }

    /// Builds a block from the pool and the pending evidence on the current head, proposed
    /// by `proposer`, without committing it: what a consensus engine proposes on its turn.
    /// Evidence the chain refuses leaves `pendingEvidence`.
    public func propose(timestamp: UInt64, proposer: Address) throws -> ExecutedBlock {
        try seamLock.withLock { try proposeOnHead(timestamp: timestamp, proposer: proposer) }
    }

    /// Executes `block` on the current head and checks it (`HeaderRules`, with `proposer`
    /// as the round's proposer; nil accepts any validator, for blocks certified
    /// elsewhere), without committing it.
    public func verify(_ block: Block, proposer: Address? = nil) throws -> ExecutedBlock {
        try seamLock.withLock { try builder.validate(block, parent: head, proposer: proposer) }
    }

    /// `verify` for a block that arrived as a header, raw transactions and evidence,
    /// recovering senders on every core while executing (BlockBuilder.validate). A
    /// transaction the pool holds (a proposal's transactions mostly reached this node's
    /// pool by gossip first) is taken from the pool, its sender already recovered at
    /// admission, when its raw bytes are the block's.
    public func verify(header: Header, rawTransactions: [[UInt8]], evidence: [[UInt8]] = [], proposer: Address? = nil) throws -> ExecutedBlock {
        try seamLock.withLock {
            try builder.validate(header: header, rawTransactions: rawTransactions, evidence: evidence, parent: head, proposer: proposer,
                                 known: { [mempool] in mempool.transaction($0) })
        }
    }

    /// Writes `executed` with its commit `certificate` (opaque bytes, stored beside the
    /// block and served by `opg_getCommit`), makes it the head and prunes the pool; then
    /// queues it for the block listeners. Throws `StaleBlockError` when the head has
    /// moved since the block was executed.
    public func commit(_ executed: ExecutedBlock, certificate: [UInt8], sync: Bool = true) throws {
        try seamLock.withLock { try commitOnHead(executed, certificate: certificate, sync: sync) }
    }

    /// `propose` and `commit` in one step, under one lock (the single-validator devnet's
    /// producer); `certificate` makes the commit certificate of the proposed block.
    @discardableResult
    public func produceBlock(timestamp: UInt64, coinbase: Address, sync: Bool = true,
                             certificate: (Block) throws -> [UInt8] = { _ in [] }) throws -> ExecutedBlock {
        try seamLock.withLock {
            let executed = try proposeOnHead(timestamp: timestamp, proposer: coinbase)
            try commitOnHead(executed, certificate: try certificate(executed.block), sync: sync)
            return executed
        }
    }

    /// `verify` and `commit` in one step, under one lock (import, replay); `certificate`
    /// is the block's commit certificate as received with it.
    @discardableResult
    public func importBlock(_ block: Block, certificate: [UInt8] = [], sync: Bool = true) throws -> ExecutedBlock {
        try verifyAndCommit(certificate: certificate, sync: sync) { try builder.validate(block, parent: $0) }
    }

    /// `importBlock` for a block that arrived as a header, raw transactions and evidence.
    @discardableResult
    public func importBlock(header: Header, rawTransactions: [[UInt8]], evidence: [[UInt8]] = [], certificate: [UInt8] = [],
                            sync: Bool = true) throws -> ExecutedBlock {
        try verifyAndCommit(certificate: certificate, sync: sync) {
            try builder.validate(header: header, rawTransactions: rawTransactions, evidence: evidence, parent: $0)
        }
    }

    private func verifyAndCommit(certificate: [UInt8], sync: Bool, _ validate: (Header) throws -> ExecutedBlock) throws -> ExecutedBlock {
        try seamLock.withLock {
            let executed = try validate(head)
            try commitOnHead(executed, certificate: certificate, sync: sync)
            return executed
        }
    }

    /// Called with `seamLock` held.
    private func proposeOnHead(timestamp: UInt64, proposer: Address) throws -> ExecutedBlock {
        let parent = head
        let candidates = mempool.select(state: database.state(at: parent), baseFee: parent.nextBaseFee, gasLimit: parent.gasLimit)
        let executed = try builder.propose(parent: parent, candidates: candidates, timestamp: timestamp, coinbase: proposer,
                                           evidence: pendingEvidence.take())
        pendingEvidence.remove(executed.excludedEvidence.map(\.evidence))
        return executed
    }

    /// Called with `seamLock` held, so blocks reach the listener queue in commit order
    /// (queuing never blocks).
    private func commitOnHead(_ executed: ExecutedBlock, certificate: [UInt8], sync: Bool) throws {
        try builder.commit(executed, certificate: certificate, sync: sync)
        _ = mempool.prune(state: database.state(at: executed.block.header))
        pendingEvidence.remove(executed.block.evidence)
        notifications.enqueue(executed.block)
    }
}
