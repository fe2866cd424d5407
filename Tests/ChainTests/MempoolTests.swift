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
    var chainId: UInt64? = 1
    var to: Address? = Address(lowByte: 0x99)
    var intrinsicGas: UInt64 = 21_000
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
    var context: AdmissionContext { AdmissionContext(state: state, chainId: 1, baseFee: 5, blockGasLimit: 30_000_000) }

    private func rule(_ body: () throws -> Void) -> MempoolError.Rule? {
        do { try body(); return nil } catch let e as MempoolError { return e.rule } catch { return nil }
    }

    private func invalid(_ body: () throws -> Void) -> InvalidTransaction? {
        do { try body(); return nil } catch let e as InvalidTransaction { return e } catch { return nil }
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
        XCTAssertEqual(invalid { _ = try pool.add(FakeTx(sender: alice, nonce: 2), context: context) }, .nonceTooLow(sender: alice, got: 2, state: 3))
        let tx = FakeTx(sender: alice, nonce: 3)
        _ = try pool.add(tx, context: context)
        XCTAssertEqual(rule { _ = try pool.add(tx, context: context) }, .alreadyKnown)
        XCTAssertEqual(rule { _ = try pool.add(FakeTx(sender: alice, nonce: 3, maxFeePerGas: 10, maxPriorityFeePerGas: 2, salt: 1), context: context) }, .replacementUnderpriced)
        XCTAssertEqual(rule { _ = try pool.add(FakeTx(sender: alice, nonce: 3, maxFeePerGas: 20, maxPriorityFeePerGas: 2), context: context) }, .replacementUnderpriced, "tip must rise too")
        XCTAssertEqual(try pool.add(FakeTx(sender: alice, nonce: 3, maxFeePerGas: 11, maxPriorityFeePerGas: 3), context: context), .replaced(tx.hash))
        XCTAssertNil(pool.transaction(tx.hash))
        XCTAssertEqual(invalid { _ = try pool.add(FakeTx(sender: bob, nonce: 0, value: 2_000_000_000), context: context) },
                       .insufficientFunds(sender: bob, have: 1_000_000_000, want: 2_000_000_000 + 210_000))
        XCTAssertEqual(invalid { _ = try pool.add(FakeTx(sender: bob, nonce: 0, gasLimit: 30_000_001), context: context) },
                       .exceedsBlockGasLimit(gas: 30_000_001, limit: 30_000_000))
        XCTAssertEqual(invalid { _ = try pool.add(FakeTx(sender: bob, nonce: 0, maxFeePerGas: 4, maxPriorityFeePerGas: 1), context: context) },
                       .feeCapBelowBaseFee(sender: bob, feeCap: 4, baseFee: 5))
        XCTAssertEqual(invalid { _ = try pool.add(FakeTx(sender: bob, nonce: 0, maxFeePerGas: 6, maxPriorityFeePerGas: 7), context: context) },
                       .tipAboveFeeCap(sender: bob, tip: 7, feeCap: 6))
        XCTAssertEqual(invalid { _ = try pool.add(FakeTx(sender: bob, nonce: .max), context: context) }, .nonceMax(sender: bob, nonce: .max),
                       "EIP-2681 at admission")
        XCTAssertEqual(invalid { _ = try pool.add(FakeTx(sender: bob, nonce: 0, gasLimit: 20_000), context: context) },
                       .intrinsicGasTooLow(have: 20_000, want: 21_000))
        XCTAssertEqual(invalid { _ = try pool.add(FakeTx(sender: bob, nonce: 0, chainId: 2), context: context) }, .wrongChainId(got: 2, want: 1))
        XCTAssertEqual(invalid { _ = try pool.add(FakeTx(sender: bob, nonce: 0, chainId: nil), context: context) }, .unprotected)
        XCTAssertEqual(invalid { _ = try pool.add(FakeTx(sender: bob, nonce: 0, to: nil), context: context) }, .contractCreation)
        XCTAssertEqual(pool.count, 1, "nothing refused was pooled")
        // geth's wording, then the values compared.
        XCTAssertEqual(InvalidTransaction.nonceTooLow(sender: alice, got: 2, state: 3).description,
                       "nonce too low: address \(alice), tx: 2 state: 3")
        XCTAssertEqual(InvalidTransaction.feeCapBelowBaseFee(sender: bob, feeCap: 4, baseFee: 5).description,
                       "max fee per gas less than block base fee: address \(bob), maxFeePerGas: 4, baseFee: 5")
        XCTAssertEqual(InvalidTransaction.intrinsicGasTooLow(have: 20_000, want: 21_000).description, "intrinsic gas too low: have 20000, want 21000")
        XCTAssertTrue(InvalidTransaction.nonceMax(sender: bob, nonce: .max).description.hasPrefix("nonce has max value"))
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
        let pool = Mempool<FakeTx>(limits: MempoolLimits(maxPerAccount: 2, pendingSlots: 3, queuedSlots: 0))
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

    func testSizeCapAndSlotAccounting() throws {
        let pool = Mempool<FakeTx>()
        let oversized = FakeTx(sender: alice, nonce: 0, encodedSize: MempoolLimits.maxTransactionBytes + 1)
        XCTAssertEqual(rule { _ = try pool.add(oversized, context: context) }, .oversizedData)
        XCTAssertEqual(try pool.add(FakeTx(sender: alice, nonce: 0, encodedSize: MempoolLimits.maxTransactionBytes), context: context), .pending)
        XCTAssertEqual(try pool.add(FakeTx(sender: alice, nonce: 2, encodedSize: MempoolLimits.slotBytes + 1), context: context), .queued)
        XCTAssertTrue(pool.slotUsage == (pending: 4, queued: 2), "128 KiB is 4 slots, 32 KiB + 1 is 2")
        XCTAssertEqual(try pool.add(FakeTx(sender: alice, nonce: 1), context: context), .pending)
        XCTAssertTrue(pool.slotUsage == (pending: 7, queued: 0), "closing the gap promotes the queued transaction")
        XCTAssertEqual(MempoolError(.oversizedData, "x").message, "oversized data: x")
    }

    func testByteSpamStaysWithinTheSlotBudget() throws {
        let limits = MempoolLimits(pendingSlots: 64, queuedSlots: 16)
        let pool = Mempool<FakeTx>(limits: limits)
        for sender in 0..<40 {
            for nonce in 1...8 {
                _ = try? pool.add(FakeTx(sender: Address(lowByte: UInt8(sender)), nonce: UInt64(nonce), encodedSize: MempoolLimits.maxTransactionBytes), context: context)
            }
            _ = try? pool.add(FakeTx(sender: Address(lowByte: UInt8(sender)), nonce: 0, encodedSize: MempoolLimits.maxTransactionBytes), context: context)
        }
        let usage = pool.slotUsage
        XCTAssertLessThanOrEqual(usage.queued, limits.queuedSlots)
        XCTAssertLessThanOrEqual(usage.pending + usage.queued, limits.pendingSlots + limits.queuedSlots)
        XCTAssertLessThanOrEqual(pool.all().reduce(0) { $0 + $1.encodedSize }, (limits.pendingSlots + limits.queuedSlots) * MempoolLimits.slotBytes)
    }

    func testCumulativeCostPerSender() throws {
        let pool = Mempool<FakeTx>()
        state.balances[alice] = UInt256(2 * 21_000 * 10 + 5)
        _ = try pool.add(FakeTx(sender: alice, nonce: 0), context: context)
        _ = try pool.add(FakeTx(sender: alice, nonce: 1, value: 5), context: context)
        let third = FakeTx(sender: alice, nonce: 2)
        XCTAssertThrowsError(try pool.add(third, context: context)) { error in
            XCTAssertEqual((error as? MempoolError)?.message,
                           "insufficient funds for gas * price + value: balance 420005, queued cost 420005, tx cost 210000, overshot 210000")
        }
        // A replacement is charged its cost less the one it replaces.
        XCTAssertEqual(rule { _ = try pool.add(FakeTx(sender: alice, nonce: 1, maxFeePerGas: 11, maxPriorityFeePerGas: 3), context: context) }, .insufficientFunds)
        XCTAssertEqual(rule { _ = try pool.add(FakeTx(sender: alice, nonce: 1, maxFeePerGas: 11, maxPriorityFeePerGas: 3, gasLimit: 19_000), context: context) }, nil)
        // A later balance drop drops every transaction from the first one it cannot cover.
        state.balances[alice] = UInt256(21_000 * 10 + 1)
        XCTAssertEqual(pool.prune(state: state).count, 1)
        XCTAssertEqual(pool.all().map(\.nonce), [0])
    }

    func testQueuedSpamCannotLockOutAnHonestTransaction() throws {
        let pool = Mempool<FakeTx>(limits: MempoolLimits(pendingSlots: 4, queuedSlots: 2))
        let spammers = (0..<6).map { Address(lowByte: UInt8(0x10 + $0)) }
        var queued: [FakeTx] = []
        for s in spammers {
            for nonce in 5..<8 {
                let tx = FakeTx(sender: s, nonce: UInt64(nonce))
                if (try? pool.add(tx, context: context)) != nil { queued.append(tx) }
            }
        }
        XCTAssertEqual(queued.count, 2, "queued transactions get queuedSlots, no more")
        XCTAssertEqual(rule { _ = try pool.add(FakeTx(sender: alice, nonce: 9), context: context) }, .poolFull, "no cheaper queued victim")
        let pricier = FakeTx(sender: alice, nonce: 9, maxFeePerGas: 11)
        XCTAssertEqual(try pool.add(pricier, context: context), .queued)
        XCTAssertNil(pool.transaction(queued[1].hash), "at equal price the later arrival is evicted first")
        for nonce in 0..<4 { XCTAssertEqual(try pool.add(FakeTx(sender: bob, nonce: UInt64(nonce)), context: context), .pending) }
        // The pool is full (4 pending + 2 queued): an honest pending transaction evicts queued ones first, whatever their price.
        let carol = Address(lowByte: 0xC0)
        XCTAssertEqual(try pool.add(FakeTx(sender: carol, nonce: 0, maxFeePerGas: 20), context: context), .pending)
        XCTAssertEqual(try pool.add(FakeTx(sender: carol, nonce: 1, maxFeePerGas: 20), context: context), .pending)
        XCTAssertNil(pool.transaction(pricier.hash))
        XCTAssertNil(pool.transaction(queued[0].hash))
        // Then the cheapest pending tail of another sender, never opening a gap.
        XCTAssertEqual(try pool.add(FakeTx(sender: carol, nonce: 2, maxFeePerGas: 20), context: context), .pending)
        XCTAssertEqual(pool.pendingNonce(of: bob, accountNonce: 0), 3)
        XCTAssertEqual(rule { _ = try pool.add(FakeTx(sender: Address(lowByte: 0xD0), nonce: 0, maxFeePerGas: 10), context: context) }, .poolFull,
                       "not cheaper than the cheapest pending tail")
        XCTAssertTrue(pool.slotUsage == (pending: 6, queued: 0))
    }

    func testEvictionIsTheSameWhateverTheInsertionHistoryOfOtherPools() throws {
        func survivors() throws -> [Hash32] {
            let pool = Mempool<FakeTx>(limits: MempoolLimits(pendingSlots: 8, queuedSlots: 0))
            for i in 0..<32 {
                _ = try? pool.add(FakeTx(sender: Address(lowByte: UInt8(i)), nonce: 0, maxFeePerGas: UInt256(10 + UInt64(i % 5))), context: context)
            }
            return pool.all().map(\.hash)
        }
        XCTAssertEqual(try survivors(), try survivors())
        XCTAssertEqual(try survivors().count, 8)
    }

    func testQueuedLifetimeWithAnInjectedClock() throws {
        var now: UInt64 = 1_000
        let pool = Mempool<FakeTx>(limits: MempoolLimits(queuedLifetimeSeconds: 10), clock: { now })
        let pending = FakeTx(sender: alice, nonce: 0)
        let queued = FakeTx(sender: bob, nonce: 3)
        _ = try pool.add(pending, context: context)
        _ = try pool.add(queued, context: context)
        now += 9
        XCTAssertEqual(pool.prune(state: state), [])
        now += 1
        XCTAssertEqual(pool.prune(state: state), [queued.hash])
        now += 100
        XCTAssertEqual(pool.prune(state: state), [], "pending transactions do not expire")
        XCTAssertNotNil(pool.transaction(pending.hash))
        XCTAssertTrue(pool.slotUsage == (pending: 1, queued: 0))
    }
}
