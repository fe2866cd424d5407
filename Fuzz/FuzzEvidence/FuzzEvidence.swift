import Chain
import Consensus
import Crypto
import Modules
import Primitives
import Storage

/// The chain's evidence path on hostile bytes (docs/chain.md, "Evidence"): the duplicate-
/// vote decoder, and the staking module's `applyEvidence` — decode, age, the validator set
/// of the height, the consensus signatures, the penalty — over a state with two genesis
/// validators whose consensus keys are `keccak256("fuzz evidence consensus 0/1")` (the
/// committed seeds are real double signs by them, at chain id 1, genesis hash 0x11…11).

/// The module, the genesis state's root and its nodes, built once in `initialize`.
nonisolated(unsafe) var executor: TransactionExecutor!
nonisolated(unsafe) var nodes: TrieNodeStore!
nonisolated(unsafe) var genesisRoot = MerklePatriciaTrie.emptyRoot
let genesisHash = try! Hash32([UInt8](repeating: 0x11, count: 32))
let block = BlockEnvironment(number: 5, timestamp: 5, coinbase: Address(lowByte: 0xC0), baseFee: 0, gasLimit: 30_000_000, chainId: 1)

/// LeakSanitizer's switch (ASan's runtime): allocations made while it is off are never reported.
@_silgen_name("__lsan_disable") func leakCheckingOff()
@_silgen_name("__lsan_enable") func leakCheckingOn()

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    leakCheckingOff()
    executor = TransactionExecutor(handlers: NativeHandlerRegistry([Staking(), Supply()]), encodeRevert: ABI.encodeRevert)
    nodes = TrieNodeStore(store: MemoryStore())
    let operators = (0..<2).map { i -> GenesisOperator in
        let account = try! PrivateKey(Keccak256.digest(Array("fuzz evidence account \(i)".utf8)))
        let consensus = try! PrivateKey(Keccak256.digest(Array("fuzz evidence consensus \(i)".utf8)))
        return GenesisOperator(address: account.address, role: .validator, stake: StakingParameters.opg * 20_000,
                               consensusKey: consensus.publicKey.compressed)
    }
    let (words, staked) = try! Staking.genesisStorage(parameters: .default, operators: operators)
    let state = StateDB(root: MerklePatriciaTrie.emptyRoot, nodes: nodes, flatReads: false)
    for w in words { state.setStorage(w.value, of: w.address, slot: w.slot) }
    SupplyLedger(state).setGenesisSupply(staked)
    SupplyLedger(state).setGenesisStake(staked)
    var batch = WriteBatch()
    genesisRoot = try! state.commit(into: &batch)
    try! nodes.store.write(batch, sync: false)
    leakCheckingOn()
    return 0
}

/// libFuzzer entry: the first byte picks the check, the rest is one evidence item.
/// - even: a decoded item re-encodes canonically (decoding its encoding gives it back);
/// - odd: `applyEvidence` refuses the item with a reason or applies it, leaving the supply
///   ledger's stake and burn consistent — never a crash, hang or trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEvidence(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    if data[0] % 2 == 0 {
        if let evidence = try? DuplicateVoteEvidence(decoding: body), (try? DuplicateVoteEvidence(decoding: evidence.encoded)) != evidence {
            fatalError("evidence does not survive its own encoding")
        }
        return 0
    }
    let state = StateDB(root: genesisRoot, nodes: nodes, flatReads: false)
    let before = SupplyLedger(state).staked
    let reason = executor.applyEvidence(body, genesisHash: genesisHash, block: block, state: state)
    let ledger = SupplyLedger(state)
    if reason != nil, ledger.staked != before { fatalError("refused evidence changed the stake: \(reason!)") }
    if state.balance(of: block.coinbase) + ledger.staked + ledger.burned != before { fatalError("applied evidence broke the supply ledger") }
    return 0
}
