import CLIKit
import Crypto
import Foundation
import HTTPServer
import JSON
import Modules
import Node
import Primitives

/// Inputs and outputs a daemon holds, as files `stateDir/artifacts/<jobId>.<part>`, served
/// over HTTP at `/jobs/<jobId>/<part>` (part: `input` or `output`) so that URIs resolve.
public final class ArtifactStore: @unchecked Sendable {
    /// The directory.
    public let directory: String

    /// A store in `directory`, created if missing.
    public init(directory: String) throws {
        self.directory = directory
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw ConfigError("stateDir: cannot create \(directory): \(error.localizedDescription)")
        }
    }

    private func path(_ job: Hash32, _ part: String) -> String { directory + "/" + job.hex + "." + part }

    /// Keeps `bytes` as `part` of `job` (written whole, then renamed into place).
    public func save(_ bytes: [UInt8], job: Hash32, part: String) throws {
        let final = path(job, part), temporary = final + ".tmp"
        try Data(bytes).write(to: URL(fileURLWithPath: temporary))
        _ = rename(temporary, final)
    }

    /// Deletes `part` of `job` (nothing when it is not held).
    public func remove(job: Hash32, part: String) { _ = unlink(path(job, part)) }

    /// The bytes of `part` of `job`, if held.
    public func load(job: Hash32, part: String) -> [UInt8]? { FileManager.default.contents(atPath: path(job, part)).map(Array.init) }

    /// The URI path of `part` of `job`.
    public static func uriPath(_ job: Hash32, _ part: String) -> String { "/jobs/\(job.hex)/\(part)" }

    /// The HTTP answer to `request`: GET `/jobs/<jobId>/input|output` → the bytes, else 404 or 405.
    public func answer(_ request: HTTPRequest) -> HTTPResponse {
        guard request.method == "GET" || request.method == "HEAD" else { return HTTPResponse(status: 405, headers: [("Allow", "GET, HEAD")]) }
        let parts = request.path.split(separator: "/")
        guard parts.count == 3, parts[0] == "jobs", ["input", "output"].contains(parts[2]), let job = try? Hash32(hex: String(parts[1])),
              let bytes = load(job: job, part: String(parts[2])) else {
            return HTTPResponse(status: 404, headers: [("Content-Type", "text/plain")], body: Array("not found\n".utf8))
        }
        return HTTPResponse(status: 200, headers: [("Content-Type", "application/octet-stream")], body: request.method == "HEAD" ? [] : bytes)
    }
}

extension ArtifactStore {
    /// The daemon's HTTP routes: GET `/jobs/<jobId>/stream` streams the job's run from
    /// `streams`, everything else is `answer(_:)`.
    public func router(streams: JobStreamBoard) -> (HTTPRequest) -> HTTPRoute {
        { [self] request in
            if request.method == "GET", let job = JobStreamBoard.streamedJob(request.path) {
                return .events(streams.subscribe(job, held: load(job: job, part: "output")))
            }
            return .answer(answer(request))
        }
    }
}

/// What a daemon is: the provider or the verifier duty run at each new block.
public protocol OperatorDuty: AnyObject {
    /// Acts on the chain as of block `head`; errors about one job are logged by the duty itself.
    func step(head: UInt64) throws
    /// The counters the status line prints (name, value), in order.
    var counters: [(String, Int)] { get }
}

/// What every duty shares: the node, the key, the signing record, the artifacts and the log.
public final class OperatorContext {
    public let config: OperatorConfig
    public let logger: Logger
    public let rpc: RPCClient
    public let reader: JobReader
    public let key: PrivateKey
    public let address: Address
    public let chainId: UInt64
    public let sender: TransactionSender
    public let record: SigningRecord
    public let artifacts: ArtifactStore
    /// The provider's runs as server-sent events (`/jobs/<jobId>/stream`).
    public let streams = JobStreamBoard()
    /// The base URL of what the HTTP server serves (nil without `listen`).
    public internal(set) var servedBase: String?
    private var lastErrors: [String: String] = [:]

    /// Connects to the node, unlocks the key and opens the signing record; bad config is a `ConfigError`.
    public init(config: OperatorConfig, logger: Logger) throws {
        self.config = config
        self.logger = logger
        rpc = try RPCClient(config.rpc)
        reader = JobReader(rpc: rpc)
        key = try config.loadKey()
        address = key.address
        chainId = try rpc.chainId()
        sender = TransactionSender(rpc: rpc, key: key, chainId: chainId)
        do { try FileManager.default.createDirectory(atPath: config.stateDir, withIntermediateDirectories: true) } catch {
            throw ConfigError("stateDir: cannot create \(config.stateDir): \(error.localizedDescription)")
        }
        record = try SigningRecord(path: config.stateDir + "/signing-record.jsonl")
        artifacts = try ArtifactStore(directory: config.stateDir + "/artifacts")
    }

