/// What the rest of the node sees of the P2P layer: send to one peer, broadcast, and the peer
/// count and listening state (`net_peerCount`, `net_listening`). Inbound messages arrive as
/// `PeerEvent`s through the handler given to the implementation.
public protocol PeerTransport: AnyObject {
    /// Queues `envelope` for `peer`.
    func send(_ envelope: Envelope, to peer: PeerID) -> SendOutcome
    /// Queues `envelope` for every connected peer; returns how many queued it.
    @discardableResult
    func broadcast(_ envelope: Envelope) -> Int
    /// The authenticated peers connected now, in id order.
    var connectedPeers: [PeerID] { get }
    /// How many peers are connected.
    var peerCount: Int { get }
    /// Whether the node accepts inbound connections.
    var isListening: Bool { get }
}

/// What happened on the network, delivered to the handler. Events about one peer arrive in order
/// on that peer's connection thread: keep the handler short (hand work to a queue).
public enum PeerEvent: Sendable {
    /// A peer finished the handshake and is connected.
    case connected(PeerID)
    /// A message from a connected peer.
    case message(PeerID, Envelope)
    /// A peer's connection ended (reason in words).
    case disconnected(PeerID, reason: String)
}

/// The result of queueing a message.
public enum SendOutcome: Equatable, Sendable {
    /// In the peer's send queue.
    case queued
    /// Dropped: the peer's queue is at its message or byte limit (the peer is slow or stuck).
    case queueFull
    /// No connection to that peer.
    case notConnected
}
