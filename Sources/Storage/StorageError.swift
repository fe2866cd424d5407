/// Errors from a key-value store.
public struct StorageError: Error, Equatable, CustomStringConvertible {
    /// The operation that failed (`open`, `get`, `write`, `scan`).
    public let operation: String
    /// The store's own message (LevelDB's status text).
    public let message: String

    /// Creates an error for `operation`.
    public init(_ operation: String, _ message: String) {
        self.operation = operation
        self.message = message
    }

    public var description: String { "storage \(operation): \(message)" }
}
