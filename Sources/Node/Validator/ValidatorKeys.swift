import Chain
import Consensus
import Crypto
import Foundation
import Primitives

/// Opening a validator's keys: the consensus key with its signer state, and the node key.
enum ValidatorKeys {
    /// The signer of the consensus directory. A directory without a key is given the devnet's
    /// consensus key only when the account named in the config is the devnet validator (whose
    /// keys are public, `DevNet`); any other validator must bring its own key file.
    static func openSigner(settings: ValidatorSettings, chain: ChainService, domain: SignDomain, logger: Logger) throws -> DurableSigner {
        let directory = settings.consensusDirectory
        let keyPath = directory + "/" + DurableSigner.keyFileName
        let sets = try chain.builder.validatorSets.validatorSets(forChildOf: chain.head)
        let mine = settings.account.flatMap { sets.current.validator($0) ?? sets.next.validator($0) }
        if !FileManager.default.fileExists(atPath: keyPath) {
            guard let mine, mine.consensusKey == DevNet.consensusKey.publicKey.compressed else {
                throw ConfigError("consensus key \(keyPath): missing; copy the validator's consensus_key (and its signer_state) there, or make one with `opgd testnet`")
            }
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try DurableSigner.create(directory: directory, key: DevNet.consensusKey)
            logger.warn("wrote the devnet's public consensus key (dev only)", ["path": keyPath])
        }
        let signer: DurableSigner
        do { signer = try DurableSigner.open(directory: directory, domain: domain) } catch let e as SignerError { throw ConfigError("\(e)") }
        if let account = settings.account, let mine {
            guard ConsensusValidatorSets.consensusAddress(of: mine) == signer.address else {
                throw ConfigError("consensus key \(keyPath): address \(signer.address) is not validator \(account)'s consensus key in the validator set")
            }
        }
        return signer
    }

    /// The node key at `path`, written fresh (mode 0600) when the file does not exist.
    static func nodeKey(path: String, logger: Logger) throws -> PrivateKey {
        if let data = FileManager.default.contents(atPath: path) {
            do { return try PrivateKey(hex: String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) } catch {
                throw ConfigError("p2p.nodeKeyFile \(path): not a secp256k1 private key in hex: \(error)")
            }
        }
        let key = try PrivateKey.generate()
        try writeKey(key, to: path)
        logger.info("wrote a new node key", ["path": path, "peer": key.address])
        return key
    }

    /// Writes `key` as hex to `path` with mode 0600 (creating the directory).
    static func writeKey(_ key: PrivateKey, to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: path, contents: Data((Hex.encode(key.bytes) + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CommandError("cannot write \(path)")
        }
    }
}
