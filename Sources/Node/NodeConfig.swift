import Chain
import Consensus
import HTTPServer
import JSON
import Modules
import Network
import Primitives
import RPC

/// Config/node.json (Config/README.md documents every field). Relative paths are taken
/// from the working directory, as geth does.
public struct NodeConfig: Equatable {
    public var dataDir: String
    public var genesis: String?
    public var rpc = HTTPServerConfiguration()
    public var blockIntervalMs: UInt64 = 1000
    public var logLevel: Logger.Level = .info
    public var validatorKeyFile: String?
    public var txPool = MempoolLimits()
    public var queryLimits = QueryLimits()
    /// Threads of the heavy RPC lane (`rpc.heavyThreads`); `rpc.threads` (the I/O threads) are the light lane.
    public var rpcHeavyThreads = 1
    /// Cap on a batch's answers in bytes (`rpc.maxBatchResponseBytes`).
    public var rpcMaxBatchResponseBytes = 25_000_000
    /// `eth_subscribe` subscriptions one WebSocket connection may hold (`rpc.maxSubscriptionsPerConnection`).
    public var rpcMaxSubscriptionsPerConnection = 100
    /// How the node runs models in calls (`inference`).
    public var inference = InferenceConfig()
    /// The P2P listen address (`p2p.listen`); nil: no inbound connections.
    public var p2pListen: String?
    /// Peers kept connected (`p2p.persistentPeers`, `0xID@host:port`).
    public var persistentPeers: [PersistentPeer] = []
    /// The node key file (`p2p.nodeKeyFile`); default `node_key` in the data directory.
    public var nodeKeyFile: String?
    /// The consensus directory (`consensus.directory`) with the consensus key, the signer
    /// state and the WAL; default `consensus` in the data directory.
    public var consensusDirectory: String?
    /// The engine's step timeouts (`consensus.timeouts`); the commit pause is `blockIntervalMs`.
    public var timeoutProfile = TimeoutProfile.production
    /// Whether the commit pause ends as soon as every validator's precommit is in
    /// (`consensus.skipCommitPause`, CometBFT's `skip_timeout_commit`; docs/consensus.md, "Timeouts").
    public var skipCommitPause = false
    /// Where the explorer's JavaScript libraries are read from (`explorer.javascriptDir`:
    /// Debian's libjs-* packages install under `/usr/share/javascript`).
    public var explorerJavaScriptDir = "/usr/share/javascript"
    /// The dev signer (`eth_sendTransaction` with the public dev keys; docs/chat.md, "The dev
    /// signer"): set only by `opgd dev`, never read from a config file.
    public var devSigner = false

    public init(dataDir: String) { self.dataDir = dataDir }

