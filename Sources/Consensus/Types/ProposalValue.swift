import Primitives

/// The value consensus decides on: a block, known to the engine only by its hash and an opaque
/// payload that the application builds (``ConsensusApplication/proposeValue(height:round:)``)
/// and checks (``ConsensusApplication/verify(height:value:)``). `id(v)` of the paper is `blockHash`.
public struct ProposalValue: Hashable, Sendable {
    /// The block hash: the value's identity in votes and sign bytes.
    public let blockHash: Hash32
    /// The block's bytes, opaque to the engine.
    public let payload: [UInt8]
    /// keccak256 of the payload: with the block hash, the key validity answers are filed under
    /// (a byzantine proposer cannot make a good block look bad by sending its hash with other bytes).
    public let payloadDigest: Hash32

    /// Creates a value.
    public init(blockHash: Hash32, payload: [UInt8]) {
        self.blockHash = blockHash
        self.payload = payload
        self.payloadDigest = Keccak256.hash(payload)
    }

    /// The key of this value in validity answers.
    public var key: ValueKey { ValueKey(blockHash: blockHash, payloadDigest: payloadDigest) }

    public static func == (a: ProposalValue, b: ProposalValue) -> Bool { a.key == b.key }
    public func hash(into hasher: inout Hasher) { hasher.combine(key) }
}

/// A value's identity for validity answers: its block hash and the digest of its payload.
public struct ValueKey: Hashable, Sendable {
    /// The block hash.
    public let blockHash: Hash32
    /// keccak256 of the payload.
    public let payloadDigest: Hash32

    /// Creates a key.
    public init(blockHash: Hash32, payloadDigest: Hash32) {
        self.blockHash = blockHash
        self.payloadDigest = payloadDigest
    }
}
