import CLIKit
import Crypto
import Foundation
import JSON
import Modules
import Primitives

/// What a verifier's own re-run of an exact job gave: kept next to the job
/// (`stateDir/artifacts/<jobId>.rerun`) when it decides its verdict, or when it watches a
/// job it did not attest (config `watch`).
public struct Rerun: Equatable, Sendable {
    /// Keccak-256 of the re-run's output.
    public var outputHash: Hash32
    /// The re-run's trace root; nil in a record kept before trace roots were (32 bytes).
    public var traceRoot: Hash32?

    /// Describes a re-run.
    public init(outputHash: Hash32, traceRoot: Hash32?) {
        self.outputHash = outputHash
        self.traceRoot = traceRoot
    }

    /// The artifact's bytes: output hash ‖ trace root.
    var bytes: [UInt8] { outputHash.bytes + (traceRoot?.bytes ?? []) }

    /// Reads the artifact (64 bytes, or 32 from before trace roots were kept); nil otherwise.
    init?(bytes: [UInt8]) {
        guard bytes.count == 32 || bytes.count == 64, let output = try? Hash32(Array(bytes[0..<32])) else { return nil }
        outputHash = output
        traceRoot = bytes.count == 64 ? try? Hash32(Array(bytes[32..<64])) : nil
    }

    /// How this re-run contradicts a committed output hash and trace root, nil when it
    /// agrees with both: a wrong trace with the right output is contradicted too.
    public func contradiction(outputHash committedOutput: Hash32, traceRoot committedTrace: Hash32) -> String? {
        if outputHash != committedOutput { return "the re-run's output hash \(outputHash) contradicts the committed \(committedOutput)" }
        if let traceRoot, traceRoot != committedTrace {
            return "the re-run's trace root \(traceRoot) contradicts the committed \(committedTrace) (same output hash)"
        }
        return nil
    }
}

/// Whether a verifier challenges a job in its challenge window (a pure function of what it
/// knows, so it is tested alone; docs/daemons.md, "Disputes").
public enum ChallengeDecision: Equatable, Sendable {
    /// Open a dispute: `challenge(jobId)` with `bond` wei.
    case challenge(bond: UInt256)
    /// The challenge is recorded already (sent before a restart): send the recorded bytes
    /// again, never a second signature.
    case resendRecorded
    /// Nothing to do: this verifier's re-run agrees, or it has none, or challenging is off.
    case agree
    /// The re-run contradicts the result but the verifier does not challenge, and why.
    case refuse(reason: String)

    /// What a challenge needs from the chain: the bond it asks and this verifier's balance.
    public typealias Means = (bond: UInt256, balance: UInt256)

    /// The decision for a committed output hash and trace root, when this verifier's re-run
    /// gave `rerun` (nil: not re-run), at block `head` of a window closing at `challengeEnd`
    /// (a challenge must land in a block before it), with the configured `cap` and whether a
    /// challenge is `recorded`. `means` (the chain's bond and this verifier's balance, two
    /// RPC reads) is called only once a contradiction within the window is found.
    public static func decide(enabled: Bool, rerun: Rerun?, committedOutput: Hash32, committedTrace: Hash32, head: UInt64,
                              challengeEnd: UInt64, cap: UInt256, recorded: Bool, means: () throws -> Means) rethrows -> ChallengeDecision {
        if recorded { return .resendRecorded }
        guard enabled, let contradiction = rerun?.contradiction(outputHash: committedOutput, traceRoot: committedTrace) else { return .agree }
        guard head + 1 < challengeEnd else {
            return .refuse(reason: "\(contradiction), but the challenge window closed at block \(challengeEnd)")
        }
        let (bond, balance) = try means()
        guard bond <= cap else {
            return .refuse(reason: "\(contradiction), but the challenge bond \(bond) wei is over the configured cap challengeBondCap \(cap) wei")
        }
        guard bond < balance else {
            return .refuse(reason: "\(contradiction), but the challenge bond \(bond) wei is not below the balance \(balance) wei (gas is paid too)")
        }
        return .challenge(bond: bond)
    }
}

/// What `opg verifier` does when a job it attested reaches its challenge window with a
/// result its own re-run contradicts (another output hash, or the same output with another
/// trace root), whatever its vote was recorded as (docs/daemons.md, "Disputes"): it opens a
/// dispute with `challenge` and the bond the chain requires, one recorded transaction (step
/// `challenge`, fsynced before it leaves, so a restart resends it and never signs a second),
/// and then plays the dispute as `DisputeProver`. With config `watch` it also re-runs, once,
/// the exact jobs of models it serves that reached their window without it on the committee,
/// and challenges them by the same rules.
final class Challenger {
    static let step = "challenge"
    /// The artifact holding this verifier's re-run of an exact job (`Rerun`).
    static let rerunPart = "rerun"
    let context: OperatorContext
    let runners: [JobRunner]
    private(set) var challenged = 0, watched = 0

