import Consensus
import Crypto
import Foundation
import Primitives
import XCTest

/// The file-backed signer: state written before a signature leaves, regressions refused, the same
/// request answered with the stored signature, across reopening.
final class SignerTests: XCTestCase {
    private func vote(_ round: UInt32, _ type: VoteType, _ block: Hash32?, height: UInt64 = 5) -> UnsignedMessage {
        .vote(Vote(type: type, height: height, round: round, blockHash: block, validator: TestChain.keys[0].address))
    }

    func testSignerStateSurvivesReopenAndRefusesRegressions() throws {
        let dir = TestChain.temporaryDirectory()
        try DurableSigner.create(directory: dir, key: TestChain.keys[0])
        let block = Keccak256.hash([1])
        var signer = try DurableSigner.open(directory: dir, domain: TestChain.domain)
        XCTAssertNil(signer.state)
        let first = try signer.sign(vote(1, .prevote, block))
        XCTAssertNoThrow(try first.authenticate(TestChain.domain, validators: TestChain.validators, verifier: SignatureVerifier()))

        signer = try DurableSigner.open(directory: dir, domain: TestChain.domain)
        XCTAssertEqual(signer.state?.position, SignPosition(height: 5, round: 1, step: .prevote))
        XCTAssertEqual(try signer.sign(vote(1, .prevote, block)), first, "the same request gets the stored signature")
        XCTAssertThrowsError(try signer.sign(vote(1, .prevote, nil))) {
            XCTAssertEqual($0 as? SignerError, .conflictingRequest(position: SignPosition(height: 5, round: 1, step: .prevote)))
        }
        XCTAssertThrowsError(try signer.sign(vote(0, .precommit, block))) {
            XCTAssertEqual($0 as? SignerError, .regression(requested: SignPosition(height: 5, round: 0, step: .precommit),
                                                           lastSigned: SignPosition(height: 5, round: 1, step: .prevote)))
        }
        XCTAssertThrowsError(try signer.sign(vote(9, .prevote, block, height: 4))) {
            guard case SignerError.regression = $0 else { return XCTFail("\($0)") }
        }
        _ = try signer.sign(vote(1, .precommit, block))
        _ = try signer.sign(vote(0, .prevote, nil, height: 6))
        XCTAssertEqual(try DurableSigner.open(directory: dir, domain: TestChain.domain).state?.position,
                       SignPosition(height: 6, round: 0, step: .prevote))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/signer_state.tmp"))
    }

    func testBadFilesAreNamed() throws {
        let dir = TestChain.temporaryDirectory()
        XCTAssertThrowsError(try DurableSigner.open(directory: dir, domain: TestChain.domain)) {
            guard case SignerError.badKeyFile = $0 else { return XCTFail("\($0)") }
        }
        try DurableSigner.create(directory: dir, key: TestChain.keys[0])
        _ = try DurableSigner.open(directory: dir, domain: TestChain.domain).sign(vote(0, .prevote, nil))
        var state = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/signer_state")))
        state[20] ^= 1
        try Data(state).write(to: URL(fileURLWithPath: dir + "/signer_state"))
        XCTAssertThrowsError(try DurableSigner.open(directory: dir, domain: TestChain.domain)) {
            guard case SignerError.corruptState = $0 else { return XCTFail("\($0)") }
        }
        let other = try DurableSigner(key: TestChain.keys[1], storage: FileSignerStateStorage(path: dir + "/other"), domain: TestChain.domain)
        XCTAssertThrowsError(try other.sign(vote(0, .prevote, nil))) {
            guard case SignerError.malformedRequest = $0 else { return XCTFail("\($0)") }
        }
    }

    /// The two-slot file: stores alternate slots, a reopen returns the newest, a damaged slot halts
    /// (never a silent fall-back to the older signature), and a bare state file of old still loads
    /// and is rewritten as slots by the next store.
    func testStateAlternatesSlotsAndNeverFallsBack() throws {
        let dir = TestChain.temporaryDirectory()
        try DurableSigner.create(directory: dir, key: TestChain.keys[0])
        let path = dir + "/signer_state"
        let block = Keccak256.hash([2])
        var signer = try DurableSigner.open(directory: dir, domain: TestChain.domain)
        let legacy = try signer.sign(vote(0, .prevote, block))
        // Stand in for a file written before the slots: the bare state.
        try Data(signer.state!.encoded).write(to: URL(fileURLWithPath: path))
        signer = try DurableSigner.open(directory: dir, domain: TestChain.domain)
        XCTAssertEqual(try signer.sign(vote(0, .prevote, block)), legacy, "a bare state of old still loads")

        for round in UInt32(1)...5 {
            _ = try signer.sign(vote(round, .prevote, block))
            let file = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            XCTAssertEqual(file.count, 2 * FileSignerStateStorage.slotBytes)
            XCTAssertEqual(try DurableSigner.open(directory: dir, domain: TestChain.domain).state?.position,
                           SignPosition(height: 5, round: round, step: .prevote))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".tmp"))

        // Damage either slot: the state is refused, whichever slot is the newer.
        for slot in 0..<2 {
            var file = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            let pristine = file
            file[slot * FileSignerStateStorage.slotBytes + 40] ^= 1
            try Data(file).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try DurableSigner.open(directory: dir, domain: TestChain.domain)) {
                guard case SignerError.corruptState(let why) = $0, why.contains("slot \(slot)") else { return XCTFail("\($0)") }
            }
            try Data(pristine).write(to: URL(fileURLWithPath: path))
        }
        XCTAssertEqual(try DurableSigner.open(directory: dir, domain: TestChain.domain).state?.position,
                       SignPosition(height: 5, round: 5, step: .prevote))
    }
}