    public static func == (a: NodeConfig, b: NodeConfig) -> Bool {
        a.dataDir == b.dataDir && a.genesis == b.genesis && a.rpc.host == b.rpc.host && a.rpc.port == b.rpc.port
            && a.rpc.corsOrigins == b.rpc.corsOrigins && a.rpc.maxBodyBytes == b.rpc.maxBodyBytes && a.rpc.threads == b.rpc.threads
            && a.blockIntervalMs == b.blockIntervalMs && a.logLevel == b.logLevel && a.validatorKeyFile == b.validatorKeyFile
            && a.txPool.maxPerAccount == b.txPool.maxPerAccount && a.txPool.pendingSlots == b.txPool.pendingSlots
            && a.txPool.queuedSlots == b.txPool.queuedSlots && a.txPool.queuedLifetimeSeconds == b.txPool.queuedLifetimeSeconds
            && a.txPool.priceBumpPercent == b.txPool.priceBumpPercent && a.queryLimits == b.queryLimits
            && a.rpc.virtualHosts == b.rpc.virtualHosts && a.rpc.corsHeaders == b.rpc.corsHeaders
            && a.rpc.connectionLimit == b.rpc.connectionLimit && a.rpc.maxConnectionsPerIP == b.rpc.maxConnectionsPerIP
            && a.rpc.maxPendingPerIP == b.rpc.maxPendingPerIP && a.rpc.requestTimeoutSeconds == b.rpc.requestTimeoutSeconds
            && a.rpc.idleTimeoutSeconds == b.rpc.idleTimeoutSeconds && a.rpc.maxHeaderBytes == b.rpc.maxHeaderBytes
            && a.rpcHeavyThreads == b.rpcHeavyThreads && a.rpcMaxBatchResponseBytes == b.rpcMaxBatchResponseBytes
            && a.inference == b.inference && a.p2pListen == b.p2pListen && a.persistentPeers == b.persistentPeers
            && a.nodeKeyFile == b.nodeKeyFile && a.consensusDirectory == b.consensusDirectory && a.timeoutProfile == b.timeoutProfile
            && a.skipCommitPause == b.skipCommitPause
            && a.explorerJavaScriptDir == b.explorerJavaScriptDir && a.devSigner == b.devSigner
            && a.rpc.maxWebSocketConnections == b.rpc.maxWebSocketConnections && a.rpc.webSocketQueueMessages == b.rpc.webSocketQueueMessages
            && a.rpc.maxEventStreams == b.rpc.maxEventStreams && a.rpcMaxSubscriptionsPerConnection == b.rpcMaxSubscriptionsPerConnection
    }

    /// The engine's timeouts: the profile's step timeouts and `blockIntervalMs` as the commit
    /// pause, checked against the timing conditions (`TimeoutConfigError` names the one broken).
    public func consensusTimeouts() throws -> TimeoutConfig {
        let p = timeoutProfile
        return try TimeoutConfig(proposeMillis: p.proposeMs, prevoteMillis: p.prevoteMs, precommitMillis: p.precommitMs,
                                 roundIncrementMillis: p.roundIncrementMs, commitMillis: blockIntervalMs, rebroadcastMillis: p.rebroadcastMs,
                                 skipCommitPause: skipCommitPause)
    }

    /// The validator's settings: keys and WAL in the data directory unless the config moves them.
    public func validatorSettings(account: Address?) throws -> ValidatorSettings {
        ValidatorSettings(consensusDirectory: consensusDirectory ?? dataDir + "/consensus", nodeKeyFile: nodeKeyFile ?? dataDir + "/node_key",
                          listenAddress: p2pListen, persistentPeers: persistentPeers, timeouts: try consensusTimeouts(), account: account)
    }

    /// Reads and checks a config file; errors name the file and the field.
    public static func load(_ path: String) throws -> NodeConfig {
        let (value, _) = try readJSONFile(path, what: "config")
        do { return try parse(value) } catch let e as ConfigError { throw ConfigError("config \(path): \(e.message)") }
    }

