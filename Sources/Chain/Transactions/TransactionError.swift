/// Why bytes are not a valid signed transaction; the message names the rule broken.
public struct TransactionError: Error, Equatable, CustomStringConvertible {
    /// The rule broken.
    public let message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
