import Chain
import Crypto
import Inference
import Primitives

/// The model registry at `0x…00F3`: ONNX models uploaded in ordinary transactions,
/// checked by the kernel and recorded under their content ids (docs/models.md).
///
/// An upload is keyed by its sender and the file's SHA-256. `beginUpload` declares the
/// size; `putChunk` sends chunk `i` (every chunk `chunkBytes` long but the last), in any
/// order, resent at will; `uploadStatus` lists the chunks still missing, so a client
/// resumes; `finalizeUpload` joins the chunks, checks the hash, compiles the model and
/// records it, or reverts with the kernel's message. An unfinished upload expires
/// `BlobParameters.uploadExpiryBlocks` after its last `beginUpload` and the end-block
/// hook deletes its chunks. Chunk and model bytes are blobs (outside the trie); the
/// storage, laid out as Solidity would, commits to every registration:
///
/// ```solidity
/// mapping(bytes32 fileSha256 => Model) models;        // slot 0
/// mapping(bytes32 cidDigest => bytes32) byContent;     // slot 1
/// bytes32[] modelList;                                 // slot 2
/// mapping(bytes32 uploadId => Upload) uploads;         // slot 3, uploadId = keccak256(abi.encode(owner, fileSha256))
/// Expiry[] expiryQueue;                                // slot 4, Expiry = (bytes32 uploadId, uint64 expiresAt)
/// uint256 expiryHead;                                  // slot 5
/// mapping(bytes32 fileSha256 => Reference) references; // slot 6 (models registered by reference, ModelReferences.swift)
/// bytes32[] referenceList;                             // slot 7
/// struct Model { bytes32 cidDigest; address owner; uint64 size; uint64 registeredAt;
///                uint32 kernelSpecVersion; string name; string description; bytes interface; }
/// struct Upload { address owner; bytes32 fileSha256; uint64 size; uint64 expiresAt; uint32 received;
///                 string name; string description; mapping(uint256 => uint256) receivedBits; }
/// ```
public final class ModelRegistry: SelectorDispatchedModule, ModelResolver {
    public let address = Address(lowByte: 0xF3)
    public let name = "ModelRegistry"

    /// Bytes per chunk (the last may be shorter): a chunk transaction stays under the
    /// pool's 128 KiB cap.
    public static let chunkBytes = 96 * 1024
    /// Longest name, in bytes.
    public static let maxNameBytes = 128
    /// Longest description, in bytes.
    public static let maxDescriptionBytes = 1024
    /// Gas per two bytes of the file for hashing it, computing its content id and
    /// compiling it at `finalizeUpload` (half a gas per byte).
    public static let validationBytesPerGas: UInt64 = 2
    /// What the end-block hook keeps in hand before deleting one more chunk (enough to
    /// clear an upload's record and move the queue's head afterwards).
    static let sweepReserve: UInt64 = 150_000

    static let begin = ModuleFunction("beginUpload(bytes32,uint64,string,string)", .nonpayable)
    static let put = ModuleFunction("putChunk(bytes32,uint32,bytes)", .nonpayable)
    static let finalize = ModuleFunction("finalizeUpload(bytes32)", .nonpayable)
    static let cancel = ModuleFunction("cancelUpload(bytes32)", .nonpayable)
    static let status = ModuleFunction("uploadStatus(address,bytes32)", .view)
    static let get = ModuleFunction("getModel(string)", .view)
    static let count = ModuleFunction("modelCount()", .view)
    static let at = ModuleFunction("modelAt(uint256)", .view)

    /// Topic 0 of `UploadStarted(address indexed owner, bytes32 indexed fileSha256, uint64 size, uint32 chunkCount, uint64 expiresAt)`.
    public static let uploadStartedTopic = ABI.eventTopic("UploadStarted(address,bytes32,uint64,uint32,uint64)")
    /// Topic 0 of `ModelRegistered(bytes32 indexed fileSha256, address indexed owner, string cidV0, string cidV1)`.
    public static let modelRegisteredTopic = ABI.eventTopic("ModelRegistered(bytes32,address,string,string)")

    /// `getModel`'s return type: (cidV0, cidV1, fileSha256, size, owner, name, description,
    /// registeredAt, kernelSpecVersion, inputs, outputs, opsets, macs, bytesMoved, peakBytes).
    public static let modelInfoType: ABIType = {
        guard case .tuple(let interface) = ModelInterface.abiType else { return .tuple([]) }
        return .tuple([.string, .string, .fixedBytes(32), .uint(64), .address, .string, .string, .uint(64), .uint(32)] + interface)
    }()

