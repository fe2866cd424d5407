import Chain
import Crypto
import Foundation
import Primitives
import Storage

/// `opgd bench`: sender recovery and block import, reported as ratios against the C
/// recover rate measured in the same run (tools/bench/run.sh), as a Markdown table.
public enum Bench {
    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    public static func run(cRecoverRate: Double?, transactions count: Int) throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        // Senders: enough that per-account pool limits never bind.
        let senders = (0..<max(1, count / 50)).map { i in try! PrivateKey(Keccak256.digest(Array("opg bench sender \(i)".utf8))) }
        let recipient = Address(lowByte: 0x77).bytes
        let spec = GenesisSpec(config: ChainConfig(chainId: 5197895, blockReward: UInt256(2_000_000_000_000_000_000), validators: [DevNet.validatorKey.address]),
                               timestamp: 0, gasLimit: UInt64(count) * 21_000 + 1_000_000, initialBaseFee: UInt256(1_000_000_000), extraData: [],
                               alloc: senders.map { ($0.address, UInt256(1) << 100) })
        var nonces = [UInt64](repeating: 0, count: senders.count)
        var raws: [[UInt8]] = []
        raws.reserveCapacity(count)
        for i in 0..<count {
            let s = i % senders.count
            let tx = Transaction(type: .dynamicFee, chainId: 5197895, nonce: nonces[s], maxPriorityFeePerGas: UInt256(1_000_000_000),
                                 maxFeePerGas: UInt256(10_000_000_000), gasLimit: 21_000, to: try Address(recipient), value: UInt256(UInt64(i + 1)),
                                 data: [], accessList: [])
            nonces[s] += 1
            raws.append(try tx.signed(with: senders[s]).raw)
        }

        // 1. Sender recovery, one thread.
        var recovered = 0
        let single = try seconds { for raw in raws { _ = try SignedTransaction(raw: raw); recovered += 1 } }
        let singleRate = Double(recovered) / single
        // 2. Sender recovery, all cores.
        let parallel = seconds { _ = BlockBuilder.recoverSenders(raws) }
        let parallelRate = Double(count) / parallel

        // 3. Import: build the block once on a LevelDB chain, then import it into a fresh one.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("opg-bench-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let genesisBytes = Array("{}".utf8)
        let producerDB = try ChainDatabase(store: MemoryStore())
        _ = try ChainSetup.initialise(producerDB, spec: spec, genesisBytes: genesisBytes)
        let producer = ChainSetup.service(spec: spec, database: producerDB, poolLimits: MempoolLimits(maxPerAccount: 1000, maxTotal: count + 1))
        let txs = BlockBuilder.recoverSenders(raws).compactMap { try? $0.get() }
        let executed = try producer.builder.propose(parent: producerDB.head!, candidates: txs, timestamp: 1, coinbase: DevNet.validatorKey.address)
        guard executed.block.transactions.count == count else {
            throw CommandError("bench block holds \(executed.block.transactions.count) of \(count) transactions")
        }
        let importDB = try ChainDatabase(store: try LevelDBStore(path: dir))
        _ = try ChainSetup.initialise(importDB, spec: spec, genesisBytes: genesisBytes)
        let importer = ChainSetup.service(spec: spec, database: importDB)
        let header = executed.block.header
        let importTime = try seconds { try importer.importBlock(header: header, rawTransactions: raws, sync: true) }
        let importRate = Double(count) / importTime

        func fmt(_ v: Double) -> String { String(format: "%.0f", v) }
        func ratio(_ a: Double, _ b: Double?) -> String { b.map { String(format: "%.2f", a / $0) } ?? "n/a" }
        let bound = cRecoverRate.map { $0 * Double(cores) }
        print("| measurement | opg per second | peer | peer per second | ratio |")
        print("|---|---:|---|---:|---:|")
        print("| sender recovery, 1 thread (decode + keccak + recover) | \(fmt(singleRate)) | libsecp256k1 recover, C loop, 1 thread | \(cRecoverRate.map(fmt) ?? "n/a") | \(ratio(singleRate, cRecoverRate)) |")
        print("| sender recovery, \(cores) threads | \(fmt(parallelRate)) | \(cores) × C loop | \(bound.map(fmt) ?? "n/a") | \(ratio(parallelRate, bound)) |")
        print("| import of a \(count)-transfer block (decode, recover, execute, commit, fsync; pipelined) | \(fmt(importRate)) | \(cores)-core ecrecover bound | \(bound.map(fmt) ?? "n/a") | \(ratio(importRate, bound)) |")
    }
}
