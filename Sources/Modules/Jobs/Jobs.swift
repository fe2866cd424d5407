import Chain
import Crypto
import Foundation
import Inference
import Primitives

/// The jobs module at `0x…00F7`: inference jobs as transactions. A requester escrows the
/// fees, a stake-weighted draw picks a provider, the provider accepts (locking collateral
/// in escrow) and commits its result, a committee of verifiers drawn after the commitment
/// commits and reveals EIP-712 attestations, and after a quorum and a challenge window
/// anyone finalizes the job, splitting the fee. Timeouts are settled by the end-block hook.
/// docs/verification.md describes every function, encoding, parameter and storage slot;
/// the ABI is docs/abi/Jobs.json.
///
/// Fees, collateral and bonds are in no balance: they move into the supply ledger's
/// `escrowed` total (`NativeCallContext.escrow`) and out of it when paid or burned, so
/// `sum(balances) + staked + escrowed == genesis + minted − burned` after every block.
public final class Jobs: SelectorDispatchedModule {
    /// The module's address (the one `Staking.authorizedCallers` trusts).
    public static let address = Address(lowByte: 0xF7)
    /// Largest inline input or output, in bytes: a request stays under the pool's 128 KiB cap.
    public static let maxInlineBytes = 96 * 1024
    /// Longest input or output URI, in bytes.
    public static let maxURIBytes = 256
    /// Largest committee.
    public static let maxCommitteeSize: UInt64 = 16
    /// Furthest deadline, in blocks after the request.
    public static let maxDeadlineBlocks: UInt64 = 1_000_000
    /// Agenda version 1 only: most agenda items (draws, timeouts) one block's list holds; an
    /// item that finds its block full goes to the next block with room. Version 2's lists
    /// are unbounded (docs/verification.md, "Timeouts and the agenda").
    public static let agendaCapacity: UInt64 = 32
    /// Hook gas kept in hand before handling one more agenda item (a draw among a few
    /// dozen operators and the settlement take well under it; docs/verification.md).
    static let itemGasReserve: UInt64 = 1_500_000
    /// Hook gas an agenda item (version 2) may not use: what recording its failure and
    /// carrying the rest of the agenda forward cost, with room to spare.
    static let carryGasReserve: UInt64 = 200_000
    /// Failed attempts after which an agenda item is settled by `fallBack` instead of retried.
    static let agendaAttempts: UInt64 = 2
    /// Gas charged per attestation signature recovered (the ecrecover precompile's price).
    public static let signatureCheckGas: UInt64 = 3_000
    /// Domain tag of the provider draw's seed.
    public static let providerTag = Array("OPG-PROVIDER".utf8)
    /// Domain tag of the committee draw's seed.
    public static let committeeTag = Array("OPG-COMMITTEE".utf8)

    public let address: Address = Jobs.address
    public let name = "Jobs"
    let models: ModelResolver
    /// The block's inference budget, threads and compiled sessions a dispute re-executes with.
    let inference: InferenceSettings
    /// Threads that recover a `revealAttestations` call's signatures ahead of its in-order
    /// checks (1: recovered in order only, the serial path).
    let signatureWorkers: Int

    /// A jobs module that looks up model ids in `models` (the model registry),
    /// re-executes disputed jobs with `inference`'s budget, threads and session cache, and
    /// recovers attestation signatures on `signatureWorkers` threads (default: every core;
    /// the outcome is the same for any count, docs/verification.md, "Attestations").
    public init(models: ModelResolver, inference: InferenceSettings = InferenceSettings(),
                signatureWorkers: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.models = models
        self.inference = inference
        self.signatureWorkers = max(1, signatureWorkers)
    }

    // MARK: Storage layout (Solidity order; docs/verification.md, "Storage")

