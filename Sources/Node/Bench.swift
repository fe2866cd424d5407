import CBenchPeer
import Chain
import Crypto
import Foundation
import Primitives
import Storage

/// `opgd bench`: sender recovery and block import against their named peer,
/// libsecp256k1's own recover in a tight C loop (Sources/CBenchPeer), measured in the
/// same process. The machine is shared and noisy, so every round measures the peer and
/// opg back to back and the table reports the median of the per-round ratios with
/// their range; absolute rates are medians too.
public enum Bench {
    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        try measure(body).wall
    }

    /// Wall-clock seconds of `body` and the CPU seconds (user + system, every thread) the
    /// process spent meanwhile: on a shared machine a phase with more runnable threads gets
    /// more of the cores, which the wall clock shows and CPU time does not.
    static func measure(_ body: () throws -> Void) rethrows -> (wall: Double, cpu: Double) {
        func cpu() -> Double {
            var time = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
            return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
        }
        let start = DispatchTime.now().uptimeNanoseconds, cpuStart = cpu()
        try body()
        return (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, cpu() - cpuStart)
    }

    /// One round's rates, per second. The import is bracketed by the peer: its bound is
    /// the mean of the peer's rates just before and just after it.
    struct Round {
        var peerOne = 0.0, peerAll = 0.0, recoverOne = 0.0, recoverAll = 0.0, importRate = 0.0
        var peerOneAfter = 0.0, peerAllAfter = 0.0
        var importBound: Double { (peerAll + peerAllAfter) / 2 }
        /// What the 1-thread C rate predicts for `cores` threads with perfect scaling.
        var scalingBound: Double { Double(cores) * (peerOne + peerOneAfter) / 2 }
        let cores: Int
    }

    public static func run(transactions count: Int, rounds: Int) throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let chainId: UInt64 = 5197895
        // Senders: enough that per-account pool limits never bind.
        let senders = (0..<max(1, count / 50)).map { i in try! PrivateKey(Keccak256.digest(Array("opg bench sender \(i)".utf8))) }
        let recipient = Address(lowByte: 0x77).bytes
        let spec = GenesisSpec(config: ChainConfig(chainId: chainId, blockReward: UInt256(2_000_000_000_000_000_000), validators: try ValidatorSet([DevNet.validator])),
                               timestamp: 0, gasLimit: UInt64(count) * 21_000 + 1_000_000, initialBaseFee: UInt256(1_000_000_000), extraData: [],
                               alloc: senders.map { ($0.address, UInt256(1) << 100) })
        var nonces = [UInt64](repeating: 0, count: senders.count)
        var raws: [[UInt8]] = []
        raws.reserveCapacity(count)
        for i in 0..<count {
            let s = i % senders.count
            let tx = Transaction(type: .dynamicFee, chainId: chainId, nonce: nonces[s], maxPriorityFeePerGas: UInt256(1_000_000_000),
                                 maxFeePerGas: UInt256(10_000_000_000), gasLimit: 21_000, to: try Address(recipient), value: UInt256(UInt64(i + 1)),
                                 data: [], accessList: [])
            nonces[s] += 1
            raws.append(try tx.signed(with: senders[s]).raw)
        }
        guard let peer = opg_recover_peer_create(Int32(count)) else { throw CommandError("bench: the C peer could not be set up") }
        defer { opg_recover_peer_destroy(peer) }

        // The block: built once by a producer, then imported into a fresh LevelDB chain each round.
        let genesisBytes = Array("{}".utf8)
        let producerDB = try ChainDatabase(store: MemoryStore())
        _ = try ChainSetup.initialise(producerDB, spec: spec, genesisBytes: genesisBytes)
        let producer = ChainSetup.service(spec: spec, database: producerDB, poolLimits: MempoolLimits(maxPerAccount: 1000, pendingSlots: count + 1))
        let txs = BlockBuilder.recoverSenders(raws).compactMap { try? $0.get() }
        let executed = try producer.builder.propose(parent: producerDB.head!, candidates: txs, timestamp: 1, coinbase: DevNet.validatorKey.address)
        guard executed.block.transactions.count == count else {
            throw CommandError("bench block holds \(executed.block.transactions.count) of \(count) transactions")
        }
        let header = executed.block.header

        func peerRate(_ threads: Int) throws -> Double {
            let rate = opg_recover_peer_rate(peer, Int32(threads))
            guard rate > 0 else { throw CommandError("bench: the C peer failed to recover its signatures") }
            return rate
        }
        var results: [Round] = []
        for round in 0..<rounds {
            var r = Round(cores: cores)
            r.peerOne = try peerRate(1)
            let one = try seconds { for raw in raws { _ = try SignedTransaction(raw: raw) } }
            r.recoverOne = Double(count) / one
            r.peerAll = try peerRate(cores)
            r.recoverAll = Double(count) / seconds { _ = BlockBuilder.recoverSenders(raws) }
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("opg-bench-\(getpid())-\(round)").path
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let importDB = try ChainDatabase(store: try LevelDBStore(path: dir))
            _ = try ChainSetup.initialise(importDB, spec: spec, genesisBytes: genesisBytes)
            let importer = ChainSetup.service(spec: spec, database: importDB)
            r.importRate = Double(count) / (try seconds { try importer.importBlock(header: header, rawTransactions: raws, sync: true) })
            r.peerAllAfter = try peerRate(cores)
            r.peerOneAfter = try peerRate(1)
            results.append(r)
        }

        func median(_ values: [Double]) -> Double {
            let s = values.sorted()
            return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        }
        func rate(_ path: KeyPath<Round, Double>) -> String { String(format: "%.0f", median(results.map { $0[keyPath: path] })) }
        func ratio(_ value: (Round) -> Double) -> String {
            let ratios = results.map(value)
            let text = String(format: "%.2f", median(ratios))
            return ratios.count == 1 ? text : text + String(format: " (%.2f–%.2f)", ratios.min()!, ratios.max()!)
        }
        print("\(count) transactions, \(cores) cores, median of \(rounds) round\(rounds == 1 ? "" : "s") (ratio range in brackets)")
        print("")
        print("| measurement | opg per second | peer | peer per second | ratio |")
        print("|---|---:|---|---:|---:|")
        print("| sender recovery, 1 thread (decode + keccak + recover) | \(rate(\.recoverOne)) | libsecp256k1 recover, C loop, 1 thread | \(rate(\.peerOne)) | \(ratio { $0.recoverOne / $0.peerOne }) |")
        print("| sender recovery, \(cores) threads | \(rate(\.recoverAll)) | C loop, \(cores) threads | \(rate(\.peerAll)) | \(ratio { $0.recoverAll / $0.peerAll }) |")
        print("| import of a \(count)-transfer block (decode, recover, execute, roots, commit, fsync) | \(rate(\.importRate)) | \(cores)-core ecrecover bound: C loop, \(cores) threads | \(rate(\.importBound)) | \(ratio { $0.importRate / $0.importBound }) |")
        print("| the same import | \(rate(\.importRate)) | \(cores) × the 1-thread C loop (perfect scaling) | \(rate(\.scalingBound)) | \(ratio { $0.importRate / $0.scalingBound }) |")
    }
}