    public init() {}

    public var abiJSON: String { embeddedABI(PackageResources.ModelRegistry_json) }
    public let functions = [begin, put, finalize, cancel, status, get, count, at, registerReference, registerReferenceVersionOne, getReference]
    public let events = ["UploadStarted(address,bytes32,uint64,uint32,uint64)", "ModelRegistered(bytes32,address,string,string)",
                         "ModelReferenced(bytes32,address,string,bytes32)"]

    public func perform(_ function: ModuleFunction, arguments: [UInt8], context: NativeCallContext) throws -> [UInt8] {
        switch function.selector {
        case Self.begin.selector:
            let v = try decodeArguments([.fixedBytes(32), .uint(64), .string, .string], arguments)
            return try beginUpload(fileHash: try Hash32(v[0].bytesValue ?? []), size: v[1].uintValue?.uint64 ?? 0,
                                   name: v[2].stringValue ?? "", description: v[3].stringValue ?? "", context)
        case Self.put.selector:
            let v = try decodeArguments([.fixedBytes(32), .uint(32), .bytes], arguments)
            try putChunk(fileHash: try Hash32(v[0].bytesValue ?? []), index: Int(v[1].uintValue?.uint64 ?? 0), data: v[2].bytesValue ?? [], context)
            return []
        case Self.finalize.selector:
            let v = try decodeArguments([.fixedBytes(32)], arguments)
            return try finalizeUpload(fileHash: try Hash32(v[0].bytesValue ?? []), context)
        case Self.cancel.selector:
            let v = try decodeArguments([.fixedBytes(32)], arguments)
            let id = try uploadID(owner: context.caller, fileHash: try Hash32(v[0].bytesValue ?? []), context)
            guard try context.loadWord(uploadField(id, .size)) != .zero else { throw NativeRevert("no upload of this file by \(context.caller)") }
            try deleteUpload(id, context, stopBelowGas: nil)
            return []
        case Self.status.selector:
            let v = try decodeArguments([.address, .fixedBytes(32)], arguments)
            guard case .address(let owner) = v[0] else { throw NativeRevert("invalid arguments") }
            return try uploadStatus(owner: owner, fileHash: try Hash32(v[1].bytesValue ?? []), context)
        case Self.get.selector:
            let v = try decodeArguments([.string], arguments)
            let fileHash = try resolve(v[0].stringValue ?? "", context)
            return try ABI.encode([Self.modelInfoType], [try modelInfo(fileHash, context)])
        case Self.registerReference.selector:
            return try registerReference(arguments, withSchedule: true, context)
        case Self.registerReferenceVersionOne.selector:
            return try registerReference(arguments, withSchedule: false, context)
        case Self.getReference.selector:
            let v = try decodeArguments([.string], arguments)
            return try referenceInfo(v[0].stringValue ?? "", context)
        case Self.count.selector:
            return try ABI.encode([.uint(256)], [.uint(try context.loadWord(Slot.modelList))])
        default:  // modelAt
            let v = try decodeArguments([.uint(256)], arguments)
            let index = v[0].uintValue ?? .zero
            guard index < (try context.loadWord(Slot.modelList)) else { throw NativeRevert("model index \(index) out of range") }
            let hash = try context.load(try context.arrayElementSlot(Slot.modelList, index: index))
            return try ABI.encode([.fixedBytes(32)], [.fixedBytes(hash.bytes)])
        }
    }

    // MARK: - Upload

