import Chain
import Crypto
import Inference
import Primitives

/// A model registered by reference (docs/models.md, "Models registered by reference"):
/// too large to store on chain, so the registry records what identifies and commits to
/// it — the file's SHA-256 and CID, its size, the Merkle root over its initializers
/// (`InitializerCommitment`), the Merkle root over its nodes (`NodeCommitment`), its node
/// count (the leaf count of every trace of it), the Merkle root over its execution schedule
/// (`ScheduleCommitment`, reference version 2), its operators and where its bytes are served.
/// Jobs may name it; the in-block inference precompile refuses it.
public struct ModelReference: Equatable, Sendable {
    /// The file's CIDv0.
    public let id: String
    /// SHA-256 of the ONNX file.
    public let fileHash: Hash32
    /// The file's size in bytes.
    public let size: UInt64
    /// `InitializerCommitment.root` of the file.
    public let initializerRoot: Hash32
    /// How many initializers the root commits to (the leaf count of its tree).
    public let initializerCount: UInt64
    /// `NodeCommitment.root` of the file: proves one node and its opset to a dispute.
    public let nodesRoot: Hash32
    /// How many nodes the graph has (the leaf count of every execution trace of it, and of the nodes root).
    public let nodeCount: UInt64
    /// The kernel spec version in force when it was registered.
    public let kernelSpecVersion: Int
    /// `ScheduleCommitment.root` of the file (leaf count `nodeCount + 1`); zero for a
    /// reference registered under version 1, whose disputes settle undecided.
    public let scheduleRoot: Hash32

    /// Describes a reference.
    public init(id: String, fileHash: Hash32, size: UInt64, initializerRoot: Hash32, initializerCount: UInt64, nodesRoot: Hash32,
                nodeCount: UInt64, kernelSpecVersion: Int, scheduleRoot: Hash32) {
        self.id = id
        self.fileHash = fileHash
        self.size = size
        self.initializerRoot = initializerRoot
        self.initializerCount = initializerCount
        self.nodesRoot = nodesRoot
        self.nodeCount = nodeCount
        self.kernelSpecVersion = kernelSpecVersion
        self.scheduleRoot = scheduleRoot
    }
}

/// What `registerReference` is given (`opg model ref` computes it from the file), checked
/// before anything is stored.
public struct ModelReferenceClaim: Equatable, Sendable {
    public var fileHash: Hash32
    public var cid: ContentID
    public var size: UInt64
    public var initializerRoot: Hash32
    public var initializerCount: UInt64
    public var nodesRoot: Hash32
    public var nodeCount: UInt64
    /// `ScheduleCommitment.root` of the file; zero for a model whose jobs are not one pass
    /// of its graph (`opg model ref --no-schedule`), whose disputes then settle undecided.
    public var scheduleRoot: Hash32
    /// The graph's operators, `op` for ai.onnx and `domain:op` otherwise, sorted, distinct.
    public var operators: [String]
    public var uris: [String]
    public var name: String
    public var description: String

    /// The claim for an ONNX file: reads and compiles it (so a model the kernel cannot run
    /// is refused here with the kernel's message), hashes it, and commits to its
    /// initializers.
    public static func of(file: [UInt8], uris: [String], name: String = "", description: String = "") throws -> ModelReferenceClaim {
        let session = try InferenceSession(model: try ModelReader.read(file))
        let graph = session.model.graph
        let commitment = try InitializerCommitment(graph: graph)
        let nodes = try NodeCommitment(file: file)
        let schedule = try ScheduleCommitment(session: session)
        let operators = Set(graph.nodes.map { $0.domain.isEmpty || $0.domain == "ai.onnx" ? $0.opType : "\($0.domain):\($0.opType)" }).sorted()
        return ModelReferenceClaim(fileHash: try Hash32(SHA256.hash(file)), cid: ContentID.of(file: file), size: UInt64(file.count),
                                   initializerRoot: commitment.root, initializerCount: UInt64(graph.initializers.count),
                                   nodesRoot: nodes.root, nodeCount: UInt64(graph.nodes.count), scheduleRoot: schedule.root, operators: operators, uris: uris, name: name, description: description)
    }

    /// The arguments of `registerReference` (reference version 2) for this claim.
    public var abiArguments: [ABIValue] {
        [.fixedBytes(fileHash.bytes), .string(cid.v0), .uint(UInt256(size)), .fixedBytes(initializerRoot.bytes),
         .uint(UInt256(initializerCount)), .fixedBytes(nodesRoot.bytes), .uint(UInt256(nodeCount)), .fixedBytes(scheduleRoot.bytes),
         .array(operators.map { .string($0) }), .array(uris.map { .string($0) }), .string(name), .string(description)]
    }

