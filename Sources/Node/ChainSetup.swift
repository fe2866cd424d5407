import Chain
import Crypto
import Foundation
import Modules
import Primitives
import Storage

/// Opening a data directory: initialising it from a genesis file, and reading back the
/// genesis it was initialised with.
public enum ChainSetup {
    /// The client version string reported by `web3_clientVersion`.
    public static let clientVersion = "opg/v0.1.0/linux-\(architecture)/swift"
    static var architecture: String {
        #if arch(x86_64)
        return "amd64"
        #elseif arch(arm64)
        return "arm64"
        #else
        return "unknown"
        #endif
    }

    /// The native modules every node runs, at their reserved addresses, with the genesis
    /// inference budget of `config` and the node's kernel threads and session cache.
    public static func handlers(_ config: ChainConfig, inference: InferenceConfig = InferenceConfig()) -> NativeHandlerRegistry {
        StandardModules.registry(inference: InferenceSettings(blockGasBudget: config.inferenceGasPerBlock, threads: inference.threads,
                                                              sessions: SessionCache(capacityBytes: inference.cacheBytes)))
    }

    /// A chain service over `database` with the standard handlers and the validator sets of
    /// `spec`: staking's when its genesis bonds validators in staking
    /// (`validatorsFromStaking`), the genesis set otherwise; warnings go to `logger` when given.
    public static func service(spec: GenesisSpec, database: ChainDatabase, poolLimits: MempoolLimits = MempoolLimits(),
                               inference: InferenceConfig = InferenceConfig(), logger: Logger? = nil) -> ChainService {
        let handlers = handlers(spec.config, inference: inference)
        let validatorSets: ValidatorSetProvider = spec.validatorsFromStaking
            ? StakingValidatorSets(config: spec.config, database: database, handlers: handlers)
            : GenesisValidatorSets(spec.config.validators)
        return ChainService(config: spec.config, database: database, handlers: handlers,
                     encodeRevert: ABI.encodeRevert, poolLimits: poolLimits, validatorSets: validatorSets,
                     notice: { message in logger?.warn(message) ?? FileHandle.standardError.write(Data("\(message)\n".utf8)) })
    }

    /// Writes block 0 of `spec` (with the genesis file's bytes) into an empty database.
    public static func initialise(_ database: ChainDatabase, spec: GenesisSpec, genesisBytes: [UInt8]) throws -> Header {
        let (block, batch) = try spec.genesisBlock(nodes: database.nodes)
        try database.commit(block: block, receipts: [], stateBatch: batch, sync: true, genesis: genesisBytes)
        return block.header
    }

    /// The genesis the database was initialised with, and the stored block 0 hash.
    public static func storedGenesis(_ database: ChainDatabase) throws -> GenesisSpec {
        guard let bytes = try database.genesisBytes() else { throw CommandError("the database has no genesis record; was it initialised by opgd init?") }
        return try GenesisFile.parse(bytes)
    }

    /// `opgd init`: checks the genesis file before touching the disk, then creates the
    /// data directory and writes block 0. Refuses a directory that already holds a
    /// different chain; re-running with the same genesis is a no-op.
    public static func initDataDir(genesisPath: String, dataDir: String, logger: Logger) throws -> Header {
        let (spec, bytes) = try GenesisFile.load(genesisPath)
        return try initDataDir(spec: spec, genesisBytes: bytes, dataDir: dataDir, logger: logger)
    }

    /// `initDataDir` for a genesis already read and checked (the built-in devnet's).
    public static func initDataDir(spec: GenesisSpec, genesisBytes bytes: [UInt8], dataDir: String, logger: Logger) throws -> Header {
        let expected = try spec.genesisBlock(nodes: TrieNodeStore(store: MemoryStore())).block.header
        let store = try LevelDBStore(path: dataDir)
        let database = try ChainDatabase(store: store)
        if let head = database.head {
            guard let stored = try database.header(number: 0), stored.hash == expected.hash else {
                throw CommandError("\(dataDir) already holds a different chain (genesis \(try database.header(number: 0)?.hash.hex ?? "?")); use an empty directory")
            }
            logger.info("data directory already initialised", ["datadir": dataDir, "genesis": expected.hash.hex, "head": head.number])
            return stored
        }
        let header = try initialise(database, spec: spec, genesisBytes: bytes)
        logger.info("initialised data directory", ["datadir": dataDir, "chainId": spec.config.chainId, "genesis": header.hash.hex,
                                                     "stateRoot": header.stateRoot.hex])
        return header
    }

    /// Reads a validator key file: 32 bytes of hex, `0x` optional, surrounding whitespace ignored.
    public static func loadKey(_ path: String) throws -> PrivateKey {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigError("validatorKeyFile \(path): cannot read file")
        }
        do { return try PrivateKey(hex: text.trimmingCharacters(in: .whitespacesAndNewlines)) } catch {
            throw ConfigError("validatorKeyFile \(path): not a secp256k1 private key in hex: \(error)")
        }
    }
}

/// A failure of a node command that is not a usage or config mistake (exit code 1).
public struct CommandError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
