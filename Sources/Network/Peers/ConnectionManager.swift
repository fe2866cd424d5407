import Crypto
import Foundation

/// The P2P transport over TCP: listens, dials, keeps persistent peers connected (redialling
/// with jittered exponential backoff), authenticates every connection with the Noise XX
/// handshake and the node keys, and moves envelopes through per-peer bounded send queues.
///
/// Threads: one accepts, one per persistent peer dials, one per connection reads (it also ran
/// the handshake) and one per connection writes. A peer that sends anything malformed — a bad
/// handshake, a frame that does not decrypt, an unknown channel — is disconnected and logged;
/// nothing a peer sends can stop the node.
///
/// Duplicate connections to one peer id are resolved the same way on both ends: between an
/// inbound and an outbound connection, the one dialled by the smaller peer id stays; between
/// two in the same direction, the newer one stays (the older is most likely dead).
public final class ConnectionManager: PeerTransport, @unchecked Sendable {
    /// This node's peer id.
    public let localPeer: PeerID

    private let config: NetworkConfig
    private let noiseKey: X25519KeyPair
    private let handle: (PeerEvent) -> Void
    private let log: (String) -> Void

    private let state = NSCondition()
    private var peers: [PeerID: PeerConnection] = [:]   // guarded by state
    private var listener: TCPSocket?
    private var port: UInt16?
    private var stopped = false
    private var runningThreads = 0
    private var handshakingSockets: [ObjectIdentifier: TCPSocket] = [:]
    private var persistent: [PeerID] = []

    /// A manager that reports events to `handler` and writes one line per notable event to
    /// `log`. Call `start()` to listen and dial.
    public init(config: NetworkConfig, handler: @escaping (PeerEvent) -> Void, log: @escaping (String) -> Void = { _ in }) throws {
        self.config = config
        localPeer = PeerID(config.nodeKey.publicKey)
        // The Noise static key lives as long as the process; the node key is the identity.
        noiseKey = try X25519KeyPair.generate()
        handle = handler
        self.log = log
    }

    /// Starts listening (when configured) and dialling the persistent peers.
    public func start() throws {
        if let listenAddress = config.listenAddress {
            let (host, port) = try PersistentPeer.hostAndPort(listenAddress)
            let socket = try TCPSocket.listen(host: host, port: port)
            state.lock()
            listener = socket
            self.port = socket.localPort
            state.unlock()
            spawn("p2p-accept") { [self] in acceptLoop(socket) }
        }
        config.persistentPeers.forEach(addPersistentPeer)
    }

    /// Starts keeping `peer` connected (as if it were listed in the configuration).
    public func addPersistentPeer(_ peer: PersistentPeer) {
        state.lock()
        persistent.append(peer.id)
        let seed = config.backoffSeed &+ UInt64(persistent.count - 1)
        state.unlock()
        spawn("p2p-dial") { [self] in keepConnected(peer, seed: seed) }
    }

    /// Closes the listener and every connection and waits for the network threads to end.
    public func stop() {
        state.lock()
        stopped = true
        let open = Array(peers.values)
        let pending = Array(handshakingSockets.values)
        let socket = listener
        listener = nil
        state.broadcast()
        state.unlock()
        socket?.shutdown()
        pending.forEach { $0.shutdown() }
        open.forEach { $0.close(reason: "node stopping") }
        state.lock()
        while runningThreads > 0 { state.wait() }
        state.unlock()
        socket?.close()
    }

    /// The port accepting connections, nil when not listening.
    public var listeningPort: UInt16? {
        state.lock()
        defer { state.unlock() }
        return listener == nil ? nil : port
    }

    public var isListening: Bool { listeningPort != nil }

    public var connectedPeers: [PeerID] {
        state.lock()
        defer { state.unlock() }
        return peers.keys.sorted()
    }

    public var peerCount: Int {
        state.lock()
        defer { state.unlock() }
        return peers.count
    }

    public func send(_ envelope: Envelope, to peer: PeerID) -> SendOutcome {
        state.lock()
        let connection = peers[peer]
        state.unlock()
        return connection?.enqueue(envelope) ?? .notConnected
    }