    /// The arguments of the version-1 `registerReference`, which has no schedule root.
    public var versionOneArguments: [ABIValue] {
        var values = abiArguments
        values.remove(at: 7)
        return values
    }

    /// Most operators a record lists, and most URIs, and the longest URI in bytes.
    static let maxOperators = 256
    static let maxURIs = 16
    static let maxURIBytes = 512

    /// Throws a `NativeRevert` naming the first rule the claim breaks. A zero schedule root
    /// (always, in a version-1 claim) says the model's jobs are not one pass of its graph
    /// (a chat model's decode loop): their disputes settle undecided.
    func check() throws {
        guard size > 0 else { throw NativeRevert("model size must be at least 1 byte") }
        guard nodeCount > 0 else { throw NativeRevert("node count must be at least 1") }
        guard nodesRoot != .zero else { throw NativeRevert("nodes root must not be zero: a model has nodes") }
        guard (initializerCount == 0) == (initializerRoot == .zero) else {
            throw NativeRevert("initializer root must be zero exactly when the model has no initializers (count \(initializerCount), root \(initializerRoot))")
        }
        guard name.utf8.count <= ModelRegistry.maxNameBytes else { throw NativeRevert("name longer than \(ModelRegistry.maxNameBytes) bytes") }
        guard description.utf8.count <= ModelRegistry.maxDescriptionBytes else {
            throw NativeRevert("description longer than \(ModelRegistry.maxDescriptionBytes) bytes")
        }
        guard !operators.isEmpty, operators.count <= Self.maxOperators else {
            throw NativeRevert("a reference lists 1 to \(Self.maxOperators) operators, got \(operators.count)")
        }
        let supported = Set(OperatorRegistry.supportedOperators)
        for (i, op) in operators.enumerated() {
            guard supported.contains(op) else { throw NativeRevert("unsupported operator \(op): the kernel cannot run it, so no job on this model could be exact") }
            if i > 0, operators[i - 1] >= op { throw NativeRevert("operators must be sorted and distinct: \(operators[i - 1]) before \(op)") }
        }
        guard !uris.isEmpty, uris.count <= Self.maxURIs else {
            throw NativeRevert("a reference lists 1 to \(Self.maxURIs) URIs, got \(uris.count)")
        }
        for uri in uris {
            guard uri.utf8.count <= Self.maxURIBytes else { throw NativeRevert("URI longer than \(Self.maxURIBytes) bytes") }
            guard ["https://", "http://", "ipfs://"].contains(where: { uri.hasPrefix($0) && uri.count > $0.count }) else {
                throw NativeRevert("URI \"\(uri)\" must start with https://, http:// or ipfs:// and name something")
            }
        }
    }
}

extension ModelRegistry {
    /// `registerReference` of reference version 2: the claim with its schedule root.
    public static let registerReference = ModuleFunction("registerReference(bytes32,string,uint64,bytes32,uint64,bytes32,uint64,bytes32,string[],string[],string,string)", .nonpayable)
    /// `registerReference` of reference version 1 (no schedule root), refused once version 2 is in force.
    public static let registerReferenceVersionOne = ModuleFunction("registerReference(bytes32,string,uint64,bytes32,uint64,bytes32,uint64,string[],string[],string,string)", .nonpayable)
    /// The newest reference version this node implements (docs/models.md, "Reference versions").
    public static let latestReferenceVersion: UInt64 = 2
    static let getReference = ModuleFunction("getModelReference(string)", .view)

    /// Topic 0 of `ModelReferenced(bytes32 indexed fileSha256, address indexed owner, string cidV0, bytes32 initializerRoot)`.
    public static let modelReferencedTopic = ABI.eventTopic("ModelReferenced(bytes32,address,string,bytes32)")

    static let registerReferenceArguments: [ABIType] = [.fixedBytes(32), .string, .uint(64), .fixedBytes(32), .uint(64), .fixedBytes(32),
                                                        .uint(64), .fixedBytes(32), .array(.string), .array(.string), .string, .string]

    /// `getModelReference`'s return type: (cidV0, cidV1, fileSha256, size, owner, name,
    /// description, registeredAt, kernelSpecVersion, initializerRoot, initializerCount,
    /// nodesRoot, nodeCount, operators, uris, scheduleRoot — zero for a version-1 reference).
    public static let referenceInfoType: ABIType = .tuple([.string, .string, .fixedBytes(32), .uint(64), .address, .string, .string,
                                                           .uint(64), .uint(32), .fixedBytes(32), .uint(64), .fixedBytes(32),
                                                           .uint(64), .array(.string), .array(.string), .fixedBytes(32)])