    /// Checks a parsed config document.
    public static func parse(_ value: JSONValue) throws -> NodeConfig {
        let r = try FieldReader(value, path: "")
        if r.object["devSigner"] != nil { throw ConfigError(devSignerRefusal) }
        try r.rejectUnknown(["dataDir", "genesis", "rpc", "blockIntervalMs", "logLevel", "validatorKeyFile", "txPool", "queryLimits", "inference",
                             "p2p", "consensus", "explorer"])
        var c = NodeConfig(dataDir: try r.string("dataDir", required: true)!)
        guard !c.dataDir.isEmpty else { throw ConfigError("dataDir: must not be empty") }
        c.genesis = try r.string("genesis")
        if let rpc = try r.object("rpc") {
            try rpc.rejectUnknown(["host", "port", "corsOrigins", "maxRequestBytes", "threads"] + rpcLimitFields)
            if let host = try rpc.string("host") {
                guard !host.isEmpty else { throw ConfigError("rpc.host: must not be empty") }
                c.rpc.host = host
            }
            if let port = try rpc.integer("port", in: 0...65535) { c.rpc.port = Int(port) }
            if let origins = try rpc.array("corsOrigins") { c.rpc.corsOrigins = try strings(origins, "rpc.corsOrigins") }
            if let max = try rpc.integer("maxRequestBytes", in: 1024...(1 << 30)) { c.rpc.maxBodyBytes = Int(max) }
            if let threads = try rpc.integer("threads", in: 1...256) { c.rpc.threads = Int(threads) }
            try parseRPCLimits(rpc, into: &c)
        }
        let blockInterval = try r.integer("blockIntervalMs", in: 10...3_600_000)
        if let ms = blockInterval { c.blockIntervalMs = ms }
        try parseValidator(r, blockInterval: blockInterval, into: &c)
        if let level = try r.string("logLevel") {
            guard let l = Logger.Level(name: level) else { throw ConfigError("logLevel: must be one of debug, info, warn, error (got \"\(level)\")") }
            c.logLevel = l
        }
        c.validatorKeyFile = try r.string("validatorKeyFile")
        if let pool = try r.object("txPool") {
            try pool.rejectUnknown(["maxPerAccount", "pendingSlots", "queuedSlots", "queuedLifetimeSeconds", "priceBumpPercent"])
            if let v = try pool.integer("maxPerAccount", in: 1...100_000) { c.txPool.maxPerAccount = Int(v) }
            if let v = try pool.integer("pendingSlots", in: 1...1_000_000) { c.txPool.pendingSlots = Int(v) }
            if let v = try pool.integer("queuedSlots", in: 0...1_000_000) { c.txPool.queuedSlots = Int(v) }
            if let v = try pool.integer("queuedLifetimeSeconds", in: 1...604_800) { c.txPool.queuedLifetimeSeconds = v }
            if let v = try pool.integer("priceBumpPercent", in: 1...1000) { c.txPool.priceBumpPercent = v }
        }
        if let q = try r.object("queryLimits") {
            try q.rejectUnknown(["maxFilters", "filterTimeoutSeconds", "logBlockRange", "logResults", "proofKeys"])
            if let v = try q.integer("maxFilters", in: 1...100_000) { c.queryLimits.maxFilters = Int(v) }
            if let v = try q.integer("filterTimeoutSeconds", in: 1...86_400) { c.queryLimits.filterTimeoutSeconds = v }
            if let v = try q.integer("logBlockRange", in: 1...1_000_000) { c.queryLimits.logBlockRange = v }
            if let v = try q.integer("logResults", in: 1...1_000_000) { c.queryLimits.logResults = Int(v) }
            if let v = try q.integer("proofKeys", in: 1...100_000) { c.queryLimits.proofKeys = Int(v) }
        }
        if let inference = try r.object("inference") {
            try inference.rejectUnknown(["cacheBytes", "threads"])
            if let v = try inference.integer("cacheBytes", in: 0...(UInt64(1) << 40)) { c.inference.cacheBytes = Int(v) }
            if let v = try inference.integer("threads", in: 1...256) { c.inference.threads = Int(v) }
        }
        if let explorer = try r.object("explorer") {
            try explorer.rejectUnknown(["javascriptDir"])
            if let dir = try explorer.string("javascriptDir") {
                guard !dir.isEmpty else { throw ConfigError("explorer.javascriptDir: must not be empty") }
                c.explorerJavaScriptDir = dir
            }
        }
        return c
    }

    /// Why a config file cannot enable the dev signer.
    public static let devSignerRefusal = "devSigner: refused: the dev signer signs with the publicly known dev keys; only `opgd dev` enables it, "
        + "never a config file (use a wallet on every other network)"

