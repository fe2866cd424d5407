import Consensus
import Crypto
import Primitives

/// The fault plan of one seed: network, validators, faults. Drawn from the seed.
struct SimConfig {
    var powers: [UInt64]
    var byzantine: Int?
    var maxDelay: Int
    var dropPermille: Int
    var duplicatePermille: Int
    var chaosMillis: UInt64
    var crashes: [(node: Int, at: UInt64, downFor: UInt64)]
    var partitions: [(at: UInt64, until: UInt64)]
    /// After healing, every honest node must commit this many more heights…
    var liveHeights: UInt64 = 2
    /// …within this much virtual time (at the test profile: a bounded number of rounds).
    var liveBoundMillis: UInt64 = 4000
    /// Whether the engines end the commit pause once every precommit is in (``TimeoutConfig/skipCommitPause``):
    /// on for odd seeds, so both ways of starting the next height run under every fault.
    var skipCommitPause = false

    static func draw(_ r: inout SimRandom) -> SimConfig {
        let n = [4, 4, 4, 4, 4, 5, 5, 7][r.below(8)]
        let equal = r.chance(500)
        let powers = (0..<n).map { _ in equal ? UInt64(1) : UInt64(r.inRange(1...4)) }
        let total = powers.reduce(0, +)
        var byzantine: Int?
        if r.chance(400) {
            let candidate = r.below(n)
            if powers[candidate] * 3 < total { byzantine = candidate }
        }
        let chaos = UInt64(r.inRange(150...500))
        var crashes: [(node: Int, at: UInt64, downFor: UInt64)] = []
        for _ in 0..<r.below(4) {
            let node = r.below(n)
            if node != byzantine { crashes.append((node, UInt64(r.below(Int(chaos))), UInt64(r.inRange(5...200)))) }
        }
        var partitions: [(at: UInt64, until: UInt64)] = []
        for _ in 0..<r.below(3) {
            let at = UInt64(r.below(Int(chaos)))
            partitions.append((at, min(chaos, at + UInt64(r.inRange(20...200)))))
        }
        return SimConfig(powers: powers, byzantine: byzantine, maxDelay: r.inRange(1...20), dropPermille: r.below(250),
                         duplicatePermille: r.below(150), chaosMillis: chaos, crashes: crashes, partitions: partitions)
    }
}

/// A deterministic in-process network of validators: a seeded scheduler over a virtual clock
/// delivers messages with delay, loss, duplication and reordering, splits and heals partitions,
/// crashes and restarts nodes, and lets one byzantine validator equivocate. After every event it
/// checks the safety properties; after the final heal it checks that every honest node commits.
final class Simulation {
    enum Event {
        case deliver(to: Int, from: Int, ConsensusMessage)
        case timer(node: Int, incarnation: Int, Timeout)
        case crash(Int)
        case restart(Int)
        case partition
        case heal
        case finalHeal
    }

    private struct Scheduled {
        let time: UInt64
        let sequence: UInt64
        let event: Event
        func precedes(_ o: Scheduled) -> Bool { (time, sequence) < (o.time, o.sequence) }
    }

    /// Keys of the validators, the same for every seed (only the network's behaviour is random).
    static let keys: [PrivateKey] = (0..<7).map { try! PrivateKey(Keccak256.digest(Array("sim validator \($0)".utf8))) }

    let config: SimConfig
    let domain = SignDomain(chainID: 424242, genesisHash: Keccak256.hash(Array("sim genesis".utf8)))
    let verifier = SignatureVerifier()
    /// The engines' timeouts: the test profile, with ``SimConfig/skipCommitPause``.
    var timeouts: TimeoutConfig {
        let t = TimeoutConfig.testProfile
        return try! TimeoutConfig(proposeMillis: t.proposeMillis, prevoteMillis: t.prevoteMillis, precommitMillis: t.precommitMillis,
                                  roundIncrementMillis: t.roundIncrementMillis, commitMillis: t.commitMillis,
                                  rebroadcastMillis: t.rebroadcastMillis, skipCommitPause: config.skipCommitPause)
    }
    let genesis: ValidatorSet
    private(set) var nodes: [SimNode] = []
    private var random: SimRandom
    private var heap: [Scheduled] = []
    private var sequence: UInt64 = 0
    private(set) var now: UInt64 = 0
    private var groups: [Int]?
    private var chaotic = true
    private var trace: [UInt8] = []
    private(set) var events = 0

