/// Why text is not JSON: the rule broken and the byte offset where it was found.
public struct JSONError: Error, Equatable, CustomStringConvertible {
    /// Byte offset into the input.
    public let offset: Int
    /// The rule broken.
    public let message: String

    public var description: String { "invalid JSON at byte \(offset): \(message)" }
}
