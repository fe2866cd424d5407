import Primitives

/// The Notary module at `0x…0001`: records who first notarized a 32-byte digest, and
/// when. It exists to exercise native-handler dispatch end to end — Solidity-ABI
/// calldata, return data, `Error(string)` reverts and indexed events — with any
/// Ethereum library (docs/native-handlers.md).
///
/// - `notarize(bytes32 digest, string note)`: reverts "already notarized" when the digest
///   has an owner; otherwise stores (caller, block number) and emits
///   `Notarized(address indexed owner, bytes32 indexed digest, string note)`.
/// - `ownerOf(bytes32 digest) view returns (address owner, uint64 blockNumber)`.
///
/// Storage: slot keccak256(digest) holds `blockNumber << 160 | owner`.
public final class NotaryHandler: NativeHandler {
    public let address = Address(lowByte: 0x01)
    public let name = "Notary"

    static let notarizeSelector = ABI.selector("notarize(bytes32,string)")
    static let ownerOfSelector = ABI.selector("ownerOf(bytes32)")
    /// Topic 0 of the `Notarized` event.
    public static let notarizedTopic = ABI.eventTopic("Notarized(address,bytes32,string)")
    /// Longest note accepted, in bytes.
    public static let maxNoteBytes = 1024

    public init() {}

    public var abiJSON: String {
        """
        [{"type":"function","name":"notarize","stateMutability":"nonpayable","inputs":[{"name":"digest","type":"bytes32"},{"name":"note","type":"string"}],"outputs":[]},\
        {"type":"function","name":"ownerOf","stateMutability":"view","inputs":[{"name":"digest","type":"bytes32"}],"outputs":[{"name":"owner","type":"address"},{"name":"blockNumber","type":"uint64"}]},\
        {"type":"event","name":"Notarized","anonymous":false,"inputs":[{"name":"owner","type":"address","indexed":true},{"name":"digest","type":"bytes32","indexed":true},{"name":"note","type":"string","indexed":false}]}]
        """
    }

    public func call(_ context: NativeCallContext) throws -> [UInt8] {
        let input = context.input
        guard input.count >= 4 else { throw NativeRevert("calldata shorter than a 4-byte selector") }
        let selector = Array(input[0..<4])
        let args = Array(input[4...])
        switch selector {
        case Self.notarizeSelector:
            guard context.value.isZero else { throw NativeRevert("notarize is not payable") }
            let values = try decodeArgs([.fixedBytes(32), .string], args)
            guard let digest = values[0].bytesValue, let note = values[1].stringValue else { throw NativeRevert("invalid arguments") }
            guard note.utf8.count <= Self.maxNoteBytes else { throw NativeRevert("note longer than \(Self.maxNoteBytes) bytes") }
            let slot = try slotOf(digest, context)
            guard try context.load(slot) == .zero else { throw NativeRevert("already notarized") }
            let word = UInt256(context.block.number) << 160 | UInt256(word: Hash32(word: context.caller))
            try context.store(Hash32(word: word), at: slot)
            let data = try ABI.encode([.string], [.string(note)])
            try context.emit(topics: [Self.notarizedTopic, Hash32(word: context.caller), try Hash32(digest)], data: data)
            return []
        case Self.ownerOfSelector:
            let values = try decodeArgs([.fixedBytes(32)], args)
            guard let digest = values[0].bytesValue else { throw NativeRevert("invalid arguments") }
            let word = UInt256(word: try context.load(try slotOf(digest, context)))
            let owner = Address(word: Hash32(word: word & Self.addressMask))
            let blockNumber = word >> 160
            return try ABI.encode([.address, .uint(64)], [.address(owner), .uint(blockNumber)])
        default:
            throw NativeRevert("unknown function selector 0x\(selector.map { String($0, radix: 16).leftPadded }.joined())")
        }
    }

    private static let addressMask = (UInt256.one << 160) - .one

    private func decodeArgs(_ types: [ABIType], _ data: [UInt8]) throws -> [ABIValue] {
        do {
            return try ABI.decode(types, data)
        } catch let e as PrimitivesError {
            throw NativeRevert("invalid calldata: \(e.message)")
        }
    }

    private func slotOf(_ digest: [UInt8], _ context: NativeCallContext) throws -> Hash32 {
        try context.chargeHashing(byteCount: digest.count)
        return Keccak256.hash(digest)
    }
}

/// The Supply module at `0x…00FF`: read-only views of the $OPG supply ledger that
/// execution keeps in this address's storage (`SupplyLedger`).
///
/// - `totalSupply() view returns (uint256)`, `genesisSupply()`, `minted()`, `burned()`.
public final class SupplyHandler: NativeHandler {
    public let address = SupplyLedger.address
    public let name = "Supply"

    public init() {}

    public var abiJSON: String {
        ["totalSupply", "genesisSupply", "minted", "burned"].map {
            #"{"type":"function","name":"\#($0)","stateMutability":"view","inputs":[],"outputs":[{"name":"","type":"uint256"}]}"#
        }.joined(separator: ",").wrapped
    }

    public func call(_ context: NativeCallContext) throws -> [UInt8] {
        guard context.input.count == 4 else { throw NativeRevert("Supply functions take no arguments") }
        guard context.value.isZero else { throw NativeRevert("Supply functions are not payable") }
        let genesis = UInt256(word: try context.load(SupplyLedger.genesisSlot))
        let minted = UInt256(word: try context.load(SupplyLedger.mintedSlot))
        let burned = UInt256(word: try context.load(SupplyLedger.burnedSlot))
        let value: UInt256
        switch Array(context.input) {
        case ABI.selector("totalSupply()"): value = genesis + minted - burned
        case ABI.selector("genesisSupply()"): value = genesis
        case ABI.selector("minted()"): value = minted
        case ABI.selector("burned()"): value = burned
        default: throw NativeRevert("unknown function selector")
        }
        return value.bigEndianBytes32
    }
}

private extension String {
    var wrapped: String { "[" + self + "]" }
    var leftPadded: String { count == 1 ? "0" + self : self }
}
