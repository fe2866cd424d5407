import Primitives

/// A validator: the address of its consensus key (secp256k1, recoverable signatures) and its voting power.
public struct Validator: Hashable, Sendable {
    /// The consensus key's address (last 20 bytes of keccak of the public key).
    public let address: Address
    /// Voting power, > 0.
    public let power: UInt64

    /// Creates a validator.
    public init(address: Address, power: UInt64) {
        self.address = address
        self.power = power
    }
}
