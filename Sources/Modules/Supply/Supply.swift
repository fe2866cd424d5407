import Chain
import Primitives

/// The Supply module at `0x…00FF`: read-only views of the $OPG supply ledger that
/// execution keeps in this address's storage (`SupplyLedger`).
///
/// - `totalSupply() view returns (uint256)`, `genesisSupply()`, `minted()`, `burned()`,
///   `staked()` (the stake bonded in the staking module: in no balance, part of the supply),
///   `escrowed()` (what the jobs module holds in escrow: likewise).
public final class Supply: NativeModule {
    public let address = SupplyLedger.address
    public let name = "Supply"

    public init() {}

    public var abiJSON: String { embeddedABI(PackageResources.Supply_json) }
    public let functions = ["totalSupply()", "genesisSupply()", "minted()", "burned()", "staked()", "escrowed()"].map { ModuleFunction($0, .view) }
    public let events: [String] = []

    /// Supply checks the calldata length and value before it reads the ledger and reads
    /// the ledger before it matches the selector; past blocks' gas depends on that order,
    /// so it keeps its own `call` instead of the default dispatch.
    public func call(_ context: NativeCallContext) throws -> [UInt8] {
        guard context.input.count == 4 else { throw NativeRevert("Supply functions take no arguments") }
        guard context.value.isZero else { throw NativeRevert("Supply functions are not payable") }
        // staked() came later: it reads only its own word, so the others' gas is unchanged.
        if Array(context.input) == ABI.selector("staked()") {
            return try context.withStaticScope { try context.load(SupplyLedger.stakedSlot).bytes }
        }
        // escrowed() came with the jobs module, on the same terms.
        if Array(context.input) == ABI.selector("escrowed()") {
            return try context.withStaticScope { try context.load(SupplyLedger.escrowedSlot).bytes }
        }
        return try context.withStaticScope {
            let genesis = try context.loadWord(SupplyLedger.genesisSlot)
            let minted = try context.loadWord(SupplyLedger.mintedSlot)
            let burned = try context.loadWord(SupplyLedger.burnedSlot)
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
}
