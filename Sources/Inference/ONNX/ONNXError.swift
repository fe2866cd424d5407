/// Why a model could not be read or compiled. `message` names the rule broken and,
/// where there is one, the node, tensor or field.
public struct ONNXError: Error, Equatable, CustomStringConvertible {
    /// What went wrong, in one sentence.
    public let message: String

    /// An error with `message`.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
