import Chain
import Foundation
import Primitives
import Storage

/// `opgd replay`: re-executes every block of a data directory from its stored genesis
/// into memory and checks that each block's roots, receipts and the head state (read
/// through the on-disk flat index and trie) match. This is how the crash tests prove a
/// database left by SIGKILL is consistent.
public enum Replay {
    public struct Report {
        public let head: UInt64
        public let stateRoot: Hash32
        public let accountsChecked: Int
    }

    public static func run(dataDir: String, logger: Logger) throws -> Report {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dataDir, isDirectory: &isDir), isDir.boolValue else {
            throw CommandError("data directory \(dataDir) does not exist")
        }
        let disk = try ChainDatabase(store: try LevelDBStore(path: dataDir))
        guard let head = disk.head else { throw CommandError("data directory \(dataDir) is not initialised") }
        guard let genesisBytes = try disk.genesisBytes() else { throw CommandError("no genesis record in \(dataDir)") }
        let spec = try GenesisFile.parse(genesisBytes)
        let memory = try ChainDatabase(store: MemoryStore())
        let genesis = try ChainSetup.initialise(memory, spec: spec, genesisBytes: genesisBytes)
        guard try disk.hash(number: 0) == genesis.hash else { throw CommandError("block 0 on disk is not the stored genesis") }
        let replayer = ChainSetup.service(spec: spec, database: memory)
        var touched: Set<Address> = Set(spec.alloc.map(\.address))
        touched.formUnion(spec.config.validators.validators.map(\.address))
        touched.formUnion(ChainSetup.handlers(spec.config).all.map(\.address))
        touched.insert(SupplyLedger.address)
        if head.number > 0 {
            for n in 1...head.number {
                guard let header = try disk.header(number: n), let txs = try disk.transactions(number: n),
                      let receipts = try disk.receipts(number: n) else { throw CommandError("block \(n) is missing from the database") }
                guard try disk.hash(number: n) == header.hash else { throw CommandError("block \(n): canonical hash does not match the header") }
                let executed: ExecutedBlock
                guard try disk.certificate(number: n) != nil else { throw CommandError("block \(n) has no commit certificate") }
                let block = Block(header: header, transactions: txs, evidence: try disk.evidence(number: n))
                do { executed = try replayer.importBlock(block, sync: false) } catch {
                    throw CommandError("block \(n): \(error)")
                }
                guard executed.receipts == receipts else { throw CommandError("block \(n): stored receipts differ from re-execution") }
                for tx in txs {
                    touched.insert(tx.sender)
                    if let to = tx.to { touched.insert(to) }
                    guard let loc = try disk.location(ofTransaction: tx.hash), loc.block == n else {
                        throw CommandError("block \(n): transaction \(tx.hash) has no lookup entry")
                    }
                }
                touched.insert(header.coinbase)
            }
        }
        guard memory.head?.stateRoot == head.stateRoot else { throw CommandError("replayed state root differs from the head's") }
        // The head state as the node reads it (flat index) must equal the replayed trie state.
        let onDisk = disk.state(at: head)
        let replayed = memory.state(at: head)
        for address in touched.sorted() {
            let a = onDisk.account(address), b = replayed.account(address)
            guard a == b else { throw CommandError("account \(address): on-disk state \(a) differs from replay \(b)") }
        }
        if let failure = onDisk.failure { throw CommandError("reading the on-disk state failed: \(failure)") }
        guard try blobDigests(disk.store) == blobDigests(memory.store) else {
            throw CommandError("the module blobs on disk (\(Schema.blobTable) table) differ from the replay's")
        }
        logger.info("replay matches", ["head": head.number, "stateRoot": head.stateRoot.hex, "accounts": touched.count])
        return Report(head: head.number, stateRoot: head.stateRoot, accountsChecked: touched.count)
    }

    /// Every module blob's key with the Keccak-256 of its bytes, in key order.
    private static func blobDigests(_ store: KeyValueStore) throws -> [[UInt8]] {
        var digests: [[UInt8]] = []
        try store.scan(prefix: Schema.blobTable) { key, value in
            digests.append(key + Keccak256.digest(value))
            return true
        }
        return digests
    }
}