    /// Safety or liveness failures, each a sentence naming the seed's state.
    private(set) var violations: [String] = []
    /// Evidence reported by any node.
    var evidence: [DuplicateVoteEvidence] = []
    private var decided: [UInt64: ProposalValue] = [:]
    private var signed: [SignPosition: [Address: [UInt8]]] = [:]
    private var prevotePower: [PrevoteKey: UInt64] = [:]
    private var prevoted: Set<PrevoterKey> = []
    private var lastLock: [Int: (height: UInt64, round: UInt32, block: Hash32)] = [:]

    private struct PrevoteKey: Hashable { let height: UInt64; let round: UInt32; let block: Hash32? }
    private struct PrevoterKey: Hashable { let height: UInt64; let round: UInt32; let validator: Address; let block: Hash32? }

    /// A run of `seed`; `config` replaces the fault plan the seed would draw (for a chosen scenario).
    init(seed: UInt64, config chosen: SimConfig? = nil) throws {
        random = SimRandom(seed: seed)
        let drawn = SimConfig.draw(&random)
        var config = chosen ?? drawn
        if chosen == nil { config.skipCommitPause = seed % 2 == 1 }
        self.config = config
        genesis = try ValidatorSet(config.powers.indices.map { Validator(address: Self.keys[$0].address, power: config.powers[$0]) })
        for c in config.crashes {
            push(c.at, .crash(c.node))
            push(min(config.chaosMillis, c.at + c.downFor), .restart(c.node))
        }
        for p in config.partitions {
            push(p.at, .partition)
            push(p.until, .heal)
        }
        push(config.chaosMillis, .finalHeal)
    }

    /// Runs the seed to its end; returns the trace hash.
    func run() throws -> Hash32 {
        for i in config.powers.indices {
            let node = SimNode(simulation: self, index: i, key: Self.keys[i], byzantine: i == config.byzantine, genesis: genesis)
            node.application.onCommit = { [unowned self] in self.checkCommit(node: $0, $1) }
            nodes.append(node)
            try node.start()
        }
        var target: UInt64?
        var deadline = UInt64.max
        while violations.isEmpty, let next = pop() {
            if next.time > deadline {
                let states = nodes.map { n in n.driver.map { "h\($0.engine.height)/r\($0.engine.round)/\($0.engine.step) locked \($0.engine.lockedRound.map(String.init) ?? "-"):\($0.engine.lockedValue?.blockHash.hex.prefix(6) ?? "-") valid \($0.engine.validRound.map(String.init) ?? "-"):\($0.engine.validValue?.blockHash.hex.prefix(6) ?? "-")" } ?? "down" }
                violations.append("no commit within \(config.liveBoundMillis) ms after healing: engines \(states), target height \(target! + 1)")
                break
            }
            now = next.time
            events += 1
            try process(next.event)
            if case .finalHeal = next.event {
                target = (honest.map { $0.application.committedHeight }.max() ?? 0) + config.liveHeights
                deadline = now + config.liveBoundMillis
            }
            checkEngines()
            if let target, honest.allSatisfy({ $0.application.committedHeight >= target }) { break }
            if events > 400_000 { violations.append("event budget exhausted"); break }
        }
        for e in evidence {
            if nodes.first(where: { $0.key.address == e.validator })?.byzantine != true {
                violations.append("evidence accuses honest validator \(e.validator)")
            }
            if (try? e.verify(domain, validators: genesis, verifier: verifier)) == nil { violations.append("unverifiable evidence") }
        }
        return Keccak256.hash(trace)
    }

    private var honest: [SimNode] { nodes.filter { !$0.byzantine } }

    // MARK: - Events

    private func process(_ event: Event) throws {
        switch event {
        case .deliver(let to, let from, let message):
            record(1, to, message.encoded)
            let node = nodes[to]
            guard node.isUp, reachable(from, to) else { return }
            syncIfBehind(node, peer: nodes[from], height: message.height)
            try guarded(node) { try $0.receive(message) }
        case .timer(let i, let incarnation, let timeout):
            record(2, i, [timeout.kind.rawValue] + u64(timeout.height) + u64(UInt64(timeout.round)))
            guard nodes[i].incarnation == incarnation, nodes[i].isUp else { return }
            try guarded(nodes[i]) { try $0.timeoutFired(timeout) }
        case .crash(let i):
            record(3, i, [])
            if nodes[i].isUp { nodes[i].crash(&random) }
        case .restart(let i):
            record(4, i, [])
            try restart(i)
        case .partition:
            var g = nodes.map { _ in random.below(2) }
            g[0] = 0
            g[1 + random.below(nodes.count - 1)] = 1
            groups = g
            record(5, 0, g.map(UInt8.init))
        case .heal:
            record(6, 0, [])
            groups = nil
        case .finalHeal:
            record(7, 0, [])
            groups = nil
            chaotic = false
            for i in nodes.indices where !nodes[i].isUp { try restart(i) }
        }
    }

