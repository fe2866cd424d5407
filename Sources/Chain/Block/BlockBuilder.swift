import Dispatch
import Foundation
import Primitives
import Storage

/// Chain parameters fixed at genesis.
public struct ChainConfig: Equatable, Sendable {
    /// EIP-155 chain id.
    public var chainId: UInt64
    /// $OPG (wei) minted to each block's proposer.
    public var blockReward: UInt256
    /// The genesis validator set (`GenesisValidatorSets` serves it until a staking
    /// module supplies the set).
    public var validators: ValidatorSet
    /// Module blob pricing and size cap.
    public var blobs: BlobParameters
    /// The inference kernel's spec version by block height.
    public var kernelSpecSchedule: KernelSpecSchedule
    /// Inference gas all the model runs of one block may use together (genesis
    /// `inferenceGasPerBlock`; the inference precompile enforces it, docs/inference.md).
    public var inferenceGasPerBlock: UInt64

    /// The default per-block inference budget.
    public static let defaultInferenceGasPerBlock: UInt64 = 15_000_000

    /// Creates a config.
    public init(chainId: UInt64, blockReward: UInt256, validators: ValidatorSet, blobs: BlobParameters = .default,
                kernelSpecSchedule: KernelSpecSchedule = .initial, inferenceGasPerBlock: UInt64 = ChainConfig.defaultInferenceGasPerBlock) {
        self.chainId = chainId
        self.blobs = blobs
        self.blockReward = blockReward
        self.validators = validators
        self.kernelSpecSchedule = kernelSpecSchedule
        self.inferenceGasPerBlock = inferenceGasPerBlock
    }

    /// The environment of block `number`: the chain's id, its blob parameters and the
    /// kernel spec active at its height.
    public func environment(number: UInt64, timestamp: UInt64, coinbase: Address, baseFee: UInt256, gasLimit: UInt64) -> BlockEnvironment {
        BlockEnvironment(number: number, timestamp: timestamp, coinbase: coinbase, baseFee: baseFee, gasLimit: gasLimit, chainId: chainId,
                         blobs: blobs, kernelSpecVersion: kernelSpecSchedule.version(at: number))
    }
}

/// A block that has been executed against its parent's state but not yet committed:
/// what a consensus engine votes on. `commit` writes it.
public struct ExecutedBlock {
    /// The block, with every root filled in.
    public let block: Block
    /// Consensus receipts, one per transaction.
    public let receipts: [Receipt]
    /// Per-transaction execution results (gas, reverts, return data).
    public let results: [TransactionResult]
    /// State changes (trie nodes and flat index), to be written with the block.
    public let stateBatch: WriteBatch
    /// The block's body, receipts and transaction lookups as store entries
    /// (`ChainDatabase.bodyEntries`), built while the roots were hashed.
    public let bodyEntries: WriteBatch
    /// Candidates a proposal left out, with the reason.
    public let excluded: [(hash: Hash32, reason: InvalidTransaction)]
    /// Evidence a proposal left out, with the reason its handler refused it.
    public var excludedEvidence: [(evidence: [UInt8], reason: String)] = []
}

/// Why a block was refused.
public struct InvalidBlock: Error, Equatable, CustomStringConvertible {
    /// The rule broken.
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "invalid block: \(message)" }
}

/// Builds, validates and commits blocks. The three steps are separate so that a BFT
/// engine can drive them (propose on its turn, validate others' proposals, commit on
/// a decision); `ChainService` runs each under its lock.
public final class BlockBuilder {
    public let config: ChainConfig
    public let database: ChainDatabase
    public let executor: TransactionExecutor
    /// Which validators sign each block (the header's two validator-set hashes).
    public let validatorSets: ValidatorSetProvider

    /// A builder over `database`; the validator sets default to the genesis set.
    public init(config: ChainConfig, database: ChainDatabase, executor: TransactionExecutor, validatorSets: ValidatorSetProvider? = nil) {
        self.config = config
        self.database = database
        self.executor = executor
        self.validatorSets = validatorSets ?? GenesisValidatorSets(config.validators)
    }

    /// The environment of the child of `parent`.
    public func environment(parent: Header, timestamp: UInt64, coinbase: Address) -> BlockEnvironment {
        var env = config.environment(number: parent.number + 1, timestamp: timestamp, coinbase: coinbase, baseFee: parent.nextBaseFee,
                                     gasLimit: parent.gasLimit)
        env.parentHash = parent.hash
        return env
    }

