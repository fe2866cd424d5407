import Chain
import Consensus
import Crypto
import Foundation
import Modules
import Primitives
import Storage
import XCTest
@testable import Node

/// A chain with four validators whose consensus keys are real secp256k1 keys, and blocks
/// produced on it with commit certificates signed by three of them (30 of 40 power).
enum SyncFixture {
    static let chainId: UInt64 = 4_242
    static let accountKeys = (0..<4).map { try! PrivateKey(Keccak256.digest(Array("sync validator account \($0)".utf8))) }
    static let consensusKeys = (0..<4).map { try! PrivateKey(Keccak256.digest(Array("sync validator consensus \($0)".utf8))) }
    static let users = (0..<4).map { try! PrivateKey(Keccak256.digest(Array("sync user \($0)".utf8))) }
    static let validators = try! Chain.ValidatorSet((0..<4).map {
        Chain.Validator(address: accountKeys[$0].address, consensusSigner: consensusKeys[$0], power: 10)
    })
    static let spec = GenesisSpec(config: ChainConfig(chainId: chainId, blockReward: UInt256(1_000), validators: validators),
                                  timestamp: 0, gasLimit: 30_000_000, initialBaseFee: UInt256(1_000_000_000), extraData: [],
                                  alloc: users.map { ($0.address, try! UInt256(decimal: "1000000000000000000000000")) })

    /// A fresh chain at genesis on an in-memory store.
    static func chain() throws -> ChainService {
        let db = try ChainDatabase(store: MemoryStore())
        let (block, batch) = try spec.genesisBlock(nodes: db.nodes)
        try db.commit(block: block, receipts: [], stateBatch: batch, genesis: [])
        return ChainService(config: spec.config, database: db, handlers: StandardModules.registry(), encodeRevert: ABI.encodeRevert,
                            poolLimits: MempoolLimits(maxPerAccount: 1_000, pendingSlots: 100_000))
    }

    /// The domain the certificates of `chain` are signed in.
    static func domain(_ chain: ChainService) throws -> SignDomain {
        SignDomain(chainID: chainId, genesisHash: try XCTUnwrap(chain.database.hash(number: 0)))
    }

    /// The certificate of `block`: precommits of `signers` (indices into `consensusKeys`) in round 0.
    static func certificate(_ block: Block, domain: SignDomain, signers: [Int] = [0, 1, 2]) throws -> CommitCertificate {
        let precommits = signers.map { i -> SignedVote in
            let vote = Vote(type: .precommit, height: block.number, round: 0, blockHash: block.hash, validator: consensusKeys[i].address)
            return SignedVote(vote: vote, signature: consensusKeys[i].sign(Keccak256.hash(vote.signBytes(domain))))
        }
        return try CommitCertificate(height: block.number, round: 0, blockHash: block.hash, precommits: precommits)
    }

    /// A transfer of `value` wei from `key`, with `data` bytes of calldata.
    static func transfer(_ key: PrivateKey, nonce: UInt64, to: Address = Address(lowByte: 0x77), value: UInt64 = 1, data: [UInt8] = []) throws -> SignedTransaction {
        let gas = 21_000 + 16 * UInt64(data.count)
        let tx = Transaction(type: .dynamicFee, chainId: chainId, nonce: nonce, maxPriorityFeePerGas: UInt256(1_000_000_000),
                             maxFeePerGas: UInt256(20_000_000_000), gasLimit: gas, to: to, value: UInt256(value), data: data, accessList: [])
        return try tx.signed(with: key)
    }

    /// Produces `count` blocks on `chain`, each with a transfer, proposers in turn, each committed
    /// with its certificate. Block `largeAt` also carries a transaction too large for one envelope.
    static func produce(_ count: Int, on chain: ChainService, largeAt: UInt64? = nil) throws {
        let domain = try domain(chain)
        for _ in 0..<count {
            let number = chain.head.number + 1
            let user = users[Int(number % 4)]
            try chain.submit(try transfer(user, nonce: chain.pendingNonce(of: user.address), value: number))
            if number == largeAt {
                let other = users[Int((number + 1) % 4)]
                try chain.submit(try transfer(other, nonce: chain.pendingNonce(of: other.address), data: [UInt8](repeating: 0xAB, count: 100_000)))
            }
            try chain.produceBlock(timestamp: number, coinbase: accountKeys[Int(number % 4)].address) {
                try certificate($0, domain: domain).encoded
            }
        }
    }

    /// A second chain holding the same blocks as `source` (imported with their certificates).
    static func copy(of source: ChainService) throws -> ChainService {
        let copy = try chain()
        for n in stride(from: UInt64(1), through: source.head.number, by: 1) {
            let header = try XCTUnwrap(source.database.header(number: n))
            let transactions = try XCTUnwrap(source.database.transactions(number: n))
            try copy.importBlock(Block(header: header, transactions: transactions), certificate: try XCTUnwrap(source.database.certificate(number: n)))
        }
        return copy
    }

    /// Polls `condition` until it holds or `seconds` pass.
    static func wait(seconds: Double = 60, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            if Date() > deadline { return false }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return true
    }
}

/// Collects log lines from several threads.
final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}
