import Chain
import Consensus
import Crypto
import Foundation
import Network
import Primitives

/// The validator inside `opgd`: the Tendermint engine (through ``ConsensusDriver``) over the
/// node's chain, with its durable signer and WAL in the consensus directory, and — when the
/// config names a listen address or peers — the P2P transport with a ``PeerDispatcher`` routing
/// each channel to its protocol: consensus and evidence, mempool gossip (``MempoolGossip``) and
/// block sync (``BlockSync``, whose progress is `eth_syncing`'s answer): a node that is behind
/// syncs blocks with their certificates, and the engine decides each synced height from the chain
/// (``ConsensusService/decideStoredHeights()``) until it reaches the tip.
///
/// `start` replays the WAL before the transport starts, so no network input reaches an engine
/// whose state is not rebuilt; `stop` closes the transport, then stops the engine's queue.
public final class ValidatorService: @unchecked Sendable {
    /// The WAL's file name in the consensus directory.
    public static let walFileName = "wal"

    /// Routes P2P events by channel; register further channel protocols before `start`.
    public let dispatcher: PeerDispatcher
    /// The P2P transport, nil when the node has no listen address and no peers (a lone validator).
    public let transport: ConnectionManager?
    /// The consensus address this node signs with.
    public let consensusAddress: Address
    /// The chain's sign domain (chain id and genesis hash).
    public let domain: SignDomain
    /// Transaction gossip on the mempool channel (nil without a transport).
    public let mempoolGossip: MempoolGossip?
    /// Block sync on the blocks channel (nil without a transport).
    public let blockSync: BlockSync?

    private let chain: ChainService
    private let logger: Logger
    private let service: ConsensusService
    private let validators: ConsensusValidatorSets
    private let application: ChainApplication
    private let consensusTransport: P2PConsensusTransport
    private let consensusChannel: ConsensusChannel
    private let timeouts: TimeoutConfig
    private let consensusDirectory: String
    private let signer: DurableSigner
    /// The signature cache the consensus channel fills on connection threads and the driver checks with.
    private let verifier = SignatureVerifier()

    /// Opens the consensus directory (key, signer state, WAL) and the node key named by
    /// `settings` and builds the transport; nothing runs until ``start()``.
    public init(settings: ValidatorSettings, chain: ChainService, logger: Logger) throws {
        self.chain = chain
        self.logger = logger
        timeouts = settings.timeouts
        consensusDirectory = settings.consensusDirectory
        guard let genesis = try chain.database.hash(number: 0) else { throw CommandError("the chain has no block 0") }
        domain = SignDomain(chainID: chain.config.chainId, genesisHash: genesis)
        signer = try ValidatorKeys.openSigner(settings: settings, chain: chain, domain: domain, logger: logger)
        consensusAddress = signer.address
        validators = ConsensusValidatorSets(chain: chain)
        application = ChainApplication(chain: chain, validators: validators, me: signer.address, logger: logger)
        service = ConsensusService(logger: logger)
        dispatcher = PeerDispatcher(log: { logger.warn($0) })
        if settings.listenAddress != nil || !settings.persistentPeers.isEmpty {
            let nodeKey = try ValidatorKeys.nodeKey(path: settings.nodeKeyFile, logger: logger)
            let config = NetworkConfig(nodeKey: nodeKey, networkName: "\(domain.chainID)/\(genesis.hex)",
                                       listenAddress: settings.listenAddress, persistentPeers: settings.persistentPeers)
            let dispatcher = self.dispatcher
            transport = try ConnectionManager(config: config, handler: { dispatcher.handle($0) }, log: { logger.info($0) })
        } else {
            transport = nil
        }
        let transport = self.transport
        let peers: () -> PeerTransport? = { transport }
        dispatcher.disconnect = { peer, reason in transport?.disconnect(peer, reason: reason) }
        let domain = self.domain, validators = self.validators
        let evidenceChannel = EvidenceChannel(pool: chain.pendingEvidence, verify: { [chain] evidence in
            guard evidence.height >= 1, evidence.height <= chain.head.number + 2 else { return false }
            try evidence.verify(domain, validators: try validators.consensusSet(height: evidence.height))
            return true
        }, peers: peers, logger: logger)
        consensusTransport = P2PConsensusTransport(service: service, peers: peers, evidence: evidenceChannel, logger: logger)
        consensusChannel = ConsensusChannel(service: service, chain: chain, domain: domain, verifier: verifier, peers: peers, logger: logger)
        let channel = consensusChannel
        service.requestDecision = { height, peer in channel.requestDecision(height, from: peer) }
        service.storedDecision = { height in try channel.storedDecision(height) }
        dispatcher.register(consensusChannel)
        dispatcher.register(evidenceChannel)
        if let transport {
            let gossip = MempoolGossip(chain: chain, transport: transport)
            dispatcher.register(gossip)
            mempoolGossip = gossip
            let service = self.service
            let sync = BlockSync(chain: chain, domain: domain, transport: transport, log: { logger.info($0) },
                                 disconnect: { peer, reason in transport.disconnect(peer, reason: reason) },
                                 onCaughtUp: { _ in service.decideStoredHeights() })
            dispatcher.register(sync)
            blockSync = sync
        } else {
            mempoolGossip = nil
            blockSync = nil
        }
    }