    /// Executes `candidates` in order on top of `parent`, leaving out those that cannot be
    /// included (wrong nonce, fee cap below base fee, no gas left, …), and returns the
    /// sealed proposal. `evidence` (at most `Block.maxEvidence` are taken) is applied
    /// first; an item its handler refuses is left out, with the reason, in
    /// `excludedEvidence`.
    public func propose(parent: Header, candidates: [SignedTransaction], timestamp: UInt64, coinbase: Address,
                        evidence: [[UInt8]] = []) throws -> ExecutedBlock {
        let sets = try validatorSets.validatorSets(forChildOf: parent)
        guard sets.current.contains(coinbase) else { throw InvalidBlock("proposer \(coinbase) is not a validator") }
        let env = environment(parent: parent, timestamp: Swift.max(timestamp, parent.timestamp), coinbase: coinbase)
        let state = database.state(at: parent)
        executor.beginBlock(env, state: state)
        var includedEvidence: [[UInt8]] = []
        var excludedEvidence: [(evidence: [UInt8], reason: String)] = []
        if !evidence.isEmpty {
            let genesisHash = try self.genesisHash()
            for item in evidence where includedEvidence.count < Block.maxEvidence {
                let reason = item.count > Block.maxEvidenceBytes
                    ? "evidence of \(item.count) bytes is over the limit of \(Block.maxEvidenceBytes)"
                    : executor.applyEvidence(item, genesisHash: genesisHash, block: env, state: state)
                if let reason { excludedEvidence.append((item, reason)) } else { includedEvidence.append(item) }
            }
        }
        var included: [SignedTransaction] = []
        var excluded: [(hash: Hash32, reason: InvalidTransaction)] = []
        var results: [TransactionResult] = []
        var gasLeft = env.gasLimit
        for tx in candidates {
            if gasLeft < GasSchedule.transaction { break }
            do {
                results.append(try executor.apply(tx, index: included.count, state: state, block: env, gasLeft: &gasLeft))
                included.append(tx)
            } catch let reason as InvalidTransaction {
                excluded.append((tx.hash, reason))
            }
        }
        var executed = try seal(parent: parent, env: env, validators: sets, transactions: included, results: results, state: state,
                                excluded: excluded, evidence: includedEvidence)
        executed.excludedEvidence = excludedEvidence
        return executed
    }

    /// Re-executes `block` on top of `parent` and checks every header field against the
    /// result (`HeaderRules`, with `proposer` as the round's proposer; nil accepts any
    /// validator of the set).
    public func validate(_ block: Block, parent: Header, proposer: Address? = nil) throws -> ExecutedBlock {
        try validate(header: block.header, evidence: block.evidence, parent: parent, proposer: proposer, count: block.transactions.count,
                     transactionsRoot: nil) { block.transactions[$0] }
    }

    /// Validates a block that arrived as raw transactions (import, a peer's proposal):
    /// senders are recovered on every core while this thread executes the transactions
    /// in order as their senders become known, and the transactions root is computed
    /// from the raw bytes by a recovery worker once its chunks run out. `known` offers
    /// transactions already decoded and recovered (the pool's, by hash): one whose raw
    /// bytes equal the block's is taken as it is instead of being recovered again.
    public func validate(header: Header, rawTransactions raws: [[UInt8]], evidence: [[UInt8]] = [], parent: Header,
                         proposer: Address? = nil, known: ((Hash32) -> SignedTransaction?)? = nil) throws -> ExecutedBlock {
        let recovery = SenderRecovery(raws, known: known)
        defer { recovery.finish() }
        return try validate(header: header, evidence: evidence, parent: parent, proposer: proposer, count: raws.count,
                            transactionsRoot: { recovery.transactionsRoot }) { i in
            do {
                return try recovery.transaction(i)
            } catch {
                throw InvalidBlock("transaction \(i) is invalid: \(error)")
            }
        }
    }