    private func restart(_ i: Int) throws {
        guard !nodes[i].isUp else { return }
        do {
            try nodes[i].start()
        } catch {
            violations.append("node \(i) failed to recover at \(now) ms: \(error)")
        }
    }

    /// Runs a driver call; an error thrown by the engine's driver is a violation (bad input never throws).
    private func guarded(_ node: SimNode, _ body: (ConsensusDriver) throws -> Void) throws {
        guard let driver = node.driver else { return }
        do { try body(driver) } catch { violations.append("node \(node.index) threw at \(now) ms: \(error)") }
    }

    /// Block sync, modelled: a node hearing about a later height gets the peer's certified block for its own height.
    private func syncIfBehind(_ node: SimNode, peer: SimNode, height: UInt64) {
        guard let driver = node.driver, height > driver.height, peer.isUp,
              peer.application.chain.count >= Int(driver.height) else { return }
        let d = peer.application.chain[Int(driver.height) - 1]
        try? guarded(node) { try $0.receiveCertifiedDecision(value: d.value, certificate: d.certificate) }
    }

    private func reachable(_ a: Int, _ b: Int) -> Bool { groups.map { $0[a] == $0[b] } ?? true }

    // MARK: - Network

    /// A node broadcasts: every peer gets each message after a random delay, unless it is
    /// dropped; some are duplicated. The byzantine node sends conflicting twins to half the peers.
    func send(from: Int, _ messages: [ConsensusMessage]) {
        for message in messages {
            observe(message)
            let twin = nodes[from].byzantine && message.signer == nodes[from].key.address ? conflictingTwin(of: message) : nil
            if let twin { observe(twin) }
            for to in nodes.indices where to != from {
                let copy = twin != nil && random.chance(500) ? twin! : message
                if chaotic, random.chance(config.dropPermille) { continue }
                push(now + UInt64(random.inRange(1...config.maxDelay)), .deliver(to: to, from: from, copy))
                if chaotic, random.chance(config.duplicatePermille) {
                    push(now + UInt64(random.inRange(1...config.maxDelay * 3)), .deliver(to: to, from: from, copy))
                }
            }
        }
    }

    func scheduleTimer(node: Int, incarnation: Int, timeout: Timeout, after millis: UInt64) {
        push(now + millis, .timer(node: node, incarnation: incarnation, timeout))
    }

    /// The byzantine validator's second message at the same position: another block (sometimes
    /// an invalid one) for a proposal, another block or nil for a vote.
    private func conflictingTwin(of message: ConsensusMessage) -> ConsensusMessage? {
        let key = nodes[config.byzantine!].key
        guard random.chance(600) else { return nil }
        switch message {
        case .proposal(let sp):
            let p = sp.proposal
            let marker: [UInt8] = random.chance(300) ? [SimApplication.invalidMarker] : []
            let value = SimApplication.value(marker + Array("evil h=\(p.height) r=\(p.round) \(random.next())".utf8))
            let twin = Proposal(height: p.height, round: p.round, polRound: p.polRound, value: value, proposer: p.proposer)
            return .proposal(SignedProposal(proposal: twin, signature: key.sign(Keccak256.hash(twin.signBytes(domain)))))
        case .vote(let sv):
            let v = sv.vote
            let other: Hash32? = v.blockHash == nil || random.chance(300) ? Keccak256.hash(u64(random.next())) : nil
            let twin = Vote(type: v.type, height: v.height, round: v.round, blockHash: other, validator: v.validator)
            return .vote(SignedVote(vote: twin, signature: key.sign(Keccak256.hash(twin.signBytes(domain)))))
        }
    }

    // MARK: - Checks

