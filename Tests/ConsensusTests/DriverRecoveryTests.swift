import Consensus
import Crypto
import Foundation
import Primitives
import XCTest

/// The driver on real files (WAL and signer state): a restart replays the height, signs nothing
/// new or different, and a torn tail left by the crash is cut.
final class DriverRecoveryTests: XCTestCase {
    private final class Recorder: ConsensusTransport {
        var sent: [ConsensusMessage] = []
        var timers: [Timeout] = []
        func broadcast(_ messages: [ConsensusMessage]) { sent += messages }
        func schedule(_ timeout: Timeout, afterMillis millis: UInt64) { timers.append(timeout) }
        func reportEvidence(_ evidence: DuplicateVoteEvidence) {}
    }

    func testRestartReplaysTheHeightAndReusesStoredSignatures() throws {
        let set = TestChain.validators
        let meKey = TestChain.keys.first { $0.address == set.proposer(round: 0).address }!
        let dir = TestChain.temporaryDirectory()
        try DurableSigner.create(directory: dir, key: meKey)
        let app = SimApplication(node: 0, genesis: set)
        func start(_ transport: Recorder) throws -> ConsensusDriver {
            try ConsensusDriver.recover(domain: TestChain.domain, timeouts: .testProfile, application: app, transport: transport,
                                        wal: WriteAheadLog(storage: try FileWALStorage(path: dir + "/wal")),
                                        signer: try DurableSigner.open(directory: dir, domain: TestChain.domain))
        }
        let first = Recorder()
        var driver = try start(first)
        // As proposer it proposed and prevoted its own block.
        XCTAssertEqual(first.sent.count, 2)
        guard case .proposal(let proposal) = first.sent[0] else { return XCTFail("first message is not a proposal") }
        let block = proposal.proposal.value.blockHash

        // Restart: the last signature (the prevote) is sent again, byte for byte, from the signer's
        // state; the proposal, below it, is not signed again (the re-broadcast timer resends it).
        let second = Recorder()
        driver = try start(second)
        XCTAssertEqual(second.sent, [first.sent[1]])
        XCTAssertTrue(second.timers.contains(Timeout(kind: .rebroadcast, height: 1, round: 0)))
        XCTAssertEqual(driver.engine.step, .prevote)
        XCTAssertTrue(driver.refusedSignatures.isEmpty)

        // Two more prevotes: it precommits. Then a crash leaves half a record behind.
        for k in TestChain.keys.filter({ $0 != meKey }).prefix(2) {
            try driver.receive(.vote(TestChain.vote(k, .prevote, block: block)))
        }
        XCTAssertEqual(driver.engine.lockedRound, 0)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/wal"))
        handle.seekToEndOfFile()
        handle.write(Data(WriteAheadLog.frame(.timeout(Timeout(kind: .prevote, height: 1, round: 0))).prefix(7)))
        handle.closeFile()

        let third = Recorder()
        driver = try start(third)
        XCTAssertEqual(driver.engine.lockedValue?.blockHash, block, "the lock survives the restart")
        XCTAssertEqual(driver.engine.step, .precommit)
        XCTAssertTrue(driver.refusedSignatures.isEmpty)
        for k in TestChain.keys.filter({ $0 != meKey }).prefix(2) {
            try driver.receive(.vote(TestChain.vote(k, .precommit, block: block)))
        }
        XCTAssertEqual(app.committedHeight, 1)
        XCTAssertEqual(app.chain[0].value.blockHash, block)
        try app.chain[0].certificate.verify(TestChain.domain, validators: set)

        // After the commit the WAL holds only the end-of-height marker; a restart starts height 2.
        let fourth = Recorder()
        driver = try start(fourth)
        XCTAssertEqual(driver.height, 2)
    }