    private func beginUpload(fileHash: Hash32, size: UInt64, name: String, description: String, _ context: NativeCallContext) throws -> [UInt8] {
        guard name.utf8.count <= Self.maxNameBytes else { throw NativeRevert("name longer than \(Self.maxNameBytes) bytes") }
        guard description.utf8.count <= Self.maxDescriptionBytes else {
            throw NativeRevert("description longer than \(Self.maxDescriptionBytes) bytes")
        }
        guard size > 0 else { throw NativeRevert("model size must be at least 1 byte") }
        let cap = context.block.blobs.maxBytes
        guard size <= UInt64(cap) else { throw NativeRevert("model of \(size) bytes exceeds the size cap of \(cap) bytes") }
        if let existing = try registeredCID(fileHash, context) { throw NativeRevert("model already registered: \(existing)") }
        let id = try uploadID(owner: context.caller, fileHash: fileHash, context)
        let declared = try context.loadWord(uploadField(id, .size))
        if declared.isZero {
            try context.storeAddress(context.caller, at: uploadField(id, .owner))
            try context.store(fileHash, at: uploadField(id, .fileHash))
            try context.storeWord(UInt256(size), at: uploadField(id, .size))
        } else if declared != UInt256(size) {
            throw NativeRevert("this upload was begun with size \(declared), not \(size)")
        }
        let (expiry, overflow) = context.block.number.addingReportingOverflow(context.block.blobs.uploadExpiryBlocks)
        let expiresAt = overflow ? UInt64.max : expiry
        try context.storeWord(UInt256(expiresAt), at: uploadField(id, .expiresAt))
        try context.storeBytes(Array(name.utf8), at: uploadField(id, .name))
        try context.storeBytes(Array(description.utf8), at: uploadField(id, .description))
        let entry = try context.pushArrayElement(Slot.expiryQueue, wordsPerElement: 2)
        try context.store(id, at: entry)
        try context.storeWord(UInt256(expiresAt), at: SolidityStorage.offset(entry, by: .one))
        let chunks = Self.chunkCount(size)
        try context.emit(topics: [Self.uploadStartedTopic, Hash32(word: context.caller), fileHash],
                         data: try ABI.encode([.uint(64), .uint(32), .uint(64)], [.uint(UInt256(size)), .uint(UInt256(UInt64(chunks))), .uint(UInt256(expiresAt))]))
        return try ABI.encode([.uint(32), .uint(64)], [.uint(UInt256(UInt64(chunks))), .uint(UInt256(expiresAt))])
    }

    private func putChunk(fileHash: Hash32, index: Int, data: [UInt8], _ context: NativeCallContext) throws {
        let id = try uploadID(owner: context.caller, fileHash: fileHash, context)
        let size = try openUpload(id, context)
        let chunks = Self.chunkCount(size)
        guard index < chunks else { throw NativeRevert("chunk index \(index) out of range: the upload has \(chunks) chunks") }
        let want = index == chunks - 1 ? Int(size) - index * Self.chunkBytes : Self.chunkBytes
        guard data.count == want else { throw NativeRevert("chunk \(index) must be \(want) bytes, got \(data.count)") }
        try context.storeBlob(data, at: Self.chunkKey(id, index))
        let bitsSlot = try receivedBitsSlot(id, word: index / 256, context)
        let bits = try context.loadWord(bitsSlot)
        let bit = UInt256.one << (index % 256)
        if (bits & bit).isZero {
            try context.storeWord(bits | bit, at: bitsSlot)
            try context.storeWord(try context.loadWord(uploadField(id, .received)) + .one, at: uploadField(id, .received))
        }
    }

    private func finalizeUpload(fileHash: Hash32, _ context: NativeCallContext) throws -> [UInt8] {
        let id = try uploadID(owner: context.caller, fileHash: fileHash, context)
        let size = try openUpload(id, context)
        let chunks = Self.chunkCount(size)
        let received = try context.loadWord(uploadField(id, .received))
        guard received == UInt256(UInt64(chunks)) else {
            throw NativeRevert("upload incomplete: \(received) of \(chunks) chunks received")
        }
        if let existing = try registeredCID(fileHash, context) { throw NativeRevert("model already registered: \(existing)") }
        try context.useGas(size / Self.validationBytesPerGas)
        let bytes = try context.joinBlobs((0..<chunks).map { Self.chunkKey(id, $0) }, into: fileHash)
        let actual = try Hash32(SHA256.hash(bytes))
        guard actual == fileHash else {
            throw NativeRevert("file hash mismatch: the chunks hash to \(actual), the upload declared \(fileHash)")
        }
        let interface: ModelInterface
        do {
            interface = try ModelValidation.validate(bytes)
        } catch let e as ONNXError {
            throw NativeRevert(e.message)
        }
        let cid = ContentID.of(file: bytes)
        try context.store(cid.rootDigest, at: modelField(fileHash, .cidDigest, context))
        try context.storeAddress(context.caller, at: modelField(fileHash, .owner, context))
        try context.storeWord(UInt256(size), at: modelField(fileHash, .size, context))
        try context.storeWord(UInt256(context.block.number), at: modelField(fileHash, .registeredAt, context))
        try context.storeWord(UInt256(UInt64(context.block.kernelSpecVersion)), at: modelField(fileHash, .kernelSpecVersion, context))
        try context.storeBytes(try context.loadBytes(uploadField(id, .name)), at: modelField(fileHash, .name, context))
        try context.storeBytes(try context.loadBytes(uploadField(id, .description)), at: modelField(fileHash, .description, context))
        try context.storeBytes(try ABI.encode([ModelInterface.abiType], [interface.abiValue]), at: modelField(fileHash, .interface, context))
        try context.store(fileHash, at: try context.mappingSlot(Slot.byContent, key: cid.rootDigest))
        try context.store(fileHash, at: try context.pushArrayElement(Slot.modelList))
        try clearUploadRecord(id, chunks: chunks, context)
        try context.emit(topics: [Self.modelRegisteredTopic, fileHash, Hash32(word: context.caller)],
                         data: try ABI.encode([.string, .string], [.string(cid.v0), .string(cid.v1)]))
        return try ABI.encode([.string, .string], [.string(cid.v0), .string(cid.v1)])
    }