    /// Word `index` of the jobs module's `parameters()` (docs/verification.md, "Parameters":
    /// the table's order, e.g. 6 `collateralBps`, 11 `challengeBond`).
    func jobsParameter(_ index: Int) throws -> UInt256 {
        let words = try rpc.view(Jobs.address, "parameters()", [])
        guard words.count >= (index + 1) * 32 else { throw CommandFailure("parameters(): malformed answer") }
        return try UInt256(bigEndian: Array(words[index * 32..<(index + 1) * 32]))
    }

    /// The operator's balance at the head, in wei.
    func balance() throws -> UInt256 {
        guard let text = try rpc.call("eth_getBalance", [.string(address.hex), .string("latest")]).stringValue,
              let wei = try? UInt256(hexQuantity: text) else { throw CommandFailure("eth_getBalance: malformed answer") }
        return wei
    }

    /// Sends again every recorded transaction the chain has no receipt for (after a crash
    /// between recording and sending, or with the pool lost): the same bytes, so the same
    /// nonce and hash, never a new signature.
    public func rebroadcastUnconfirmed() {
        for (job, step, raw) in record.transactionOrder {
            let hash = Keccak256.hash(raw).hex
            guard (try? rpc.call("eth_getTransactionReceipt", [.string(hash)])) == .some(.null) else { continue }
            do {
                _ = try sender.broadcast(raw)
                logger.info("rebroadcast recorded \(step) transaction \(hash) for job \(job)")
            } catch {
                logger.debug("recorded \(step) transaction \(hash) for job \(job) not rebroadcast: \(error)")
            }
        }
    }

    /// Sends the transaction recorded for `step` of `job`, or signs one calling `to` with
    /// `data` and `value`, records it (fsynced) and then sends it; waits for its receipt and
    /// throws the revert reason of a failed one. `extraGas` is added to the estimate (see
    /// `TransactionSender.sign`).
    @discardableResult
    public func sendRecorded(_ job: Hash32, step: String, data: [UInt8], to: Address = Jobs.address, value: UInt256 = .zero,
                             extraGas: UInt64 = 0) throws -> JSONValue {
        let sent = try submitRecorded(job, step: step, data: data, to: to, value: value, extraGas: extraGas)
        let receipt = try sender.waitForReceipt(sent.hash, seconds: 30)
        try sender.requireSuccess(receipt, "\(step) for job \(job)")
        return receipt
    }

    /// What `submitRecorded` did: the transaction's hash, and whether it was signed now
    /// (false: it was recorded before and is still waiting for a block, so it was sent again).
    public struct Submission {
        public let hash: String
        public let signedNow: Bool
    }

    /// `sendRecorded` without the wait: signs and records the step's transaction if the
    /// record has none, sends it and returns at once, so that a daemon's transactions for
    /// several steps and jobs are in the pool together with consecutive nonces and land in
    /// the same block (docs/daemons.md, "Pipelined transactions"). A recorded transaction
    /// is checked instead: its failed receipt throws the revert reason, a missing one
    /// sends it again (the same bytes). `gasLimit` replaces the estimate (see
    /// `TransactionSender.sign`). `retryAs`: when the recorded transaction failed in its
    /// block, sign the call once more, with an estimate, recorded as that step (whose own
    /// failure is then thrown).
    @discardableResult
    public func submitRecorded(_ job: Hash32, step: String, data: [UInt8], to: Address = Jobs.address, value: UInt256 = .zero,
                               extraGas: UInt64 = 0, gasLimit: UInt64? = nil, retryAs retry: String? = nil) throws -> Submission {
        if let stored = record.transaction(job, step: step) {
            let hash = Keccak256.hash(stored).hex
            let receipt = try rpc.call("eth_getTransactionReceipt", [.string(hash)])
            if receipt == .null {
                broadcast(stored, step: step, job: job)
            } else if let retry, receipt["status"]?.stringValue == "0x0" {
                if record.transaction(job, step: retry) == nil { logger.warn("job \(job): \(step) transaction \(hash) failed in its block; signing it again as \(retry)") }
                return try submitRecorded(job, step: retry, data: data, to: to, value: value, extraGas: extraGas)
            } else {
                try sender.requireSuccess(receipt, "\(step) for job \(job)")
            }
            return Submission(hash: hash, signedNow: false)
        }
        let signed = try sender.sign(data, to: to, value: value, extraGas: extraGas, gasLimit: gasLimit)
        do { try record.record(job, step: step, raw: signed.raw) } catch {
            sender.forgetNonce()
            throw error
        }
        broadcast(signed.raw, step: step, job: job)
        return Submission(hash: Keccak256.hash(signed.raw).hex, signedNow: true)
    }

