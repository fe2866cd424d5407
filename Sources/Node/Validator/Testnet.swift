import Chain
import Consensus
import Crypto
import Foundation
import JSON
import Modules
import Network
import Primitives

/// `opgd testnet`: the files of a local network of N validators on loopback ports — a genesis
/// listing every validator's account and consensus key, and per node a data directory
/// (initialised, with its consensus key and node key inside), the operator's account key and a
/// config that names the other nodes as persistent peers.
///
///     DIR/genesis.json
///     DIR/node<i>/config.json
///     DIR/node<i>/account.key            the operator's account key (not read by the node)
///     DIR/node<i>/data/                   chain database
///     DIR/node<i>/data/node_key           P2P identity
///     DIR/node<i>/data/consensus/         consensus_key (signer_state and wal appear when it runs)
///
/// Keys are fresh from the CSPRNG. The genesis funds the dev accounts of `DevNet` (public keys:
/// a local network only).
public enum Testnet {
    /// What to write.
    public struct Options: Sendable {
        /// How many validators (power 1 each).
        public var validators: Int
        /// Where the files go (must not hold a genesis yet).
        public var directory: String
        /// The address every node binds, RPC and P2P.
        public var host = "127.0.0.1"
        /// Node i serves JSON-RPC on `rpcPort + i`.
        public var rpcPort = 8545
        /// Node i listens for peers on `p2pPort + i`.
        public var p2pPort = 26656
        /// The timeout profile in every config: `production` or `test`.
        public var timeouts = "production"
        /// The commit pause in every config, when set.
        public var blockIntervalMs: UInt64?
        /// Bond every validator in staking at genesis (``stakedPower`` each), so staking supplies
        /// the validator set: bonding, slashing and tombstoning change it (docs/staking.md).
        public var staking = false

        /// Options with the defaults above.
        public init(validators: Int, directory: String) {
            self.validators = validators
            self.directory = directory
        }
    }

    /// Writes the network's files; refuses a directory that already has a genesis.
    public static func write(_ options: Options, logger: Logger) throws {
        let dir = URL(fileURLWithPath: options.directory).standardizedFileURL.path
        let genesisPath = dir + "/genesis.json"
        guard !FileManager.default.fileExists(atPath: genesisPath) else { throw CommandError("\(genesisPath) exists; use an empty directory") }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let accounts = try (0..<options.validators).map { _ in try PrivateKey.generate() }
        let consensusKeys = try (0..<options.validators).map { _ in try PrivateKey.generate() }
        let nodeKeys = try (0..<options.validators).map { _ in try PrivateKey.generate() }
        let genesisBytes = genesis(accounts: accounts, consensusKeys: consensusKeys, staking: options.staking)
        try Data(genesisBytes).write(to: URL(fileURLWithPath: genesisPath))
        let spec = try GenesisFile.parse(genesisBytes)
        for i in 0..<options.validators {
            let home = "\(dir)/node\(i)", data = home + "/data"
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            _ = try ChainSetup.initDataDir(spec: spec, genesisBytes: genesisBytes, dataDir: data, logger: logger)
            try ValidatorKeys.writeKey(accounts[i], to: home + "/account.key")
            try ValidatorKeys.writeKey(nodeKeys[i], to: data + "/node_key")
            try FileManager.default.createDirectory(atPath: data + "/consensus", withIntermediateDirectories: true)
            try DurableSigner.create(directory: data + "/consensus", key: consensusKeys[i])
            let peers = (0..<options.validators).filter { $0 != i }.map {
                JSONValue.string(PersistentPeer(id: PeerID(nodeKeys[$0].address), host: options.host, port: UInt16(options.p2pPort + $0)).description)
            }
            var config: [(String, JSONValue)] = [
                ("dataDir", .string(data)), ("genesis", .string(genesisPath)),
                ("rpc", ["host": .string(options.host), "port": .int(options.rpcPort + i)]),
                ("p2p", ["listen": .string("\(options.host):\(options.p2pPort + i)"), "persistentPeers": .array(peers)]),
                ("consensus", ["timeouts": .string(options.timeouts)]),
                ("logLevel", "info"),
            ]
            if let ms = options.blockIntervalMs { config.append(("blockIntervalMs", .int(ms))) }
            try Data(JSONValue.object(JSONObject(config)).serializedBytes() + [0x0A]).write(to: URL(fileURLWithPath: home + "/config.json"))
            logger.info("validator written", ["node": i, "account": accounts[i].address, "consensus": consensusKeys[i].address,
                                              "peer": nodeKeys[i].address, "rpc": options.rpcPort + i, "p2p": options.p2pPort + i])
        }
    }

    /// The power of a validator bonded in staking by a `staking` testnet: the default
    /// `validatorMinStake` in whole OPG.
    public static let stakedPower: UInt64 = 10_000

    /// The devnet genesis with these validators and network name `opg-testnet`: power 1 each from
    /// the genesis list, or, with `staking`, each bonded in `staking.operators` with ``stakedPower``
    /// OPG of stake (the same validators listed at that power).
    static func genesis(accounts: [PrivateKey], consensusKeys: [PrivateKey], staking: Bool = false) -> [UInt8] {
        guard case .object(var g)? = try? JSONParser.parse(Array(DevNet.genesisJSON.utf8)) else { preconditionFailure("built-in genesis") }
        g["networkName"] = "opg-testnet"
        let power = staking ? stakedPower : 1
        g["validators"] = .array(zip(accounts, consensusKeys).map { account, consensus in
            ["address": .string(account.address.hex), "consensusKey": .string(Hex.encode(consensus.publicKey.compressed)), "power": .int(Int(power))]
        })
        if staking {
            let stake = UInt256(power) * StakingParameters.opg
            g["staking"] = ["operators": .array(zip(accounts, consensusKeys).map { account, consensus in
                ["address": .string(account.address.hex), "role": "validator", "stake": .string(stake.hexQuantity),
                 "consensusKey": .string(Hex.encode(consensus.publicKey.compressed))]
            })]
        }
        return JSONValue.object(g).serializedBytes() + [0x0A]
    }
}
