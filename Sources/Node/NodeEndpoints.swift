import Chain
import Foundation
import HTTPServer
import JSON
import Modules
import Primitives
import RPC

/// The node's GET endpoints beside JSON-RPC: `/health` (JSON) and `/metrics` (Prometheus
/// text). Both read the head and the pool only, answer on the I/O thread and never
/// wait for the block producer. docs/rpc.md, "HTTP routes", lists every field and metric.
final class NodeEndpoints {
    private let chain: ChainService
    private let rpcMetrics: RPCMetrics
    private let subscriptions: SubscriptionHub
    private let lock = NSLock()
    private var blocksProduced: UInt64 = 0
    private var transactionsIncluded: UInt64 = 0
    private let peers: () -> Int
    private var inferenceCalls: UInt64 = 0
    private var inferenceGas: UInt64 = 0
    /// The jobs module's event names and topics, in the module's order.
    private let jobEvents: [(name: String, topic: Hash32)] = Jobs(models: ModelRegistry()).events.map { (String($0.prefix { $0 != "(" }), ABI.eventTopic($0)) }
    /// How many of each `jobEvents` entry the blocks this process added emitted.
    private var jobEventCounts: [UInt64] = []

    /// Endpoints over `chain`, with `rpcMetrics` counted by the dispatcher and the
    /// WebSocket `subscriptions`; `peers` counts the connected P2P peers.
    init(chain: ChainService, rpcMetrics: RPCMetrics, subscriptions: SubscriptionHub, peers: @escaping () -> Int) {
        self.peers = peers
        self.chain = chain
        self.rpcMetrics = rpcMetrics
        self.subscriptions = subscriptions
        jobEventCounts = Array(repeating: 0, count: jobEvents.count)
        let topics = jobEvents.map(\.topic)
        chain.onBlock { [weak self] block in
            let (calls, gas) = Self.inferences(in: block, chain: chain)
            let logs = (try? chain.database.receipts(number: block.number))?.flatMap(\.logs).filter { $0.address == Jobs.address } ?? []
            let counts = topics.map { topic in UInt64(logs.filter { $0.topics.first == topic }.count) }
            self?.lock.withLock {
                for (i, n) in counts.enumerated() { self?.jobEventCounts[i] += n }
                self?.blocksProduced += 1
                self?.transactionsIncluded += UInt64(block.transactions.count)
                self?.inferenceCalls += calls
                self?.inferenceGas += gas
            }
        }
    }

    /// The inferences `block` ran (the precompile's `ModelInferenceEvent`s in its receipts)
    /// and the gas their trust records charged.
    private static func inferences(in block: Block, chain: ChainService) -> (calls: UInt64, gas: UInt64) {
        guard let receipts = try? chain.database.receipts(number: block.number) else { return (0, 0) }
        let state = chain.database.state(at: block.header)
        var calls: UInt64 = 0, gas: UInt64 = 0
        for log in receipts.flatMap(\.logs)
        where log.address == InferencePrecompile.reservedAddress && log.topics.first == InferencePrecompile.modelInferenceTopic {
            calls += 1
            guard let event = try? InferenceVerification.record(eventData: log.data), let id = try? Hash32(hex: event.inferenceID),
                  let record = InferenceRecord.read(id, load: { state.storage(of: InferencePrecompile.reservedAddress, slot: $0) }) else { continue }
            gas += record.gas
        }
        return (calls, gas)
    }

    /// Adds `/health` and `/metrics` to `router`.
    func register(on router: HTTPRouter) {
        router.get("/health") { [self] _ in .answer(.json(health().serializedBytes())) }
        router.get("/metrics") { [self] _ in .answer(metrics().response) }
    }

    /// Seconds from the head block's timestamp to now (0 when the head is in the future).
    private func headAge(_ head: Header) -> UInt64 {
        let now = UInt64(max(0, Date().timeIntervalSince1970))
        return now > head.timestamp ? now - head.timestamp : 0
    }

    /// `/health`: the node runs and how far its head is.
    func health() -> JSONValue {
        let head = chain.head
        return .object(["status": "ok", "headNumber": .int(head.number), "headHash": .string(head.hash.hex),
                        "headAgeSeconds": .int(headAge(head)), "peers": .int(UInt64(peers())), "syncing": false])
    }

    /// `/metrics`: the chain, the pool, the RPC counters.
    func metrics() -> PrometheusText {
        let head = chain.head
        let pool = chain.mempool.status(state: chain.database.state(at: head))
        let (blocks, transactions, calls, gas, jobCounts) = lock.withLock {
            (blocksProduced, transactionsIncluded, inferenceCalls, inferenceGas, jobEventCounts)
        }
        var page = PrometheusText()
        page.gauge("opg_chain_height", help: "Number of the head block.", head.number)
        page.gauge("opg_chain_head_age_seconds", help: "Seconds since the head block's timestamp.", headAge(head))
        page.counter("opg_blocks_produced_total", help: "Blocks this process added to the chain.", blocks)
        page.counter("opg_transactions_included_total", help: "Transactions in the blocks this process added.", transactions)
        page.counter("opg_inference_calls_total", help: "Inferences run by transactions in the blocks this process added.", calls)
        page.counter("opg_inference_gas_total", help: "Gas the trust records of those inferences charged.", gas)
        page.family("opg_job_events_total", type: "counter", help: "Events of the jobs module in the blocks this process added, by event.")
        for (event, count) in zip(jobEvents, jobCounts) { page.sample("opg_job_events_total", labels: [("event", event.name)], String(count)) }
        let revealed = zip(jobEvents, jobCounts).first { $0.0.name == "AttestationRevealed" }?.1 ?? 0
        page.counter("opg_attestations_total", help: "Attestations revealed in the blocks this process added.", revealed)
        page.gauge("opg_txpool_pending", help: "Pool transactions executable now.", UInt64(pool.pending))
        page.gauge("opg_txpool_queued", help: "Pool transactions waiting for a nonce gap to close.", UInt64(pool.queued))
        page.gauge("opg_peers", help: "Connected P2P peers.", UInt64(peers()))
        page.gauge("opg_rpc_subscriptions", help: "eth_subscribe subscriptions open over WebSocket.", UInt64(subscriptions.count))
        rpcMetrics.write(to: &page)
        return page
    }
}