    private func broadcast(_ raw: [UInt8], step: String, job: Hash32) {
        do { _ = try sender.broadcast(raw) } catch {
            logger.debug("\(step) transaction \(Keccak256.hash(raw).hex) for job \(job): \(error) (already pooled or included)")
        }
    }

    /// Tells the node where this provider serves its jobs' streams (`opg_announceProviderEndpoint`,
    /// signed with the operator key; docs/daemons.md, "Streaming an answer").
    func announce(_ base: String) {
        let issuedAt = UInt64(max(0, Date().timeIntervalSince1970))
        let signature = key.sign(ProviderEndpoints.digest(ProviderEndpoints.message(chainId: chainId, url: base, issuedAt: issuedAt)))
        let bytes = signature.r + signature.s + [signature.recoveryID + 27]
        do {
            _ = try rpc.call("opg_announceProviderEndpoint", [.string(base), .string(Hex.quantity(issuedAt)), .string(Hex.encode(bytes))])
            cleared("announce")
            logger.debug("announced endpoint \(base)")
        } catch {
            report("announce", error)
        }
    }

    /// Logs `error` about `subject` once until it changes (a poll loop would repeat it every block).
    public func report(_ subject: String, _ error: Error) {
        let text = "\(error)"
        guard lastErrors[subject] != text else { return }
        lastErrors[subject] = text
        logger.warn("\(subject): \(text)")
    }

    /// Forgets the error logged about `subject` (it succeeded).
    public func cleared(_ subject: String) { lastErrors[subject] = nil }
}

/// The daemon: starts the HTTP server, rebroadcasts what the record holds unconfirmed, then
/// polls the node and runs its duty once per new block, printing a status line every
/// `statusSeconds`.
public final class OperatorDaemon {
    public let context: OperatorContext
    public let duty: OperatorDuty
    private var server: HTTPServer?

    /// A daemon running `duty` with `context`.
    public init(context: OperatorContext, duty: OperatorDuty) {
        self.context = context
        self.duty = duty
    }

    /// Starts serving and catching up; then loops until the process is stopped.
    public func run() throws -> Never {
        let config = context.config, logger = context.logger
        if let listen = config.listen {
            // Any page may read what is served (public job data): CORS allows every origin.
            let served = HTTPServerConfiguration(host: listen.host, port: listen.port, corsOrigins: ["*"], virtualHosts: ["*"], threads: 1)
            let server = HTTPServer(configuration: served, router: context.artifacts.router(streams: context.streams))
            do { try server.start() } catch { throw ConfigError("listen: cannot serve on \(listen.host):\(listen.port): \(error)") }
            self.server = server
            context.servedBase = config.servedBase(port: server.port)
            logger.info("serving inputs and outputs at \(context.servedBase ?? "")/jobs/<jobId>/input|output, streams at /jobs/<jobId>/stream")
        }
        logger.info("\(config.role.rawValue) \(context.address.checksummed) on chain \(context.chainId) via \(config.rpc), record \(context.record.path)")
        context.rebroadcastUnconfirmed()
        var lastHead: UInt64?
        var lastStatus = Date.distantPast, lastAnnounced = Date.distantPast
        while true {
            do {
                let head = try context.rpc.blockNumber()
                context.cleared("node")
                if head != lastHead {
                    lastHead = head
                    try duty.step(head: head)
                }
            } catch {
                context.report("node", error)
            }
            if config.role == .provider, Date().timeIntervalSince(lastAnnounced) >= 60, let base = context.servedBase {
                lastAnnounced = Date()
                context.announce(base)
            }
            if Date().timeIntervalSince(lastStatus) >= Double(config.statusSeconds) {
                lastStatus = Date()
                let figures = duty.counters.map { "\($0.0) \($0.1)" }.joined(separator: ", ")
                logger.info("status: \(config.role.rawValue) \(context.address.checksummed), block \(lastHead.map(String.init) ?? "?"), \(figures)")
            }
            Thread.sleep(forTimeInterval: Double(config.pollMs) / 1000)
        }
    }
}