    @discardableResult
    public func broadcast(_ envelope: Envelope) -> Int {
        state.lock()
        let connections = peers.keys.sorted().compactMap { peers[$0] }
        state.unlock()
        return connections.filter { $0.enqueue(envelope) == .queued }.count
    }

    /// Closes the connection to `peer` (a peer whose message a channel protocol found
    /// malformed); its `.disconnected` event follows. A persistent peer is redialled later.
    public func disconnect(_ peer: PeerID, reason: String) {
        state.lock()
        let connection = peers[peer]
        state.unlock()
        connection?.close(reason: reason)
    }

    /// Dials `host:port` once, runs the handshake and, when the peer is admitted, serves the
    /// connection on a new thread. Returns the authenticated peer id.
    @discardableResult
    public func dial(host: String, port: UInt16, expectedPeer: PeerID? = nil) throws -> PeerID {
        let connection = try connect(host: host, port: port, expectedPeer: expectedPeer)
        guard register(connection) else { throw NetworkError("dial \(host):\(port): duplicate connection to \(connection.peer) closed") }
        spawn("p2p-peer") { [self] in serve(connection) }
        return connection.peer
    }

    // MARK: Threads

    private func spawn(_ name: String, _ body: @escaping () -> Void) {
        state.lock()
        runningThreads += 1
        state.unlock()
        let thread = Thread { [self] in
            body()
            state.lock()
            runningThreads -= 1
            state.broadcast()
            state.unlock()
        }
        thread.name = name
        thread.start()
    }

    private var isStopped: Bool {
        state.lock()
        defer { state.unlock() }
        return stopped
    }

    private func acceptLoop(_ listener: TCPSocket) {
        while let socket = listener.accept() {
            spawn("p2p-peer") { [self] in
                do {
                    let connection = try handshake(socket: socket, role: .responder, expectedPeer: nil)
                    if register(connection) { serve(connection) }
                } catch {
                    log("p2p: inbound handshake failed: \(error)")
                }
            }
        }
    }

    /// Keeps one persistent peer connected: dial, serve until the connection ends, back off, redial.
    private func keepConnected(_ peer: PersistentPeer, seed: UInt64) {
        var backoff = ReconnectBackoff(initialMilliseconds: config.backoffInitialMilliseconds,
                                       maximumMilliseconds: config.backoffMaximumMilliseconds,
                                       jitterPercent: config.backoffJitterPercent, seed: seed)
        while !isStopped {
            if isConnected(peer.id) {
                // Connected inbound: look again when something changes.
                waitForChange(milliseconds: 1000)
                continue
            }
            do {
                let connection = try connect(host: peer.host, port: peer.port, expectedPeer: peer.id)
                if register(connection) {
                    backoff.reset()
                    serve(connection)
                }
            } catch {
                log("p2p: dial \(peer) failed: \(error)")
            }
            waitForChange(milliseconds: backoff.nextDelayMilliseconds(), onlyStop: true)
        }
    }

    private func isConnected(_ peer: PeerID) -> Bool {
        state.lock()
        defer { state.unlock() }
        return peers[peer] != nil
    }

    /// Sleeps up to `milliseconds`, waking early on stop (and on any peer change unless `onlyStop`).
    private func waitForChange(milliseconds: Int, onlyStop: Bool = false) {
        let deadline = Date(timeIntervalSinceNow: Double(milliseconds) / 1000)
        state.lock()
        defer { state.unlock() }
        while !stopped {
            if !state.wait(until: deadline) || !onlyStop { return }
        }
    }

    // MARK: Connections

    private func connect(host: String, port: UInt16, expectedPeer: PeerID?) throws -> PeerConnection {
        let socket = try TCPSocket.connect(host: host, port: port, timeoutMilliseconds: Int32(config.dialTimeoutMilliseconds))
        return try handshake(socket: socket, role: .initiator, expectedPeer: expectedPeer)
    }

