import Chain
import Foundation
import Primitives

/// The signatures of one `revealAttestations` call recovered on worker threads while the
/// calling thread checks the reveals in order (`Jobs.reveal`): each item's digest and signer
/// over the attestation the state gave it as the call started. Pure work keyed by that
/// attestation — the in-order check takes an entry only for the attestation it reads itself
/// — so the call's outcome is the serial path's whatever the workers do or how fast. Workers
/// take the items in order; `entry(i)` waits for item i only; `finish()` stops the workers
/// and waits for them.
final class AttestationRecovery: @unchecked Sendable {
    /// An attestation's digest and its signature recovered: the signer, or the revert
    /// `Attestation.recoverSigner` gave.
    struct Entry: Sendable {
        let attestation: Attestation
        let digest: Hash32
        let signer: Result<Address, NativeRevert>
    }

    private let attestations: [Attestation?]
    private let signatures: [[UInt8]]
    private let chainId: UInt64
    private let ready: [DispatchSemaphore]
    private let workersDone = DispatchGroup()
    private let lock = NSLock()
    private var entries: [Entry?]
    private var next = 0

    /// Starts `workers` threads recovering `signatures[i]` over `attestations[i]`'s digest
    /// (nil: nothing to recover for that item).
    init(attestations: [Attestation?], signatures: [[UInt8]], chainId: UInt64, workers: Int) {
        self.attestations = attestations
        self.signatures = signatures
        self.chainId = chainId
        ready = attestations.map { _ in DispatchSemaphore(value: 0) }
        entries = [Entry?](repeating: nil, count: attestations.count)
        for _ in 0..<workers {
            workersDone.enter()
            Thread {
                self.work()
                self.workersDone.leave()
            }.start()
        }
    }

    /// Item `i`'s entry, once a worker has made it.
    func entry(_ i: Int) -> Entry? {
        ready[i].wait()
        ready[i].signal()
        return lock.withLock { entries[i] }
    }

    /// Stops the workers after the items they hold and waits for them.
    func finish() {
        lock.withLock { next = attestations.count }
        workersDone.wait()
    }

    private func work() {
        while let i = take() {
            let entry = attestations[i].flatMap { recover($0, signatures[i]) }
            lock.withLock { entries[i] = entry }
            ready[i].signal()
        }
    }

    private func take() -> Int? {
        lock.withLock {
            guard next < attestations.count else { return nil }
            next += 1
            return next - 1
        }
    }

    private func recover(_ attestation: Attestation, _ signature: [UInt8]) -> Entry? {
        let digest = attestation.digest(chainId: chainId)
        do {
            return Entry(attestation: attestation, digest: digest, signer: .success(try Attestation.recoverSigner(signature, digest: digest)))
        } catch let revert as NativeRevert {
            return Entry(attestation: attestation, digest: digest, signer: .failure(revert))
        } catch {
            return nil
        }
    }
}
