import CLIKit
import Crypto
import Foundation
import JSON
import Modules
import Primitives

/// `opg verifier`'s duty (docs/daemons.md): for each job in `attesting` whose current
/// committee holds this operator, decide the verdict once per round (re-run an exact job and
/// compare output hash and trace root; check an attested-only result's form and
/// availability), record verdict, salt and EIP-712 signature, commit, and reveal once the
/// module opens reveals; challenge a job in its challenge window whose result its re-run
/// contradicts (`Challenger`); then follow the disputes it voted for or opened (`DisputeProver`).
public final class VerifierDuty: OperatorDuty {
    /// Gas a reveal carries beyond its estimate: the reveal that completes the committee
    /// decides the round in the same call (opens a dispute, redraws the committee, or with a
    /// challenge window of 0 settles the job), work an estimate made before the other
    /// members' reveals landed does not include. Only gas used is paid.
    static let decisionGas: UInt64 = 1_000_000
    let context: OperatorContext
    let runners: [JobRunner]
    let challenger: Challenger
    let prover: DisputeProver
    private var signed = 0, commits = 0, reveals = 0

    /// A verifier acting through `context`, re-running exact jobs with the first of `runners`
    /// that serves the job's model.
    public init(context: OperatorContext, runners: [JobRunner]) {
        self.context = context
        self.runners = runners
        challenger = Challenger(context: context, runners: runners)
        prover = DisputeProver(context: context, runners: runners)
    }

    public var counters: [(String, Int)] { [("signed", signed), ("committed", commits), ("revealed", reveals), ("challenged", challenger.challenged), ("watched", challenger.watched), ("proved", prover.proved)] }

    public func step(head: UInt64) throws {
        for job in try context.reader.jobs(["status": .string("attesting")]) {
            guard let me = job.committee.first(where: { $0.address == context.address }), me.verdict == nil else { continue }
            let subject = "job \(job.id) round \(job.round)"
            do {
                let attestation = try signedAttestation(job)
                let everyoneCommitted = job.committee.allSatisfy(\.committed)
                if !me.committed, head < job.commitEnd {
                    try commit(job, attestation)
                } else if me.committed, head > job.commitEnd || everyoneCommitted, head < job.revealEnd {
                    try reveal(job, attestation)
                }
                context.cleared(subject)
            } catch {
                context.report(subject, error)
            }
        }
        try challenger.step(head: head)
        try prover.step(head: head)
    }

    /// The attestation recorded for this round, or a new one: verdict decided, salt drawn,
    /// digest signed, and all of it fsynced to the record before anything leaves.
    func signedAttestation(_ job: JobView) throws -> SigningRecord.SignedAttestation {
        if let recorded = context.record.attestation(job.id, round: job.round) { return recorded }
        let (verdict, reason) = verdict(job)
        var generator = SystemRandomNumberGenerator()
        let salt = try Hash32((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let typed = job.attestation(verdict)
        let digest = typed.digest(chainId: context.chainId)
        let attestation = SigningRecord.SignedAttestation(jobId: job.id, round: job.round, verdict: verdict, salt: salt,
                                                          signature: typed.signature(key: context.key, chainId: context.chainId),
                                                          commitment: Attestation.commitment(digest: digest, salt: salt, verifier: context.address))
        try context.record.record(attestation)
        signed += 1
        context.logger.info("job \(job.id) round \(job.round): verdict \(verdict.name) (\(reason)), signed")
        return attestation
    }

    /// The verdict on the job's committed result and why.
    func verdict(_ job: JobView) -> (Verdict, String) {
        if context.config.alwaysValid { return (.valid, "alwaysValid: not checked (test only)") }
        if context.config.alwaysInvalid { return (.invalid, "alwaysInvalid: not checked (test only)") }
        switch job.verificationClass {
        case .exact:
            let outcome: JobOutcome
            do { outcome = try Challenger.rerun(job, context: context, runners: runners) } catch { return (.inconclusive, "\(error)") }
            let outputHash = Keccak256.hash(outcome.output)
            guard outputHash == job.outputHash else { return (.invalid, "re-run output hash \(outputHash) differs from the committed \(job.outputHash)") }
            guard outcome.traceRoot == job.traceRoot else {
                return (.invalid, "re-run trace root \(outcome.traceRoot) differs from the committed \(job.traceRoot)")
            }
            try? context.artifacts.save(outcome.output, job: job.id, part: "output")
            return (.valid, "re-run matches output and trace root")
        case .attestedOnly:
            guard job.traceRoot == .zero else { return (.invalid, "an attested-only result carries a trace root") }
            let output: [UInt8]
            do { output = try context.reader.output(of: job) } catch let e as CommandFailure where e.message.contains("does not hash") {
                return (.invalid, e.message)
            } catch {
                return (.inconclusive, "output unavailable: \(error)")
            }
            guard !output.isEmpty else { return (.invalid, "the output is empty") }
            try? context.artifacts.save(output, job: job.id, part: "output")
            return (.valid, "output available and matches its hash (form only: attested, never verified)")
        }
    }

    private func commit(_ job: JobView, _ a: SigningRecord.SignedAttestation) throws {
        let data = try ABI.encodeCall("commitAttestation(bytes32,bytes32)", [.fixedBytes(job.id.bytes), .fixedBytes(a.commitment.bytes)])
        let sent = try context.submitRecorded(job.id, step: "commit#\(job.round)", data: data)
        guard sent.signedNow else { return }
        commits += 1
        context.logger.info("job \(job.id) round \(job.round): committed \(a.commitment) (tx \(sent.hash))")
    }

    private func reveal(_ job: JobView, _ a: SigningRecord.SignedAttestation) throws {
        let item = AttestationReveal(jobId: job.id, verifier: context.address, verdict: a.verdict, salt: a.salt, signature: a.signature)
        let data = try ABI.encodeCall("revealAttestations((bytes32,address,uint8,bytes32,bytes)[])", [.array([item.abiValue])])
        let sent = try context.submitRecorded(job.id, step: "reveal#\(job.round)", data: data, extraGas: Self.decisionGas)
        guard sent.signedNow else { return }
        reveals += 1
        context.logger.info("job \(job.id) round \(job.round): revealed \(a.verdict.name) (tx \(sent.hash))")
    }
}