    /// Replays the WAL, starts the engine, then the P2P transport.
    public func start() throws {
        let wal = WriteAheadLog(storage: try FileWALStorage(path: consensusDirectory + "/" + Self.walFileName))
        try service.start {
            let driver = try ConsensusDriver.recover(domain: domain, timeouts: timeouts, application: application,
                                                     transport: consensusTransport, wal: wal, signer: signer, verifier: verifier)
            if wal.truncatedBytes > 0 { logger.warn("consensus WAL had a torn tail", ["truncatedBytes": wal.truncatedBytes]) }
            return driver
        }
        try transport?.start()
        blockSync?.start()
        let set = try validators.consensusSet(height: chain.head.number + 1)
        logger.info("consensus started", ["height": chain.head.number + 1, "consensusAddress": consensusAddress,
                                          "validators": set.count, "inSet": set.index(of: consensusAddress) != nil,
                                          "p2p": transport?.listeningPort.map { "\($0)" } ?? "off", "peer": transport?.localPeer.description ?? "-"])
    }

    /// Stops the transport (waiting for its threads), then the engine, and syncs the signer's
    /// file (the WAL already holds every signature that left, durably; a stopped node's
    /// `signer_state` holds the last one too, for an operator who moves the directory).
    public func stop() {
        blockSync?.stop()
        transport?.stop()
        service.stop()
        do { try signer.sync() } catch { logger.error("signer state not synced", ["error": error]) }
    }

    /// Connected peers (0 without a transport).
    public var peerCount: Int { transport?.peerCount ?? 0 }
    /// Whether the node accepts P2P connections.
    public var isListening: Bool { transport?.isListening ?? false }
    /// The height being decided and its round.
    public var status: (height: UInt64, round: UInt32) { service.status }
}

/// Where a validator's keys and engine settings come from (NodeConfig's `p2p` and `consensus`).
public struct ValidatorSettings: Sendable {
    /// The directory with `consensus_key`, `signer_state` and `wal`.
    public var consensusDirectory: String
    /// The node key file (the P2P identity), created when missing.
    public var nodeKeyFile: String
    /// The P2P listen address, nil for none.
    public var listenAddress: String?
    /// Peers kept connected.
    public var persistentPeers: [PersistentPeer]
    /// The engine's timeouts.
    public var timeouts: TimeoutConfig
    /// The operator's account, when the config names its key file: its consensus key must be the one in the directory.
    public var account: Address?

    /// Settings from their parts (NodeConfig's `validatorSettings(account:)` fills them from a config).
    public init(consensusDirectory: String, nodeKeyFile: String, listenAddress: String?, persistentPeers: [PersistentPeer],
                timeouts: TimeoutConfig, account: Address?) {
        self.consensusDirectory = consensusDirectory
        self.nodeKeyFile = nodeKeyFile
        self.listenAddress = listenAddress
        self.persistentPeers = persistentPeers
        self.timeouts = timeouts
        self.account = account
    }
}
