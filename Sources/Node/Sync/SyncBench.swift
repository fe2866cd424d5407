import Chain
import Consensus
import Crypto
import Foundation
import Network
import Primitives
import Storage

/// `opgd bench-sync`: block sync over real loopback P2P connections (Noise, frames, the blocks
/// channel, certificate checks, execution, commit) against its named peer, importing the same
/// blocks already read into memory as from a file (headers and raw transactions: senders
/// recovered, executed, checked, committed), alternating in the same process for each round. Both write to a fresh LevelDB chain without per-block fsync. Prints a Markdown table of
/// median blocks per second and the median per-round ratio with its range (issue 11 §6: goal ≥ 0.8).
public enum SyncBench {
    /// Builds a chain of `blocks` blocks of `transfers` transfers each, certified by 3 of 4
    /// validators, then measures `rounds` rounds of import and sync.
    public static func run(blocks: Int, transfers: Int, rounds: Int) throws {
        let directory = NSTemporaryDirectory() + "opg-sync-bench-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = try SourceChain(directory: directory + "/source", blocks: blocks, transfers: transfers)
        let exported = try source.exportAll()
        var imports: [(wall: Double, cpu: Double)] = [], syncs: [(wall: Double, cpu: Double)] = []
        func rates(_ time: (wall: Double, cpu: Double)) -> (wall: Double, cpu: Double) { (Double(blocks) / time.wall, Double(blocks) / time.cpu) }
        for round in 0..<rounds {
            let importing = {
                let target = try SourceChain.open(directory + "/import-\(round)", spec: source.spec)
                imports.append(rates(try Bench.measure { try SourceChain.importAll(exported, into: target) }))
            }
            let syncing = { syncs.append(rates(try source.syncAll(into: directory + "/sync-\(round)"))) }
            if round % 2 == 0 { try importing(); try syncing() } else { try syncing(); try importing() }
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        func ratio(_ path: KeyPath<(wall: Double, cpu: Double), Double>) -> String {
            let ratios = zip(syncs, imports).map { $0[keyPath: path] / $1[keyPath: path] }.sorted()
            return String(format: "%.2f [%.2f–%.2f]", median(ratios), ratios.first ?? 0, ratios.last ?? 0)
        }
        print("\(blocks) blocks of \(transfers) transfers, median of \(rounds) round\(rounds == 1 ? "" : "s") (ratio range in brackets)")
        print("")
        print("| measurement | blocks per second | peer | peer blocks per second | ratio |")
        print("|---|---:|---|---:|---:|")
        print("| block sync from one peer over loopback P2P (certificates checked, executed, committed) | "
              + String(format: "%.1f", median(syncs.map(\.wall))) + " | import of the same blocks, read into memory beforehand | "
              + String(format: "%.1f", median(imports.map(\.wall))) + " | \(ratio(\.wall)) |")
        print("| the same, per CPU-second of the process (for sync: the serving node's work too) | "
              + String(format: "%.1f", median(syncs.map(\.cpu))) + " | the same import, per CPU-second | "
              + String(format: "%.1f", median(imports.map(\.cpu))) + " | \(ratio(\.cpu)) |")
    }

    /// The chain both measurements read: four validators with real consensus keys.
    private final class SourceChain {
        static let consensusKeys = (0..<4).map { try! PrivateKey(Keccak256.digest(Array("opg sync bench consensus \($0)".utf8))) }
        static let accountKeys = (0..<4).map { try! PrivateKey(Keccak256.digest(Array("opg sync bench account \($0)".utf8))) }
        let spec: GenesisSpec
        let chain: ChainService
        let domain: SignDomain

        init(directory: String, blocks: Int, transfers: Int) throws {
            let senders = (0..<transfers).map { try! PrivateKey(Keccak256.digest(Array("opg sync bench sender \($0)".utf8))) }
            let validators = try Chain.ValidatorSet((0..<4).map {
                Chain.Validator(address: Self.accountKeys[$0].address, consensusSigner: Self.consensusKeys[$0], power: 10)
            })
            spec = GenesisSpec(config: ChainConfig(chainId: 31_337, blockReward: UInt256(1_000), validators: validators), timestamp: 0,
                               gasLimit: UInt64(transfers) * 21_000 + 1_000_000, initialBaseFee: UInt256(1_000_000_000), extraData: [],
                               alloc: senders.map { ($0.address, UInt256(1) << 100) })
            chain = try Self.open(directory, spec: spec)
            domain = SignDomain(chainID: spec.config.chainId, genesisHash: chain.head.hash)
            let recipient = Address(lowByte: 0x77)
            for number in 1...UInt64(blocks) {
                for sender in senders {
                    let tx = Transaction(type: .dynamicFee, chainId: spec.config.chainId, nonce: number - 1, maxPriorityFeePerGas: UInt256(1),
                                         maxFeePerGas: UInt256(20_000_000_000), gasLimit: 21_000, to: recipient, value: UInt256(1), data: [], accessList: [])
                    try chain.submit(try tx.signed(with: sender))
                }
                try chain.produceBlock(timestamp: number, coinbase: Self.accountKeys[Int(number % 4)].address, sync: false) { [domain] block in
                    let precommits = Self.consensusKeys.prefix(3).map { key -> SignedVote in
                        let vote = Vote(type: .precommit, height: block.number, round: 0, blockHash: block.hash, validator: key.address)
                        return SignedVote(vote: vote, signature: key.sign(Keccak256.hash(vote.signBytes(domain))))
                    }
                    return try CommitCertificate(height: block.number, round: 0, blockHash: block.hash, precommits: precommits).encoded
                }
            }
        }

        static func open(_ directory: String, spec: GenesisSpec) throws -> ChainService {
            let database = try ChainDatabase(store: try LevelDBStore(path: directory))
            _ = try ChainSetup.initialise(database, spec: spec, genesisBytes: [])
            return ChainSetup.service(spec: spec, database: database, poolLimits: MempoolLimits(maxPerAccount: 1_000, pendingSlots: 1_000_000))
        }

        /// Every block as it would be read from a file: header, raw transactions, certificate.
        func exportAll() throws -> [(header: Header, transactions: [[UInt8]], certificate: [UInt8])] {
            let database = chain.database
            return try (1...chain.head.number).map { number in
                guard let header = try database.header(number: number), let transactions = try database.transactions(number: number),
                      let certificate = try database.certificate(number: number) else { throw CommandError("block \(number) is missing") }
                return (header, transactions.map(\.raw), certificate)
            }
        }

        /// The peer: the exported blocks imported in order (senders recovered, executed, checked, committed).
        static func importAll(_ blocks: [(header: Header, transactions: [[UInt8]], certificate: [UInt8])], into target: ChainService) throws {
            for block in blocks {
                try target.importBlock(header: block.header, rawTransactions: block.transactions, certificate: block.certificate, sync: false)
            }
        }

        /// Block sync from a node serving the source chain to a fresh node, over loopback; returns the wall
        /// and process CPU seconds from the dial until the fresh node's head is the source's.
        func syncAll(into directory: String) throws -> (wall: Double, cpu: Double) {
            let target = try Self.open(directory, spec: spec)
            let serving = try LoopbackNode(chain: chain, domain: domain, key: Self.accountKeys[0], listen: true)
            let syncing = try LoopbackNode(chain: target, domain: domain, key: Self.accountKeys[1], listen: false)
            defer {
                syncing.stop()
                serving.stop()
            }
            let height = chain.head.number
            return try Bench.measure {
                _ = try syncing.manager.dial(host: "127.0.0.1", port: serving.manager.listeningPort ?? 0)
                while target.head.number < height { usleep(1_000) }
            }
        }
    }

    /// One node: a connection manager whose events go to a block-sync handler.
    private final class LoopbackNode {
        let manager: ConnectionManager
        let sync: BlockSync

        init(chain: ChainService, domain: SignDomain, key: PrivateKey, listen: Bool) throws {
            final class Route { var handler: PeerChannelHandler? }
            let route = Route()
            manager = try ConnectionManager(config: NetworkConfig(nodeKey: key, networkName: "sync-bench", listenAddress: listen ? "127.0.0.1:0" : nil)) { event in
                guard let handler = route.handler else { return }
                switch event {
                case .connected(let peer): handler.peerConnected(peer)
                case .message(let peer, let envelope): try? handler.receive(envelope, from: peer)
                case .disconnected(let peer, _): handler.peerDisconnected(peer)
                }
            }
            sync = BlockSync(chain: chain, domain: domain, transport: manager, settings: BlockSync.Settings(tickMilliseconds: 20),
                             log: { line in if !line.contains("caught up") { FileHandle.standardError.write(Data("\(line)\n".utf8)) } },
                             onCaughtUp: { _ in })
            route.handler = sync
            try manager.start()
            sync.start()
        }

        func stop() {
            sync.stop()
            manager.stop()
        }
    }
}
