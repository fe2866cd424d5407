import CLIKit
import Foundation
import JSON
import Modules
import Primitives

/// `opg provider`'s duty (docs/daemons.md): for each job drawn to this operator, run it
/// first (a job it cannot run is not accepted, so the requester is refunded without
/// penalty), accept it with the configured fee and its collateral and commit the output
/// (inline up to 96 KiB, else its hash and the URI this daemon serves it at) with the trace
/// root right behind the accept, both in the pool at once so that they share a block;
/// finalize its jobs once their challenge window has passed, and reveal its trace when one
/// is disputed (`TraceDefense`). Transactions are sent without waiting for receipts
/// (`submitRecorded`): the chain's job statuses at the next heads say what landed.
public final class ProviderDuty: OperatorDuty {
    /// The gas limit of a result committed right behind its accept, before the accept is in
    /// a block (no estimate can run then: the head's state would revert the commit). It
    /// covers an inline output of up to `pipelinedOutputBytes` at a blob price of up to 64
    /// gas a byte (the default is 8), about twice what a commit uses; only gas used is paid.
    /// A larger output waits for the accept's block and is estimated.
    static func pipelinedCommitGas(calldataBytes: Int) -> UInt64 { 500_000 + 16 * UInt64(calldataBytes) + 64 * UInt64(pipelinedOutputBytes) }
    /// The largest output committed right behind its accept (4 KiB).
    static let pipelinedOutputBytes = 4_096
    let context: OperatorContext
    let runners: [JobRunner]
    let defense: TraceDefense
    private var collateralBps: UInt256?
    private var unrunnable: [Hash32] = []
    private var accepted = 0, committed = 0, finalized = 0, refused = 0

    /// A provider acting through `context`, asking `runners` (in order) for results.
    public init(context: OperatorContext, runners: [JobRunner]) {
        self.context = context
        self.runners = runners
        defense = TraceDefense(context: context)
    }

    public var counters: [(String, Int)] { [("accepted", accepted), ("committed", committed), ("finalized", finalized), ("refused", refused), ("revealed", defense.revealed)] }

    public func step(head: UInt64) throws {
        context.streams.expireWaiting()
        for job in try context.reader.jobs(["provider": .string(context.address.checksummed)]) {
            let subject = "job \(job.id)"
            do {
                switch job.status {
                case "assigned" where !unrunnable.contains(job.id): try accept(job)
                case "accepted": try commit(job)
                case "challengeWindow" where head >= job.challengeEnd: try finalize(job)
                case "disputed": try defense.defend(job, head: head)
                case let status where JobStatus(name: status)?.isSettled == true: TraceDefense.forget(job.id, in: context.artifacts)
                default: continue
                }
                context.cleared(subject)
            } catch {
                context.report(subject, error)
            }
        }
    }

    /// The job's result, computed once and kept with the artifacts (output, trace root and
    /// the trace's leaves).
    func result(_ job: JobView) throws -> JobOutcome {
        if let output = context.artifacts.load(job: job.id, part: "output"), let root = context.artifacts.load(job: job.id, part: "trace") {
            return JobOutcome(output: output, traceRoot: try Hash32(root))
        }
        let input = try context.reader.input(of: job)
        try context.artifacts.save(input, job: job.id, part: "input")
        guard let runner = runners.first(where: { $0.serves(modelId: job.modelId, verificationClass: job.verificationClass) }) else {
            throw JobRunError("no runner serves model \(job.modelId) for \(job.verificationClass.name) jobs")
        }
        let outcome = ProviderFaults.apply(context.config, to: try streamedRun(job, input: input, runner: runner))
        try TraceDefense.keep(outcome, job: job.id, in: context.artifacts)
        context.streams.finish(job.id, output: outcome.output)
        try context.artifacts.save(outcome.output, job: job.id, part: "output")
        try context.artifacts.save(outcome.traceRoot.bytes, job: job.id, part: "trace")
        return outcome
    }

