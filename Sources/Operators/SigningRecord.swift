import Foundation
import JSON
import Modules
import Primitives

/// A failure of the signing record: the message names the file and the rule.
public struct SigningRecordError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What an operator daemon has signed, kept so that a restart never signs something
/// different (docs/daemons.md, "Restart safety"). An append-only file of JSON lines; each
/// entry is written and fsynced **before** the signature or transaction it describes
/// leaves the process, so after a crash the daemon finds every signature that may be out.
///
/// Two kinds of entries: an attestation (job, round, verdict, salt, signature, commitment)
/// and a signed transaction (job, step, raw bytes). A torn last line (the process died while
/// writing it) is ignored: what it described was never sent.
public final class SigningRecord {
    /// A verifier's signed attestation for one round of one job.
    public struct SignedAttestation: Equatable, Sendable {
        public var jobId: Hash32
        public var round: UInt64
        public var verdict: Verdict
        public var salt: Hash32
        public var signature: [UInt8]
        public var commitment: Hash32

        /// Describes a signed attestation.
        public init(jobId: Hash32, round: UInt64, verdict: Verdict, salt: Hash32, signature: [UInt8], commitment: Hash32) {
            self.jobId = jobId
            self.round = round
            self.verdict = verdict
            self.salt = salt
            self.signature = signature
            self.commitment = commitment
        }
    }

    /// The file.
    public let path: String
    private var attestations: [String: SignedAttestation] = [:]
    private var transactions: [String: [UInt8]] = [:]
    /// Every signed transaction in the order recorded (for rebroadcast after a restart).
    public private(set) var transactionOrder: [(job: Hash32, step: String, raw: [UInt8])] = []
    private let descriptor: Int32

    /// Opens (creating) the record at `path` and reads what it holds.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard fd >= 0 else { throw SigningRecordError("signing record \(path): cannot open: \(String(cString: strerror(errno)))") }
        descriptor = fd
        let bytes = Array(FileManager.default.contents(atPath: path) ?? Data())
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if let torn = lines.last, !torn.isEmpty {  // no newline after it: the process died writing it, so it was never sent
            guard ftruncate(fd, off_t(bytes.count - torn.count)) == 0 else {  // deinit closes the file
                throw SigningRecordError("signing record \(path): cannot drop a torn last line: \(String(cString: strerror(errno)))")
            }
            lines.removeLast()
        }
        for (number, line) in lines.enumerated() where !line.isEmpty {
            do { try load(try JSONParser.parse(Array(line))) } catch {
                throw SigningRecordError("signing record \(path): line \(number + 1) is malformed: \(error)")
            }
        }
    }

    deinit { close(descriptor) }

    private static func key(_ job: Hash32, _ suffix: String) -> String { job.hex + "/" + suffix }

    /// The attestation signed for `round` of `jobId`, if any.
    public func attestation(_ jobId: Hash32, round: UInt64) -> SignedAttestation? { attestations[Self.key(jobId, "\(round)")] }

    /// The transaction signed for `step` of `jobId`, if any.
    public func transaction(_ jobId: Hash32, step: String) -> [UInt8]? { transactions[Self.key(jobId, step)] }

    /// Records an attestation before it leaves. One verdict per job and round: recording a
    /// different attestation for a round already recorded throws (the daemon would be
    /// equivocating); recording the same one again is a no-op.
    public func record(_ a: SignedAttestation) throws {
        let key = Self.key(a.jobId, "\(a.round)")
        if let old = attestations[key] {
            guard old == a else {
                throw SigningRecordError("refusing to sign \(a.verdict.name) for job \(a.jobId) round \(a.round): \(old.verdict.name) is already signed")
            }
            return
        }
        try append(.object(["kind": .string("attestation"), "job": .string(a.jobId.hex), "round": .int(a.round),
                            "verdict": .int(a.verdict.rawValue), "salt": .string(a.salt.hex), "signature": .string(Hex.encode(a.signature)),
                            "commitment": .string(a.commitment.hex)]))
        attestations[key] = a
    }

    /// Records a signed transaction for `step` of `jobId` before it is sent. A different
    /// transaction for a step already recorded throws.
    public func record(_ jobId: Hash32, step: String, raw: [UInt8]) throws {
        let key = Self.key(jobId, step)
        if let old = transactions[key] {
            guard old == raw else { throw SigningRecordError("refusing to sign another \(step) transaction for job \(jobId): one is recorded") }
            return
        }
        try append(.object(["kind": .string("transaction"), "job": .string(jobId.hex), "step": .string(step), "raw": .string(Hex.encode(raw))]))
        transactions[key] = raw
        transactionOrder.append((jobId, step, raw))
    }

    private func append(_ entry: JSONValue) throws {
        let line = Array(entry.serialized().utf8) + [UInt8(ascii: "\n")]
        let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == line.count, fsync(descriptor) == 0 else {
            throw SigningRecordError("signing record \(path): cannot write: \(String(cString: strerror(errno)))")
        }
    }

    private func load(_ entry: JSONValue) throws {
        func hash(_ key: String) throws -> Hash32 {
            guard let text = entry[key]?.stringValue else { throw SigningRecordError("\(key) is missing") }
            return try Hash32(hex: text)
        }
        func bytes(_ key: String) throws -> [UInt8] {
            guard let text = entry[key]?.stringValue else { throw SigningRecordError("\(key) is missing") }
            return try Hex.decode(text)
        }
        let job = try hash("job")
        switch entry["kind"]?.stringValue {
        case "attestation":
            guard let round = entry["round"]?.numberValue?.uint64, let v = entry["verdict"]?.numberValue?.uint64,
                  let verdict = Verdict(rawValue: UInt8(truncatingIfNeeded: v)) else { throw SigningRecordError("round or verdict is malformed") }
            let a = SignedAttestation(jobId: job, round: round, verdict: verdict, salt: try hash("salt"), signature: try bytes("signature"),
                                      commitment: try hash("commitment"))
            attestations[Self.key(job, "\(round)")] = a
        case "transaction":
            guard let step = entry["step"]?.stringValue else { throw SigningRecordError("step is missing") }
            let raw = try bytes("raw")
            transactions[Self.key(job, step)] = raw
            transactionOrder.append((job, step, raw))
        default:
            throw SigningRecordError("kind must be attestation or transaction")
        }
    }
}
