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
    /// is synced, and so is the signer state; a decision waits for no WAL sync, and a height's
    /// records stay in the log (compaction only past the threshold) without being replayed.
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
                    let state = try? signerState.load().map(SignerState.init(decoding:))
                    XCTAssertEqual(state?.signBytes, message.signBytes(TestChain.domain), "\(message) left before the signer stored it")
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
}
