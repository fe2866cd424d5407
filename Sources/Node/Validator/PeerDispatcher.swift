import Foundation
import Network

/// Routes the P2P transport's events to the channel protocols: each channel's
/// `PeerChannelHandler` (consensus and evidence here; block sync and mempool gossip register
/// theirs the same way) gets the envelopes of its channel and every connect and disconnect.
///
/// A handler that throws on an envelope has found its body malformed: the peer is disconnected
/// and one line is logged. Envelopes on a channel nobody registered are dropped and counted.
public final class PeerDispatcher: @unchecked Sendable {
    private let lock = NSLock()
    private var handlers: [Channel: PeerChannelHandler] = [:]
    private var unrouted = 0
    private let log: (String) -> Void
    /// Closes a peer's connection (the transport's `disconnect`); set once the transport exists.
    var disconnect: (PeerID, String) -> Void = { _, _ in }

    /// A dispatcher that writes one line per disconnected peer to `log`.
    public init(log: @escaping (String) -> Void) { self.log = log }

    /// Registers `handler` for its channel, replacing an earlier one.
    public func register(_ handler: PeerChannelHandler) {
        lock.withLock { handlers[handler.channel] = handler }
    }

    /// The handler registered for `channel`, if any.
    public func handler(for channel: Channel) -> PeerChannelHandler? { lock.withLock { handlers[channel] } }

    /// Envelopes dropped because no handler was registered for their channel.
    public var unroutedEnvelopes: Int { lock.withLock { unrouted } }

    /// Handles one transport event (called on the peer's connection thread).
    public func handle(_ event: PeerEvent) {
        switch event {
        case .connected(let peer):
            for handler in registered() { handler.peerConnected(peer) }
        case .disconnected(let peer, _):
            for handler in registered() { handler.peerDisconnected(peer) }
        case .message(let peer, let envelope):
            guard let handler = handler(for: envelope.channel) else {
                lock.withLock { unrouted += 1 }
                return
            }
            do {
                try handler.receive(envelope, from: peer)
            } catch {
                log("p2p: disconnecting peer \(peer): bad \(envelope.channel) message type \(envelope.messageType): \(error)")
                disconnect(peer, "bad \(envelope.channel) message: \(error)")
            }
        }
    }

    /// The handlers in channel order.
    private func registered() -> [PeerChannelHandler] {
        lock.withLock { Channel.allCases.compactMap { handlers[$0] } }
    }
}