    /// Every signed message on the wire (relayed ones too, attributed to their signer): no honest key signs two different things at one
    /// position; honest precommits and prevotes follow the lock rule against all prevotes sent.
    private func observe(_ message: ConsensusMessage) {
        let bytes = message.signBytes(domain)
        let position = SignBytes.position(of: bytes, domain: domain)!
        let signer = message.signer
        let from = genesis.index(of: signer).flatMap { i in nodes.firstIndex { $0.key.address == genesis.validators[i].address } }!
        let honestSigner = !nodes[from].byzantine
        if let earlier = signed[position]?[signer], earlier != bytes, honestSigner {
            violations.append("honest node \(from) double-signed at \(position)")
        }
        signed[position, default: [:]][signer] = bytes
        guard case .vote(let sv) = message else { return }
        let v = sv.vote
        if v.type == .prevote {
            if prevoted.insert(PrevoterKey(height: v.height, round: v.round, validator: v.validator, block: v.blockHash)).inserted {
                prevotePower[PrevoteKey(height: v.height, round: v.round, block: v.blockHash), default: 0] += power(of: v.validator)
            }
            if honestSigner, let block = v.blockHash, let lock = lastLock[from], lock.height == v.height, lock.round < v.round,
               lock.block != block {
                let justified = (lock.round..<v.round).contains { polPower(v.height, $0, block) >= genesis.quorumPower }
                if !justified { violations.append("node \(from) prevoted \(block) at round \(v.round) while locked on \(lock.block) since \(lock.round) without a POL") }
            }
        } else if honestSigner, let block = v.blockHash {
            if polPower(v.height, v.round, block) < genesis.quorumPower {
                violations.append("node \(from) precommitted \(block) at h=\(v.height) r=\(v.round) without +2/3 prevotes")
            }
            if lastLock[from].map({ ($0.height, $0.round) < (v.height, v.round) }) ?? true {
                lastLock[from] = (v.height, v.round, block)
            }
        }
    }

    private func polPower(_ h: UInt64, _ r: UInt32, _ block: Hash32) -> UInt64 {
        prevotePower[PrevoteKey(height: h, round: r, block: block)] ?? 0
    }

    private func power(of address: Address) -> UInt64 {
        genesis.index(of: address).map { genesis.validators[$0].power } ?? 0
    }

    /// Agreement, validity and the certificate of every honest commit.
    private func checkCommit(node: Int, _ d: Decision) {
        guard !nodes[node].byzantine else { return }
        if let earlier = decided[d.height], earlier != d.value {
            violations.append("disagreement at height \(d.height): node \(node) decided \(d.value.blockHash), another \(earlier.blockHash)")
        }
        decided[d.height] = d.value
        if !SimApplication.isValid(d.value) { violations.append("node \(node) decided an invalid value at height \(d.height)") }
        let validators = try! nodes[node].application.validatorSet(height: d.height)
        do {
            try d.certificate.verify(domain, validators: validators, verifier: verifier)
        } catch {
            violations.append("node \(node) decided height \(d.height) with a bad certificate: \(error)")
        }
        record(8, node, d.value.blockHash.bytes)
    }

    /// The engines' own invariants, after every event.
    private func checkEngines() {
        for node in honest {
            guard let e = node.driver?.engine else { continue }
            if (e.lockedRound == nil) != (e.lockedValue == nil) { violations.append("node \(node.index): lockedRound and lockedValue disagree") }
            if let l = e.lockedRound, l > e.round { violations.append("node \(node.index): locked in future round \(l)") }
            if let l = e.lockedRound, (e.validRound ?? 0) < l { violations.append("node \(node.index): validRound below lockedRound") }
        }
    }

    // MARK: - Scheduler and trace

    private func push(_ time: UInt64, _ event: Event) {
        sequence += 1
        heap.append(Scheduled(time: time, sequence: sequence, event: event))
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].precedes(heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    private func pop() -> Scheduled? {
        guard !heap.isEmpty else { return nil }
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count, heap[l].precedes(heap[m]) { m = l }
                if r < heap.count, heap[r].precedes(heap[m]) { m = r }
                if m == i { break }
                heap.swapAt(i, m)
                i = m
            }
        }
        return top
    }

    private func record(_ kind: UInt8, _ node: Int, _ body: [UInt8]) {
        trace += u64(now)
        trace += [kind, UInt8(node)]
        trace += body
    }

    private func u64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * $0)) } }
}