    private func validate(header h: Header, evidence: [[UInt8]], parent: Header, proposer: Address?, count: Int,
                          transactionsRoot: (() -> Hash32)?, transaction: (Int) throws -> SignedTransaction) throws -> ExecutedBlock {
        let sets = try validatorSets.validatorSets(forChildOf: parent)
        try HeaderRules.check(h, parent: parent, proposer: proposer, validators: sets)
        try HeaderRules.checkEvidence(evidence, header: h)
        let env = environment(parent: parent, timestamp: h.timestamp, coinbase: h.coinbase)
        let state = database.state(at: parent)
        executor.beginBlock(env, state: state)
        if !evidence.isEmpty {
            let genesisHash = try self.genesisHash()
            for (i, item) in evidence.enumerated() {
                if let reason = executor.applyEvidence(item, genesisHash: genesisHash, block: env, state: state) {
                    throw InvalidBlock("evidence \(i) is invalid: \(reason)")
                }
            }
        }
        var results: [TransactionResult] = []
        var transactions: [SignedTransaction] = []
        results.reserveCapacity(count)
        transactions.reserveCapacity(count)
        var gasLeft = env.gasLimit
        for i in 0..<count {
            let tx = try transaction(i)
            do {
                results.append(try executor.apply(tx, index: i, state: state, block: env, gasLeft: &gasLeft))
            } catch let reason as InvalidTransaction {
                throw InvalidBlock("transaction \(i) (\(tx.hash)) cannot be included: \(reason)")
            }
            transactions.append(tx)
        }
        let executed = try seal(parent: parent, env: env, validators: sets, transactions: transactions, results: results, state: state,
                                excluded: [], evidence: evidence, transactionsRoot: transactionsRoot)
        let want = executed.block.header
        for (name, ok) in [("stateRoot", want.stateRoot == h.stateRoot), ("transactionsRoot", want.transactionsRoot == h.transactionsRoot),
                           ("receiptsRoot", want.receiptsRoot == h.receiptsRoot), ("logsBloom", want.logsBloom == h.logsBloom),
                           ("gasUsed", want.gasUsed == h.gasUsed)] where !ok {
            throw InvalidBlock("\(name) does not match the executed block")
        }
        return ExecutedBlock(block: Block(header: h, transactions: transactions, evidence: evidence), receipts: executed.receipts,
                             results: results, stateBatch: executed.stateBatch, bodyEntries: executed.bodyEntries, excluded: [])
    }

    /// Block 0's hash: with the chain id, the domain of the consensus signatures evidence carries.
    private func genesisHash() throws -> Hash32 {
        guard let hash = try database.hash(number: 0) else { throw InvalidBlock("the database has no block 0 to take the genesis hash from") }
        return hash
    }

    /// Writes an executed block with its commit certificate and makes it the head (one
    /// atomic batch). Throws `StaleBlockError` when the block's parent is no longer the head.
    public func commit(_ executed: ExecutedBlock, certificate: [UInt8], sync: Bool = true) throws {
        try database.commit(block: executed.block, receipts: executed.receipts, stateBatch: executed.stateBatch,
                            bodyEntries: executed.bodyEntries, certificate: certificate, sync: sync)
    }

    private func seal(parent: Header, env: BlockEnvironment, validators: (current: ValidatorSet, next: ValidatorSet), transactions: [SignedTransaction], results: [TransactionResult],
                      state: StateDB, excluded: [(hash: Hash32, reason: InvalidTransaction)], evidence: [[UInt8]],
                      transactionsRoot: (() -> Hash32)? = nil) throws -> ExecutedBlock {
        executor.endBlock(env, state: state)
        executor.finalize(block: env, reward: config.blockReward, state: state)
        var cumulative: UInt64 = 0
        var receipts: [Receipt] = []
        receipts.reserveCapacity(results.count)
        var bloom = Bloom()
        for (tx, result) in zip(transactions, results) {
            cumulative += result.gasUsed
            let r = Receipt(type: tx.transaction.type, success: result.success, cumulativeGasUsed: cumulative, logs: result.logs)
            bloom.formUnion(r.bloom)
            receipts.append(r)
        }
        // The receipts and transactions roots do not depend on the state root: for a
        // large block they are hashed on other cores while this one commits the state
        // and encodes the body for the store.
        let roots = RootsJob(transactions: transactions, receipts: receipts, transactionsRoot: transactionsRoot)
        if transactions.count >= 256 { Thread { roots.run() }.start() } else { roots.run() }
        var batch = WriteBatch()
        let stateRoot: Hash32
        do { stateRoot = try state.commit(into: &batch) } catch { _ = roots.wait(); throw error }
        let body = ChainDatabase.bodyEntries(number: env.number, transactions: transactions, receipts: receipts, evidence: evidence)
        let (txRoot, receiptsRoot) = roots.wait()
        let header = Header(parentHash: parent.hash, coinbase: env.coinbase, stateRoot: stateRoot,
                            transactionsRoot: txRoot, receiptsRoot: receiptsRoot,
                            logsBloom: bloom, number: env.number, gasLimit: env.gasLimit, gasUsed: cumulative,
                            timestamp: env.timestamp, baseFeePerGas: env.baseFee, validatorsHash: validators.current.hash,
                            nextValidatorsHash: validators.next.hash, evidenceHash: Block.evidenceHash(evidence))
        return ExecutedBlock(block: Block(header: header, transactions: transactions, evidence: evidence), receipts: receipts, results: results,
                             stateBatch: batch, bodyEntries: body, excluded: excluded)
    }

