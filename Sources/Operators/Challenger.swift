import CLIKit
import Foundation
import JSON
import Modules
import Primitives

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

    /// The decision for a committed output hashing to `committed`, when this verifier's
    /// re-run gave `rerun` (nil: not re-run), at block `head` of a window closing at
    /// `challengeEnd` (a challenge must land in a block before it), with the chain's `bond`,
    /// the configured `cap`, this verifier's `balance` and whether a challenge is `recorded`.
    public static func decide(enabled: Bool, rerun: Hash32?, committed: Hash32, head: UInt64, challengeEnd: UInt64, bond: UInt256,
                              cap: UInt256, balance: UInt256, recorded: Bool) -> ChallengeDecision {
        if recorded { return .resendRecorded }
        guard enabled, let rerun, rerun != committed else { return .agree }
        guard head + 1 < challengeEnd else {
            return .refuse(reason: "the re-run's output hash \(rerun) contradicts the committed \(committed), but the challenge window closed at block \(challengeEnd)")
        }
        guard bond <= cap else {
            return .refuse(reason: "the re-run's output hash \(rerun) contradicts the committed \(committed), but the challenge bond \(bond) wei is over the configured cap challengeBondCap \(cap) wei")
        }
        guard bond < balance else {
            return .refuse(reason: "the re-run's output hash \(rerun) contradicts the committed \(committed), but the challenge bond \(bond) wei is not below the balance \(balance) wei (gas is paid too)")
        }
        return .challenge(bond: bond)
    }
}

/// What `opg verifier` does when a job it attested reaches its challenge window with a
/// result its own re-run contradicts, whatever its vote was recorded as (docs/daemons.md,
/// "Disputes"): it opens a dispute with `challenge` and the bond the chain requires, one
/// recorded transaction (step `challenge`, fsynced before it leaves, so a restart resends it
/// and never signs a second), and then plays the dispute as `DisputeProver`.
final class Challenger {
    static let step = "challenge"
    /// The artifact holding this verifier's re-run output hash of an exact job (32 bytes).
    static let rerunPart = "rerun"
    let context: OperatorContext
    private(set) var challenged = 0

    init(context: OperatorContext) { self.context = context }

    /// Keeps the output hash of this verifier's re-run of `job`.
    static func keep(rerun: Hash32, job: Hash32, in store: ArtifactStore) throws { try store.save(rerun.bytes, job: job, part: rerunPart) }

    /// Whether this verifier has challenged `job` (a recorded challenge transaction).
    static func challenged(_ job: Hash32, _ record: SigningRecord) -> Bool { record.transaction(job, step: step) != nil }

    /// Challenges every exact job in its window that this verifier attested and re-ran with
    /// another output hash.
    func step(head: UInt64) throws {
        let candidates = try context.reader.jobs(["status": .string("challengeWindow")]).filter {
            $0.verificationClass == .exact && context.record.attestation($0.id, round: $0.round) != nil
        }
        guard !candidates.isEmpty else { return }
        let bond = try context.jobsParameter(11), balance = try context.balance()
        for job in candidates {
            let subject = "challenge of job \(job.id)"
            let rerun = context.artifacts.load(job: job.id, part: Self.rerunPart).flatMap { try? Hash32($0) }
            let decision = ChallengeDecision.decide(enabled: context.config.challenge, rerun: rerun, committed: job.outputHash, head: head,
                                                    challengeEnd: job.challengeEnd, bond: bond, cap: context.config.challengeBondCap,
                                                    balance: balance, recorded: Self.challenged(job.id, context.record))
            do {
                switch decision {
                case .agree: continue
                case .refuse(let reason): throw JobRunError(reason)
                case .challenge(let bond):
                    let data = try ABI.encodeCall("challenge(bytes32)", [.fixedBytes(job.id.bytes)])
                    let receipt = try context.sendRecorded(job.id, step: Self.step, data: data, value: bond)
                    challenged += 1
                    context.logger.info("job \(job.id): challenged with a bond of \(bond) wei, its re-run gives output hash \(rerun.map(\.hex) ?? "?") "
                                        + "(tx \(receipt["transactionHash"]?.stringValue ?? "?"))")
                case .resendRecorded:
                    try context.sendRecorded(job.id, step: Self.step, data: [])
                }
                context.cleared(subject)
            } catch {
                context.report(subject, error)
            }
        }
    }
}
