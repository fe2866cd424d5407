import Crypto

/// A peer the node keeps connected: redialled with backoff whenever the connection is down.
/// Written `0x<40 hex peer id>@host:port` (IPv6 hosts in brackets).
public struct PersistentPeer: Equatable, Sendable, CustomStringConvertible {
    /// The identity the peer must prove in the handshake.
    public let id: PeerID
    /// Host name or IP address.
    public let host: String
    /// TCP port.
    public let port: UInt16

    /// A peer from its parts.
    public init(id: PeerID, host: String, port: UInt16) {
        self.id = id
        self.host = host
        self.port = port
    }

    /// Parses `0xID@host:port`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "@", maxSplits: 1).map(String.init)
        guard parts.count == 2, let id = try? PeerID(hex: parts[0]) else { throw NetworkError.invalidPeerEntry(text) }
        let (host, port) = try Self.hostAndPort(parts[1])
        self.init(id: id, host: host, port: port)
    }

    /// Splits `host:port` or `[v6]:port`.
    public static func hostAndPort(_ text: String) throws -> (String, UInt16) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            throw NetworkError.invalidAddress(text)
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw NetworkError.invalidAddress(text) }
        return (host, port)
    }

    public var description: String { "\(id)@\(host.contains(":") ? "[\(host)]" : host):\(port)" }
}

/// Settings of the P2P layer. Defaults suit a validator on the public internet; tests shorten
/// the timeouts.
public struct NetworkConfig: Sendable {
    /// The node key: its address is this node's peer id.
    public var nodeKey: PrivateKey
    /// Names the network; it is the Noise prologue (`opg/p2p/1/` + this), so nodes of another
    /// network fail the handshake.
    public var networkName: String
    /// `host:port` to accept connections on; nil: outbound only. Port 0 picks a free port.
    public var listenAddress: String?
    /// Peers kept connected.
    public var persistentPeers: [PersistentPeer]
    /// The most connected peers; inbound connections beyond it are closed after the handshake
    /// (persistent peers are always admitted).
    public var maximumPeers: Int
    /// The most messages waiting in one peer's send queue.
    public var sendQueueMessages: Int
    /// The most plaintext bytes waiting in one peer's send queue.
    public var sendQueueBytes: Int
    /// The whole handshake must finish within this.
    public var handshakeTimeoutMilliseconds: Int
    /// A TCP connect gives up after this.
    public var dialTimeoutMilliseconds: Int
    /// First redial delay.
    public var backoffInitialMilliseconds: Int
    /// Cap on the redial delay.
    public var backoffMaximumMilliseconds: Int
    /// Jitter on each redial delay, in percent.
    public var backoffJitterPercent: Int
    /// Seed of the jitter generator (each persistent peer's generator is seeded from it and the
    /// peer's position in the list).
    public var backoffSeed: UInt64

    /// A configuration with the defaults documented in docs/p2p.md.
    public init(nodeKey: PrivateKey, networkName: String, listenAddress: String? = nil, persistentPeers: [PersistentPeer] = [],
                maximumPeers: Int = 50, sendQueueMessages: Int = 1024, sendQueueBytes: Int = 16 << 20,
                handshakeTimeoutMilliseconds: Int = 5000, dialTimeoutMilliseconds: Int = 3000,
                backoffInitialMilliseconds: Int = 250, backoffMaximumMilliseconds: Int = 30_000, backoffJitterPercent: Int = 20,
                backoffSeed: UInt64 = 0) {
        self.nodeKey = nodeKey
        self.networkName = networkName
        self.listenAddress = listenAddress
        self.persistentPeers = persistentPeers
        self.maximumPeers = maximumPeers
        self.sendQueueMessages = sendQueueMessages
        self.sendQueueBytes = sendQueueBytes
        self.handshakeTimeoutMilliseconds = handshakeTimeoutMilliseconds
        self.dialTimeoutMilliseconds = dialTimeoutMilliseconds
        self.backoffInitialMilliseconds = backoffInitialMilliseconds
        self.backoffMaximumMilliseconds = backoffMaximumMilliseconds
        self.backoffJitterPercent = backoffJitterPercent
        self.backoffSeed = backoffSeed
    }

    /// The Noise prologue.
    var prologue: [UInt8] { Array("opg/p2p/1/\(networkName)".utf8) }
}
