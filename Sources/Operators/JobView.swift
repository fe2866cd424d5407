import CLIKit
import Crypto
import Foundation
import HTTPServer
import JSON
import Modules
import Primitives

/// One job as `opg_getJob` shows it, the fields the daemons act on.
public struct JobView: Equatable, Sendable {
    /// A committee member of the current round.
    public struct Member: Equatable, Sendable {
        public var address: Address
        public var committed: Bool
        /// nil until revealed.
        public var verdict: String?
    }

    public var id: Hash32
    public var status: String
    public var verificationClass: VerificationClass
    public var modelId: String
    public var inputHash: Hash32
    public var inputURI: String?
    public var maxFee: UInt256
    public var provider: Address?
    public var outputHash: Hash32
    public var outputURI: String?
    public var traceRoot: Hash32
    public var round: UInt64
    public var epoch: UInt64
    public var commitEnd: UInt64
    public var revealEnd: UInt64
    public var challengeEnd: UInt64
    public var committee: [Member]
    /// The dispute record, once one is opened.
    public var dispute: DisputeView?

    /// Reads the JSON of `opg_getJob`; a field missing or malformed is a `CommandFailure` naming it.
    public init(_ json: JSONValue) throws {
        func text(_ key: String) throws -> String {
            guard let s = json[key]?.stringValue else { throw CommandFailure("opg_getJob: \(key) is missing") }
            return s
        }
        func hash(_ key: String) throws -> Hash32 {
            do { return try Hash32(hex: try text(key)) } catch let e as CommandFailure { throw e } catch { throw CommandFailure("opg_getJob: \(key): \(error)") }
        }
        func number(_ key: String) throws -> UInt64 {
            guard let n = json[key]?.numberValue?.uint64 else { throw CommandFailure("opg_getJob: \(key) is not a number") }
            return n
        }
        id = try hash("jobId")
        status = try text("status")
        guard let c = VerificationClass.allCases.first(where: { $0.name == json["verificationClass"]?.stringValue }) else {
            throw CommandFailure("opg_getJob: verificationClass is not exact or attestedOnly")
        }
        verificationClass = c
        modelId = try text("modelId")
        inputHash = try hash("inputHash")
        inputURI = json["inputURI"]?.stringValue
        guard let fee = try? UInt256(hexQuantity: try text("maxFee")) else { throw CommandFailure("opg_getJob: maxFee is not a quantity") }
        maxFee = fee
        provider = try json["provider"]?.stringValue.map { try Address(hex: $0) }
        outputHash = try hash("outputHash")
        outputURI = json["outputURI"]?.stringValue
        traceRoot = try hash("traceRoot")
        round = try number("round")
        epoch = try number("epoch")
        commitEnd = try number("commitEnd")
        revealEnd = try number("revealEnd")
        challengeEnd = try number("challengeEnd")
        committee = try (json["committee"]?.arrayValue ?? []).map { m in
            guard let a = m["address"]?.stringValue else { throw CommandFailure("opg_getJob: a committee member has no address") }
            return Member(address: try Address(hex: a), committed: m["committed"]?.boolValue ?? false, verdict: m["verdict"]?.stringValue)
        }
        dispute = try json["dispute"].flatMap { $0 == .null ? nil : try DisputeView($0) }
    }

    /// The typed data a committee member signs for `verdict` (docs/verification.md).
    public func attestation(_ verdict: Verdict) -> Attestation {
        Attestation(jobId: id, modelId: modelId, inputHash: inputHash, outputHash: outputHash, traceRoot: traceRoot, verdict: verdict, epoch: epoch)
    }
}

/// Reads jobs and their bytes through a node.
public struct JobReader {
    public let rpc: RPCClient

    /// A reader through `rpc`.
    public init(rpc: RPCClient) { self.rpc = rpc }