    /// The durability rule (docs/consensus.md, "Durability"): when a message we signed is first
    /// broadcast, every WAL byte appended before it (its own record, the inputs it was signed on)
    /// is synced — the record is the signature's durable copy, and the signer's file is written but
    /// not synced for it; a decision waits for no WAL sync, and a height's records stay in the log
    /// (compaction only past the threshold) without being replayed.
    func testNothingWeSignLeavesBeforeItAndItsInputsAreDurable() throws {
        final class Checking: ConsensusTransport {
            let disk: SimDisk
            let signerState: SimSignerStorage
            var sent: [ConsensusMessage] = []
            init(disk: SimDisk, signerState: SimSignerStorage) {
                self.disk = disk
                self.signerState = signerState
            }
            func broadcast(_ messages: [ConsensusMessage]) {
                for message in messages where !sent.contains(message) {
                    XCTAssertTrue(disk.unsynced.isEmpty, "\(message) left with \(disk.unsynced.count) WAL bytes not synced")
                    let frame = WriteAheadLog.frame(.own(message))
                    XCTAssertEqual(Array(disk.synced.suffix(frame.count)), frame, "\(message) left before the WAL held it")
                    let state = try? signerState.load().map(SignerState.init(decoding:))
                    XCTAssertEqual(state?.signBytes, message.signBytes(TestChain.domain), "\(message) left before the signer stored it")
                    XCTAssertNil(signerState.durable, "the signer's file was synced for a signature")
                    sent.append(message)
                }
            }
            func schedule(_ timeout: Timeout, afterMillis millis: UInt64) {}
            func reportEvidence(_ evidence: DuplicateVoteEvidence) {}
        }
        let set = TestChain.validators
        let meKey = TestChain.keys.first { $0.address == set.proposer(round: 0).address }!
        let disk = SimDisk(), signerState = SimSignerStorage()
        let transport = Checking(disk: disk, signerState: signerState)
        let app = SimApplication(node: 0, genesis: set)
        let driver = try ConsensusDriver.recover(domain: TestChain.domain, timeouts: .testProfile, application: app, transport: transport,
                                                 wal: WriteAheadLog(storage: disk),
                                                 signer: try DurableSigner(key: meKey, storage: signerState, domain: TestChain.domain))
        XCTAssertEqual(transport.sent.count, 2, "the proposal and our prevote")
        guard case .proposal(let proposal) = transport.sent[0] else { return XCTFail("first message is not a proposal") }
        let block = proposal.proposal.value.blockHash
        for k in TestChain.keys.filter({ $0 != meKey }).prefix(2) {
            try driver.receive(.vote(TestChain.vote(k, .prevote, block: block)))
        }
        XCTAssertEqual(transport.sent.count, 3, "our precommit")
        for k in TestChain.keys.filter({ $0 != meKey }).prefix(2) {
            try driver.receive(.vote(TestChain.vote(k, .precommit, block: block)))
        }
        XCTAssertEqual(app.committedHeight, 1)
        XCTAssertFalse(disk.unsynced.isEmpty, "the decision did not wait for a sync of the precommits")
        let records = try WriteAheadLog(storage: disk).open()
        XCTAssertTrue(records.contains { $0.height == 1 }, "height 1's records stay below the compaction threshold")
        let restarted = try ConsensusDriver.recover(domain: TestChain.domain, timeouts: .testProfile, application: app,
                                                    transport: Checking(disk: disk, signerState: signerState), wal: WriteAheadLog(storage: disk),
                                                    signer: try DurableSigner(key: meKey, storage: signerState, domain: TestChain.domain))
        XCTAssertEqual(restarted.height, 2)
    }