    enum Slot {
        /// `bytes32[] jobList`: every job id, in request order.
        static let jobList = Hash32.slot(12)
        /// `mapping(bytes32 => Job) jobs`.
        static let jobs = Hash32.slot(13)
        /// `mapping(address => uint256) nonces`: jobs requested so far by each address.
        static let nonces = Hash32.slot(14)
        /// `mapping(uint64 => bytes32[]) agenda`: jobs the end-block hook looks at in each block.
        static let agenda = Hash32.slot(15)
        /// `mapping(bytes32 roundKey => mapping(address => Member)) members`, roundKey = keccak256(jobId ‖ uint256 round).
        static let members = Hash32.slot(16)
        /// `mapping(bytes32 => Dispute) disputes`.
        static let disputes = Hash32.slot(17)
        /// `uint64 agendaVersion`: the agenda rules written at genesis (0 on a chain made
        /// before the rules were versioned, which runs version 1 for ever).
        static let agendaVersion = Hash32.slot(18)
        /// `uint64 agendaVersionFrom`: the first block that runs `agendaVersion`.
        static let agendaVersionFrom = Hash32.slot(19)
        /// `uint64 agendaCursorBlock`: the oldest block whose agenda is not wholly handled
        /// (version 2; 0 before the first hook).
        static let agendaCursorBlock = Hash32.slot(20)
        /// `uint64 agendaCursorIndex`: the first unhandled item of that block's agenda.
        static let agendaCursorIndex = Hash32.slot(21)
        /// `uint64 settlementVersion`: the settlement rules written at genesis (0 on a chain
        /// made before they were versioned, which runs version 1 for ever). Slots 22…27 are
        /// left for other slots of the module.
        static let settlementVersion = Hash32.slot(28)
        /// `uint64 settlementVersionFrom`: the first block that runs `settlementVersion`.
        static let settlementVersionFrom = Hash32.slot(29)
    }

    /// Fields of the `Job` struct, one slot each, in order.
    enum Field: UInt64, CaseIterable {
        case requester = 0, status, verificationClass, modelId, inputHash, inputURI, maxFee, verificationFee, deadline, requestedAt,
             provider, fee, collateral, acceptBy, outputHash, outputURI, traceRoot, committedAt, round, epoch, commitEnd, revealEnd,
             committee, committeeWeight, validWeight, invalidWeight, committedCount, revealedCount, challengeEnd, agendaBlock, settledAt,
             agendaFailures
    }

    /// Fields of a committee member's record.
    enum MemberField: UInt64 {
        case weight = 0, commitment, revealedDigest, verdict, equivocated
    }

    /// Fields of a dispute record.
    enum DisputeField: UInt64 {
        case challenger = 0, bond, openedAt, state, resolveBy, resolvedAt, outputHash, traceRoot, revealedPieces, faultPosition
    }

    // MARK: ABI

    /// The `getJob` return tuple: the `Job` fields in order, the committee excepted (`getCommittee`).
    static let jobFields: [(Field, ABIType)] = [
        (.requester, .address), (.status, .uint(8)), (.verificationClass, .uint(8)), (.modelId, .string), (.inputHash, .fixedBytes(32)),
        (.inputURI, .string), (.maxFee, .uint(256)), (.verificationFee, .uint(256)), (.deadline, .uint(64)), (.requestedAt, .uint(64)),
        (.provider, .address), (.fee, .uint(256)), (.collateral, .uint(256)), (.acceptBy, .uint(64)), (.outputHash, .fixedBytes(32)),
        (.outputURI, .string), (.traceRoot, .fixedBytes(32)), (.committedAt, .uint(64)), (.round, .uint(8)), (.epoch, .uint(64)),
        (.commitEnd, .uint(64)), (.revealEnd, .uint(64)), (.committeeWeight, .uint(256)), (.validWeight, .uint(256)),
        (.invalidWeight, .uint(256)), (.committedCount, .uint(64)), (.revealedCount, .uint(64)), (.challengeEnd, .uint(64)),
        (.agendaBlock, .uint(64)), (.settledAt, .uint(64)),
    ]
    /// The `getJob` return type.
    public static let jobType = ABIType.tuple(jobFields.map(\.1))
    /// The names of `getJob`'s fields, in order (as docs/abi/Jobs.json names them).
    public static let jobFieldNames = jobFields.map { "\($0.0)" }
    /// The `getCommittee` return types: members, weights, commitments, verdicts (0 = not revealed).
    public static let committeeTypes: [ABIType] = [.array(.address), .array(.uint(256)), .array(.fixedBytes(32)), .array(.uint(8))]
    /// The `getDispute` return types: challenger, bond, openedAt, state, resolveBy,
    /// resolvedAt, the output hash and trace root re-execution found (zero until then),
    /// revealBy, the trace pieces revealed, and the fault position a node proof found (its
    /// position + 1; 0 for none or for the outputs).
    public static let disputeTypes: [ABIType] = [.address, .uint(256), .uint(64), .uint(8), .uint(64), .uint(64), .fixedBytes(32), .fixedBytes(32),
                                                 .uint(64), .uint(64), .uint(64)]
    /// The `parameters()` return tuple.
    public static let parametersType = ABIType.tuple([ABIType](repeating: .uint(256), count: JobsParameters.wordCount))