    /// A reference record's fields, one slot each; `scheduleRoot` came with version 2 and
    /// is appended so that version-1 records read as before.
    enum ReferenceField: UInt64 {
        case cidDigest, owner, size, registeredAt, kernelSpecVersion, initializerRoot, initializerCount, nodesRoot, nodeCount, name, description, operators, uris,
             scheduleRoot
    }

    /// The reference version in force in the context's block: 1 on a chain whose genesis
    /// wrote none (made before versions) and before `referenceVersionFrom`. Read without
    /// gas, so that a version-1 chain's calls cost what they always did.
    public func referenceVersion(context: NativeCallContext) -> UInt64 {
        let version = UInt256(word: context.uncheckedStorage(Slot.referenceVersion, of: address)).uint64 ?? 1
        let from = UInt256(word: context.uncheckedStorage(Slot.referenceVersionFrom, of: address)).uint64 ?? .max
        return version <= 1 || context.block.number < from ? 1 : version
    }

    /// Slot of `field` of `references[fileHash]`.
    func referenceField(_ fileHash: Hash32, _ field: ReferenceField) -> Hash32 {
        SolidityStorage.offset(SolidityStorage.mappingSlot(Slot.references, key: fileHash), by: UInt256(field.rawValue))
    }

    /// Records a model by reference; reverts naming the rule a claim breaks. `withSchedule`
    /// is the version-2 call; each version's call is refused while the other is in force.
    func registerReference(_ arguments: [UInt8], withSchedule: Bool, _ context: NativeCallContext) throws -> [UInt8] {
        let version = referenceVersion(context: context)
        if withSchedule, version < 2 {
            throw NativeRevert("registerReference with a schedule root needs reference version 2; this chain runs version \(version) in block \(context.block.number)")
        }
        if !withSchedule, version >= 2 {
            throw NativeRevert("registerReference without a schedule root is retired (reference version \(version)): send the schedule root `opg model ref` computes")
        }
        var types = Self.registerReferenceArguments
        if !withSchedule { types.remove(at: 7) }
        var v = try decodeArguments(types, arguments)
        if !withSchedule { v.insert(.fixedBytes(Hash32.zero.bytes), at: 7) }
        let cid: ContentID
        do {
            guard case .content(let parsed) = try ModelIDForm.parse(v[1].stringValue ?? "") else {
                throw NativeRevert("cid must be the file's content id (Qm… or bafy…), not its SHA-256")
            }
            cid = parsed
        } catch let e as ContentIDError {
            throw NativeRevert(e.message)
        }
        func strings(_ value: ABIValue) -> [String] {
            guard case .array(let items) = value else { return [] }
            return items.map { $0.stringValue ?? "" }
        }
        let claim = ModelReferenceClaim(fileHash: try Hash32(v[0].bytesValue ?? []), cid: cid, size: v[2].uintValue?.uint64 ?? 0,
                                   initializerRoot: try Hash32(v[3].bytesValue ?? []), initializerCount: v[4].uintValue?.uint64 ?? 0,
                                   nodesRoot: try Hash32(v[5].bytesValue ?? []), nodeCount: v[6].uintValue?.uint64 ?? 0,
                                   scheduleRoot: try Hash32(v[7].bytesValue ?? []),
                                   operators: strings(v[8]), uris: strings(v[9]), name: v[10].stringValue ?? "", description: v[11].stringValue ?? "")
        try claim.check()
        let fileHash = claim.fileHash
        let stored = try context.load(modelField(fileHash, .cidDigest, context))
        let referenced = try context.load(referenceField(fileHash, .cidDigest))
        let sameContent = try context.load(try context.mappingSlot(Slot.byContent, key: cid.rootDigest))
        if stored != .zero || referenced != .zero || sameContent != .zero {
            let digest = stored != .zero ? stored : (referenced != .zero ? referenced : cid.rootDigest)
            throw NativeRevert("model already registered: \(ContentID(rootDigest: digest).v0)")
        }
        try context.store(cid.rootDigest, at: referenceField(fileHash, .cidDigest))
        try context.storeAddress(context.caller, at: referenceField(fileHash, .owner))
        try context.storeWord(UInt256(claim.size), at: referenceField(fileHash, .size))
        try context.storeWord(UInt256(context.block.number), at: referenceField(fileHash, .registeredAt))
        try context.storeWord(UInt256(UInt64(context.block.kernelSpecVersion)), at: referenceField(fileHash, .kernelSpecVersion))
        try context.store(claim.initializerRoot, at: referenceField(fileHash, .initializerRoot))
        try context.storeWord(UInt256(claim.initializerCount), at: referenceField(fileHash, .initializerCount))
        try context.store(claim.nodesRoot, at: referenceField(fileHash, .nodesRoot))
        try context.storeWord(UInt256(claim.nodeCount), at: referenceField(fileHash, .nodeCount))
        if withSchedule { try context.store(claim.scheduleRoot, at: referenceField(fileHash, .scheduleRoot)) }
        try context.storeBytes(Array(claim.name.utf8), at: referenceField(fileHash, .name))
        try context.storeBytes(Array(claim.description.utf8), at: referenceField(fileHash, .description))
        try context.storeBytes(try ABI.encode([.array(.string)], [.array(claim.operators.map { .string($0) })]), at: referenceField(fileHash, .operators))
        try context.storeBytes(try ABI.encode([.array(.string)], [.array(claim.uris.map { .string($0) })]), at: referenceField(fileHash, .uris))
        try context.store(fileHash, at: try context.mappingSlot(Slot.byContent, key: cid.rootDigest))
        try context.store(fileHash, at: try context.pushArrayElement(Slot.referenceList))
        try context.emit(topics: [Self.modelReferencedTopic, fileHash, Hash32(word: context.caller)],
                         data: try ABI.encode([.string, .fixedBytes(32)], [.string(cid.v0), .fixedBytes(claim.initializerRoot.bytes)]))
        return try ABI.encode([.string, .string], [.string(cid.v0), .string(cid.v1)])
    }

