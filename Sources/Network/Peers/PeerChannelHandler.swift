/// What one channel's protocol implements so the node can route the transport's events to it:
/// consensus, mempool gossip, block sync and evidence each register one handler for their
/// `Channel`, and the node's dispatcher calls it from the peer's connection thread (keep the
/// calls short; hand real work to the handler's own queue).
public protocol PeerChannelHandler: AnyObject {
    /// The channel whose envelopes this handler receives.
    var channel: Channel { get }
    /// `peer` finished the handshake.
    func peerConnected(_ peer: PeerID)
    /// `peer`'s connection ended.
    func peerDisconnected(_ peer: PeerID)
    /// An envelope on `channel` from `peer`. A handler that finds the body malformed reports it
    /// by throwing; the dispatcher then disconnects the peer and logs the reason.
    func receive(_ envelope: Envelope, from peer: PeerID) throws
}