    public var abiJSON: String { embeddedABI(PackageResources.Jobs_json) }
    public let functions = [
        ModuleFunction(JobRequest.signature, .payable),
        ModuleFunction("acceptJob(bytes32,uint256)", .payable),
        ModuleFunction(JobResult.signature, .nonpayable),
        ModuleFunction("commitAttestation(bytes32,bytes32)", .nonpayable),
        ModuleFunction("revealAttestations((bytes32,address,uint8,bytes32,bytes)[])", .nonpayable),
        ModuleFunction("challenge(bytes32)", .payable),
        ModuleFunction("finalize(bytes32)", .nonpayable),
        ModuleFunction("resolveDispute(bytes32,bytes)", .nonpayable),
        ModuleFunction("revealTrace(bytes32,uint64,bytes32[],bytes32[])", .nonpayable),
        ModuleFunction("proveNode(bytes32,uint64,bytes32,bytes32[],bytes,(uint64,bytes,bytes32[])[])", .nonpayable),
        ModuleFunction("proveOutput(bytes32,(uint64,bytes,bytes32[])[])", .nonpayable),
        ModuleFunction("getJob(bytes32)", .view),
        ModuleFunction("getCommittee(bytes32)", .view),
        ModuleFunction("getDispute(bytes32)", .view),
        ModuleFunction("jobInput(bytes32)", .view),
        ModuleFunction("jobOutput(bytes32)", .view),
        ModuleFunction("jobCount()", .view),
        ModuleFunction("jobAt(uint256)", .view),
        ModuleFunction("nonceOf(address)", .view),
        ModuleFunction("jobId(address,uint256)", .view),
        ModuleFunction("attestationDigest(bytes32,uint8)", .view),
        ModuleFunction("attestationCommitment(bytes32,bytes32,address)", .view),
        ModuleFunction("parameters()", .view),
    ] + Jobs.referenceDisputeFunctions

    /// The events' canonical signatures.
    enum Event {
        static let requested = "JobRequested(bytes32,address,string,uint8,uint256,uint256,uint64)"
        static let accepted = "JobAccepted(bytes32,address,uint256,uint256)"
        static let resultCommitted = "ResultCommitted(bytes32,address,bytes32,bytes32)"
        static let attestationCommitted = "AttestationCommitted(bytes32,address)"
        static let attestationRevealed = "AttestationRevealed(bytes32,address,uint8)"
        static let equivocation = "Equivocation(bytes32,address,address,uint256)"
        static let quorumReached = "QuorumReached(bytes32,uint64)"
        static let challenged = "Challenged(bytes32,address,uint256)"
        static let finalized = "JobFinalized(bytes32,uint256,uint256,uint256,uint256)"
        static let disputeResolved = "DisputeResolved(bytes32,uint8)"
        static let traceRevealed = "TraceRevealed(bytes32,uint64,bytes32[])"
    }