    /// `opg_getJob`.
    public func job(_ id: Hash32) throws -> JobView { try JobView(try rpc.call("opg_getJob", [.string(id.hex)])) }

    /// Every job matching `filter` (an `opg_listJobs` filter), all pages.
    public func jobs(_ filter: [String: JSONValue]) throws -> [JobView] {
        var out: [JobView] = []
        var cursor: JSONValue = .null
        repeat {
            var f = JSONObject(filter.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
            f["cursor"] = cursor
            let page = try rpc.call("opg_listJobs", [.object(f)])
            out += try (page["items"]?.arrayValue ?? []).map(JobView.init)
            cursor = page["nextCursor"] ?? .null
        } while cursor != .null
        return out
    }

    /// The job's input: inline from the chain (`jobInput`), or fetched from its URI and
    /// checked against `inputHash`.
    public func input(of job: JobView) throws -> [UInt8] {
        try bytes(job.id, view: "jobInput(bytes32)", uri: job.inputURI, hash: job.inputHash, what: "input")
    }

    /// The job's committed output: inline (`jobOutput`) or from its URI, checked against `outputHash`.
    public func output(of job: JobView) throws -> [UInt8] {
        try bytes(job.id, view: "jobOutput(bytes32)", uri: job.outputURI, hash: job.outputHash, what: "output")
    }

    private func bytes(_ id: Hash32, view: String, uri: String?, hash: Hash32, what: String) throws -> [UInt8] {
        let bytes: [UInt8]
        if let uri {
            bytes = try Self.fetch(uri)
        } else {
            guard let decoded = try ABI.decode([.bytes], rpc.view(Jobs.address, view, [.fixedBytes(id.bytes)]))[0].bytesValue else {
                throw CommandFailure("\(view): malformed answer")
            }
            bytes = decoded
        }
        guard Keccak256.hash(bytes) == hash else {
            throw CommandFailure("job \(id)'s \(what) (\(bytes.count) bytes\(uri.map { " from \($0)" } ?? "")) does not hash to its \(what)Hash \(hash)")
        }
        return bytes
    }

    /// The body of an HTTP GET of `uri` (status 200 only).
    public static func fetch(_ uri: String) throws -> [UInt8] {
        let response: HTTPResponse
        do { response = try HTTPClient(url: uri, timeoutSeconds: 10).send(method: "GET", body: [], headers: []) } catch {
            throw CommandFailure("cannot fetch \(uri): \(error)")
        }
        guard response.status == 200 else { throw CommandFailure("cannot fetch \(uri): HTTP \(response.status)") }
        return response.body
    }

    /// The bytes of model `id`: `localFile` when given, else the registry's copy
    /// (`opg_getModelBytes`), checked against the model's SHA-256.
    public func modelBytes(_ id: String, localFile: String?) throws -> [UInt8] {
        if let localFile {
            guard let data = FileManager.default.contents(atPath: localFile) else { throw JobRunError("model \(id): cannot read \(localFile)") }
            return Array(data)
        }
        let info = try rpc.call("opg_getModel", [.string(id)])
        guard let size = info["size"]?.numberValue?.uint64, let sha = info["sha256"]?.stringValue else {
            throw JobRunError("model \(id): opg_getModel gave no size or sha256")
        }
        var bytes: [UInt8] = []
        let step: UInt64 = 1 << 20
        while UInt64(bytes.count) < size {
            let part = try Hex.decode(try rpc.call("opg_getModelBytes", [.string(id), .string(Hex.quantity(UInt64(bytes.count))), .string(Hex.quantity(step))]).stringValue ?? "0x")
            guard !part.isEmpty else { throw JobRunError("model \(id): the node's copy ends at \(bytes.count) of \(size) bytes") }
            bytes += part
        }
        guard Hex.encode(SHA256.hash(bytes)) == sha.lowercased() else { throw JobRunError("model \(id): the bytes do not hash to its SHA-256 \(sha)") }
        return bytes
    }
}