    private func uploadStatus(owner: Address, fileHash: Hash32, _ context: NativeCallContext) throws -> [UInt8] {
        let id = try uploadID(owner: owner, fileHash: fileHash, context)
        let size = try context.loadWord(uploadField(id, .size)).uint64 ?? 0
        let chunks = Self.chunkCount(size)
        var missing: [ABIValue] = []
        var word = UInt256.zero
        for index in 0..<chunks {
            if index % 256 == 0 { word = try context.loadWord(try receivedBitsSlot(id, word: index / 256, context)) }
            if (word & (UInt256.one << (index % 256))).isZero { missing.append(.uint(UInt256(UInt64(index)))) }
        }
        let expiresAt = try context.loadWord(uploadField(id, .expiresAt))
        let received = try context.loadWord(uploadField(id, .received))
        return try ABI.encode([.uint(64), .uint(32), .uint(32), .uint(64), .array(.uint(32))],
                              [.uint(UInt256(size)), .uint(UInt256(UInt64(chunks))), .uint(received), .uint(expiresAt), .array(missing)])
    }

    /// The declared size of upload `id`, which must exist and not have expired.
    private func openUpload(_ id: Hash32, _ context: NativeCallContext) throws -> UInt64 {
        guard let size = try context.loadWord(uploadField(id, .size)).uint64, size > 0 else {
            throw NativeRevert("no upload of this file by \(context.caller): call beginUpload first")
        }
        let expiresAt = try context.loadWord(uploadField(id, .expiresAt))
        guard UInt256(context.block.number) < expiresAt else {
            throw NativeRevert("upload expired at block \(expiresAt): call beginUpload again to resume")
        }
        return size
    }

    // MARK: - Expiry

    /// Deletes the chunks of uploads whose time ran out, oldest first, while the hook's
    /// gas lasts; a sweep cut short goes on in the next block.
    public func endBlock(_ context: NativeCallContext) throws {
        let start = try context.loadWord(Slot.expiryHead)
        let length = try context.loadWord(Slot.expiryQueue)
        var head = start
        while head < length, context.gasLeft >= 2 * Self.sweepReserve {
            let entry = try context.arrayElementSlot(Slot.expiryQueue, index: head, wordsPerElement: 2)
            let id = try context.load(entry)
            let expiresAt = try context.loadWord(SolidityStorage.offset(entry, by: .one))
            guard expiresAt <= UInt256(context.block.number) else { break }
            let current = try context.loadWord(uploadField(id, .expiresAt))
            if current == expiresAt, !(try context.loadWord(uploadField(id, .size))).isZero {
                guard try deleteUpload(id, context, stopBelowGas: Self.sweepReserve) else { break }
            }
            try context.store(.zero, at: entry)
            try context.store(.zero, at: SolidityStorage.offset(entry, by: .one))
            head = head + .one
        }
        if head != start { try context.storeWord(head, at: Slot.expiryHead) }
    }