    public let events = [Event.requested, Event.accepted, Event.resultCommitted, Event.attestationCommitted, Event.attestationRevealed,
                         Event.equivocation, Event.quorumReached, Event.challenged, Event.finalized, Event.disputeResolved, Event.traceRevealed]

    public func perform(_ function: ModuleFunction, arguments: [UInt8], context: NativeCallContext) throws -> [UInt8] {
        switch function.name {
        case "requestJob": return try request(try JobRequest.decode(arguments), context).bytes
        case "acceptJob":
            let values = try decodeArguments([.fixedBytes(32), .uint(256)], arguments)
            try accept(try Self.hashArgument(values[0]), fee: values[1].uintValue ?? .zero, context)
            return []
        case "commitResult":
            try commitResult(try JobResult.decode(arguments), context)
            return []
        case "commitAttestation":
            let values = try decodeArguments([.fixedBytes(32), .fixedBytes(32)], arguments)
            try commitAttestation(try Self.hashArgument(values[0]), commitment: try Self.hashArgument(values[1]), context)
            return []
        case "revealAttestations":
            try reveal(try AttestationReveal.decodeBatch(arguments), context)
            return []
        case "challenge":
            try challenge(try Self.hashArgument(try decodeArguments([.fixedBytes(32)], arguments)[0]), context)
            return []
        case "finalize":
            try finalize(try Self.hashArgument(try decodeArguments([.fixedBytes(32)], arguments)[0]), context)
            return []
        case "resolveDispute":
            let values = try decodeArguments([.fixedBytes(32), .bytes], arguments)
            guard let input = values[1].bytesValue else { throw NativeRevert("invalid calldata: expected bytes") }
            try resolveDispute(try Self.hashArgument(values[0]), input: input, context)
            return []
        case "revealTrace":
            let values = try decodeArguments([.fixedBytes(32), .uint(64), .array(.fixedBytes(32)), .array(.fixedBytes(32))], arguments)
            try revealTrace(try Self.hashArgument(values[0]), piece: values[1].uintValue?.uint64 ?? 0, leaves: try Self.hashList(values[2]),
                            proof: try Self.hashList(values[3]), context)
            return []
        case "proveNode":
            let values = try decodeArguments([.fixedBytes(32), .uint(64), .fixedBytes(32), .array(.fixedBytes(32)), .bytes,
                                              .array(ProducerOutputs.abiType)], arguments)
            try proveNode(try Self.hashArgument(values[0]), position: values[1].uintValue?.uint64 ?? 0, leaf: try Self.hashArgument(values[2]),
                          leafProof: try Self.hashList(values[3]), input: values[4].bytesValue ?? [],
                          producers: try ProducerOutputs.decodeList(values[5]), context)
            return []
        case "proveOutput":
            let values = try decodeArguments([.fixedBytes(32), .array(ProducerOutputs.abiType)], arguments)
            try proveOutput(try Self.hashArgument(values[0]), producers: try ProducerOutputs.decodeList(values[1]), context)
            return []
        case "stageChunks", "proveReferenceNode", "proveReferenceOutput":
            try performReferenceDispute(String(function.name), arguments, context)
            return []
        case "getJob":
            let base = try existingJob(try Self.hashArgument(try decodeArguments([.fixedBytes(32)], arguments)[0]), context)
            return try ABI.encode([Self.jobType], [try jobTuple(base, context)])
        case "getCommittee":
            let id = try Self.hashArgument(try decodeArguments([.fixedBytes(32)], arguments)[0])
            return try committeeOutput(id, try existingJob(id, context), context)
        case "getDispute":
            let id = try Self.hashArgument(try decodeArguments([.fixedBytes(32)], arguments)[0])
            _ = try existingJob(id, context)
            let base = try context.mappingSlot(Slot.disputes, key: id)
            var values: [ABIValue] = [.address(try context.loadAddress(base))]
            for f in [DisputeField.bond, .openedAt, .state, .resolveBy, .resolvedAt] { values.append(.uint(try context.loadWord(offset(base, f.rawValue)))) }
            for f in [DisputeField.outputHash, .traceRoot] { values.append(.fixedBytes(try context.load(offset(base, f.rawValue)).bytes)) }
            let openedAt = try context.loadWord(offset(base, DisputeField.openedAt.rawValue))
            values.append(.uint(openedAt.isZero ? .zero : openedAt + UInt256(Self.traceRevealBlocks)))
            for f in [DisputeField.revealedPieces, .faultPosition] { values.append(.uint(try context.loadWord(offset(base, f.rawValue)))) }
            return try ABI.encode(Self.disputeTypes, values)
        case "jobInput", "jobOutput":
            let id = try Self.hashArgument(try decodeArguments([.fixedBytes(32)], arguments)[0])
            _ = try existingJob(id, context)
            let bytes = try context.blob(Self.blobKey(id, output: function.name == "jobOutput")) ?? []
            return try ABI.encode([.bytes], [.bytes(bytes)])
        case "jobCount": return try context.loadWord(Slot.jobList).bigEndianBytes32
        case "jobAt":
            let index = try decodeArguments([.uint(256)], arguments)[0].uintValue ?? .zero
            return try context.load(try context.arrayElementSlot(Slot.jobList, index: index)).bytes
        case "nonceOf":
            let account = try decodeArguments([.address], arguments)[0].addressValue ?? .zero
            return try context.loadWord(try context.mappingSlot(Slot.nonces, key: Hash32(word: account))).bigEndianBytes32
        case "jobId":
            let values = try decodeArguments([.address, .uint(256)], arguments)
            try context.chargeHashing(byteCount: 96)
            return Self.jobId(chainId: context.block.chainId, requester: values[0].addressValue ?? .zero, nonce: values[1].uintValue ?? .zero).bytes
        case "attestationDigest":
            let values = try decodeArguments([.fixedBytes(32), .uint(8)], arguments)
            let id = try Self.hashArgument(values[0])
            guard let verdict = Verdict(rawValue: UInt8(values[1].uintValue?.uint64 ?? 0)) else {
                throw NativeRevert("verdict \(values[1].uintValue ?? .zero) is not 1 (valid), 2 (invalid) or 3 (inconclusive)")
            }
            return try attestation(id, try existingJob(id, context), verdict: verdict, context).digest(chainId: context.block.chainId).bytes
        case "attestationCommitment":
            let values = try decodeArguments([.fixedBytes(32), .fixedBytes(32), .address], arguments)
            try context.chargeHashing(byteCount: 84)
            return Attestation.commitment(digest: try Self.hashArgument(values[0]), salt: try Self.hashArgument(values[1]),
                                          verifier: values[2].addressValue ?? .zero).bytes
        default:  // parameters
            return try ABI.encode([Self.parametersType], [.tuple(try parameters(context).words.map(ABIValue.uint))])
        }
    }