    /// Runs `job` with `runner`, publishing its tokens on the stream board as they come when
    /// the runner streams them (docs/daemons.md, "Streaming an answer").
    private func streamedRun(_ job: JobView, input: [UInt8], runner: JobRunner) throws -> JobOutcome {
        let board = context.streams
        board.begin(job.id)
        do {
            guard let streaming = runner as? TokenStreamingRunner else {
                return try runner.run(modelId: job.modelId, input: input, verificationClass: job.verificationClass)
            }
            var index = 0
            return try streaming.run(modelId: job.modelId, input: input, verificationClass: job.verificationClass) { token, text in
                board.token(job.id, index: index, token: token, text: text)
                index += 1
            }
        } catch {
            board.fail(job.id, "\(error)")
            throw error
        }
    }

    private func accept(_ job: JobView) throws {
        do { _ = try result(job) } catch {
            unrunnable.append(job.id)
            refused += 1
            context.logger.warn("job \(job.id): not accepting, cannot run it: \(error)")
            return
        }
        let fee = min(context.config.fee, job.maxFee)
        let collateral = fee * (try bps()) / UInt256(10_000)
        let sent = try context.submitRecorded(job.id, step: "accept",
                                              data: try ABI.encodeCall("acceptJob(bytes32,uint256)", [.fixedBytes(job.id.bytes), .uint(fee)]),
                                              value: collateral)
        if sent.signedNow {
            accepted += 1
            context.logger.info("job \(job.id): accepted, fee \(fee) wei, collateral \(collateral) wei (tx \(sent.hash))")
        }
        try commit(job, behindAccept: true)
    }

    /// Commits the job's result; `behindAccept`: the accept may still be in the pool, so the
    /// commit carries `pipelinedCommitGas` instead of an estimate (a large output waits).
    private func commit(_ job: JobView, behindAccept: Bool = false) throws {
        let outcome = try result(job)
        if behindAccept, outcome.output.count > Self.pipelinedOutputBytes, context.record.transaction(job.id, step: "commit") == nil { return }
        let outputHash = Keccak256.hash(outcome.output)
        var call = JobResult(jobId: job.id, output: outcome.output, traceRoot: outcome.traceRoot)
        if outcome.output.count > Jobs.maxInlineBytes {
            guard let base = context.servedBase else {
                throw JobRunError("the output is \(outcome.output.count) bytes, over the inline limit of \(Jobs.maxInlineBytes), and nothing is served (set listen)")
            }
            call = JobResult(jobId: job.id, output: [], outputHash: outputHash, outputURI: base + ArtifactStore.uriPath(job.id, "output"),
                             traceRoot: outcome.traceRoot)
        }
        let data = try call.calldata()
        // a pipelined commit that failed in its block (say its fixed limit fell short) is signed
        // once more with an estimate when the job, still accepted, comes up at a later head
        let sent = try context.submitRecorded(job.id, step: "commit", data: data, gasLimit: behindAccept ? pipelinedGas(data) : nil,
                                              retryAs: behindAccept ? nil : "commit-retry")
        guard sent.signedNow else { return }
        committed += 1
        context.logger.info("job \(job.id): committed output \(outputHash) (\(outcome.output.count) bytes), trace root \(outcome.traceRoot) (tx \(sent.hash))")
    }

    /// The fixed limit of a commit sent right behind its accept; with the test-only
    /// `starvePipelinedCommit`, only a little over its intrinsic gas, so it fails in its block.
    private func pipelinedGas(_ data: [UInt8]) -> UInt64 {
        context.config.starvePipelinedCommit ? 22_000 + 16 * UInt64(data.count) : Self.pipelinedCommitGas(calldataBytes: data.count)
    }

    private func finalize(_ job: JobView) throws {
        let sent = try context.submitRecorded(job.id, step: "finalize", data: try ABI.encodeCall("finalize(bytes32)", [.fixedBytes(job.id.bytes)]))
        guard sent.signedNow else { return }
        finalized += 1
        context.logger.info("job \(job.id): finalized (tx \(sent.hash))")
    }

    /// The collateral as a multiple of the fee, in basis points (`parameters()` word 6).
    private func bps() throws -> UInt256 {
        if let collateralBps { return collateralBps }
        let value = try context.jobsParameter(6)
        collateralBps = value
        return value
    }
}
