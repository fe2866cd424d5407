import ChatRuntime
import Crypto
import Foundation
import HTTPServer
import JSON
import Modules
import Primitives

/// A runner that reports each token of an answer as it is chosen (the chat model's), so the
/// provider can stream it before the result is committed.
public protocol TokenStreamingRunner: JobRunner {
    /// `run`, calling `onToken` with each token id chosen and the answer's text so far
    /// (stop tokens left out, an unfinished UTF-8 character shown as U+FFFD until it completes).
    func run(modelId: String, input: [UInt8], verificationClass: VerificationClass,
             onToken: (_ token: Int, _ textSoFar: String) -> Void) throws -> JobOutcome
}

/// The provider's live view of the jobs it runs, served as server-sent events at
/// `GET /jobs/<jobId>/stream` (docs/daemons.md, "Streaming an answer"): `token` events as the
/// runner chooses tokens, then one `done` event with the output's hash (and, for a chat answer,
/// its text and token ids), or one `error` event. A client joining late gets the events so far
/// first; one asking for a job this provider has not started yet waits for it, up to
/// `waitSeconds`. Streamed text is informational: the answer is what is committed on chain.
public final class JobStreamBoard: @unchecked Sendable {
    /// How many jobs' events are kept for late clients (the oldest are forgotten first).
    public static let keptJobs = 64
    /// How long a client may wait for a job this provider has not started.
    public static let waitSeconds: TimeInterval = 120

    private struct Run {
        var events: [(name: String, data: String)] = []
        var ended = false
    }

    private let lock = NSLock()
    private var runs: [Hash32: Run] = [:]
    private var order: [Hash32] = []
    private var listeners: [Hash32: [EventStream]] = [:]
    private var waiting: [(job: Hash32, stream: EventStream, since: Date)] = []

    /// An empty board.
    public init() {}

    /// The job id of a stream request's path (`/jobs/<jobId>/stream`), nil for any other path.
    public static func streamedJob(_ path: String) -> Hash32? {
        let parts = path.split(separator: "/")
        guard parts.count == 3, parts[0] == "jobs", parts[2] == "stream" else { return nil }
        return try? Hash32(hex: String(parts[1]))
    }

    /// A run of `job` starts: events from now on are streamed (a run started again, after a
    /// failure, replaces the earlier one).
    public func begin(_ job: Hash32) {
        lock.withLock {
            if runs[job] == nil { order.append(job) }
            runs[job] = Run()
            while order.count > Self.keptJobs { runs[order.removeFirst()] = nil }
            let joining = waiting.filter { $0.job == job }.map { $0.stream }
            waiting.removeAll { $0.job == job }
            listeners[job, default: []] += joining
        }
    }

    /// Token `index` of `job` was chosen: `token`, the answer's text so far `text`.
    public func token(_ job: Hash32, index: Int, token: Int, text: String) {
        publish(job, "token", .object(["index": .int(UInt64(index)), "token": .int(UInt64(token)), "text": .string(text)]), ends: false)
    }

    /// `job`'s run ended with `output` (the bytes the provider commits).
    public func finish(_ job: Hash32, output: [UInt8]) { publish(job, "done", Self.doneEvent(output), ends: true) }

    /// `job`'s run failed: nothing will be committed for it.
    public func fail(_ job: Hash32, _ message: String) { publish(job, "error", .object(["message": .string(message)]), ends: true) }

    /// The `done` event's data for `output`: its hash and size, and for a chat answer its
    /// text, token ids and finish reason.
    static func doneEvent(_ output: [UInt8]) -> JSONValue {
        var fields: [(String, JSONValue)] = [("outputHash", .string(Keccak256.hash(output).hex)), ("size", .int(UInt64(output.count)))]
        if let chat = try? ChatJobOutput(bytes: output) {
            fields += [("text", .string(chat.text)), ("tokens", .array(chat.tokens.map { .int(UInt64($0)) })), ("finish", .string(chat.finish.rawValue))]
        }
        return .object(JSONObject(fields))
    }

    /// A stream of `job`'s events: those so far, then the rest as they come. A job this board
    /// has not seen but whose output `held` is kept (a run before a restart) gets its `done`
    /// event at once; any other waits for its run to begin.
    public func subscribe(_ job: Hash32, held: [UInt8]?) -> EventStream {
        let stream = EventStream(maxBufferedBytes: 1 << 20)
        lock.withLock {
            if let run = runs[job] {
                for event in run.events { stream.send(event: event.name, data: event.data) }
                if run.ended { stream.end() } else { listeners[job, default: []].append(stream) }
            } else if let held {
                stream.send(event: "done", data: Self.doneEvent(held).serialized())
                stream.end()
            } else {
                stream.comment("waiting for job \(job.hex) to start")
                waiting.append((job, stream, Date()))
            }
        }
        return stream
    }

    /// Ends, with an `error` event, the streams that waited `waitSeconds` for a job that never
    /// started here (the provider calls it at each block).
    public func expireWaiting(now: Date = Date()) {
        let expired = lock.withLock { () -> [(job: Hash32, stream: EventStream, since: Date)] in
            let old = waiting.filter { now.timeIntervalSince($0.since) >= Self.waitSeconds }
            waiting.removeAll { now.timeIntervalSince($0.since) >= Self.waitSeconds }
            return old
        }
        for entry in expired {
            let message = "job \(entry.job.hex) was not run by this provider within \(Int(Self.waitSeconds)) s"
            entry.stream.send(event: "error", data: JSONValue.object(["message": .string(message)]).serialized())
            entry.stream.end()
        }
    }

    private func publish(_ job: Hash32, _ name: String, _ data: JSONValue, ends: Bool) {
        let text = data.serialized()
        let streams = lock.withLock { () -> [EventStream] in
            guard runs[job] != nil else { return [] }
            runs[job]?.events.append((name, text))
            if ends {
                runs[job]?.ended = true
                return listeners.removeValue(forKey: job) ?? []
            }
            return listeners[job] ?? []
        }
        for stream in streams {
            stream.send(event: name, data: text)
            if ends { stream.end() }
        }
    }
}