    init(context: OperatorContext, runners: [JobRunner]) {
        self.context = context
        self.runners = runners
    }

    /// Keeps this verifier's re-run of `job`.
    static func keep(_ rerun: Rerun, job: Hash32, in store: ArtifactStore) throws { try store.save(rerun.bytes, job: job, part: rerunPart) }

    /// This verifier's kept re-run of `job`, if any.
    static func kept(_ job: Hash32, in store: ArtifactStore) -> Rerun? { store.load(job: job, part: rerunPart).flatMap(Rerun.init(bytes:)) }

    /// Whether this verifier has challenged `job` (a recorded challenge transaction).
    static func challenged(_ job: Hash32, _ record: SigningRecord) -> Bool { record.transaction(job, step: step) != nil }

    /// Re-runs exact `job` here with the first of `runners` serving its model (its input kept
    /// as the artifact `input`) and keeps the re-run; the error says why it could not.
    static func rerun(_ job: JobView, context: OperatorContext, runners: [JobRunner]) throws -> JobOutcome {
        let input: [UInt8]
        do { input = try context.reader.input(of: job) } catch { throw JobRunError("input unavailable: \(error)") }
        try? context.artifacts.save(input, job: job.id, part: "input")
        guard let runner = runners.first(where: { $0.serves(modelId: job.modelId, verificationClass: .exact) }) else {
            throw JobRunError("no runner here serves model \(job.modelId)")
        }
        let outcome: JobOutcome
        do { outcome = try runner.run(modelId: job.modelId, input: input, verificationClass: .exact) } catch { throw JobRunError("cannot re-run: \(error)") }
        try? keep(Rerun(outputHash: Keccak256.hash(outcome.output), traceRoot: outcome.traceRoot), job: job.id, in: context.artifacts)
        return outcome
    }

    /// Challenges every exact job in its window that this verifier attested (or, with
    /// `watch`, re-ran as a watcher) and whose result its re-run contradicts. The bond and
    /// the balance are read from the chain only once a contradiction is found, once a step.
    func step(head: UInt64) throws {
        let candidates = try context.reader.jobs(["status": .string("challengeWindow")]).filter {
            $0.verificationClass == .exact && (context.record.attestation($0.id, round: $0.round) != nil || watch($0, head: head))
        }
        var means: ChallengeDecision.Means?
        func readMeans() throws -> ChallengeDecision.Means {
            if let means { return means }
            let read = (bond: try context.jobsParameter(11), balance: try context.balance())
            means = read
            return read
        }
        for job in candidates {
            let subject = "challenge of job \(job.id)"
            do {
                let rerun = Self.kept(job.id, in: context.artifacts)
                let decision = try ChallengeDecision.decide(enabled: context.config.challenge, rerun: rerun, committedOutput: job.outputHash,
                                                            committedTrace: job.traceRoot, head: head, challengeEnd: job.challengeEnd,
                                                            cap: context.config.challengeBondCap, recorded: Self.challenged(job.id, context.record),
                                                            means: readMeans)
                switch decision {
                case .agree: continue
                case .refuse(let reason): throw JobRunError(reason)
                case .challenge(let bond):
                    let data = try ABI.encodeCall("challenge(bytes32)", [.fixedBytes(job.id.bytes)])
                    let receipt = try context.sendRecorded(job.id, step: Self.step, data: data, value: bond)
                    challenged += 1
                    means = nil
                    let why = rerun?.contradiction(outputHash: job.outputHash, traceRoot: job.traceRoot) ?? "?"
                    context.logger.info("job \(job.id): challenged with a bond of \(bond) wei: \(why) (tx \(receipt["transactionHash"]?.stringValue ?? "?"))")
                case .resendRecorded:
                    try context.sendRecorded(job.id, step: Self.step, data: [])
                }
                context.cleared(subject)
            } catch {
                context.report(subject, error)
            }
        }
    }

    /// With config `watch`: whether `job`, which this verifier did not attest, is one it
    /// watches (an exact job of a model it serves, in its window, challenging on), re-running
    /// it here once first. A re-run that fails is reported and tried again next block.
    private func watch(_ job: JobView, head: UInt64) -> Bool {
        guard context.config.watch, context.config.challenge, head + 1 < job.challengeEnd || Self.challenged(job.id, context.record),
              runners.contains(where: { $0.serves(modelId: job.modelId, verificationClass: .exact) }) else { return false }
        if Self.kept(job.id, in: context.artifacts) != nil { return true }
        let subject = "watch of job \(job.id)"
        do {
            _ = try Self.rerun(job, context: context, runners: runners)
            watched += 1
            context.logger.info("job \(job.id): re-run as a watcher (not on its committee)")
            context.cleared(subject)
            return true
        } catch {
            context.report(subject, error)
            return false
        }
    }
}
