import Crypto
import Primitives
import Storage
import XCTest
@testable import Chain
@testable import Modules

/// Real signed transactions from test keys (fees zero: the tests' blocks have base fee 0).
enum TestSigner {
    static let alice = try! PrivateKey(Keccak256.digest(Array("modules test alice".utf8)))

    static func transaction(nonce: UInt64, to: Address, data: [UInt8], value: UInt256 = 0, gas: UInt64 = 1_000_000,
                            key: PrivateKey = alice) throws -> SignedTransaction {
        try Transaction(type: .dynamicFee, chainId: 1, nonce: nonce, maxPriorityFeePerGas: 0, maxFeePerGas: 0, gasLimit: gas,
                        to: to, value: value, data: data).signed(with: key)
    }
}

/// A test module driven by a one-byte command and an optional argument word: it
/// exercises every facility of the call context.
final class Vault: NativeHandler {
    let address: Address
    let name = "Vault"
    /// Records hook calls, for the ordering test.
    var hookLog: [String] = []
    var failingEndBlock = false

    init(_ low: UInt8) { address = Address(lowByte: low) }

    enum Command: UInt8 {
        case payOut = 1, mint, burn, writeInView, emitInView, txInfo, callOther, staticCallOther, recurse, store, emitEvent, callOtherWithValue
    }

    static func input(_ c: Command, _ word: UInt256 = .zero, _ rest: [UInt8] = []) -> [UInt8] { [c.rawValue] + word.bigEndianBytes32 + rest }

    func call(_ context: NativeCallContext) throws -> [UInt8] {
        guard let first = context.input.first, let command = Command(rawValue: first) else { throw NativeRevert("bad command") }
        let word = context.input.count >= 33 ? UInt256(word: try Hash32(Array(context.input[1..<33]))) : .zero
        let rest = context.input.count > 33 ? Array(context.input[33...]) : []
        switch command {
        case .payOut: try context.transfer(word, to: context.caller)
        case .mint: try context.mint(word, to: context.caller)
        case .burn: try context.burn(word)
        case .writeInView: try context.withStaticScope { try context.storeWord(word, at: .slot(0)) }
        case .emitInView: try context.withStaticScope { try context.emit(topics: [], data: []) }
        case .txInfo:
            guard let tx = context.transaction else { return [] }
            return tx.hash.bytes + UInt256(UInt64(tx.index)).bigEndianBytes32
        case .callOther, .staticCallOther, .callOtherWithValue:
            let target = Address(word: Hash32(word: word))
            let outcome = command == .staticCallOther ? try context.staticCall(target, input: rest)
                : try context.call(target, input: rest, value: command == .callOtherWithValue ? 5 : 0)
            guard outcome.success else { throw NativeRevert("inner call failed: \(outcome.revertReason ?? "")") }
            return outcome.returnData
        case .recurse:
            let outcome = try context.call(address, input: Self.input(.recurse))
            let depth = outcome.success ? UInt256(word: try Hash32(outcome.returnData)) : UInt256(UInt64(context.depth))
            return depth.bigEndianBytes32
        case .store:
            try context.storeWord(word, at: .slot(0))
            return context.caller.bytes
        case .emitEvent: try context.emit(topics: [.slot(1)], data: [1, 2, 3])
        }
        return []
    }

    func beginBlock(_ context: NativeCallContext) throws {
        hookLog.append("begin \(address.bytes[19])")
        try context.storeWord(UInt256(context.block.number), at: .slot(9))
    }

    func endBlock(_ context: NativeCallContext) throws {
        hookLog.append("end \(address.bytes[19])")
        try context.storeWord(UInt256(7), at: .slot(10))
        if failingEndBlock { throw NativeRevert("end-block failed") }
    }
}

final class ModuleContextTests: XCTestCase {
    let alice = TestSigner.alice.address
    let env = BlockEnvironment(number: 5, timestamp: 1, coinbase: Address(lowByte: 0xEE), baseFee: 0, gasLimit: 30_000_000, chainId: 1)
    var vault = Vault(0x40), other = Vault(0x41)
    var state = StateDB(root: MerklePatriciaTrie.emptyRoot, nodes: TrieNodeStore(store: MemoryStore()), flatReads: false)
    var executor: TransactionExecutor!

