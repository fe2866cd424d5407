import XCTest
import Primitives
@testable import Chain

/// A journaled dictionary state: enough to test the executor's rules by themselves.
/// The real `StateDB` runs the same suite in StateExecutionTests.
final class JournaledTestState: ExecutionState {
    private(set) var nonces: [Address: UInt64] = [:]
    private(set) var balances: [Address: UInt256] = [:]
    private var slots: [Address: [Hash32: Hash32]] = [:]
    private var blobs: [Address: [Hash32: [UInt8]]] = [:]
    private var journal: [() -> Void] = []

    func nonce(of a: Address) -> UInt64 { nonces[a] ?? 0 }
    func setNonce(_ n: UInt64, of a: Address) { let old = nonces[a]; journal.append { self.nonces[a] = old }; nonces[a] = n }
    func balance(of a: Address) -> UInt256 { balances[a] ?? .zero }
    func setBalance(_ b: UInt256, of a: Address) { let old = balances[a]; journal.append { self.balances[a] = old }; balances[a] = b }
    func storage(of a: Address, slot: Hash32) -> Hash32 { slots[a]?[slot] ?? .zero }
    func setStorage(_ v: Hash32, of a: Address, slot: Hash32) {
        let old = slots[a]?[slot]
        journal.append { self.slots[a, default: [:]][slot] = old }
        slots[a, default: [:]][slot] = v
    }
    func blob(of a: Address, key: Hash32) -> [UInt8]? { blobs[a]?[key] }
    func setBlob(_ bytes: [UInt8]?, of a: Address, key: Hash32) {
        let old = blobs[a]?[key]
        journal.append { self.blobs[a, default: [:]][key] = old }
        blobs[a, default: [:]][key] = bytes
    }
    func snapshot() -> Int { journal.count }
    func revert(to id: Int) { while journal.count > id { journal.removeLast()() } }
    var totalBalances: UInt256 { balances.values.reduce(.zero, +) }
}

struct TestTx: ExecutableTransaction {
    var hash: Hash32 { Keccak256.hash(sender.bytes + UInt256(nonce).bigEndianBytes32) }
    var sender: Address
    var nonce: UInt64
    var gasLimit: UInt64 = 21_000
    var maxFeePerGas: UInt256 = 100
    var maxPriorityFeePerGas: UInt256 = 3
    var value: UInt256 = 0
    var encodedSize: Int { 100 }
    var to: Address? = Address(lowByte: 0x99)
    var chainId: UInt64? = nil
    var data: [UInt8] = []
    var intrinsicGas: UInt64 { GasSchedule.intrinsicGas(data: data) }
}

/// Stores the first calldata byte in slot 0, emits it, and reverts on 0xFF.
final class CounterHandler: NativeHandler {
    let address = Address(lowByte: 0x01)
    let name = "Counter"
    func call(_ context: NativeCallContext) throws -> [UInt8] {
        guard let first = context.input.first else { throw NativeRevert("empty input") }
        try context.store(Hash32.slot(UInt64(first)), at: .slot(0))
        try context.emit(topics: [.slot(7)], data: [first])
        if first == 0xFF { throw NativeRevert("no 0xFF") }
        return [first]
    }
}

final class ExecutorTests: XCTestCase {
    let alice = Address(lowByte: 0xA1), proposer = Address(lowByte: 0xEE)
    let env = BlockEnvironment(number: 1, timestamp: 1, coinbase: Address(lowByte: 0xEE), baseFee: 10, gasLimit: 1_000_000, chainId: 1)
    let executor = TransactionExecutor(handlers: NativeHandlerRegistry([CounterHandler()]), encodeRevert: { Array($0.utf8) })

    func testTransferChargesExactFeesAndBurnsBaseFee() throws {
        let state = JournaledTestState()
        state.setBalance(1_000_000_000, of: alice)
        SupplyLedger(state).setGenesisSupply(1_000_000_000)
        var gas = env.gasLimit
        let r = try executor.apply(TestTx(sender: alice, nonce: 0, value: 5), index: 0, state: state, block: env, gasLeft: &gas)
        XCTAssertTrue(r.success)
        XCTAssertEqual(r.gasUsed, 21_000)
        XCTAssertEqual(r.effectiveGasPrice, 13)
        XCTAssertEqual(state.balance(of: alice), 1_000_000_000 - 5 - 21_000 * 13)
        XCTAssertEqual(state.balance(of: Address(lowByte: 0x99)), 5)
        XCTAssertEqual(state.balance(of: proposer), 21_000 * 3)
        XCTAssertEqual(SupplyLedger(state).burned, 21_000 * 10)
        executor.finalize(block: env, reward: 7, state: state)
        XCTAssertEqual(state.totalBalances, SupplyLedger(state).totalSupply)
        XCTAssertEqual(gas, env.gasLimit - 21_000)
    }

