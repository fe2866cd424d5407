import Chain
import JSON
import Modules
import Primitives
import RPC

/// The jobs module's JSON-RPC methods (docs/rpc.md, "Jobs"): `opg_getJob` and
/// `opg_listJobs`. Like `StakingRPC` they live in the node because RPC knows no module,
/// and read through the module's own view functions, so RPC and `eth_call` never disagree.
public final class JobsRPC {
    /// Largest and default `limit` of one `opg_listJobs` page.
    public static let maxPageSize = 100

    private let models: ModelRPC

    /// Methods reading the chain of `models`, through its readers.
    public init(models: ModelRPC) { self.models = models }

    /// Registers the methods on `dispatcher`, which keeps this object alive.
    public func register(on dispatcher: RPCDispatcher) {
        dispatcher.register("opg_getJob") { [self] p in
            try p.expect(atMost: 1)
            let text = try p.string(0, "jobId")
            guard let bytes = try? Hex.decode(text), bytes.count == 32 else { throw RPCError.invalidParams("0: jobId must be 32 bytes of hex") }
            return try Self.jobJSON(try Hash32(bytes), models.reader())
        }
        dispatcher.register("opg_listJobs") { [self] p in
            try p.expect(atMost: 1)
            return try list(p.optional(0), models.reader())
        }
    }

    /// What a job's result is called: `verified` (an exact job finalized after a quorum),
    /// `attested` (an attested-only job finalized: never called verified), `unverified`
    /// (settled without a quorum), `overturned` (a dispute proved it wrong), or null while
    /// there is no settled result.
    public static func label(_ status: JobStatus, _ verificationClass: VerificationClass?) -> String? {
        switch status {
        case .finalized: return verificationClass == .exact ? "verified" : "attested"
        case .unverified: return "unverified"
        case .overturned: return "overturned"
        default: return nil
        }
    }

    /// `{status, model, requester, provider, cursor, limit}`: jobs in request order from
    /// index `cursor`, those matching every filter given, at most `limit`.
    private func list(_ filter: JSONValue?, _ reader: ModelRPC.Reader) throws -> JSONValue {
        let fields = ["status", "model", "requester", "provider", "cursor", "limit"]
        var wanted: [(String, JSONValue)] = []
        var cursor: JSONValue = .null, limit: JSONValue = .null
        if let filter {
            guard case .object(let o) = filter else {
                throw RPCError.invalidParams("0: the filter must be an object {status, model, requester, provider, cursor, limit}")
            }
            for key in o.keys where !fields.contains(key) { throw RPCError.invalidParams("0: unknown filter field \(key)") }
            if let value = o["status"], value != .null {
                guard case .string(let name) = value, JobStatus(name: name) != nil, name != "none" else {
                    throw RPCError.invalidParams("0: status must be one of \(JobStatus.allCases.dropFirst().map(\.name).joined(separator: ", "))")
                }
                wanted.append(("status", value))
            }
            if let value = o["model"], value != .null {
                guard case .string = value else { throw RPCError.invalidParams("0: model must be a string") }
                wanted.append(("modelId", value))
            }
            for key in ["requester", "provider"] {
                guard let value = o[key], value != .null else { continue }
                guard case .string(let text) = value, let account = try? Address(hex: text) else {
                    throw RPCError.invalidParams("0: \(key) must be a 20-byte hex address")
                }
                wanted.append((key, .string(account.checksummed)))
            }
            cursor = o["cursor"] ?? .null
            limit = o["limit"] ?? .null
        }
        let page = try Paging(RPCParams([cursor, limit]), cursorIndex: 0, limitIndex: 1, maxLimit: Self.maxPageSize)
        let count = try ABI.decode([.uint(256)], reader.view(at: Jobs.address, "jobCount()", []))[0].uintValue?.uint64 ?? 0
        guard page.start <= count else { throw RPCError.invalidParams("0: cursor \(page.start) is past the end (\(count) jobs)") }
        var items: [JSONValue] = []
        var index = page.start
        while index < count && items.count < page.limit {
            let output = try reader.view(at: Jobs.address, "jobAt(uint256)", [.uint(UInt256(index))])
            index += 1
            guard case .object(let item) = try Self.jobJSON(try Hash32(output), reader) else { continue }
            if wanted.allSatisfy({ item[$0.0] == $0.1 }) { items.append(.object(item)) }
        }
        return Paging.result(items, nextCursor: index < count ? index : nil)
    }

