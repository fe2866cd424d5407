import Chain
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
public final class Notary: SelectorDispatchedModule {
    public let address = Address(lowByte: 0x01)
    public let name = "Notary"

    static let notarizeSelector = ABI.selector("notarize(bytes32,string)")
    /// Topic 0 of the `Notarized` event.
    public static let notarizedTopic = ABI.eventTopic("Notarized(address,bytes32,string)")
    /// Longest note accepted, in bytes.
    public static let maxNoteBytes = 1024

    public init() {}

    public var abiJSON: String { embeddedABI(PackageResources.Notary_json) }
    public let functions = [ModuleFunction("notarize(bytes32,string)", .nonpayable), ModuleFunction("ownerOf(bytes32)", .view)]
    public let events = ["Notarized(address,bytes32,string)"]

    public func perform(_ function: ModuleFunction, arguments: [UInt8], context: NativeCallContext) throws -> [UInt8] {
        switch function.selector {
        case Self.notarizeSelector:
            let values = try decodeArguments([.fixedBytes(32), .string], arguments)
            guard let digest = values[0].bytesValue, let note = values[1].stringValue else { throw NativeRevert("invalid arguments") }
            guard note.utf8.count <= Self.maxNoteBytes else { throw NativeRevert("note longer than \(Self.maxNoteBytes) bytes") }
            let slot = try slotOf(digest, context)
            guard try context.load(slot) == .zero else { throw NativeRevert("already notarized") }
            let word = UInt256(context.block.number) << 160 | UInt256(word: Hash32(word: context.caller))
            try context.store(Hash32(word: word), at: slot)
            let data = try ABI.encode([.string], [.string(note)])
            try context.emit(topics: [Self.notarizedTopic, Hash32(word: context.caller), try Hash32(digest)], data: data)
            return []
        default:  // ownerOf, a view: value sent with it stays with the Notary, as it always has.
            let values = try decodeArguments([.fixedBytes(32)], arguments)
            guard let digest = values[0].bytesValue else { throw NativeRevert("invalid arguments") }
            let word = UInt256(word: try context.load(try slotOf(digest, context)))
            let owner = Address(word: Hash32(word: word & Self.addressMask))
            let blockNumber = word >> 160
            return try ABI.encode([.address, .uint(64)], [.address(owner), .uint(blockNumber)])
        }
    }

    private static let addressMask = (UInt256.one << 160) - .one

    private func slotOf(_ digest: [UInt8], _ context: NativeCallContext) throws -> Hash32 {
        try context.chargeHashing(byteCount: digest.count)
        return Keccak256.hash(digest)
    }
}