    func testRevertUndoesHandlerWritesAndValueButChargesGas() throws {
        let state = JournaledTestState()
        state.setBalance(100_000_000, of: alice)
        var gas = env.gasLimit
        var tx = TestTx(sender: alice, nonce: 0, gasLimit: 100_000, value: 9, to: Address(lowByte: 0x01), data: [0x05])
        let ok = try executor.apply(tx, index: 0, state: state, block: env, gasLeft: &gas)
        XCTAssertTrue(ok.success)
        XCTAssertEqual(ok.logs.count, 1)
        XCTAssertEqual(ok.returnData, [0x05])
        XCTAssertEqual(state.storage(of: Address(lowByte: 0x01), slot: .slot(0)), .slot(5))
        tx.nonce = 1
        tx.data = [0xFF]
        let before = state.balance(of: alice)
        let failed = try executor.apply(tx, index: 0, state: state, block: env, gasLeft: &gas)
        XCTAssertFalse(failed.success)
        XCTAssertEqual(failed.revertReason, "no 0xFF")
        XCTAssertEqual(failed.logs, [])
        XCTAssertGreaterThan(failed.gasUsed, 21_000)
        XCTAssertEqual(state.storage(of: Address(lowByte: 0x01), slot: .slot(0)), .slot(5), "the revert undid the write")
        XCTAssertEqual(state.balance(of: alice), before - UInt256(failed.gasUsed) * 13, "value returned, gas kept")
        XCTAssertEqual(state.nonce(of: alice), 2)
        tx.nonce = 2
        tx.gasLimit = 21_100
        tx.data = [0x06]
        XCTAssertEqual(try executor.apply(tx, index: 0, state: state, block: env, gasLeft: &gas).revertReason, "out of gas")
    }

    func testInvalidTransactionsLeaveStateUntouched() {
        let state = JournaledTestState()
        state.setBalance(1_000_000, of: alice)
        var gas = env.gasLimit
        let cases: [(TestTx, InvalidTransaction)] = [
            (TestTx(sender: alice, nonce: 1), .nonceTooHigh(sender: alice, got: 1, state: 0)),
            (TestTx(sender: alice, nonce: 0, maxFeePerGas: 9, maxPriorityFeePerGas: 1), .feeCapBelowBaseFee(sender: alice, feeCap: 9, baseFee: 10)),
            (TestTx(sender: alice, nonce: 0, gasLimit: 20_000), .intrinsicGasTooLow(have: 20_000, want: 21_000)),
            (TestTx(sender: alice, nonce: 0, to: nil), .contractCreation),
            (TestTx(sender: alice, nonce: 0, gasLimit: 2_000_000), .blockGasExhausted(left: 1_000_000, wanted: 2_000_000)),
            (TestTx(sender: alice, nonce: 0, maxFeePerGas: 100, maxPriorityFeePerGas: 101), .tipAboveFeeCap(sender: alice, tip: 101, feeCap: 100)),
            (TestTx(sender: alice, nonce: 0, value: 1_000_000), .insufficientFunds(sender: alice, have: 1_000_000, want: 1_000_000 + 2_100_000)),
            (TestTx(sender: alice, nonce: .max), .nonceMax(sender: alice, nonce: .max)),
            (TestTx(sender: alice, nonce: 0, chainId: env.chainId + 1), .wrongChainId(got: env.chainId + 1, want: env.chainId)),
        ]
        for (tx, expected) in cases {
            XCTAssertThrowsError(try executor.apply(tx, index: 0, state: state, block: env, gasLeft: &gas)) { error in
                XCTAssertEqual(error as? InvalidTransaction, expected)
            }
        }
        XCTAssertEqual(state.balance(of: alice), 1_000_000)
        XCTAssertEqual(state.nonce(of: alice), 0)
        XCTAssertEqual(gas, env.gasLimit)
    }

    func testCallKeepsNothing() {
        let state = JournaledTestState()
        let r = executor.call(from: alice, to: Address(lowByte: 0x01), value: 0, data: [0x03], gasLimit: 100_000, state: state, block: env)
        XCTAssertNil(r.revertReason)
        XCTAssertEqual(r.returnData, [0x03])
        XCTAssertEqual(state.storage(of: Address(lowByte: 0x01), slot: .slot(0)), .zero)
        let reverted = executor.call(from: alice, to: Address(lowByte: 0x01), value: 0, data: [], gasLimit: 100_000, state: state, block: env)
        XCTAssertEqual(reverted.revertReason, "empty input")
        XCTAssertEqual(executor.call(from: alice, to: alice, value: 1, data: [], gasLimit: 100_000, state: state, block: env).revertReason,
                       "insufficient funds for transfer")
    }
}
