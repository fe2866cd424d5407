import Chain
import Crypto
import Foundation
import HTTPServer
import JSON
import Network
import Primitives
import RPC
import Storage

/// A running node: the LevelDB-backed chain, the validator (the Tendermint engine with its
/// signer, WAL and P2P transport, `ValidatorService`; a lone validator without peers too) and
/// the HTTP server (JSON-RPC on POST `/` and over WebSocket, `/health`, `/metrics`, `/events`;
/// docs/rpc.md, "HTTP routes"). `start` brings it up; `stop` stops the transport and the
/// engine, stops serving and closes the database.
public final class NodeRuntime {
    public let config: NodeConfig
    public let logger: Logger
    public let chain: ChainService
    /// The operator account named by `validatorKeyFile`, if the config names one.
    public let validator: PrivateKey?
    /// The engine, its keys and the P2P transport.
    public let consensus: ValidatorService
    /// The genesis file's `networkName` (nil when it names none), served to pages and wallets in
    /// `/explorer/network.json`.
    public let networkName: String?
    private let store: LevelDBStore
    private var server: HTTPServer?
    private var api: EthAPI?
    private var lanes: RPCLanes?

    /// Opens the data directory named by `config`; fails when it was never initialised,
    /// when the config's genesis differs from the stored one, or when the validator key
    /// is not in the genesis validator set of a chain whose set does not come from staking.
    public init(config: NodeConfig, logger: Logger) throws {
        self.config = config
        self.logger = logger
        validator = try config.validatorKeyFile.map(ChainSetup.loadKey)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: config.dataDir, isDirectory: &isDir), isDir.boolValue else {
            throw CommandError("data directory \(config.dataDir) does not exist; run `opgd init --genesis FILE --datadir \(config.dataDir)` first")
        }
        store = try LevelDBStore(path: config.dataDir)
        let database = try ChainDatabase(store: store)
        guard database.head != nil else {
            throw CommandError("data directory \(config.dataDir) is not initialised; run `opgd init --genesis FILE --datadir \(config.dataDir)`")
        }
        let spec = try ChainSetup.storedGenesis(database)
        networkName = try database.genesisBytes().flatMap(GenesisFile.networkName)
        if let path = config.genesis {
            let (fileSpec, _) = try GenesisFile.load(path)
            let fileHash = try fileSpec.genesisBlock(nodes: TrieNodeStore(store: MemoryStore())).block.hash
            guard let stored = try database.hash(number: 0), stored == fileHash else {
                throw CommandError("genesis \(path) (block 0 \(fileHash.hex)) does not match the chain in \(config.dataDir)")
            }
        }
        // With sets from staking, a validator may bond (or be tombstoned) after genesis: the engine
        // signs only at heights whose set holds its consensus key, and follows the chain otherwise.
        if let validator, !spec.validatorsFromStaking, !spec.config.validators.contains(validator.address) {
            throw ConfigError("validatorKeyFile: key address \(validator.address) is not in the genesis validator set")
        }
        // The dev signer spends from the public dev keys: only on a devnet, run by the dev validator.
        if config.devSigner, validator?.address != DevNet.validatorKey.address {
            throw ConfigError("devSigner: refused on chain \(spec.config.chainId): the dev signer runs only on a devnet started by `opgd dev`")
        }
        chain = ChainSetup.service(spec: spec, database: database, poolLimits: config.txPool, inference: config.inference, logger: logger)
        consensus = try ValidatorService(settings: try config.validatorSettings(account: validator?.address), chain: chain, logger: logger)
    }

    /// Starts the RPC server, then the validator (WAL replay, engine, P2P).
    public func start() throws {
        let dispatcher = RPCDispatcher(maxBatchResponseBytes: config.rpcMaxBatchResponseBytes)
        let api = EthAPI(chain: chain, clientVersion: ChainSetup.clientVersion, limits: config.queryLimits)
        api.register(on: dispatcher)
        api.syncProgressSource = consensus.blockSync
        NetworkRPC(consensus).register(on: dispatcher)
        let models = ModelRPC(chain: chain)
        models.register(on: dispatcher)
        InferenceRPC(chain: chain, models: models).register(on: dispatcher)
        StakingRPC(models: models).register(on: dispatcher)
        try ExplorerRPC(chain: chain).register(on: dispatcher)
        JobsRPC(models: models).register(on: dispatcher)
        VerificationStatsRPC(chain: chain, models: models).register(on: dispatcher)
        let endpoints = ProviderEndpoints(models: models, chainId: chain.config.chainId)
        endpoints.register(on: dispatcher)
        chain.onBlock { _ in endpoints.retryHeld(now: ProviderEndpoints.now()) }
        if let transport = consensus.transport { consensus.dispatcher.register(ProviderEndpointGossip(endpoints: endpoints, transport: transport)) }
        if config.devSigner {
            DevSigner(dispatcher: dispatcher, chainId: chain.config.chainId).register(on: dispatcher)
            logger.warn("dev signer on: eth_sendTransaction signs for the dev accounts with their public keys (devnet only)")
        }
        self.api = api
        let lanes = RPCLanes(heavyThreads: config.rpcHeavyThreads)
        self.lanes = lanes
        var transport = config.rpc
        let files = Self.raiseFileLimit()
        transport.connectionLimit = min(transport.connectionLimit, max(16, files - 256))
        let rpcMetrics = RPCMetrics()
        dispatcher.metrics = rpcMetrics
        let router = HTTPRouter { request in dispatcher.route(request, lanes: lanes) }
        let subscriptions = SubscriptionHub(chain: chain, dispatcher: dispatcher, lanes: lanes, maxPerConnection: config.rpcMaxSubscriptionsPerConnection)
        router.webSocket("/", subscriptions.accept)
        NodeEndpoints(chain: chain, rpcMetrics: rpcMetrics, subscriptions: subscriptions, peers: { [consensus] in consensus.peerCount })
            .register(on: router)
        NodeEvents(chain: chain).register(on: router)
        let network = try Explorer.network(chainId: chain.config.chainId, networkName: networkName, epochBlocks: Explorer.epochBlocks(models.reader()),
                                           jobs: Explorer.jobsBlockParameters(models.reader()))
        for library in Explorer(javascriptDirectory: config.explorerJavaScriptDir, network: network).register(on: router) {
            logger.warn("explorer library missing", ["route": library.route, "package": library.package, "dir": config.explorerJavaScriptDir])
        }
        let server = HTTPServer(configuration: transport, router: router.route)
        try server.start()
        self.server = server
        let head = chain.head
        logger.info("node started", ["chainId": chain.config.chainId, "head": head.number, "hash": head.hash.hex,
                                     "validator": validator?.address.hex ?? "-", "rpc": "http://\(config.rpc.host):\(server.port)"])
        try consensus.start()
    }

    /// Raises the open-file limit to the hard limit (as geth does) so that thousands of
    /// connections fit; returns the limit in force. The connection cap stays below it.
    static func raiseFileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(min(limit.rlim_cur, rlim_t(Int32.max)))
    }

    /// The port the RPC server listens on.
    public var rpcPort: Int { server?.port ?? 0 }

    /// This node as a peer to dial (`0x<peer id>@host:port`, what `p2p.persistentPeers` lists);
    /// nil when it accepts no P2P connections.
    public var p2pAddress: String? {
        guard let transport = consensus.transport, let port = transport.listeningPort, let listen = config.p2pListen,
              let (host, _) = try? PersistentPeer.hostAndPort(listen) else { return nil }
        return PersistentPeer(id: transport.localPeer, host: host, port: port).description
    }

    /// Stops the validator (the transport, then the engine after its current input), stops serving, and returns.
    public func stop() {
        consensus.stop()
        server?.stop()
        server = nil
        lanes?.shutdown()
        lanes = nil
        logger.info("node stopped", ["head": chain.head.number])
    }

    /// Blocks until SIGTERM or SIGINT, then stops the node.
    public func runUntilSignalled() {
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let done = DispatchSemaphore(value: 0)
        let queue = DispatchQueue(label: "signals")
        let sources = [SIGTERM, SIGINT].map { sig -> DispatchSourceSignal in
            let s = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            s.setEventHandler { done.signal() }
            s.resume()
            return s
        }
        done.wait()
        logger.info("signal received, shutting down")
        stop()
        sources.forEach { $0.cancel() }
    }
}