    // MARK: Encodings (docs/verification.md)

    /// Job id = keccak256(abi.encode(uint256 chainId, address requester, uint256 nonce)),
    /// `nonce` counting the requester's earlier jobs from 0.
    public static func jobId(chainId: UInt64, requester: Address, nonce: UInt256) -> Hash32 {
        Keccak256.hash(UInt256(chainId).bigEndianBytes32 + Hash32(word: requester).bytes + nonce.bigEndianBytes32)
    }

    /// The blob key of a job's inline input or output: keccak256(jobId ‖ "input" or "output").
    static func blobKey(_ id: Hash32, output: Bool) -> Hash32 { Keccak256.hash(id.bytes + Array((output ? "output" : "input").utf8)) }

    static func hashList(_ value: ABIValue) throws -> [Hash32] {
        guard case .array(let items) = value else { throw NativeRevert("invalid calldata: expected bytes32[]") }
        return try items.map(hashArgument)
    }

    static func hashArgument(_ value: ABIValue) throws -> Hash32 {
        guard let bytes = value.bytesValue, bytes.count == 32 else { throw NativeRevert("invalid calldata: expected bytes32") }
        return try Hash32(bytes)
    }

    // MARK: Storage helpers

    func offset(_ base: Hash32, _ index: UInt64) -> Hash32 { SolidityStorage.offset(base, by: UInt256(index)) }
    func field(_ base: Hash32, _ f: Field) -> Hash32 { offset(base, f.rawValue) }

