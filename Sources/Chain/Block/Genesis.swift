import Primitives
import Storage

/// The content of a genesis file once parsed and checked (the Node module parses the
/// JSON and names any bad field; see genesis/README.md).
public struct GenesisSpec: Equatable, Sendable {
    public var config: ChainConfig
    public var timestamp: UInt64
    public var gasLimit: UInt64
    public var initialBaseFee: UInt256
    public var extraData: [UInt8]
    /// Initial balances, sorted by address.
    public var alloc: [(address: Address, balance: UInt256)]
    /// Native modules' storage words at genesis (the staking module's parameters, operators
    /// and validators), written in this order.
    public var moduleStorage: [GenesisStorageWord]
    /// $OPG bonded as stake at genesis: part of the genesis supply, in no balance.
    public var staked: UInt256
    /// True when the staking module supplies the validator set of every height (the
    /// genesis bonds validators in staking; `config.validators` is then staking's set of
    /// height 0), false when the genesis set signs every block (docs/chain.md, "Validators").
    public var validatorsFromStaking: Bool

    /// Creates a spec; `alloc` is sorted so that the genesis root is independent of file order.
    public init(config: ChainConfig, timestamp: UInt64, gasLimit: UInt64, initialBaseFee: UInt256, extraData: [UInt8],
                alloc: [(address: Address, balance: UInt256)], moduleStorage: [GenesisStorageWord] = [], staked: UInt256 = .zero,
                validatorsFromStaking: Bool = false) {
        self.moduleStorage = moduleStorage
        self.validatorsFromStaking = validatorsFromStaking
        self.staked = staked
        self.config = config
        self.timestamp = timestamp
        self.gasLimit = gasLimit
        self.initialBaseFee = initialBaseFee
        self.extraData = extraData
        self.alloc = alloc.sorted { $0.address < $1.address }
    }

    public static func == (a: GenesisSpec, b: GenesisSpec) -> Bool {
        a.config == b.config && a.timestamp == b.timestamp && a.gasLimit == b.gasLimit && a.initialBaseFee == b.initialBaseFee
            && a.extraData == b.extraData && a.alloc.map(\.address) == b.alloc.map(\.address) && a.alloc.map(\.balance) == b.alloc.map(\.balance)
            && a.moduleStorage == b.moduleStorage && a.staked == b.staked && a.validatorsFromStaking == b.validatorsFromStaking
    }

    /// Sum of the allocated balances and the genesis stake (the genesis supply); nil on overflow.
    public var totalAlloc: UInt256? {
        var sum = staked
        for a in alloc {
            let (s, o) = sum.addingReportingOverflow(a.balance)
            if o { return nil }
            sum = s
        }
        return sum
    }

    /// Block 0 and its state changes: balances, modules' storage, and the genesis supply
    /// and stake in the ledger.
    public func genesisBlock(nodes: TrieNodeStore) throws -> (block: Block, stateBatch: WriteBatch) {
        let state = StateDB(root: MerklePatriciaTrie.emptyRoot, nodes: nodes, flatReads: false)
        for a in alloc where !a.balance.isZero { state.setBalance(a.balance, of: a.address) }
        for word in moduleStorage { state.setStorage(word.value, of: word.address, slot: word.slot) }
        SupplyLedger(state).setGenesisSupply(totalAlloc ?? .zero)
        if !staked.isZero { SupplyLedger(state).setGenesisStake(staked) }
        var batch = WriteBatch()
        let root = try state.commit(into: &batch)
        let header = Header(parentHash: .zero, coinbase: .zero, stateRoot: root, transactionsRoot: MerklePatriciaTrie.emptyRoot,
                            receiptsRoot: MerklePatriciaTrie.emptyRoot, logsBloom: Bloom(), number: 0, gasLimit: gasLimit, gasUsed: 0,
                            timestamp: timestamp, baseFeePerGas: initialBaseFee, validatorsHash: config.validators.hash,
                            nextValidatorsHash: config.validators.hash, extraData: extraData)
        return (Block(header: header, transactions: []), batch)
    }
}

/// One storage word a native module holds at genesis.
public struct GenesisStorageWord: Equatable, Sendable {
    /// The module's address.
    public let address: Address
    /// The slot.
    public let slot: Hash32
    /// The word.
    public let value: Hash32

    /// Describes the word.
    public init(address: Address, slot: Hash32, value: Hash32) {
        self.address = address
        self.slot = slot
        self.value = value
    }
}
