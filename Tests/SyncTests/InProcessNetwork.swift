import Foundation
import Network
import Primitives

/// Peers connected in process: each node has a `PeerTransport` whose sends reach the other node's
/// handlers on a serial queue per direction (so one peer's messages arrive in order, as over a
/// connection). A handler that throws gets its peer disconnected, both ends, as the node's
/// dispatcher does; the reason is recorded. `tamper` may rewrite or drop envelopes on a link.
final class InProcessNetwork {
    /// One node's end: its handlers by channel and its transport.
    final class Node: PeerTransport {
        let id: PeerID
        private weak var network: InProcessNetwork?
        var handlers: [Channel: PeerChannelHandler] = [:]

        init(id: PeerID, network: InProcessNetwork) {
            self.id = id
            self.network = network
        }

        func register(_ handler: PeerChannelHandler) { handlers[handler.channel] = handler }

        func send(_ envelope: Envelope, to peer: PeerID) -> SendOutcome { network?.deliver(envelope, from: id, to: peer) ?? .notConnected }

        func broadcast(_ envelope: Envelope) -> Int { connectedPeers.filter { send(envelope, to: $0) == .queued }.count }

        var connectedPeers: [PeerID] { network?.peers(of: id) ?? [] }
        var peerCount: Int { connectedPeers.count }
        var isListening: Bool { true }
    }

    private struct Link: Hashable {
        let from: PeerID
        let to: PeerID
    }

    private let lock = NSLock()
    private var nodes: [PeerID: Node] = [:]
    private var links: [Link: DispatchQueue] = [:]
    private var disconnectLog: [(peer: PeerID, by: PeerID, reason: String)] = []
    private var sentCount = 0
    /// Each disconnect: the peer dropped, the node that dropped it, why.
    var disconnects: [(peer: PeerID, by: PeerID, reason: String)] { lock.withLock { disconnectLog } }
    /// Envelopes sent so far.
    var envelopesSent: Int { lock.withLock { sentCount } }
    /// Rewrites (or drops, returning nil) what `from` sends to `to`.
    var tamper: ((PeerID, PeerID, Envelope) -> Envelope?)?

    /// A new node with id `0x…number`.
    func addNode(_ number: UInt8) -> Node {
        let node = Node(id: PeerID(Address(lowByte: number)), network: self)
        lock.withLock { nodes[node.id] = node }
        return node
    }

    /// Connects `a` and `b` and tells both sides' handlers.
    func connect(_ a: Node, _ b: Node) {
        lock.withLock {
            links[Link(from: a.id, to: b.id)] = DispatchQueue(label: "link \(a.id)->\(b.id)")
            links[Link(from: b.id, to: a.id)] = DispatchQueue(label: "link \(b.id)->\(a.id)")
        }
        for h in a.handlers.values { h.peerConnected(b.id) }
        for h in b.handlers.values { h.peerConnected(a.id) }
    }

    /// Closes the link between `a` and `b` (what a node's dispatcher does to a peer that sent garbage).
    func disconnect(_ a: PeerID, _ b: PeerID, reason: String) {
        let existed = lock.withLock {
            disconnectLog.append((b, a, reason))
            let forward = links.removeValue(forKey: Link(from: a, to: b)) != nil
            let backward = links.removeValue(forKey: Link(from: b, to: a)) != nil
            return forward || backward
        }
        guard existed, let nodeA = node(a), let nodeB = node(b) else { return }
        for h in nodeA.handlers.values { h.peerDisconnected(b) }
        for h in nodeB.handlers.values { h.peerDisconnected(a) }
    }

    /// Waits until every link's queue has delivered what was sent before the call.
    func drain() {
        for queue in lock.withLock({ Array(links.values) }) { queue.sync {} }
    }

    func peers(of id: PeerID) -> [PeerID] { lock.withLock { links.keys.filter { $0.from == id }.map(\.to).sorted() } }

    private func node(_ id: PeerID) -> Node? { lock.withLock { nodes[id] } }

    fileprivate func deliver(_ envelope: Envelope, from: PeerID, to: PeerID) -> SendOutcome {
        guard let queue = lock.withLock({ links[Link(from: from, to: to)] }), let target = node(to) else { return .notConnected }
        lock.withLock { sentCount += 1 }
        guard let envelope = tamper.map({ $0(from, to, envelope) }) ?? envelope else { return .queued }
        queue.async { [self] in
            guard lock.withLock({ links[Link(from: from, to: to)] }) != nil, let handler = target.handlers[envelope.channel] else { return }
            do {
                try handler.receive(envelope, from: from)
            } catch {
                disconnect(to, from, reason: "\(error)")
            }
        }
        return .queued
    }
}
