import HTTPServer
import JSON

/// Execution lanes: cheap requests (`eth_blockNumber`, balances, receipts, sending a
/// transaction) run on the light lane; requests that may read many blocks, run code or
/// build large answers run on a small heavy lane of their own. However many heavy
/// requests arrive, they queue behind each other and the light lane stays free.
public final class RPCLanes {
    /// Methods that always run on the heavy lane.
    public static let defaultHeavyMethods: Set<String> = [
        "eth_getLogs", "eth_getFilterLogs", "eth_getProof", "eth_call", "eth_estimateGas",
        "eth_getBlockReceipts", "eth_feeHistory",
    ]
    /// Methods that run on the heavy lane when asked for full transactions (second parameter `true`).
    public static let fullBlockMethods: Set<String> = ["eth_getBlockByNumber", "eth_getBlockByHash"]

    /// The lane for cheap requests; it also parses every body.
    public let light: WorkerPool
    /// The lane for heavy requests.
    public let heavy: WorkerPool
    /// Method names classed heavy.
    public let heavyMethods: Set<String>
    /// A batch with more requests than this is heavy whatever it asks.
    public let heavyBatchSize: Int
    /// A body larger than this is parsed and run on the heavy lane: parsing megabytes
    /// would otherwise hold a light thread.
    public let heavyBodyBytes: Int

    /// Starts both lanes' threads.
    public init(lightThreads: Int, heavyThreads: Int, heavyMethods: Set<String> = RPCLanes.defaultHeavyMethods, heavyBatchSize: Int = 100,
                heavyBodyBytes: Int = 64 << 10) {
        light = WorkerPool(name: "rpc-light", threads: lightThreads)
        heavy = WorkerPool(name: "rpc-heavy", threads: heavyThreads)
        self.heavyMethods = heavyMethods
        self.heavyBatchSize = heavyBatchSize
        self.heavyBodyBytes = heavyBodyBytes
    }

    /// Finishes queued work and stops both lanes.
    public func shutdown() {
        light.shutdown()
        heavy.shutdown()
    }

    /// True when the parsed body (one request or a batch) belongs on the heavy lane.
    public func isHeavy(_ body: JSONValue) -> Bool {
        guard case .array(let batch) = body else { return isHeavyRequest(body) }
        return batch.count > heavyBatchSize || batch.contains(where: isHeavyRequest)
    }

    func isHeavyRequest(_ request: JSONValue) -> Bool {
        guard case .string(let method)? = request["method"] else { return false }
        if heavyMethods.contains(method) { return true }
        return Self.fullBlockMethods.contains(method) && request["params"]?.arrayValue?.dropFirst().first == .bool(true)
    }
}