    func word(_ base: Hash32, _ f: Field, _ context: NativeCallContext) throws -> UInt256 { try context.loadWord(field(base, f)) }
    func number(_ base: Hash32, _ f: Field, _ context: NativeCallContext) throws -> UInt64 { try word(base, f, context).uint64 ?? .max }
    func set(_ base: Hash32, _ f: Field, _ value: UInt256, _ context: NativeCallContext) throws { try context.storeWord(value, at: field(base, f)) }
    func set(_ base: Hash32, _ f: Field, _ value: UInt64, _ context: NativeCallContext) throws { try set(base, f, UInt256(value), context) }

    func status(_ base: Hash32, _ context: NativeCallContext) throws -> JobStatus {
        JobStatus(rawValue: UInt8(truncatingIfNeeded: try number(base, .status, context))) ?? .none
    }

    func setStatus(_ base: Hash32, _ status: JobStatus, _ context: NativeCallContext) throws {
        try set(base, .status, UInt64(status.rawValue), context)
    }

    func jobSlot(_ id: Hash32, _ context: NativeCallContext) throws -> Hash32 { try context.mappingSlot(Slot.jobs, key: id) }

    /// The job's base slot; reverts `unknown job 0x…` when there is none.
    func existingJob(_ id: Hash32, _ context: NativeCallContext) throws -> Hash32 {
        let base = try jobSlot(id, context)
        guard try status(base, context) != .none else { throw NativeRevert("unknown job \(id)") }
        return base
    }

    /// The base slot of `member`'s record in the job's current round.
    func memberSlot(_ id: Hash32, round: UInt64, _ member: Address, _ context: NativeCallContext) throws -> Hash32 {
        try context.chargeHashing(byteCount: 64)
        let roundKey = Keccak256.hash(id.bytes + UInt256(round).bigEndianBytes32)
        return try context.mappingSlot(try context.mappingSlot(Slot.members, key: roundKey), key: Hash32(word: member))
    }

    /// The committee of the job's current round, in draw order.
    func committee(_ base: Hash32, _ context: NativeCallContext) throws -> [Address] {
        let list = field(base, .committee)
        let count = try context.loadWord(list).uint64 ?? 0
        var out: [Address] = []
        for i in 0..<count { out.append(try context.loadAddress(try context.arrayElementSlot(list, index: UInt256(i)))) }
        return out
    }

    /// The parameters written at genesis; reverts on a chain whose genesis wrote none.
    func parameters(_ context: NativeCallContext) throws -> JobsParameters {
        var words: [UInt256] = []
        for slot in 0..<JobsParameters.wordCount { words.append(try context.loadWord(Hash32.slot(UInt64(slot)))) }
        guard let params = JobsParameters(words: words) else {
            throw NativeRevert("jobs are not enabled on this chain: its genesis wrote no jobs parameters")
        }
        return params
    }

    /// The attestation a verifier signs for the job's current result and round.
    func attestation(_ id: Hash32, _ base: Hash32, verdict: Verdict, _ context: NativeCallContext) throws -> Attestation {
        let model = String(decoding: try context.loadBytes(field(base, .modelId)), as: UTF8.self)
        try context.chargeHashing(byteCount: Attestation.messageType.count + model.utf8.count + 8 * 32 + Attestation.domainType.count + 6 * 32)
        return Attestation(jobId: id, modelId: model, inputHash: try context.load(field(base, .inputHash)),
                           outputHash: try context.load(field(base, .outputHash)), traceRoot: try context.load(field(base, .traceRoot)),
                           verdict: verdict, epoch: try number(base, .epoch, context))
    }