    /// `p2p` and `consensus` (Config/README.md). The timeouts are checked here, so a config that
    /// breaks a timing condition never starts; the `test` profile's commit pause is 10 ms unless
    /// `blockIntervalMs` says otherwise.
    static func parseValidator(_ r: FieldReader, blockInterval: UInt64?, into c: inout NodeConfig) throws {
        if let p2p = try r.object("p2p") {
            try p2p.rejectUnknown(["listen", "persistentPeers", "nodeKeyFile"])
            if let listen = try p2p.string("listen") {
                guard (try? PersistentPeer.hostAndPort(listen)) != nil else { throw ConfigError("p2p.listen: \"\(listen)\" is not host:port") }
                c.p2pListen = listen
            }
            for (i, text) in try strings(try p2p.array("persistentPeers") ?? [], "p2p.persistentPeers").enumerated() {
                do { c.persistentPeers.append(try PersistentPeer(parsing: text)) } catch {
                    throw ConfigError("p2p.persistentPeers[\(i)]: \"\(text)\" is not 0x<40 hex peer id>@host:port")
                }
            }
            c.nodeKeyFile = try p2p.string("nodeKeyFile")
        }
        if let consensus = try r.object("consensus") {
            try consensus.rejectUnknown(["directory", "timeouts", "skipCommitPause"])
            c.consensusDirectory = try consensus.string("directory")
            c.skipCommitPause = try consensus.bool("skipCommitPause") ?? false
            if let value = try consensus.value("timeouts", required: false) {
                if case .string(let name) = value {
                    guard let profile = TimeoutProfile.named(name) else {
                        throw ConfigError("consensus.timeouts: must be \"production\", \"test\" or an object (got \"\(name)\")")
                    }
                    c.timeoutProfile = profile
                    if name == "test" && blockInterval == nil { c.blockIntervalMs = TimeoutConfig.testProfile.commitMillis }
                } else {
                    let t = try FieldReader(value, path: "consensus.timeouts")
                    try t.rejectUnknown(["proposeMs", "prevoteMs", "precommitMs", "roundIncrementMs", "rebroadcastMs"])
                    let any = UInt64(0)...UInt64(1 << 40), base = TimeoutProfile.production
                    c.timeoutProfile = TimeoutProfile(proposeMs: try t.integer("proposeMs", in: any) ?? base.proposeMs,
                                                      prevoteMs: try t.integer("prevoteMs", in: any) ?? base.prevoteMs,
                                                      precommitMs: try t.integer("precommitMs", in: any) ?? base.precommitMs,
                                                      roundIncrementMs: try t.integer("roundIncrementMs", in: any) ?? base.roundIncrementMs,
                                                      rebroadcastMs: try t.integer("rebroadcastMs", in: any) ?? base.rebroadcastMs)
                }
            }
        }
        do { _ = try c.consensusTimeouts() } catch let e as TimeoutConfigError { throw ConfigError("consensus.timeouts: \(e)") }
    }

    /// The transport's defences (Config/README.md, docs/rpc.md "Limits").
    static let rpcLimitFields = ["vhosts", "corsHeaders", "heavyThreads", "maxConnections", "maxConnectionsPerIP",
                                 "maxPendingPerIP", "requestTimeoutSeconds", "idleTimeoutSeconds", "maxHeaderBytes",
                                 "maxBatchResponseBytes", "maxWebSocketConnections", "maxSubscriptionsPerConnection",
                                 "webSocketQueueMessages", "maxEventStreams"]

