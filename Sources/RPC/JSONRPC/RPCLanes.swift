import HTTPServer
import JSON

/// Execution lanes: cheap requests (`eth_blockNumber`, balances, receipts, sending a
/// transaction) are answered at once on the HTTP server's I/O threads (the light lane);
/// requests that may read many blocks, run code or build large answers, and bodies too
/// large to parse in passing, run on a small pool of their own (the heavy lane). However
/// many heavy requests arrive, they queue behind each other and the light lane stays free;
/// the heavy threads run at nice 10, so the CPU goes to cheap requests first.
public final class RPCLanes {
    /// Methods that always run on the heavy lane.
    public static let defaultHeavyMethods: Set<String> = [
        "eth_getLogs", "eth_getFilterLogs", "eth_getProof", "eth_call", "eth_estimateGas",
        "eth_getBlockReceipts", "eth_feeHistory", "opg_getModel", "opg_listModels", "opg_getModelBytes",
        "opg_getInference", "opg_getInferencesByModel", "opg_inferenceStats",
        "opg_verificationStats",
    ]
    /// Methods that run on the heavy lane when asked for full transactions (second parameter `true`).
    public static let fullBlockMethods: Set<String> = ["eth_getBlockByNumber", "eth_getBlockByHash"]

    /// The heavy lane.
    public let heavy: WorkerPool
    /// Method names classed heavy.
    public let heavyMethods: Set<String>
    /// A batch with more requests than this is heavy whatever it asks.
    public let heavyBatchSize: Int
    /// A body larger than this is parsed and run on the heavy lane: parsing megabytes
    /// would otherwise hold an I/O thread.
    public let heavyBodyBytes: Int

    /// Starts the heavy lane's threads.
    public init(heavyThreads: Int, heavyMethods: Set<String> = RPCLanes.defaultHeavyMethods, heavyBatchSize: Int = 100,
                heavyBodyBytes: Int = 64 << 10) {
        heavy = WorkerPool(name: "rpc-heavy", threads: heavyThreads, niceness: 10)
        self.heavyMethods = heavyMethods
        self.heavyBatchSize = heavyBatchSize
        self.heavyBodyBytes = heavyBodyBytes
    }

    /// Finishes queued work and stops the heavy lane.
    public func shutdown() { heavy.shutdown() }

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