    /// Decodes raw transactions and recovers their senders on every core. Each result is
    /// the transaction or the error that rejected it, in input order.
    public static func recoverSenders(_ raws: [[UInt8]]) -> [Result<SignedTransaction, Error>] {
        var out = [Result<SignedTransaction, Error>?](repeating: nil, count: raws.count)
        let workers = Swift.max(1, Swift.min(ProcessInfoCores.count, raws.count / 64))
        out.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var i = w
                while i < raws.count {
                    (base + i).initialize(to: Result { try SignedTransaction(raw: raws[i]) })
                    i += workers
                }
            }
        }
        return out.map { $0! }
    }
}

enum ProcessInfoCores {
    static let count: Int = ProcessInfo.processInfo.activeProcessorCount
}

/// The transactions and receipts roots of a block, computed on whichever thread calls
/// `run()`; `wait()` returns them once `run()` has finished. The semaphore orders the
/// write of `result` before its read, which is why the class may cross threads.
final class RootsJob: @unchecked Sendable {
    private let transactions: [SignedTransaction]
    private let receipts: [Receipt]
    private let transactionsRoot: (() -> Hash32)?
    private let done = DispatchSemaphore(value: 0)
    private var result = (MerklePatriciaTrie.emptyRoot, MerklePatriciaTrie.emptyRoot)

    init(transactions: [SignedTransaction], receipts: [Receipt], transactionsRoot: (() -> Hash32)?) {
        self.transactions = transactions
        self.receipts = receipts
        self.transactionsRoot = transactionsRoot
    }

    func run() {
        // Receipts first: a provided transactions root may still be in the making.
        let receiptsRoot = Block.receiptsRoot(receipts)
        result = (transactionsRoot?() ?? Block.transactionsRoot(transactions), receiptsRoot)
        done.signal()
    }

    func wait() -> (transactions: Hash32, receipts: Hash32) {
        done.wait()
        done.signal()
        return result
    }
}

/// Sender recovery for a block arriving as raw bytes, running ahead of execution:
/// worker threads (one per core) take chunks of transactions in order, decode them and
/// recover their senders; the executing thread waits only for the chunk it needs next.
/// The first worker to find no chunk left computes the transactions root from the raw
/// bytes. `finish()` waits for every worker before the results are freed. A transaction
/// `known` returns for the hash of its raw bytes, with the same raw bytes, is used as it is.
final class SenderRecovery {
    static let chunkSize = 64
    private let raws: [[UInt8]]
    private let known: ((Hash32) -> SignedTransaction?)?
    private let results: UnsafeMutablePointer<Result<SignedTransaction, Error>>
    private let chunkReady: [DispatchSemaphore]
    private let lock = NSLock()
    private var nextChunk = 0
    private let workersDone = DispatchGroup()
    private let rootReady = DispatchSemaphore(value: 0)
    private var root = MerklePatriciaTrie.emptyRoot
    private var finished = false

    init(_ raws: [[UInt8]], known: ((Hash32) -> SignedTransaction?)? = nil) {
        self.raws = raws
        self.known = known
        results = .allocate(capacity: raws.count)
        let chunks = (raws.count + Self.chunkSize - 1) / Self.chunkSize
        chunkReady = (0..<chunks).map { _ in DispatchSemaphore(value: 0) }
        for _ in 0..<Swift.max(1, Swift.min(ProcessInfoCores.count, chunks)) {
            workersDone.enter()
            Thread { [self] in
                work()
                workersDone.leave()
            }.start()
        }
    }

    private func work() {
        while true {
            let chunk: Int = lock.withLock {
                defer { nextChunk += 1 }
                return nextChunk
            }
            if chunk >= chunkReady.count {
                if chunk == chunkReady.count {
                    root = MerklePatriciaTrie.orderedRoot(raws)
                    rootReady.signal()
                }
                return
            }
            let start = chunk * Self.chunkSize
            for i in start..<Swift.min(start + Self.chunkSize, raws.count) {
                (results + i).initialize(to: Result { try decode(raws[i]) })
            }
            chunkReady[chunk].signal()
        }
    }

    private func decode(_ raw: [UInt8]) throws -> SignedTransaction {
        if let known, let tx = known(Keccak256.hash(raw)), tx.raw == raw { return tx }
        return try SignedTransaction(raw: raw)
    }

    /// Transaction `index`; callers ask for 0, 1, 2, … in order.
    func transaction(_ index: Int) throws -> SignedTransaction {
        if index % Self.chunkSize == 0 { chunkReady[index / Self.chunkSize].wait() }
        return try results[index].get()
    }

    /// The root of the transactions trie over the raw bytes.
    var transactionsRoot: Hash32 {
        rootReady.wait()
        rootReady.signal()
        return root
    }

    /// Waits for the workers; afterwards the results are released.
    func finish() {
        guard !finished else { return }
        finished = true
        workersDone.wait()
        results.deinitialize(count: raws.count)
        results.deallocate()
    }

    deinit { finish() }
}
