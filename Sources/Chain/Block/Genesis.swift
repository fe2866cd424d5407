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

    /// Creates a spec; `alloc` is sorted so that the genesis root is independent of file order.
    public init(config: ChainConfig, timestamp: UInt64, gasLimit: UInt64, initialBaseFee: UInt256, extraData: [UInt8],
                alloc: [(address: Address, balance: UInt256)]) {
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
    }

    /// Sum of the allocated balances (the genesis supply); nil on overflow.
    public var totalAlloc: UInt256? {
        var sum = UInt256.zero
        for a in alloc {
            let (s, o) = sum.addingReportingOverflow(a.balance)
            if o { return nil }
            sum = s
        }
        return sum
    }

    /// Block 0 and its state changes: balances, and the genesis supply in the ledger.
    public func genesisBlock(nodes: TrieNodeStore) throws -> (block: Block, stateBatch: WriteBatch) {
        let state = StateDB(root: MerklePatriciaTrie.emptyRoot, nodes: nodes, flatReads: false)
        for a in alloc where !a.balance.isZero { state.setBalance(a.balance, of: a.address) }
        SupplyLedger(state).setGenesisSupply(totalAlloc ?? .zero)
        var batch = WriteBatch()
        let root = try state.commit(into: &batch)
        let header = Header(parentHash: .zero, coinbase: .zero, stateRoot: root, transactionsRoot: MerklePatriciaTrie.emptyRoot,
                            receiptsRoot: MerklePatriciaTrie.emptyRoot, logsBloom: Bloom(), number: 0, gasLimit: gasLimit, gasUsed: 0,
                            timestamp: timestamp, baseFeePerGas: initialBaseFee, validatorsHash: config.validators.hash,
                            nextValidatorsHash: config.validators.hash, extraData: extraData)
        return (Block(header: header, transactions: []), batch)
    }
}