    /// The file SHA-256 a model id names (without checking that anything is registered).
    func fileHash(named modelID: String, _ context: NativeCallContext) throws -> Hash32 {
        let form: ModelIDForm
        do { form = try ModelIDForm.parse(modelID) } catch let e as ContentIDError { throw NativeRevert(e.message) }
        switch form {
        case .content(let cid): return try context.load(SolidityStorage.mappingSlot(Slot.byContent, key: cid.rootDigest), of: address)
        case .fileSHA256(let hash): return hash
        }
    }

    /// The CID digest of the reference recorded for `fileHash` (zero when none).
    func referenceDigest(_ fileHash: Hash32, _ context: NativeCallContext) throws -> Hash32 {
        try context.load(referenceField(fileHash, .cidDigest), of: address)
    }

    /// The model registered by reference under `modelID` (any id form), read through the
    /// caller's context (a job module's) as storage reads; reverts `unknown model reference`.
    public func reference(_ modelID: String, context: NativeCallContext) throws -> ModelReference {
        let fileHash = try fileHash(named: modelID, context)
        let digest = try referenceDigest(fileHash, context)
        guard fileHash != .zero, digest != .zero else { throw NativeRevert("unknown model reference \(modelID)") }
        func word(_ field: ReferenceField) throws -> UInt64 {
            UInt256(word: try context.load(referenceField(fileHash, field), of: address)).uint64 ?? 0
        }
        return ModelReference(id: ContentID(rootDigest: digest).v0, fileHash: fileHash, size: try word(.size),
                              initializerRoot: try context.load(referenceField(fileHash, .initializerRoot), of: address),
                              initializerCount: try word(.initializerCount),
                              nodesRoot: try context.load(referenceField(fileHash, .nodesRoot), of: address), nodeCount: try word(.nodeCount),
                              kernelSpecVersion: Int(try word(.kernelSpecVersion)),
                              scheduleRoot: try context.load(referenceField(fileHash, .scheduleRoot), of: address))
    }

    /// `getModelReference`'s answer.
    func referenceInfo(_ modelID: String, _ context: NativeCallContext) throws -> [UInt8] {
        let record = try reference(modelID, context: context)
        let fileHash = record.fileHash
        func strings(_ field: ReferenceField) throws -> ABIValue {
            try ABI.decode([.array(.string)], try context.loadBytes(referenceField(fileHash, field)))[0]
        }
        func text(_ field: ReferenceField) throws -> ABIValue {
            .string(String(decoding: try context.loadBytes(referenceField(fileHash, field)), as: UTF8.self))
        }
        let cid = ContentID(rootDigest: try referenceDigest(fileHash, context))
        return try ABI.encode([Self.referenceInfoType], [.tuple([
            .string(cid.v0), .string(cid.v1), .fixedBytes(fileHash.bytes), .uint(UInt256(record.size)),
            .address(try context.loadAddress(referenceField(fileHash, .owner))), try text(.name), try text(.description),
            .uint(try context.loadWord(referenceField(fileHash, .registeredAt))), .uint(UInt256(UInt64(record.kernelSpecVersion))),
            .fixedBytes(record.initializerRoot.bytes), .uint(UInt256(record.initializerCount)),
            .fixedBytes(record.nodesRoot.bytes), .uint(UInt256(record.nodeCount)),
            try strings(.operators), try strings(.uris), .fixedBytes(record.scheduleRoot.bytes),
        ])])
    }
}