    /// A crash at any WAL sync of a height (the sync fails, the process dies: unsynced WAL bytes
    /// and, in half the cases, the signer's unsynced store are lost), a restart, and the height run
    /// to its decision: of everything broadcast across both lives no two messages share a position
    /// with different sign bytes, although the proposer builds another block in its second life.
    /// (When the signer kept a proposal the log lost, the second life's proposal is refused as a
    /// conflict: nothing is proposed in that round, and the others would move to the next.)
    func testACrashAtAnySyncLeavesNoSecondSignature() throws {
        let set = TestChain.validators
        let meKey = TestChain.keys.first { $0.address == set.proposer(round: 0).address }!
        let others = TestChain.keys.filter { $0 != meKey }.prefix(2)
        var decided = 0
        for crashAt in 0..<3 {
            for seed in UInt64(1)...4 {
                var random = SimRandom(seed: seed)
                let disk = SimDisk(), signerState = SimSignerStorage(), transport = Recorder()
                let crashing = CrashingDisk(disk, failingSync: crashAt)
                let app = IncarnationApplication(SimApplication(node: 0, genesis: set))
                // Runs the height from wherever the driver is (votes already counted are ignored).
                func run(_ wal: WALStorage) throws -> ConsensusDriver {
                    let driver = try ConsensusDriver.recover(domain: TestChain.domain, timeouts: .testProfile, application: app,
                                                             transport: transport, wal: WriteAheadLog(storage: wal),
                                                             signer: try DurableSigner(key: meKey, storage: signerState, domain: TestChain.domain))
                    let block = transport.sent.compactMap { m -> Hash32? in
                        if case .proposal(let p) = m { return p.proposal.value.blockHash }
                        return nil
                    }.last
                    guard let block else { return driver }
                    for type in [VoteType.prevote, .precommit] {
                        for k in others { try driver.receive(.vote(TestChain.vote(k, type, block: block))) }
                    }
                    return driver
                }
                XCTAssertThrowsError(try run(crashing), "no crash at sync \(crashAt)")
                disk.crash(&random)
                signerState.crash(&random)
                app.incarnation += 1
                let restarted = try run(disk)
                decided += Int(app.committedHeight)
                if app.committedHeight == 0 {
                    XCTAssertEqual(restarted.refusedSignatures, [.conflictingRequest(position: SignPosition(height: 1, round: 0, step: .propose))],
                                   "crash at sync \(crashAt), seed \(seed): neither decided nor refused")
                }
                var signed: [SignPosition: [UInt8]] = [:]
                for message in transport.sent {
                    let bytes = message.signBytes(TestChain.domain)
                    XCTAssertEqual(signed[message.position, default: bytes], bytes, "signed twice at \(message.position): crash at sync \(crashAt), seed \(seed)")
                    signed[message.position] = bytes
                }
            }
        }
        XCTAssertGreaterThan(decided, 8, "most second lives decide")
    }

    /// The signer's file lost what it stored since its last sync and the chain restarts below the
    /// log's heights (its data was wiped and is synced again): the newest message of ours in the WAL
    /// becomes the signer's state at recovery, so nothing is signed at the lower heights.
    func testTheSignerTakesTheNewestOfItsMessagesFromTheLog() throws {
        let set = TestChain.validators
        let meKey = TestChain.keys[0]
        let disk = SimDisk()
        let wal = WriteAheadLog(storage: disk)
        _ = try wal.open()
        let precommit = ConsensusMessage.vote(TestChain.vote(meKey, .precommit, height: 5, block: Keccak256.hash([5])))
        try wal.append(.own(.vote(TestChain.vote(meKey, .prevote, height: 5, block: Keccak256.hash([5])))))
        try wal.append(.own(precommit))
        try wal.sync()
        let signerState = SimSignerStorage(), transport = Recorder()
        let signer = try DurableSigner(key: meKey, storage: signerState, domain: TestChain.domain)
        let driver = try ConsensusDriver.recover(domain: TestChain.domain, timeouts: .testProfile, application: SimApplication(node: 0, genesis: set),
                                                 transport: transport, wal: WriteAheadLog(storage: disk), signer: signer)
        XCTAssertEqual(signer.state?.position, precommit.position)
        XCTAssertEqual(signer.state?.signature, precommit.signature)
        XCTAssertNotNil(signerState.durable, "an adopted state is synced")
        XCTAssertEqual(driver.height, 1)
        try driver.timeoutFired(Timeout(kind: .propose, height: 1, round: 0))
        XCTAssertTrue(transport.sent.isEmpty, "signed below its newest message")
        XCTAssertFalse(driver.refusedSignatures.isEmpty)
    }