    override func setUp() {
        executor = TransactionExecutor(handlers: NativeHandlerRegistry([other, vault, Supply()]), encodeRevert: ABI.encodeRevert)
        state.setBalance(1_000_000, of: alice)
        state.setBalance(500, of: vault.address)
        SupplyLedger(state).setGenesisSupply(1_000_500)
    }

    private var nonce: UInt64 = 0
    private func send(_ input: [UInt8], to: Address? = nil, value: UInt256 = 0, index: Int = 0) throws -> TransactionResult {
        let tx = try TestSigner.transaction(nonce: nonce, to: to ?? vault.address, data: input, value: value)
        nonce += 1
        var gas = env.gasLimit
        return try executor.apply(tx, index: index, state: state, block: env, gasLeft: &gas)
    }

    private func call(_ input: [UInt8], isStatic: Bool = false) -> CallResult {
        executor.call(from: alice, to: vault.address, value: 0, data: input, gasLimit: 1_000_000, state: state, block: env, isStatic: isStatic)
    }

    private func assertSupplyInvariant(file: StaticString = #filePath, line: UInt = #line) {
        let accounts = [alice, vault.address, other.address, env.coinbase]
        let sum = accounts.reduce(UInt256.zero) { $0 + state.balance(of: $1) }
        XCTAssertEqual(sum, SupplyLedger(state).totalSupply, file: file, line: line)
    }

    func testPaysOutFromItsOwnAccountOnly() throws {
        XCTAssertTrue(try send(Vault.input(.payOut, 200)).success)
        XCTAssertEqual(state.balance(of: vault.address), 300)
        XCTAssertEqual(state.balance(of: alice), 1_000_200)
        let refused = try send(Vault.input(.payOut, 301))
        XCTAssertEqual(refused.revertReason, "insufficient module balance: have 300 want 301")
        XCTAssertEqual(state.balance(of: vault.address), 300)
        assertSupplyInvariant()
    }

    func testMintAndBurnAreRecordedInTheSupplyLedger() throws {
        XCTAssertTrue(try send(Vault.input(.mint, 1_000)).success)
        XCTAssertEqual(SupplyLedger(state).minted, 1_000)
        XCTAssertEqual(state.balance(of: alice), 1_001_000)
        assertSupplyInvariant()
        XCTAssertTrue(try send(Vault.input(.burn, 400)).success)
        XCTAssertEqual(SupplyLedger(state).burned, 400)
        XCTAssertEqual(state.balance(of: vault.address), 100)
        assertSupplyInvariant()
        XCTAssertEqual(try send(Vault.input(.burn, 101)).revertReason, "insufficient module balance: have 100 want 101")
        XCTAssertEqual(try send(Vault.input(.mint, .max)).revertReason, "mint overflows the minted total")
        assertSupplyInvariant()
        // The Supply module reports what the ledger recorded.
        let minted = executor.call(from: alice, to: SupplyLedger.address, value: 0, data: ABI.selector("minted()"), gasLimit: 100_000, state: state, block: env)
        XCTAssertEqual(minted.returnData, UInt256(1_000).bigEndianBytes32)
    }

    func testSeesTheTransactionHashAndIndex() throws {
        let tx = try TestSigner.transaction(nonce: 0, to: vault.address, data: Vault.input(.txInfo))
        var gas = env.gasLimit
        let r = try executor.apply(tx, index: 17, state: state, block: env, gasLeft: &gas)
        XCTAssertEqual(r.returnData, tx.hash.bytes + UInt256(17).bigEndianBytes32)
        XCTAssertEqual(call(Vault.input(.txInfo)).returnData, [], "eth_call has no transaction")
    }

