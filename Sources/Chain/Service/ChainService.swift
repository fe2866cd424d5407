import Foundation
import Primitives
import Storage

/// Why `eth_sendRawTransaction` refused a transaction before the pool saw it. Messages
/// follow geth where geth has one.
public struct SubmissionError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The node's chain: database, block builder and mempool, with the rules that tie
/// them together — transaction admission against the head state, and block production
/// from the pool. RPC and the producer loop talk to this type only.
///
/// Thread-safe: admission and reads run on RPC threads; `produceBlock` is serialised.
public final class ChainService {
    public let config: ChainConfig
    public let database: ChainDatabase
    public let builder: BlockBuilder
    public let mempool: Mempool<SignedTransaction>

    private let produceLock = NSLock()
    private let listenerLock = NSLock()
    private var blockListeners: [(ExecutedBlock) -> Void] = []
    private var pendingListeners: [(Hash32) -> Void] = []

    /// A service over an initialised database.
    public init(config: ChainConfig, database: ChainDatabase, handlers: NativeHandlerRegistry, encodeRevert: @escaping (String) -> [UInt8],
                poolLimits: MempoolLimits = MempoolLimits()) {
        self.config = config
        self.database = database
        self.builder = BlockBuilder(config: config, database: database,
                                    executor: TransactionExecutor(handlers: handlers, encodeRevert: encodeRevert))
        self.mempool = Mempool(limits: poolLimits)
    }

    /// The head header (the database must be initialised).
    public var head: Header {
        guard let h = database.head else { preconditionFailure("ChainService over an uninitialised database") }
        return h
    }

    /// Calls `body` after each committed block (on the producer's thread).
    public func onBlock(_ body: @escaping (ExecutedBlock) -> Void) { listenerLock.withLock { blockListeners.append(body) } }
    /// Calls `body` with the hash of each newly admitted transaction.
    public func onPendingTransaction(_ body: @escaping (Hash32) -> Void) { listenerLock.withLock { pendingListeners.append(body) } }

    /// Checks and pools a raw signed transaction; returns its hash. Throws
    /// `SubmissionError` or `MempoolError` with the rule broken.
    @discardableResult
    public func submit(raw: [UInt8]) throws -> Hash32 {
        try MempoolLimits.checkSize(raw.count)
        let tx: SignedTransaction
        do {
            tx = try SignedTransaction(raw: raw)
        } catch let e as TransactionError {
            throw SubmissionError(e.message)
        } catch let e as PrimitivesError {
            throw SubmissionError("invalid transaction: \(e.message)")
        }
        return try submit(tx)
    }

    /// Checks and pools a decoded transaction.
    @discardableResult
    public func submit(_ tx: SignedTransaction) throws -> Hash32 {
        guard let chainId = tx.transaction.chainId else {
            throw SubmissionError("only replay-protected (EIP-155) transactions allowed over RPC")
        }
        guard chainId == config.chainId else {
            throw SubmissionError("invalid chain id for signer: have \(chainId) want \(config.chainId)")
        }
        guard tx.to != nil else { throw SubmissionError("contract creation is not supported on this chain (transaction has no 'to')") }
        guard tx.gasLimit >= tx.intrinsicGas else {
            throw MempoolError(.intrinsicGasTooLow, "gas \(tx.gasLimit), minimum needed \(tx.intrinsicGas)")
        }
        let head = self.head
        let context = AdmissionContext(state: database.state(at: head), baseFee: head.nextBaseFee, blockGasLimit: head.gasLimit)
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

    /// Builds a block from the pool on top of the head, commits it and prunes the pool.
    @discardableResult
    public func produceBlock(timestamp: UInt64, coinbase: Address, sync: Bool = true) throws -> ExecutedBlock {
        try commitOnHead(sync: sync) { parent in
            let candidates = mempool.select(state: database.state(at: parent), baseFee: parent.nextBaseFee, gasLimit: parent.gasLimit)
            return try builder.propose(parent: parent, candidates: candidates, timestamp: timestamp, coinbase: coinbase)
        }
    }

    /// Validates and commits a block built elsewhere (import, replay, a peer's proposal).
    @discardableResult
    public func importBlock(_ block: Block, sync: Bool = true) throws -> ExecutedBlock {
        try commitOnHead(sync: sync) { try builder.validate(block, parent: $0) }
    }

    /// Validates and commits a block that arrived as a header and raw transactions,
    /// recovering senders on every core while executing (BlockBuilder.validate).
    @discardableResult
    public func importBlock(header: Header, rawTransactions: [[UInt8]], sync: Bool = true) throws -> ExecutedBlock {
        try commitOnHead(sync: sync) { try builder.validate(header: header, rawTransactions: rawTransactions, parent: $0) }
    }

    /// Executes a block on the head (`build`: propose or validate), commits it and prunes
    /// the pool, all under the producer lock; then tells the block listeners.
    private func commitOnHead(sync: Bool, _ build: (Header) throws -> ExecutedBlock) throws -> ExecutedBlock {
        let executed: ExecutedBlock = try produceLock.withLock {
            let executed = try build(head)
            try builder.commit(executed, sync: sync)
            _ = mempool.prune(state: database.state(at: executed.block.header))
            return executed
        }
        let listeners = listenerLock.withLock { blockListeners }
        for l in listeners { l(executed) }
        return executed
    }
}