    private func jobTuple(_ base: Hash32, _ context: NativeCallContext) throws -> ABIValue {
        var values: [ABIValue] = []
        for (f, type) in Self.jobFields {
            switch type {
            case .address: values.append(.address(try context.loadAddress(field(base, f))))
            case .string: values.append(.string(String(decoding: try context.loadBytes(field(base, f)), as: UTF8.self)))
            case .fixedBytes: values.append(.fixedBytes(try context.load(field(base, f)).bytes))
            default: values.append(.uint(try word(base, f, context)))
            }
        }
        return .tuple(values)
    }

    private func committeeOutput(_ id: Hash32, _ base: Hash32, _ context: NativeCallContext) throws -> [UInt8] {
        let round = try number(base, .round, context)
        var members: [ABIValue] = [], weights: [ABIValue] = [], commitments: [ABIValue] = [], verdicts: [ABIValue] = []
        for member in try committee(base, context) {
            let record = try memberSlot(id, round: round, member, context)
            members.append(.address(member))
            weights.append(.uint(try context.loadWord(offset(record, MemberField.weight.rawValue))))
            commitments.append(.fixedBytes(try context.load(offset(record, MemberField.commitment.rawValue)).bytes))
            verdicts.append(.uint(try context.loadWord(offset(record, MemberField.verdict.rawValue))))
        }
        return try ABI.encode(Self.committeeTypes, [.array(members), .array(weights), .array(commitments), .array(verdicts)])
    }
}

/// Where a job is in its lifecycle (docs/verification.md, "Lifecycle").
public enum JobStatus: UInt8, Sendable, CaseIterable {
    case none = 0
    /// Fees escrowed; the provider draw is on the agenda.
    case requested
    /// A provider is drawn and may accept until `acceptBy`.
    case assigned
    /// The provider locked collateral and owes a result by the deadline.
    case accepted
    /// The result is committed; the committee draw is on the agenda.
    case committed
    /// The committee commits, then reveals, attestations.
    case attesting
    /// A quorum found the result valid; anyone may challenge until `challengeEnd`, then finalize.
    case challengeable
    /// Challenged (or a quorum found it invalid): waiting for the dispute to be resolved.
    case disputed
    /// Settled after a quorum: the provider and the majority verifiers are paid.
    case finalized
    /// Refunded: no provider, no accept or no result in time.
    case refunded
    /// Settled without a quorum after a redraw: the provider is paid, the verification fee refunded, the result unverified.
    case unverified
    /// A dispute proved the result wrong: the requester is refunded, the provider slashed.
    case overturned

    /// The status's name in RPC and the CLI.
    public var name: String {
        switch self {
        case .none: return "none"
        case .requested: return "requested"
        case .assigned: return "assigned"
        case .accepted: return "accepted"
        case .committed: return "committed"
        case .attesting: return "attesting"
        case .challengeable: return "challengeWindow"
        case .disputed: return "disputed"
        case .finalized: return "finalized"
        case .refunded: return "refunded"
        case .unverified: return "unverified"
        case .overturned: return "overturned"
        }
    }

    /// True once the job is settled for good: nothing moves its escrow any more.
    public var isSettled: Bool { [.finalized, .refunded, .unverified, .overturned].contains(self) }

    /// The status called `name`.
    public init?(name: String) {
        guard let status = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = status
    }
}

/// How a job's result can be checked; stored in the job and shown wherever its result is.
public enum VerificationClass: UInt8, Sendable, CaseIterable {
    /// A registered ONNX model our kernel runs: checkable bit for bit; called verified once finalized.
    case exact = 1
    /// A result from a backend the chain cannot re-run: signed and attested for form and
    /// availability, labelled attested, never called verified.
    case attestedOnly = 2

    /// The class's name in RPC and the CLI.
    public var name: String { self == .exact ? "exact" : "attestedOnly" }
}