    func testStaticContextsRefuseWritesAndEvents() throws {
        XCTAssertEqual(call(Vault.input(.writeInView, 1)).revertReason, "write protection: state change in a static call")
        XCTAssertEqual(call(Vault.input(.emitInView)).revertReason, "write protection: event in a static call")
        XCTAssertEqual(call(Vault.input(.store, 1), isStatic: true).revertReason, "write protection: state change in a static call")
        XCTAssertEqual(call(Vault.input(.payOut, 1), isStatic: true).revertReason, "write protection: value transfer in a static call")
        XCTAssertEqual(call(Vault.input(.mint, 1), isStatic: true).revertReason, "write protection: mint in a static call")
        XCTAssertEqual(call(Vault.input(.burn, 1), isStatic: true).revertReason, "write protection: burn in a static call")
        XCTAssertEqual(call(Vault.input(.emitEvent), isStatic: true).revertReason, "write protection: event in a static call")
        XCTAssertNil(call(Vault.input(.store, 1)).revertReason, "a plain eth_call may simulate writes")
        // Static-ness reaches nested calls: a static call into a writer fails, and so does
        // a plain call made from a static context.
        let inner = Vault.input(.store, 3)
        let viaStatic = try send(Vault.input(.staticCallOther, UInt256(word: Hash32(word: other.address)), inner))
        XCTAssertEqual(viaStatic.revertReason, "inner call failed: write protection: state change in a static call")
        XCTAssertEqual(call(Vault.input(.callOther, UInt256(word: Hash32(word: other.address)), inner), isStatic: true).revertReason,
                       "inner call failed: write protection: state change in a static call")
        XCTAssertEqual(state.storage(of: other.address, slot: .slot(0)), .zero)
        // Notary's view reads fine in a static context.
        let ownerOf = ABI.selector("ownerOf(bytes32)") + [UInt8](repeating: 0, count: 32)
        let registry = NativeHandlerRegistry([Notary()])
        let r = TransactionExecutor(handlers: registry, encodeRevert: ABI.encodeRevert)
            .call(from: alice, to: Notary().address, value: 0, data: ownerOf, gasLimit: 100_000, state: state, block: env, isStatic: true)
        XCTAssertNil(r.revertReason)
    }

    func testCallsAnotherModuleAsItsCaller() throws {
        let target = UInt256(word: Hash32(word: other.address))
        let r = try send(Vault.input(.callOther, target, Vault.input(.store, 9)))
        XCTAssertTrue(r.success, "\(r)")
        XCTAssertEqual(r.returnData, vault.address.bytes, "the callee's caller is the calling module")
        XCTAssertEqual(UInt256(word: state.storage(of: other.address, slot: .slot(0))), 9)
        // Value moves from the calling module; the callee's events join the transaction's logs.
        let withValue = try send(Vault.input(.callOtherWithValue, target, Vault.input(.emitEvent)))
        XCTAssertTrue(withValue.success, "\(withValue)")
        XCTAssertEqual(withValue.logs.map(\.address), [other.address])
        XCTAssertEqual(state.balance(of: other.address), 5)
        XCTAssertEqual(state.balance(of: vault.address), 495)
        // A failing callee undoes its own changes only, and the caller decides.
        let failing = try send(Vault.input(.callOther, target, [0xEE]))
        XCTAssertEqual(failing.revertReason, "inner call failed: bad command")
        assertSupplyInvariant()
    }

    func testNestedCallsStopAtTheDepthLimit() throws {
        let r = try send(Vault.input(.recurse), index: 0)
        XCTAssertTrue(r.success, "\(r)")
        XCTAssertEqual(UInt256(word: try Hash32(r.returnData)), UInt256(UInt64(NativeCallContext.maxDepth)))
    }

    func testBlockHooksRunInAddressOrderAndFailuresAreUndone() throws {
        XCTAssertEqual(executor.handlers.all.map(\.address), [vault.address, other.address, SupplyLedger.address])
        executor.beginBlock(env, state: state)
        vault.failingEndBlock = true
        executor.endBlock(env, state: state)
        XCTAssertEqual(other.hookLog + vault.hookLog, ["begin 65", "end 65", "begin 64", "end 64"])
        XCTAssertEqual(UInt256(word: state.storage(of: vault.address, slot: .slot(9))), 5)
        XCTAssertEqual(UInt256(word: state.storage(of: other.address, slot: .slot(10))), 7)
        XCTAssertEqual(state.storage(of: vault.address, slot: .slot(10)), .zero, "the failed hook's write is undone")
    }

