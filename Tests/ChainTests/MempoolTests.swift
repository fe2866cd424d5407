import XCTest
import Primitives
@testable import Chain

/// A pooled transaction without a signature: the pool's rules only read these fields.
private struct FakeTx: PoolTransaction {
    var sender: Address
    var nonce: UInt64
    var maxFeePerGas: UInt256 = 10
    var maxPriorityFeePerGas: UInt256 = 2
    var gasLimit: UInt64 = 21_000
    var value: UInt256 = 0
    var encodedSize: Int = 110
    var salt: UInt64 = 0
    var hash: Hash32 {
        Keccak256.hash(sender.bytes + UInt256(nonce).bigEndianBytes32 + maxFeePerGas.bigEndianBytes32
            + maxPriorityFeePerGas.bigEndianBytes32 + UInt256(salt).bigEndianBytes32)
    }
}

private final class FakeState: PoolStateReader {
    var nonces: [Address: UInt64] = [:]
    var balances: [Address: UInt256] = [:]
    func nonce(of a: Address) -> UInt64 { nonces[a] ?? 0 }
    func balance(of a: Address) -> UInt256 { balances[a] ?? UInt256(1_000_000_000) }
}

final class MempoolTests: XCTestCase {
    let alice = Address(lowByte: 0xA1), bob = Address(lowByte: 0xB0)
    fileprivate var state = FakeState()
    var context: AdmissionContext { AdmissionContext(state: state, baseFee: 5, blockGasLimit: 30_000_000) }

    private func rule(_ body: () throws -> Void) -> MempoolError.Rule? {
        do { try body(); return nil } catch let e as MempoolError { return e.rule } catch { return nil }
    }

    func testPendingQueuedAndPendingNonce() throws {
        let pool = Mempool<FakeTx>()
        XCTAssertEqual(try pool.add(FakeTx(sender: alice, nonce: 0), context: context), .pending)
        XCTAssertEqual(try pool.add(FakeTx(sender: alice, nonce: 2), context: context), .queued)
        XCTAssertEqual(pool.pendingNonce(of: alice, accountNonce: 0), 1)
        XCTAssertEqual(try pool.add(FakeTx(sender: alice, nonce: 1), context: context), .pending)
        XCTAssertEqual(pool.pendingNonce(of: alice, accountNonce: 0), 3)
        XCTAssertEqual(pool.select(state: state, baseFee: 5, gasLimit: 30_000_000).map(\.nonce), [0, 1, 2])
    }

    func testAdmissionRulesUseGethMessages() throws {
        let pool = Mempool<FakeTx>()
        state.nonces[alice] = 3
        XCTAssertEqual(rule { _ = try pool.add(FakeTx(sender: alice, nonce: 2), context: context) }, .nonceTooLow)
        let tx = FakeTx(sender: alice, nonce: 3)
        _ = try pool.add(tx, context: context)
        XCTAssertEqual(rule { _ = try pool.add(tx, context: context) }, .alreadyKnown)
        XCTAssertEqual(rule { _ = try pool.add(FakeTx(sender: alice, nonce: 3, maxFeePerGas: 10, maxPriorityFeePerGas: 2, salt: 1), context: context) }, .replacementUnderpriced)
        XCTAssertEqual(rule { _ = try pool.add(FakeTx(sender: alice, nonce: 3, maxFeePerGas: 20, maxPriorityFeePerGas: 2), context: context) }, .replacementUnderpriced, "tip must rise too")
        XCTAssertEqual(try pool.add(FakeTx(sender: alice, nonce: 3, maxFeePerGas: 11, maxPriorityFeePerGas: 3), context: context), .replaced(tx.hash))
        XCTAssertNil(pool.transaction(tx.hash))
        XCTAssertEqual(rule { _ = try pool.add(FakeTx(sender: bob, nonce: 0, value: 2_000_000_000), context: context) }, .insufficientFunds)
        XCTAssertEqual(rule { _ = try pool.add(FakeTx(sender: bob, nonce: 0, gasLimit: 30_000_001), context: context) }, .exceedsBlockGasLimit)
        XCTAssertEqual(rule { _ = try pool.add(FakeTx(sender: bob, nonce: 0, maxFeePerGas: 4, maxPriorityFeePerGas: 1), context: context) }, .feeCapBelowBaseFee)
        XCTAssertEqual(rule { _ = try pool.add(FakeTx(sender: bob, nonce: 0, maxFeePerGas: 6, maxPriorityFeePerGas: 7), context: context) }, .tipAboveFeeCap)
        XCTAssertEqual(MempoolError(.insufficientFunds).message, "insufficient funds for gas * price + value")
    }

    func testSelectionOrdersByTipKeepsNonceOrderAndRespectsGas() throws {
        let pool = Mempool<FakeTx>()
        _ = try pool.add(FakeTx(sender: alice, nonce: 0, maxFeePerGas: 100, maxPriorityFeePerGas: 1), context: context)
        _ = try pool.add(FakeTx(sender: alice, nonce: 1, maxFeePerGas: 100, maxPriorityFeePerGas: 50), context: context)
        _ = try pool.add(FakeTx(sender: bob, nonce: 0, maxFeePerGas: 100, maxPriorityFeePerGas: 10), context: context)
        let order = pool.select(state: state, baseFee: 5, gasLimit: 30_000_000).map { ($0.sender, $0.nonce) }
        XCTAssertEqual(order.map(\.0), [bob, alice, alice])
        XCTAssertEqual(order.map(\.1), [0, 0, 1])
        XCTAssertEqual(pool.select(state: state, baseFee: 5, gasLimit: 42_000).count, 2)
        // Effective tip is capped by feeCap − baseFee: at base fee 95 alice's tip is 1 or 5.
        XCTAssertEqual(pool.select(state: state, baseFee: 95, gasLimit: 30_000_000).first?.sender, bob)
    }

    func testLimitsAndEviction() throws {
        let pool = Mempool<FakeTx>(limits: MempoolLimits(maxPerAccount: 2, maxTotal: 3))
        _ = try pool.add(FakeTx(sender: alice, nonce: 0), context: context)
        _ = try pool.add(FakeTx(sender: alice, nonce: 1), context: context)
        XCTAssertEqual(rule { _ = try pool.add(FakeTx(sender: alice, nonce: 2), context: context) }, .accountLimit)
        _ = try pool.add(FakeTx(sender: bob, nonce: 0, maxFeePerGas: 20), context: context)
        let carol = Address(lowByte: 0xC0)
        XCTAssertEqual(rule { _ = try pool.add(FakeTx(sender: carol, nonce: 0, maxFeePerGas: 9, maxPriorityFeePerGas: 1), context: context) }, .poolFull)
        XCTAssertEqual(try pool.add(FakeTx(sender: carol, nonce: 0, maxFeePerGas: 30), context: context), .pending)
        XCTAssertEqual(pool.count, 3)
        XCTAssertEqual(pool.pendingNonce(of: alice, accountNonce: 0), 1, "alice's tail was the cheapest and was evicted")
    }

    func testPruneDropsMinedAndUnaffordable() throws {
        let pool = Mempool<FakeTx>()
        _ = try pool.add(FakeTx(sender: alice, nonce: 0), context: context)
        _ = try pool.add(FakeTx(sender: alice, nonce: 1), context: context)
        _ = try pool.add(FakeTx(sender: bob, nonce: 0), context: context)
        state.nonces[alice] = 1
        state.balances[bob] = 1
        XCTAssertEqual(pool.prune(state: state).count, 2)
        XCTAssertEqual(pool.all().map(\.nonce), [1])
    }
}
