/// Errors raised by the primitives' decoders. Each names the rule the input broke.
public struct PrimitivesError: Error, Equatable, CustomStringConvertible {
    /// Which family of rule was broken.
    public enum Kind: String, Sendable {
        /// Hex text is malformed (missing `0x`, odd length, non-hex digit, leading zeros in a quantity).
        case hex
        /// A fixed-width value has the wrong length.
        case length
        /// A number does not fit its type or is written non-canonically.
        case integer
        /// An EIP-55 mixed-case address has a wrong checksum.
        case checksum
        /// RLP bytes break a canonical-encoding rule.
        case rlp
        /// ABI bytes or values break a Solidity ABI rule.
        case abi
        /// A Merkle proof is malformed or leads to another root (docs/traces.md).
        case merkleProof
    }

    /// The rule family.
    public let kind: Kind
    /// A human-readable statement of the rule broken.
    public let message: String

    /// Creates an error of `kind` described by `message`.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