    /// Deletes upload `id`'s chunks and record. With `stopBelowGas`, stops (returning
    /// false, the chunks deleted so far cleared from the record) when that little gas
    /// is left.
    @discardableResult
    private func deleteUpload(_ id: Hash32, _ context: NativeCallContext, stopBelowGas: UInt64?) throws -> Bool {
        let size = try context.loadWord(uploadField(id, .size)).uint64 ?? 0
        let chunks = Self.chunkCount(size)
        var received = try context.loadWord(uploadField(id, .received))
        for word in stride(from: (chunks - 1) / 256, through: 0, by: -1) where chunks > 0 {
            let bitsSlot = try receivedBitsSlot(id, word: word, context)
            var bits = try context.loadWord(bitsSlot)
            for bit in stride(from: 255, through: 0, by: -1) where !(bits & (UInt256.one << bit)).isZero {
                if let floor = stopBelowGas, context.gasLeft < floor {
                    try context.storeWord(bits, at: bitsSlot)
                    try context.storeWord(received, at: uploadField(id, .received))
                    return false
                }
                try context.deleteBlob(Self.chunkKey(id, word * 256 + bit))
                bits = bits - (UInt256.one << bit)
                received = received - .one
            }
            try context.storeWord(.zero, at: bitsSlot)
        }
        try clearUploadRecord(id, chunks: 0, context)
        return true
    }

    /// Clears upload `id`'s record (and its received bits, for `chunks` chunks).
    private func clearUploadRecord(_ id: Hash32, chunks: Int, _ context: NativeCallContext) throws {
        for word in 0..<(chunks + 255) / 256 { try context.storeWord(.zero, at: try receivedBitsSlot(id, word: word, context)) }
        for field in [UploadField.owner, .fileHash, .size, .expiresAt, .received] { try context.store(.zero, at: uploadField(id, field)) }
        try context.storeBytes([], at: uploadField(id, .name))
        try context.storeBytes([], at: uploadField(id, .description))
    }

    // MARK: - Reading models

    /// The file SHA-256 of the model registered under `modelID` (CIDv0, CIDv1 or
    /// `0x` + SHA-256); reverts `unknown model ID` or `malformed model id: …`.
    func resolve(_ modelID: String, _ context: NativeCallContext) throws -> Hash32 {
        let fileHash = try fileHash(named: modelID, context)
        guard fileHash != .zero, try context.load(modelField(fileHash, .cidDigest, context), of: address) != .zero else {
            let reference = try referenceDigest(fileHash, context)
            guard reference == .zero else {
                throw NativeRevert("model \(ContentID(rootDigest: reference).v0) is registered by reference: its bytes are not on chain, so jobs can run it but the in-block inference precompile cannot (getModelReference reads its record)")
            }
            throw NativeRevert("unknown model ID \(modelID)")
        }
        return fileHash
    }

    private func registeredCID(_ fileHash: Hash32, _ context: NativeCallContext) throws -> String? {
        let digest = try context.load(modelField(fileHash, .cidDigest, context))
        return digest == .zero ? nil : ContentID(rootDigest: digest).v0
    }

    private func modelInfo(_ fileHash: Hash32, _ context: NativeCallContext) throws -> ABIValue {
        let cid = ContentID(rootDigest: try context.load(modelField(fileHash, .cidDigest, context)))
        let interface = try ModelInterface(encoded: try context.loadBytes(modelField(fileHash, .interface, context)))
        guard case .tuple(let interfaceFields) = interface.abiValue else { return .tuple([]) }
        return .tuple([
            .string(cid.v0), .string(cid.v1), .fixedBytes(fileHash.bytes),
            .uint(try context.loadWord(modelField(fileHash, .size, context))),
            .address(try context.loadAddress(modelField(fileHash, .owner, context))),
            .string(String(decoding: try context.loadBytes(modelField(fileHash, .name, context)), as: UTF8.self)),
            .string(String(decoding: try context.loadBytes(modelField(fileHash, .description, context)), as: UTF8.self)),
            .uint(try context.loadWord(modelField(fileHash, .registeredAt, context))),
            .uint(try context.loadWord(modelField(fileHash, .kernelSpecVersion, context))),
        ] + interfaceFields)
    }

    // MARK: - ModelResolver

    public func model(_ modelID: String, context: NativeCallContext) throws -> RegisteredModel {
        let fileHash = try resolve(modelID, context)
        let digest = try context.load(modelField(fileHash, .cidDigest, context), of: address)
        let size = try context.load(modelField(fileHash, .size, context), of: address)
        let version = try context.load(modelField(fileHash, .kernelSpecVersion, context), of: address)
        return RegisteredModel(id: ContentID(rootDigest: digest).v0, fileHash: fileHash, size: Int(UInt256(word: size).uint64 ?? 0),
                               kernelSpecVersion: Int(UInt256(word: version).uint64 ?? 0))
    }

