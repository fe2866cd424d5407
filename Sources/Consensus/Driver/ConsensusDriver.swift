import Primitives

/// Runs a ``TendermintEngine`` for a node: authenticates what arrives, writes every input to the
/// WAL before the engine sees it, and carries out the engine's effects with the application,
/// the signer and the transport.
///
/// The one durability rule (docs/consensus.md, "Durability"): no signature leaves the process
/// before the WAL holding it and every input appended before it is durable. So a signature is
/// stored by the signer (written, not synced), its message appended to the WAL, the WAL synced
/// once, and only then is the message broadcast: one sync per signature. The WAL's record of our
/// message is the signer's durable state until the signer's file is synced, which happens before
/// the WAL is compacted; on restart the signer adopts the newest of our messages in the WAL before
/// anything is signed. Nothing else waits for an fsync: a decision is made durable by the chain's
/// own synced commit (block and certificate in one batch), re-broadcast messages are our own
/// (synced when signed) or peers' (whose durability is not ours to keep), and the WAL is compacted
/// only once it passes ``WriteAheadLog/compactionThresholdBytes`` (recovery replays only the
/// records of the heights above the chain's head, so older records are inert).
///
/// It is built by ``recover(domain:timeouts:application:transport:wal:signer:verifier:)``,
/// which replays the WAL of the current height before the driver exists, so no network input
/// can reach the engine before its state is rebuilt.
public final class ConsensusDriver {
    /// The chain the signatures are for.
    public let domain: SignDomain
    private let application: ConsensusApplication
    private let transport: ConsensusTransport
    private let wal: WriteAheadLog
    private let signer: DurableSigner?
    private let verifier: SignatureVerifier
    /// The engine (read-only access for status and tests).
    public private(set) var engine: TendermintEngine
    private var seen: Set<ConsensusMessage> = []
    private var nextValidators: ValidatorSet?

    /// Messages dropped because they failed authentication.
    public private(set) var rejectedMessages = 0
    /// Signing requests the signer refused (a regression or a conflict: see ``SignerError``).
    public private(set) var refusedSignatures: [SignerError] = []

    private init(domain: SignDomain, timeouts: TimeoutConfig, application: ConsensusApplication, transport: ConsensusTransport,
                 wal: WriteAheadLog, signer: DurableSigner?, verifier: SignatureVerifier, validators: ValidatorSet) {
        self.domain = domain
        self.application = application
        self.transport = transport
        self.wal = wal
        self.signer = signer
        self.verifier = verifier
        engine = TendermintEngine(me: signer?.address, validators: validators, timeouts: timeouts)
    }

    /// Opens the WAL (truncating a torn tail, throwing on corruption), gives the signer the newest
    /// message it signed in the WAL (its state file may have lost that store in the crash), starts
    /// the engine at `application.committedHeight + 1`, replays that height's records, then carries
    /// out the effects the replay produced (the signer returns stored signatures for what was
    /// signed before, and refuses nothing that the WAL shows as already sent).
    public static func recover(domain: SignDomain, timeouts: TimeoutConfig, application: ConsensusApplication,
                               transport: ConsensusTransport, wal: WriteAheadLog, signer: DurableSigner?,
                               verifier: SignatureVerifier = SignatureVerifier()) throws -> ConsensusDriver {
        let records = try wal.open()
        let ownMessages = records.compactMap { record -> ConsensusMessage? in
            if case .own(let message) = record { return message }
            return nil
        }
        if let signer, let newest = ownMessages.max(by: { $0.position < $1.position }) { try signer.adopt(newest) }
        let height = application.committedHeight + 1
        let validators = try application.validatorSet(height: height)
        let driver = ConsensusDriver(domain: domain, timeouts: timeouts, application: application, transport: transport,
                                     wal: wal, signer: signer, verifier: verifier, validators: validators)
        var pending = driver.engine.startHeight(height, validators: validators)
        for record in records where record.height == height || record.height == height + 1 {
            guard let input = record.engineInput else { continue }
            if case .message(let m) = input { driver.seen.insert(m) }
            pending += driver.engine.handle(input)
        }
        try driver.run(pending)
        return driver
    }