    /// `getJob`, `getCommittee` and `getDispute` of `id` as one JSON object; amounts in wei
    /// as hex quantities, block numbers and counters as JSON numbers.
    static func jobJSON(_ id: Hash32, _ reader: ModelRPC.Reader) throws -> JSONValue {
        guard case .tuple(let values) = try ABI.decode([Jobs.jobType], reader.view(at: Jobs.address, "getJob(bytes32)", [.fixedBytes(id.bytes)]))[0]
        else { throw RPCError.internalError("getJob returned no record") }
        var o: JSONObject = ["jobId": .string(Hex.encode(id.bytes))]
        for (name, value) in zip(Jobs.jobFieldNames, values) {
            switch value {
            case .address(let a): o[name] = a == .zero ? .null : .string(a.checksummed)
            case .string(let s): o[name] = s.isEmpty && name.hasSuffix("URI") ? .null : .string(s)
            case .fixedBytes(let b): o[name] = .string(Hex.encode(b))
            default:
                let word = value.uintValue ?? .zero
                let isAmount = ["maxFee", "verificationFee", "fee", "collateral", "committeeWeight", "validWeight", "invalidWeight"].contains(name)
                o[name] = isAmount ? .string(word.hexQuantity) : .int(word.uint64 ?? 0)
            }
        }
        let status = JobStatus(rawValue: UInt8(values[1].uintValue?.uint64 ?? 0)) ?? .none
        let verificationClass = VerificationClass(rawValue: UInt8(values[2].uintValue?.uint64 ?? 0))
        o["status"] = .string(status.name)
        o["verificationClass"] = .string(verificationClass?.name ?? "unknown")
        o["label"] = label(status, verificationClass).map(JSONValue.string) ?? .null
        o["round"] = .int(values[18].uintValue?.uint64 ?? 0)
        let committee = try ABI.decode(Jobs.committeeTypes, reader.view(at: Jobs.address, "getCommittee(bytes32)", [.fixedBytes(id.bytes)]))
        if case .array(let members) = committee[0], case .array(let weights) = committee[1], case .array(let commitments) = committee[2],
           case .array(let verdicts) = committee[3] {
            o["committee"] = .array((0..<members.count).map { i in
                let verdict = Verdict(rawValue: UInt8(verdicts[i].uintValue?.uint64 ?? 0))
                return .object(["address": .string(members[i].addressValue?.checksummed ?? ""),
                                "weight": .string((weights[i].uintValue ?? .zero).hexQuantity),
                                "committed": .bool(commitments[i].bytesValue != [UInt8](repeating: 0, count: 32)),
                                "verdict": verdict.map { .string($0.name) } ?? .null])
            })
        }
        let dispute = try ABI.decode(Jobs.disputeTypes, reader.view(at: Jobs.address, "getDispute(bytes32)", [.fixedBytes(id.bytes)]))
        if dispute[3].uintValue?.uint64 ?? 0 != 0 {
            let state = DisputeState(rawValue: UInt8(truncatingIfNeeded: dispute[3].uintValue?.uint64 ?? 0)) ?? .none
            let resolvedAt = dispute[5].uintValue?.uint64 ?? 0
            o["dispute"] = .object(["challenger": dispute[0].addressValue.map { $0 == .zero ? .null : .string($0.checksummed) } ?? .null,
                                    "bond": .string((dispute[1].uintValue ?? .zero).hexQuantity),
                                    "openedAt": .int(dispute[2].uintValue?.uint64 ?? 0), "state": .string(state.name),
                                    "resolveBy": .int(dispute[4].uintValue?.uint64 ?? 0), "resolvedAt": resolvedAt == 0 ? .null : .int(resolvedAt),
                                    "outputHash": resolvedAt == 0 ? .null : .string(Hex.encode(dispute[6].bytesValue ?? [])),
                                    "traceRoot": resolvedAt == 0 ? .null : .string(Hex.encode(dispute[7].bytesValue ?? [])),
                                    "revealBy": .int(dispute[8].uintValue?.uint64 ?? 0), "revealedPieces": .int(dispute[9].uintValue?.uint64 ?? 0),
                                    "faultPosition": (dispute[10].uintValue?.uint64 ?? 0) == 0 ? .null : .int((dispute[10].uintValue?.uint64 ?? 1) - 1)])
        } else {
            o["dispute"] = .null
        }
        return .object(o)
    }
}