    static func parseRPCLimits(_ rpc: FieldReader, into c: inout NodeConfig) throws {
        if let hosts = try rpc.array("vhosts") { c.rpc.virtualHosts = try strings(hosts, "rpc.vhosts") }
        if let headers = try rpc.array("corsHeaders") { c.rpc.corsHeaders = try strings(headers, "rpc.corsHeaders") }
        if let v = try rpc.integer("heavyThreads", in: 1...256) { c.rpcHeavyThreads = Int(v) }
        if let v = try rpc.integer("maxConnections", in: 16...1_000_000) { c.rpc.connectionLimit = Int(v) }
        if let v = try rpc.integer("maxConnectionsPerIP", in: 0...1_000_000) { c.rpc.maxConnectionsPerIP = Int(v) }
        if let v = try rpc.integer("maxPendingPerIP", in: 1...1_000_000) { c.rpc.maxPendingPerIP = Int(v) }
        if let v = try rpc.integer("requestTimeoutSeconds", in: 1...3600) { c.rpc.requestTimeoutSeconds = Int(v) }
        if let v = try rpc.integer("idleTimeoutSeconds", in: 1...3600) { c.rpc.idleTimeoutSeconds = Int(v) }
        if let v = try rpc.integer("maxHeaderBytes", in: 1024...(1 << 20)) { c.rpc.maxHeaderBytes = Int(v) }
        if let v = try rpc.integer("maxBatchResponseBytes", in: 1024...(1 << 32)) { c.rpcMaxBatchResponseBytes = Int(v) }
        if let v = try rpc.integer("maxWebSocketConnections", in: 1...1_000_000) { c.rpc.maxWebSocketConnections = Int(v) }
        if let v = try rpc.integer("maxSubscriptionsPerConnection", in: 1...100_000) { c.rpcMaxSubscriptionsPerConnection = Int(v) }
        if let v = try rpc.integer("webSocketQueueMessages", in: 1...1_000_000) { c.rpc.webSocketQueueMessages = Int(v) }
        if let v = try rpc.integer("maxEventStreams", in: 1...1_000_000) { c.rpc.maxEventStreams = Int(v) }
    }

    static func strings(_ values: [JSONValue], _ field: String) throws -> [String] {
        try values.enumerated().map { i, v in
            guard case .string(let s) = v else { throw ConfigError("\(field)[\(i)]: must be a string") }
            return s
        }
    }
}

/// The engine's step timeouts in milliseconds (config `consensus.timeouts`): a named profile
/// or explicit values; `NodeConfig.consensusTimeouts()` adds the commit pause and checks them.
public struct TimeoutProfile: Equatable, Sendable {
    /// timeoutPropose(0).
    public var proposeMs: UInt64
    /// timeoutPrevote(0).
    public var prevoteMs: UInt64
    /// timeoutPrecommit(0).
    public var precommitMs: UInt64
    /// Added to each step timeout per round.
    public var roundIncrementMs: UInt64
    /// How often a validator re-sends its latest messages.
    public var rebroadcastMs: UInt64

    /// A profile from explicit values (checked by `NodeConfig.consensusTimeouts()`).
    public init(proposeMs: UInt64, prevoteMs: UInt64, precommitMs: UInt64, roundIncrementMs: UInt64, rebroadcastMs: UInt64) {
        self.proposeMs = proposeMs
        self.prevoteMs = prevoteMs
        self.precommitMs = precommitMs
        self.roundIncrementMs = roundIncrementMs
        self.rebroadcastMs = rebroadcastMs
    }

    init(_ t: TimeoutConfig) {
        self.init(proposeMs: t.proposeMillis, prevoteMs: t.prevoteMillis, precommitMs: t.precommitMillis,
                  roundIncrementMs: t.roundIncrementMillis, rebroadcastMs: t.rebroadcastMillis)
    }

    /// CometBFT's defaults (propose 3 s, prevote and precommit 1 s, +0.5 s per round; re-broadcast 2 s).
    public static let production = TimeoutProfile(TimeoutConfig.production)
    /// The same shape in milliseconds, for local networks and tests.
    public static let test = TimeoutProfile(TimeoutConfig.testProfile)

    /// The profile called `name` (`production` or `test`).
    public static func named(_ name: String) -> TimeoutProfile? {
        switch name {
        case "production": return .production
        case "test": return .test
        default: return nil
        }
    }
}

/// The node's inference settings (config `inference`): neither changes a result or a gas figure.
public struct InferenceConfig: Equatable, Sendable {
    /// Most bytes of compiled models kept (`inference.cacheBytes`, default 512 MiB).
    public var cacheBytes = SessionCache.defaultCapacityBytes
    /// Kernel threads per model run (`inference.threads`, default 1).
    public var threads = 1

    public init() {}
}
