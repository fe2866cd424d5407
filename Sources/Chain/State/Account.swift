import Primitives

/// An account as the state trie stores it: rlp([nonce, balance, storageRoot, codeHash]).
/// Accounts never hold code on this chain (contract creation is rejected), so the code
/// hash is always keccak256("") — which keeps the encoding identical to Ethereum's and
/// lets EIP-1186 verifiers check our proofs unchanged.
public struct Account: Equatable, Sendable {
    /// keccak256 of empty code.
    public static let emptyCodeHash = Keccak256.hash([])

    /// Transactions sent.
    public var nonce: UInt64
    /// Balance in wei (10^-18 $OPG).
    public var balance: UInt256
    /// Root of the account's storage trie.
    public var storageRoot: Hash32

    /// Creates an account.
    public init(nonce: UInt64 = 0, balance: UInt256 = .zero, storageRoot: Hash32 = MerklePatriciaTrie.emptyRoot) {
        self.nonce = nonce
        self.balance = balance
        self.storageRoot = storageRoot
    }

    /// The absent account.
    public static let empty = Account()

    /// True when EIP-161 would delete it: no nonce, no balance, no storage.
    public var isEmpty: Bool { nonce == 0 && balance.isZero && storageRoot == MerklePatriciaTrie.emptyRoot }

    /// The trie encoding.
    public var rlp: [UInt8] {
        RLP.encode(.list([.uint(nonce), .uint(balance), .bytes(storageRoot.bytes), .bytes(Self.emptyCodeHash.bytes)]))
    }

    /// Decodes the trie encoding; errors name the field.
    public init(rlp bytes: [UInt8]) throws {
        let f = try RLP.decode(bytes).list("account")
        guard f.count == 4 else { throw PrimitivesError(.rlp, "account must have 4 fields, got \(f.count)") }
        nonce = try f[0].uint64("account nonce")
        balance = try f[1].uint256("account balance")
        storageRoot = try Hash32(f[2].bytes("account storageRoot"))
        guard try f[3].bytes("account codeHash") == Self.emptyCodeHash.bytes else {
            throw PrimitivesError(.rlp, "account codeHash must be the empty-code hash (accounts hold no code on this chain)")
        }
    }
}
