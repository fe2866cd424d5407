import Consensus
import Crypto
import Foundation
import Primitives

/// Keys, a domain and a validator set shared by the unit tests.
enum TestChain {
    static let domain = SignDomain(chainID: 7, genesisHash: Keccak256.hash(Array("test genesis".utf8)))
    static let keys: [PrivateKey] = (0..<4).map { try! PrivateKey(Keccak256.digest(Array("test validator \($0)".utf8))) }
    static let validators = try! ValidatorSet(keys.map { Validator(address: $0.address, power: 10) })

    static func value(_ text: String) -> ProposalValue {
        let payload = Array(text.utf8)
        return ProposalValue(blockHash: Keccak256.hash(payload), payload: payload)
    }

    static func vote(_ key: PrivateKey, _ type: VoteType, height: UInt64 = 1, round: UInt32 = 0, block: Hash32?) -> SignedVote {
        let v = Vote(type: type, height: height, round: round, blockHash: block, validator: key.address)
        return SignedVote(vote: v, signature: key.sign(Keccak256.hash(v.signBytes(domain))))
    }

    /// A fresh empty directory under the system's temporary directory.
    static func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "opg-consensus-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
