import Chain
import Foundation
import Primitives

/// The signatures of one `revealAttestations` call recovered on worker threads while the
/// calling thread checks the reveals in order (`Jobs.reveal`): each item's digest and signer
/// over the attestation the state gave it as the call started. Pure work keyed by that
/// attestation — the in-order check takes an entry only for the attestation it reads itself
/// — so the call's outcome is the serial path's whatever the workers do or how fast. Workers
/// take the items in order; `entry(i)` waits for item i only; `finish()` stops the workers
/// and waits for them. Workers are tasks on `RecoveryPool.shared`, whose threads persist
/// between calls, not threads started for each call.
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

    /// Starts `workers` pool tasks recovering `signatures[i]` over `attestations[i]`'s digest
    /// (nil: nothing to recover for that item).
    init(attestations: [Attestation?], signatures: [[UInt8]], chainId: UInt64, workers: Int) {
        self.attestations = attestations
        self.signatures = signatures
        self.chainId = chainId
        ready = attestations.map { _ in DispatchSemaphore(value: 0) }
        entries = [Entry?](repeating: nil, count: attestations.count)
        for _ in 0..<workers {
            workersDone.enter()
            RecoveryPool.shared.run {
                self.work()
                self.workersDone.leave()
            }
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

/// Threads that live as long as the process and run the tasks given to them in the order
/// given: the workers of every `AttestationRecovery`. A task never waits on another, so a
/// call's tasks queued behind another call's only start later.
final class RecoveryPool: @unchecked Sendable {
    /// One thread per core, started on first use.
    static let shared = RecoveryPool(threads: ProcessInfo.processInfo.activeProcessorCount)

    private let condition = NSCondition()
    private var tasks: [() -> Void] = []
    private var head = 0

    private init(threads: Int) {
        for _ in 0..<max(1, threads) {
            let thread = Thread { [self] in serve() }
            thread.name = "attestation-recovery"
            thread.start()
        }
    }

    /// Queues `task` for the next free thread.
    func run(_ task: @escaping () -> Void) {
        condition.withLock {
            tasks.append(task)
            condition.signal()
        }
    }

    private func serve() {
        while true {
            let task: () -> Void = condition.withLock {
                while head == tasks.count { condition.wait() }
                let task = tasks[head]
                head += 1
                if head == tasks.count {
                    tasks.removeAll(keepingCapacity: true)
                    head = 0
                }
                return task
            }
            task()
        }
    }
}