    /// A decision that compacts the WAL (past its threshold) syncs the signer's file first: the
    /// log's records of our messages are gone after it.
    func testCompactionSyncsTheSignerFirst() throws {
        let set = TestChain.validators
        let meKey = TestChain.keys.first { $0.address == set.proposer(round: 0).address }!
        let disk = SimDisk()
        let filler = WriteAheadLog(storage: disk)
        _ = try filler.open()
        // Height 0's records are inert (the engine starts at 1); this one only fills the log.
        try filler.append(.proposalValue(height: 0, round: 0, value: ProposalValue(blockHash: Hash32.zero,
                                                                                 payload: [UInt8](repeating: 0, count: WriteAheadLog.compactionThresholdBytes))))
        try filler.sync()
        let signerState = SimSignerStorage(), transport = Recorder(), app = SimApplication(node: 0, genesis: set)
        let driver = try ConsensusDriver.recover(domain: TestChain.domain, timeouts: .testProfile, application: app, transport: transport,
                                                 wal: WriteAheadLog(storage: disk),
                                                 signer: try DurableSigner(key: meKey, storage: signerState, domain: TestChain.domain))
        guard case .proposal(let proposal) = transport.sent.first else { return XCTFail("no proposal") }
        for type in [VoteType.prevote, .precommit] {
            for k in TestChain.keys.filter({ $0 != meKey }).prefix(2) {
                try driver.receive(.vote(TestChain.vote(k, type, block: proposal.proposal.value.blockHash)))
            }
        }
        XCTAssertEqual(app.committedHeight, 1)
        XCTAssertEqual(try WriteAheadLog(storage: disk).open(), [.endOfHeight(1)], "the decision compacted the log")
        XCTAssertNotNil(signerState.durable)
        XCTAssertEqual(signerState.durable, signerState.stored, "the signer's newest state was synced before its records went")
    }
}

/// A WAL disk whose sync number `failingSync` (from 0) fails, as if the process died in it.
private final class CrashingDisk: WALStorage {
    struct Crash: Error {}
    private let disk: SimDisk
    private var syncsLeft: Int
    init(_ disk: SimDisk, failingSync: Int) {
        self.disk = disk
        syncsLeft = failingSync
    }
    func readAll() throws -> [UInt8] { try disk.readAll() }
    func append(_ bytes: [UInt8]) throws { try disk.append(bytes) }
    func sync() throws {
        if syncsLeft == 0 { throw Crash() }
        syncsLeft -= 1
        try disk.sync()
    }
    func truncate(to length: Int) throws { try disk.truncate(to: length) }
    func replace(with bytes: [UInt8]) throws { try disk.replace(with: bytes) }
}

/// The simulation's chain, whose proposals differ from one life of the process to the next (a
/// real proposer's block carries its clock and its mempool).
private final class IncarnationApplication: ConsensusApplication {
    let chain: SimApplication
    var incarnation = 0
    init(_ chain: SimApplication) { self.chain = chain }
    var committedHeight: UInt64 { chain.committedHeight }
    func validatorSet(height: UInt64) throws -> ValidatorSet { try chain.validatorSet(height: height) }
    func proposeValue(height: UInt64, round: UInt32) throws -> ProposalValue {
        SimApplication.value(Array("block h=\(height) r=\(round) life \(incarnation)".utf8))
    }
    func verify(height: UInt64, value: ProposalValue) -> Bool { chain.verify(height: height, value: value) }
    func commit(_ decision: Decision) throws { try chain.commit(decision) }
}
