import Primitives

/// $OPG supply bookkeeping kept in state, so the state root commits to it: the storage
/// of the Supply module at `0x…00FF` holds the genesis supply, the total minted (block
/// rewards, modules' `NativeCallContext.mint`), the total burned (base fees,
/// `NativeCallContext.burn`) and the $OPG bonded as stake (`NativeCallContext.bond`),
/// which no account's balance holds, and the $OPG the jobs module holds in escrow
/// (`NativeCallContext.escrow`), likewise in no balance. Total supply = genesis + minted −
/// burned, and sum(balances) + staked + escrowed == total supply after every block
/// (docs/staking.md, docs/verification.md).
public struct SupplyLedger {
    /// The Supply module's address.
    public static let address = Address(lowByte: 0xFF)
    /// Slot of the genesis supply.
    public static let genesisSlot = Hash32.slot(0)
    /// Slot of the total minted.
    public static let mintedSlot = Hash32.slot(1)
    /// Slot of the total burned.
    public static let burnedSlot = Hash32.slot(2)
    /// Slot of the total bonded as stake (held by the staking module, in no balance).
    public static let stakedSlot = Hash32.slot(3)
    /// Slot of the total held in escrow (job fees, collateral and challenge bonds the jobs
    /// module holds, in no balance).
    public static let escrowedSlot = Hash32.slot(4)

    private let state: ExecutionState

    /// A ledger over `state`.
    public init(_ state: ExecutionState) { self.state = state }

    /// $OPG in existence at genesis.
    public var genesisSupply: UInt256 { read(Self.genesisSlot) }
    /// $OPG minted since genesis.
    public var minted: UInt256 { read(Self.mintedSlot) }
    /// $OPG burned since genesis.
    public var burned: UInt256 { read(Self.burnedSlot) }
    /// $OPG bonded as stake now.
    public var staked: UInt256 { read(Self.stakedSlot) }
    /// $OPG held in escrow now.
    public var escrowed: UInt256 { read(Self.escrowedSlot) }
    /// genesis + minted − burned.
    public var totalSupply: UInt256 { genesisSupply + minted - burned }

    /// Records the genesis supply (block 0 only).
    public func setGenesisSupply(_ amount: UInt256) { write(Self.genesisSlot, amount) }

    /// Records the stake bonded at genesis (block 0 only).
    public func setGenesisStake(_ amount: UInt256) { write(Self.stakedSlot, amount) }

    /// A total of $OPG held outside every balance.
    public enum HeldTotal {
        /// Stake bonded in the staking module.
        case staked
        /// Fees, collateral and bonds the jobs module holds.
        case escrowed

        var slot: Hash32 { self == .staked ? SupplyLedger.stakedSlot : SupplyLedger.escrowedSlot }
        /// The total's name in revert reasons.
        var name: String { self == .staked ? "staked" : "escrowed" }
        /// What moving value into it is called in revert reasons.
        var holdVerb: String { self == .staked ? "bond" : "escrow" }
    }

    /// The held total `total`; setting it records a move the caller made in balances.
    public subscript(total: HeldTotal) -> UInt256 {
        get { read(total.slot) }
        nonmutating set { write(total.slot, newValue) }
    }

    /// Adds `amount` to the minted total.
    public func recordMint(_ amount: UInt256) { write(Self.mintedSlot, minted + amount) }

    /// Adds `amount` to the burned total.
    public func recordBurn(_ amount: UInt256) { write(Self.burnedSlot, burned + amount) }

    private func read(_ slot: Hash32) -> UInt256 {
        UInt256(word: state.storage(of: Self.address, slot: slot))
    }

    private func write(_ slot: Hash32, _ value: UInt256) {
        state.setStorage(Hash32(word: value), of: Self.address, slot: slot)
    }
}
