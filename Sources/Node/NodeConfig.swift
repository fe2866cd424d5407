import Chain
import HTTPServer
import JSON
import Modules
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
    /// How the node runs models in calls (`inference`).
    public var inference = InferenceConfig()
    /// Where the explorer's JavaScript libraries are read from (`explorer.javascriptDir`:
    /// Debian's libjs-* packages install under `/usr/share/javascript`).
    public var explorerJavaScriptDir = "/usr/share/javascript"

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
            && a.inference == b.inference && a.explorerJavaScriptDir == b.explorerJavaScriptDir
    }

    /// Reads and checks a config file; errors name the file and the field.
    public static func load(_ path: String) throws -> NodeConfig {
        let (value, _) = try readJSONFile(path, what: "config")
        do { return try parse(value) } catch let e as ConfigError { throw ConfigError("config \(path): \(e.message)") }
    }

    /// Checks a parsed config document.
    public static func parse(_ value: JSONValue) throws -> NodeConfig {
        let r = try FieldReader(value, path: "")
        try r.rejectUnknown(["dataDir", "genesis", "rpc", "blockIntervalMs", "logLevel", "validatorKeyFile", "txPool", "queryLimits", "inference", "explorer"])
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
        if let ms = try r.integer("blockIntervalMs", in: 10...3_600_000) { c.blockIntervalMs = ms }
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

    /// The transport's defences (Config/README.md, docs/rpc.md "Limits").
    static let rpcLimitFields = ["vhosts", "corsHeaders", "heavyThreads", "maxConnections", "maxConnectionsPerIP",
                                 "maxPendingPerIP", "requestTimeoutSeconds", "idleTimeoutSeconds", "maxHeaderBytes",
                                 "maxBatchResponseBytes"]

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
    }

    static func strings(_ values: [JSONValue], _ field: String) throws -> [String] {
        try values.enumerated().map { i, v in
            guard case .string(let s) = v else { throw ConfigError("\(field)[\(i)]: must be a string") }
            return s
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