    /// The height being decided.
    public var height: UInt64 { engine.height }

    /// Takes a message from a peer: drops it unless it is for this height or the next and
    /// authenticates against that height's validators; logs it; hands it to the engine.
    public func receive(_ message: ConsensusMessage) throws {
        guard message.height == height || message.height == height + 1, !seen.contains(message) else { return }
        let validators = message.height == height ? engine.validators : try validatorsOfNextHeight()
        do {
            try message.authenticate(domain, validators: validators, verifier: verifier)
        } catch {
            rejectedMessages += 1
            return
        }
        seen.insert(message)
        try wal.append(.received(message))
        try run(engine.handle(.message(message)))
    }

    /// A timeout scheduled through the transport has fired.
    public func timeoutFired(_ timeout: Timeout) throws {
        guard timeout.height == height else { return }
        // Re-broadcast changes no state: not logged, so a replay never starts a second re-broadcast timer.
        if timeout.kind != .rebroadcast { try wal.append(.timeout(timeout)) }
        try run(engine.handle(.timeout(timeout)))
    }

    /// A decided block learned from a peer with its certificate (block sync): verified, logged, decided.
    public func receiveCertifiedDecision(value: ProposalValue, certificate: CommitCertificate) throws {
        guard certificate.height == height, engine.decision == nil, value.blockHash == certificate.blockHash else { return }
        do {
            try certificate.verify(domain, validators: engine.validators, verifier: verifier)
        } catch {
            rejectedMessages += 1
            return
        }
        try wal.append(.certifiedDecision(value: value, certificate: certificate))
        try run(engine.handle(.certifiedDecision(value: value, certificate: certificate)))
    }

    private func validatorsOfNextHeight() throws -> ValidatorSet {
        if let next = nextValidators { return next }
        let next = try application.validatorSet(height: height + 1)
        nextValidators = next
        return next
    }

    /// Carries out effects in order; effects the engine returns meanwhile are queued behind them.
    private func run(_ effects: [EngineEffect]) throws {
        var queue = effects
        var next = 0
        while next < queue.count {
            let effect = queue[next]
            next += 1
            switch effect {
            case .requestValue(let h, let r):
                let value = try application.proposeValue(height: h, round: r)
                try wal.append(.proposalValue(height: h, round: r, value: value))
                queue += engine.handle(.proposalValue(height: h, round: r, value: value))
            case .requestValidation(let h, let value):
                let valid = application.verify(height: h, value: value)
                try wal.append(.validity(height: h, value: value.key, valid: valid))
                queue += engine.handle(.validity(height: h, value: value.key, valid: valid))
            case .signAndBroadcast(let unsigned):
                guard let signer else { continue }
                let signed: ConsensusMessage
                do {
                    signed = try signer.signLogged(unsigned)
                } catch let refusal as SignerError {
                    if case .regression = refusal, seen.contains(where: { $0.signBytes(domain) == unsigned.signBytes(domain) }) { continue }
                    refusedSignatures.append(refusal)
                    continue
                }
                seen.insert(signed)
                try wal.append(.own(signed))
                try wal.sync()
                transport.broadcast([signed])
                queue += engine.handle(.message(signed))
            case .rebroadcast(let messages):
                transport.broadcast(messages)
            case .scheduleTimeout(let t, let millis):
                transport.schedule(t, afterMillis: millis)
            case .decide(let decision):
                try application.commit(decision)
                if wal.size >= WriteAheadLog.compactionThresholdBytes {
                    // The log's records of our messages are about to go: the signer's file holds them from now on.
                    try signer?.sync()
                    try wal.compact(committed: decision.height)
                }
            case .evidence(let evidence):
                transport.reportEvidence(evidence)
            case .heightCompleted(let h):
                guard h == height else { continue }
                let validators = try validatorsOfNextHeight()
                nextValidators = nil
                seen = []
                queue += engine.startHeight(h + 1, validators: validators)
            }
        }
    }
}
