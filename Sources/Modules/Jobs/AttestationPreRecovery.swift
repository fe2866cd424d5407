import Chain
import Dispatch
import Foundation
import Primitives

/// The signers of a `revealAttestations` batch, recovered ahead on every core before the
/// reveals are checked one by one in order (docs/verification.md, "Attestations").
///
/// Recovering a signature is a pure function of (signature, digest), so a recovery made
/// ahead is used only when the in-order check asks for exactly the same pair; otherwise the
/// check recovers it itself. Which signatures were recovered ahead therefore never changes a
/// result, a revert reason or the gas charged: the charged path charges as before and gets
/// the same address or the same error. The digests are looked up with
/// `NativeCallContext.lookAhead` (static, gas given back) from the state before the batch:
/// a digest the batch itself changes is simply a miss. The look-ahead only takes items whose
/// verifier is on the job's committee, at most `AttestationReveal.maxPerCall` of them, each
/// paid for by its calldata.
struct AttestationPreRecovery {
    /// Fewer items than this are recovered in order (threads would cost more than they save).
    static let minimumItems = 2

    private struct Entry {
        let digest: Hash32
        let signature: [UInt8]
        let signer: Result<Address, Error>
    }

    private let entries: [Entry?]

    /// No recovery ahead: every check recovers its own signature.
    static let none = AttestationPreRecovery(entries: [])

    private init(entries: [Entry?]) { self.entries = entries }

    /// Recovers the signers of `items` on every core, each against the digest `digest` gives
    /// for it in `context`'s look-ahead (nil when the charged path would stop before recovering).
    init(_ items: [AttestationReveal], context: NativeCallContext, digest: (AttestationReveal) throws -> Hash32?) {
        guard items.count >= Self.minimumItems else {
            self = .none
            return
        }
        let digests: [Hash32?] = context.lookAhead { items.map { item in (try? digest(item)) ?? nil } }
        var signers = [Result<Address, Error>?](repeating: nil, count: items.count)
        let workers = Swift.max(1, Swift.min(ProcessInfo.processInfo.activeProcessorCount, items.count))
        signers.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var i = w
                while i < items.count {
                    if let d = digests[i] { base[i] = Result { try Attestation.recoverSigner(items[i].signature, digest: d) } }
                    i += workers
                }
            }
        }
        entries = items.indices.map { i in
            guard let d = digests[i], let signer = signers[i] else { return nil }
            return Entry(digest: d, signature: items[i].signature, signer: signer)
        }
    }

    /// The address whose key signed `digest` with `signature` (item `index` of the batch):
    /// the recovery made ahead when it was for this pair, `Attestation.recoverSigner` otherwise.
    func signer(_ index: Int, signature: [UInt8], digest: Hash32) throws -> Address {
        if index < entries.count, let entry = entries[index], entry.digest == digest, entry.signature == signature {
            return try entry.signer.get()
        }
        return try Attestation.recoverSigner(signature, digest: digest)
    }
}
