import CLIKit
import Foundation
import JSON
import Modules
import Primitives

/// A job's dispute record as `opg_getJob` shows it (docs/verification.md, "Disputes").
public struct DisputeView: Equatable, Sendable {
    /// `open` until settled, then `providerWrong`, `providerRight` or `undecided`.
    public var state: String
    public var openedAt: UInt64
    /// The provider's last block to reveal its trace.
    public var revealBy: UInt64
    /// The block at which the end-block hook settles what is still open.
    public var resolveBy: UInt64
    /// Trace pieces revealed so far (the next piece to reveal).
    public var revealedPieces: UInt64

    /// Reads the `dispute` object of `opg_getJob`; a field missing is a `CommandFailure` naming it.
    public init(_ json: JSONValue) throws {
        func number(_ key: String) throws -> UInt64 {
            guard let n = json[key]?.numberValue?.uint64 else { throw CommandFailure("opg_getJob: dispute.\(key) is not a number") }
            return n
        }
        guard let state = json["state"]?.stringValue else { throw CommandFailure("opg_getJob: dispute.state is missing") }
        self.state = state
        openedAt = try number("openedAt")
        revealBy = try number("revealBy")
        resolveBy = try number("resolveBy")
        revealedPieces = try number("revealedPieces")
    }
}

/// The provider's trace reveal (docs/verification.md, "Disputes", step 1 of the node path):
/// the leaves cut into pieces of `Jobs.pieceLeaves`, each with the proof of its root among
/// the pieces' roots (the level-10 nodes of the trace tree).
public enum TracePieces {
    /// One `revealTrace` call's leaves and proof.
    public struct Piece: Equatable, Sendable {
        public var index: UInt64
        public var leaves: [Hash32]
        public var proof: [Hash32]
    }

    /// Every piece of the trace whose leaves are `leaves`, in order.
    public static func pieces(_ leaves: [Hash32]) -> [Piece] {
        let chunks = stride(from: 0, to: leaves.count, by: Jobs.pieceLeaves).map { Array(leaves[$0..<min(leaves.count, $0 + Jobs.pieceLeaves)]) }
        let tree = MerkleTree(leafHashes: chunks.map { MerkleTree(leaves: $0.map(\.bytes)).root })
        return chunks.enumerated().map { p, chunk in Piece(index: UInt64(p), leaves: chunk, proof: tree.proof(ofLeaf: p)?.siblings ?? []) }
    }

    /// The calldata of `revealTrace` for `piece` of `job`.
    public static func calldata(_ job: Hash32, _ piece: Piece) throws -> [UInt8] {
        try ABI.encodeCall("revealTrace(bytes32,uint64,bytes32[],bytes32[])",
                           [.fixedBytes(job.bytes), .uint(UInt256(piece.index)), .array(piece.leaves.map { .fixedBytes($0.bytes) }),
                            .array(piece.proof.map { .fixedBytes($0.bytes) })])
    }

    /// The leaves as kept on disk: their 32-byte hashes one after another.
    public static func encode(_ leaves: [Hash32]) -> [UInt8] { leaves.flatMap(\.bytes) }

    /// The leaves of bytes `encode` wrote; nil for bytes that are not whole hashes.
    public static func decode(_ bytes: [UInt8]) -> [Hash32]? {
        guard bytes.count % 32 == 0 else { return nil }
        return stride(from: 0, to: bytes.count, by: 32).compactMap { try? Hash32(Array(bytes[$0..<$0 + 32])) }
    }
}

/// The test-only faults a provider can be told to commit (config `corruptOutput`,
/// `corruptTrace`), so the e2e tests have a wrong provider to dispute.
enum ProviderFaults {
    /// `outcome` with the configured faults: the output's last bit flipped, or the leaf in
    /// the middle of the trace replaced (and the trace root recomputed over the new leaves).
    static func apply(_ config: OperatorConfig, to outcome: JobOutcome) -> JobOutcome {
        var outcome = outcome
        if config.corruptOutput, !outcome.output.isEmpty { outcome.output[outcome.output.count - 1] ^= 1 }
        if config.corruptTrace, !outcome.leaves.isEmpty {
            let position = outcome.leaves.count / 2
            outcome.leaves[position] = Keccak256.hash(outcome.leaves[position].bytes)
            outcome.traceRoot = MerkleTree(leaves: outcome.leaves.map(\.bytes)).root
        }
        return outcome
    }
}

/// What `opg provider` does when one of its jobs is disputed (docs/daemons.md, "Disputes"):
/// it reveals the leaves of the trace it committed, piece by piece, before `revealBy`. Each
/// piece is one recorded transaction (step `trace#p`), so a restart mid-reveal resends the
/// recorded pieces and signs only the ones never signed. The leaves were kept on disk when
/// the job ran (`<jobId>.leaves` among the artifacts) and are deleted once the job is
/// settled, so what is kept is bounded by the jobs still open.
final class TraceDefense {
    static let leavesPart = "leaves"
    let context: OperatorContext
    private(set) var revealed = 0

    init(context: OperatorContext) { self.context = context }

    /// Keeps `outcome`'s leaves for `job` in `store` (nothing for a runner that has none).
    static func keep(_ outcome: JobOutcome, job: Hash32, in store: ArtifactStore) throws {
        guard !outcome.leaves.isEmpty else { return }
        try store.save(TracePieces.encode(outcome.leaves), job: job, part: leavesPart)
    }

    /// The leaves of `job` kept in `store`, if any.
    static func leaves(_ job: Hash32, in store: ArtifactStore) -> [Hash32]? { store.load(job: job, part: leavesPart).flatMap(TracePieces.decode) }

    /// Deletes what `store` kept for a settled job's dispute.
    static func forget(_ job: Hash32, in store: ArtifactStore) { store.remove(job: job, part: leavesPart) }

    /// Reveals the pieces of `job`'s trace the chain does not hold yet, in order.
    func defend(_ job: JobView, head: UInt64) throws {
        guard job.verificationClass == .exact, let dispute = job.dispute, dispute.state == "open" else { return }
        guard let leaves = Self.leaves(job.id, in: context.artifacts) else {
            throw JobRunError("disputed, but no trace leaves are kept for it (a model the kernel does not trace, such as the chat model, "
                              + "settles undecided at block \(dispute.resolveBy))")
        }
        let count = UInt64((leaves.count + Jobs.pieceLeaves - 1) / Jobs.pieceLeaves)
        guard dispute.revealedPieces < count else { return }
        guard head <= dispute.revealBy else {
            throw JobRunError("the trace reveal closed at block \(dispute.revealBy) with \(dispute.revealedPieces) of \(count) pieces revealed")
        }
        guard MerkleTree(leaves: leaves.map(\.bytes)).root == job.traceRoot else {
            throw JobRunError("disputed, but the kept trace leaves do not lead to the committed trace root \(job.traceRoot)")
        }
        let pieces = TracePieces.pieces(leaves)
        for piece in pieces[Int(dispute.revealedPieces)...] {
            let receipt = try context.sendRecorded(job.id, step: "trace#\(piece.index)", data: try TracePieces.calldata(job.id, piece))
            revealed += 1
            context.logger.info("job \(job.id): disputed, revealed trace piece \(piece.index + 1) of \(pieces.count) (\(piece.leaves.count) leaves, "
                                + "tx \(receipt["transactionHash"]?.stringValue ?? "?"))")
        }
    }
}
