import Primitives

/// An Ethereum log record emitted by a native handler.
public struct Log: Equatable, Sendable {
    /// The emitting handler's address.
    public var address: Address
    /// Up to four 32-byte topics; topic 0 is the event signature hash.
    public var topics: [Hash32]
    /// ABI-encoded non-indexed event arguments.
    public var data: [UInt8]

    /// Creates a log.
    public init(address: Address, topics: [Hash32], data: [UInt8]) {
        self.address = address
        self.topics = topics
        self.data = data
    }
}
