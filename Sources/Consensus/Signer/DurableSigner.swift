import Crypto
import Primitives

/// Signs consensus messages with a validator's consensus key and never signs twice at one position.
///
/// Before a signature leaves, `{height, round, step, sign bytes, signature}` is stored durably.
/// A request below the last signed position is refused (``SignerError/regression(requested:lastSigned:)``);
/// a request at the last position with the same sign bytes gets the stored signature back; with
/// other sign bytes it is refused (``SignerError/conflictingRequest(position:)``).
///
/// ``sign(_:)`` syncs the state file before it returns. ``signLogged(_:)`` only writes it, for a
/// caller that makes the signed message itself durable before it leaves — the consensus driver,
/// whose WAL record of the message holds the same five fields — and that gives the signer those
/// records back on restart (``adopt(_:)``) and calls ``sync()`` before it drops them.
public final class DurableSigner {
    /// The key file's name inside a validator's consensus directory (64 hex digits).
    public static let keyFileName = "consensus_key"
    /// The signer-state file's name, beside the key file.
    public static let stateFileName = "signer_state"

    private let key: PrivateKey
    private let storage: SignerStateStorage
    /// The chain the signatures are for.
    public let domain: SignDomain
    /// The consensus address.
    public let address: Address
    /// The last signature given, or nil before the first.
    public private(set) var state: SignerState?

    /// A signer with `key` whose state lives in `storage` (loaded now).
    public init(key: PrivateKey, storage: SignerStateStorage, domain: SignDomain) throws {
        self.key = key
        self.storage = storage
        self.domain = domain
        self.address = key.address
        state = try storage.load().map(SignerState.init(decoding:))
    }

    /// Opens the signer of a consensus directory: the key file and the signer-state file kept together.
    public static func open(directory: String, domain: SignDomain) throws -> DurableSigner {
        let keyPath = directory + "/" + keyFileName
        let bytes: [UInt8]?
        do { bytes = try DurableFiles.read(keyPath) } catch let f as POSIXFailure {
            throw SignerError.io(operation: f.operation, path: f.path, errno: f.errno)
        }
        guard let bytes else { throw SignerError.badKeyFile("\(keyPath) does not exist") }
        let text = String(decoding: bytes.filter { $0 != 0x0A && $0 != 0x0D && $0 != 0x20 }, as: UTF8.self)
        let key: PrivateKey
        do { key = try PrivateKey(hex: text) } catch { throw SignerError.badKeyFile("\(keyPath): \(error)") }
        return try DurableSigner(key: key, storage: FileSignerStateStorage(path: directory + "/" + stateFileName), domain: domain)
    }

    /// Writes a new consensus directory with `key` (mode 0600) and no signer state.
    public static func create(directory: String, key: PrivateKey) throws {
        do {
            try DurableFiles.replaceAtomically(directory + "/" + keyFileName, with: Array((Hex.encode(key.bytes) + "\n").utf8))
        } catch let f as POSIXFailure {
            throw SignerError.io(operation: f.operation, path: f.path, errno: f.errno)
        }
    }

    /// Signs `message` (whose signer must be this key) after storing the new state durably.
    public func sign(_ message: UnsignedMessage) throws -> ConsensusMessage {
        let signed = try signLogged(message)
        try sync()
        return signed
    }

    /// Signs `message` (whose signer must be this key) after storing the new state, not yet
    /// durably: the caller makes the returned message durable (its own log) before it leaves.
    public func signLogged(_ message: UnsignedMessage) throws -> ConsensusMessage {
        let signer: Address
        switch message {
        case .proposal(let p): signer = p.proposer
        case .vote(let v): signer = v.validator
        }
        guard signer == address else { throw SignerError.malformedRequest("message names \(signer), key is \(address)") }
        let bytes = message.signBytes(domain)
        let position = message.position
        let signature = try signature(for: bytes, at: position)
        switch message {
        case .proposal(let p): return .proposal(SignedProposal(proposal: p, signature: signature))
        case .vote(let v): return .vote(SignedVote(vote: v, signature: signature))
        }
    }

    /// Takes a message this key signed, found in the caller's durable log, as the last signature
    /// when it is above the stored state (a crash kept the log's record and lost the state's
    /// unsynced store); stores it durably. Messages of other signers, or at or below the state, change nothing.
    public func adopt(_ message: ConsensusMessage) throws {
        guard message.signer == address else { return }
        if let last = state, message.position <= last.position { return }
        let next = SignerState(position: message.position, signBytes: message.signBytes(domain), signature: message.signature)
        try storage.store(next.encoded)
        try storage.sync()
        state = next
    }

    /// Makes the last stored state durable (one `fdatasync`; nothing when it already is).
    public func sync() throws { try storage.sync() }

    private func signature(for bytes: [UInt8], at position: SignPosition) throws -> RecoverableSignature {
        if let last = state {
            if position < last.position { throw SignerError.regression(requested: position, lastSigned: last.position) }
            if position == last.position {
                guard bytes == last.signBytes else { throw SignerError.conflictingRequest(position: position) }
                return last.signature
            }
        }
        let signature = key.sign(Keccak256.hash(bytes))
        let next = SignerState(position: position, signBytes: bytes, signature: signature)
        try storage.store(next.encoded)
        state = next
        return signature
    }
}
