import Crypto
import Primitives

/// A node's identity on the network: the address of its secp256k1 node key (last 20 bytes of
/// keccak256 of the uncompressed public key), written `0x` + 40 hex digits. Ordered by bytes,
/// which is how duplicate connections are resolved.
public struct PeerID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The 20 address bytes.
    public let address: Address

    /// The id of `address`.
    public init(_ address: Address) { self.address = address }

    /// The id of a node public key.
    public init(_ key: PublicKey) { address = key.address }

    /// Parses `0x` + 40 hex digits.
    public init(hex: String) throws { address = try Address(hex: hex) }

    public var description: String { address.hex }

    public static func < (lhs: PeerID, rhs: PeerID) -> Bool { lhs.address < rhs.address }
}