    /// Runs the Noise XX handshake on a fresh socket within the handshake timeout.
    private func handshake(socket: TCPSocket, role: NoiseXXHandshake.Role, expectedPeer: PeerID?) throws -> PeerConnection {
        let key = ObjectIdentifier(socket)
        state.lock()
        // Each pending handshake holds a thread for up to the timeout: bound them.
        guard !stopped, handshakingSockets.count < config.maximumPeers else {
            let reason = stopped ? "node stopping" : "too many pending handshakes (\(config.maximumPeers))"
            state.unlock()
            socket.close()
            throw NetworkError(reason)
        }
        handshakingSockets[key] = socket
        state.unlock()
        defer {
            state.lock()
            handshakingSockets[key] = nil
            state.unlock()
        }
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(config.handshakeTimeoutMilliseconds) * 1_000_000
        let handshake = try PeerHandshake(role: role, prologue: config.prologue, nodeKey: config.nodeKey,
                                          noiseKey: noiseKey, expectedPeer: expectedPeer)
        var frames = FrameReader()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !handshake.isComplete {
            if handshake.isOurTurn {
                try socket.write(Frame.encode(try handshake.writeNext()))
                continue
            }
            if let message = try frames.next(minimumLength: 32) {
                try handshake.read(message)
                continue
            }
            let now = DispatchTime.now().uptimeNanoseconds
            guard now < deadline else { throw NetworkError("handshake timed out") }
            socket.setReceiveTimeout(milliseconds: max(1, Int((deadline - now) / 1_000_000)))
            let count = try socket.read(into: &buffer)
            guard count > 0 else { throw NetworkError.connectionClosed }
            frames.append(buffer[0..<count])
        }
        socket.setReceiveTimeout(milliseconds: 0)
        let (session, peer) = try handshake.finish()
        return PeerConnection(peer: peer, outbound: role == .initiator, socket: socket, session: session, frames: frames,
                              maximumMessages: config.sendQueueMessages, maximumBytes: config.sendQueueBytes)
    }

    /// Admits an authenticated connection, resolving duplicates; false when it was refused (and
    /// closed).
    private func register(_ connection: PeerConnection) -> Bool {
        state.lock()
        var replaced: PeerConnection?
        var refusal: String?
        if stopped {
            refusal = "node stopping"
        } else if let existing = peers[connection.peer] {
            if keepsNewer(existing: existing, new: connection) {
                replaced = existing
                peers[connection.peer] = connection
            } else {
                refusal = "duplicate connection"
            }
        } else if peers.count >= config.maximumPeers && !persistent.contains(connection.peer) {
            refusal = "too many peers (\(config.maximumPeers))"
        } else {
            peers[connection.peer] = connection
        }
        state.broadcast()
        state.unlock()
        if let refusal {
            connection.close(reason: refusal)
            _ = connection.run { _ in }
            log("p2p: refused peer \(connection.peer): \(refusal)")
            return false
        }
        if let replaced {
            replaced.close(reason: "duplicate connection")
        } else {
            log("p2p: peer \(connection.peer) connected (\(connection.outbound ? "outbound" : "inbound"))")
            handle(.connected(connection.peer))
        }
        return true
    }

    /// The duplicate rule: prefer the connection dialled by the smaller peer id; in the same
    /// direction prefer the newer.
    private func keepsNewer(existing: PeerConnection, new: PeerConnection) -> Bool {
        guard existing.outbound != new.outbound else { return true }
        let dialler = { (c: PeerConnection) in c.outbound ? self.localPeer : c.peer }
        return dialler(new) < dialler(existing)
    }

    /// Reads the connection until it ends, then unregisters it.
    private func serve(_ connection: PeerConnection) {
        let peer = connection.peer
        let reason = connection.run { [handle] envelope in handle(.message(peer, envelope)) }
        state.lock()
        let wasCurrent = peers[peer] === connection
        if wasCurrent { peers[peer] = nil }
        state.broadcast()
        state.unlock()
        guard wasCurrent else { return }
        log("p2p: disconnected peer \(peer): \(reason)")
        handle(.disconnected(peer, reason: reason))
    }
}