    public func jobModelID(_ modelID: String, context: NativeCallContext) throws -> String {
        let fileHash = try fileHash(named: modelID, context)
        if fileHash != .zero, try context.load(modelField(fileHash, .cidDigest, context), of: address) == .zero {
            let reference = try referenceDigest(fileHash, context)
            if reference != .zero { return ContentID(rootDigest: reference).v0 }
        }
        return try model(modelID, context: context).id
    }

    public func modelBytes(_ model: RegisteredModel, context: NativeCallContext) throws -> [UInt8] {
        guard let bytes = context.uncheckedBlob(model.fileHash, of: address) else {
            throw NativeRevert("the bytes of model \(model.id) are missing from this node's store")
        }
        return bytes
    }

    // MARK: - Layout

    /// Chunks of a file of `size` bytes.
    public static func chunkCount(_ size: UInt64) -> Int { Int((size + UInt64(chunkBytes) - 1) / UInt64(chunkBytes)) }

    /// The blob key of chunk `index` of upload `id`: keccak256(abi.encode(id, index)).
    static func chunkKey(_ id: Hash32, _ index: Int) -> Hash32 {
        Keccak256.hash(id.bytes + UInt256(UInt64(index)).bigEndianBytes32)
    }

    enum Slot {
        static let models = Hash32(word: UInt256(0))
        static let byContent = Hash32(word: UInt256(1))
        static let modelList = Hash32(word: UInt256(2))
        static let uploads = Hash32(word: UInt256(3))
        static let expiryQueue = Hash32(word: UInt256(4))
        static let expiryHead = Hash32(word: UInt256(5))
        static let references = Hash32(word: UInt256(6))
        static let referenceList = Hash32(word: UInt256(7))
        /// `uint64 referenceVersion`: the reference rules written at genesis (0 on a chain
        /// made before they were versioned, which runs version 1 for ever).
        static let referenceVersion = Hash32(word: UInt256(8))
        /// `uint64 referenceVersionFrom`: the first block that runs `referenceVersion`.
        static let referenceVersionFrom = Hash32(word: UInt256(9))
    }

    /// The storage words genesis writes for the registry: reference version `version`
    /// from block `fromBlock` (docs/models.md, "Reference versions").
    public static func genesisStorage(referenceVersion version: UInt64 = latestReferenceVersion, fromBlock: UInt64 = 0) throws -> [GenesisStorageWord] {
        guard (1...latestReferenceVersion).contains(version) else {
            throw NativeRevert("referenceVersion: \(version) is not a version this node implements (1…\(latestReferenceVersion)); upgrade opgd")
        }
        let address = Address(lowByte: 0xF3)
        return [GenesisStorageWord(address: address, slot: Slot.referenceVersion, value: Hash32(word: UInt256(version))),
                GenesisStorageWord(address: address, slot: Slot.referenceVersionFrom, value: Hash32(word: UInt256(fromBlock)))]
    }

    enum ModelField: UInt64 { case cidDigest, owner, size, registeredAt, kernelSpecVersion, name, description, interface }
    enum UploadField: UInt64 { case owner, fileHash, size, expiresAt, received, name, description, receivedBits }

    private func uploadID(owner: Address, fileHash: Hash32, _ context: NativeCallContext) throws -> Hash32 {
        try context.chargeHashing(byteCount: 64)
        return Keccak256.hash(Hash32(word: owner).bytes + fileHash.bytes)
    }

    /// Slot of `field` of `models[fileHash]`.
    func modelField(_ fileHash: Hash32, _ field: ModelField, _ context: NativeCallContext) throws -> Hash32 {
        try context.chargeHashing(byteCount: 64)
        return SolidityStorage.offset(SolidityStorage.mappingSlot(Slot.models, key: fileHash), by: UInt256(field.rawValue))
    }

    private func uploadField(_ id: Hash32, _ field: UploadField) -> Hash32 {
        SolidityStorage.offset(SolidityStorage.mappingSlot(Slot.uploads, key: id), by: UInt256(field.rawValue))
    }

    private func receivedBitsSlot(_ id: Hash32, word: Int, _ context: NativeCallContext) throws -> Hash32 {
        try context.mappingSlot(uploadField(id, .receivedBits), key: Hash32(word: UInt256(UInt64(word))))
    }
}