    /// Runs hooks through the block builder to check the order across modules.
    func testHooksInterleaveByAddressAcrossModules() {
        let log = HookOrder()
        let registry = NativeHandlerRegistry([OrderedHook(0x30, log), OrderedHook(0x10, log), OrderedHook(0x20, log)])
        let executor = TransactionExecutor(handlers: registry, encodeRevert: ABI.encodeRevert)
        executor.beginBlock(env, state: state)
        executor.endBlock(env, state: state)
        XCTAssertEqual(log.entries, ["begin 16", "begin 32", "begin 48", "end 16", "end 32", "end 48"])
    }
}

final class HookOrder { var entries: [String] = [] }

final class OrderedHook: NativeHandler {
    let address: Address
    let name = "OrderedHook"
    let log: HookOrder
    init(_ low: UInt8, _ log: HookOrder) { address = Address(lowByte: low); self.log = log }
    func call(_ context: NativeCallContext) throws -> [UInt8] { [] }
    func beginBlock(_ context: NativeCallContext) throws { log.entries.append("begin \(address.bytes[19])") }
    func endBlock(_ context: NativeCallContext) throws {
        log.entries.append("end \(address.bytes[19])")
        XCTAssertThrowsError(try context.emit(topics: [], data: []))
    }
}

/// A module on the default dispatch: `peek()` is a view that tries to write, `put(uint256)`
/// is nonpayable, `deposit()` payable.
final class DispatchProbe: SelectorDispatchedModule {
    let address = Address(lowByte: 0x60)
    let name = "DispatchProbe"
    let abiJSON = "[]"
    let functions = [ModuleFunction("peek()", .view), ModuleFunction("put(uint256)", .nonpayable), ModuleFunction("deposit()", .payable)]
    let events: [String] = []

    func perform(_ function: ModuleFunction, arguments: [UInt8], context: NativeCallContext) throws -> [UInt8] {
        switch function.signature {
        case "peek()": try context.storeWord(1, at: .slot(0))
        case "put(uint256)": try context.store(try Hash32(arguments), at: .slot(0))
        default: break
        }
        return []
    }
}

final class ModuleDispatchTests: XCTestCase {
    func testMutabilityRulesAreAppliedByTheDefaultDispatch() throws {
        let state = StateDB(root: MerklePatriciaTrie.emptyRoot, nodes: TrieNodeStore(store: MemoryStore()), flatReads: false)
        let alice = Address(lowByte: 0xA1)
        state.setBalance(1_000, of: alice)
        let probe = DispatchProbe()
        let executor = TransactionExecutor(handlers: NativeHandlerRegistry([probe]), encodeRevert: ABI.encodeRevert)
        let env = BlockEnvironment(number: 1, timestamp: 1, coinbase: .zero, baseFee: 0, gasLimit: 30_000_000, chainId: 1)
        func call(_ data: [UInt8], value: UInt256 = 0) -> String? {
            executor.call(from: alice, to: probe.address, value: value, data: data, gasLimit: 1_000_000, state: state, block: env).revertReason
        }
        XCTAssertEqual(call(ABI.selector("peek()")), "write protection: state change in a static call")
        XCTAssertEqual(call(ABI.selector("put(uint256)") + UInt256(5).bigEndianBytes32, value: 1), "put is not payable")
        XCTAssertNil(call(ABI.selector("put(uint256)") + UInt256(5).bigEndianBytes32))
        XCTAssertNil(call(ABI.selector("deposit()"), value: 1))
        XCTAssertEqual(call([1, 2]), "calldata shorter than a 4-byte selector")
        XCTAssertEqual(call([0xde, 0xad, 0xbe, 0x0f]), "unknown function selector 0xdeadbe0f")
    }
}
