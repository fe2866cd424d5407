import Chain
import Foundation
import HTTPServer
import JSON
import Primitives

/// `GET /events`: server-sent events for the node's pages. Each new block is an event
/// `block` (`{"number","hash","timestamp","transactions"}`), each admitted transaction an
/// event `pendingTransaction` (its hash as a JSON string). Events are sent to every open
/// stream from the producer's thread without waiting (`EventStream` drops a stream that
/// falls `maxBufferedBytes` behind); a comment every `heartbeatSeconds` finds clients
/// that went away.
final class NodeEvents {
    private let lock = NSLock()
    private var streams: [ObjectIdentifier: EventStream] = [:]
    private var heartbeat: DispatchSourceTimer?

    /// Events from `chain`.
    init(chain: ChainService, heartbeatSeconds: Int = 15) {
        chain.onBlock { [weak self] block in
            let header = block.header
            let data: JSONValue = .object(["number": .int(header.number), "hash": .string(header.hash.hex),
                                           "timestamp": .int(header.timestamp), "transactions": .int(block.transactions.count)])
            self?.broadcast { $0.send(event: "block", data: data.serialized()) }
        }
        chain.onPendingTransaction { [weak self] hash in
            self?.broadcast { $0.send(event: "pendingTransaction", data: JSONValue.string(hash.hex).serialized()) }
        }
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "opg.events.heartbeat"))
        timer.schedule(deadline: .now() + .seconds(heartbeatSeconds), repeating: .seconds(heartbeatSeconds))
        timer.setEventHandler { [weak self] in self?.broadcast { $0.comment("keepalive") } }
        timer.resume()
        heartbeat = timer
    }

    deinit { heartbeat?.cancel() }

    /// Adds `/events` to `router`.
    func register(on router: HTTPRouter) {
        router.get("/events") { [self] _ in .events(open()) }
    }

    /// A new stream, forgotten when it finishes.
    func open() -> EventStream {
        let stream = EventStream()
        let id = ObjectIdentifier(stream)
        lock.withLock { streams[id] = stream }
        stream.onFinished { [weak self] in self?.lock.withLock { self?.streams[id] = nil } }
        stream.comment("opg events")
        return stream
    }

    /// Open streams.
    var count: Int { lock.withLock { streams.count } }

    private func broadcast(_ body: (EventStream) -> Void) {
        let open = lock.withLock { Array(streams.values) }
        open.forEach(body)
    }
}
