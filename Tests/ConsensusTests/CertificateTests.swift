import Consensus
import Crypto
import Primitives
import XCTest

final class CertificateTests: XCTestCase {
    private let block = Keccak256.hash(Array("decided".utf8))

    func testCertificateNeedsMoreThanTwoThirdsOfValidSignatures() throws {
        let votes = TestChain.keys.prefix(3).map { TestChain.vote($0, .precommit, round: 2, block: block) }
        let certificate = try CommitCertificate(height: 1, round: 2, blockHash: block, precommits: votes)
        XCTAssertEqual(try certificate.verify(TestChain.domain, validators: TestChain.validators), 30)
        XCTAssertEqual(try CommitCertificate(decoding: certificate.encoded), certificate)

        let two = try CommitCertificate(height: 1, round: 2, blockHash: block, precommits: Array(votes.prefix(2)))
        XCTAssertThrowsError(try two.verify(TestChain.domain, validators: TestChain.validators)) {
            XCTAssertEqual($0 as? CertificateError, .insufficientPower(got: 20, needed: 27))
        }
        let doubled = CommitCertificate(height: 1, round: 2, blockHash: block, signatures: certificate.signatures + [certificate.signatures[0]])
        XCTAssertThrowsError(try doubled.verify(TestChain.domain, validators: TestChain.validators)) {
            XCTAssertEqual($0 as? CertificateError, .duplicateSigner(certificate.signatures[0].validator))
        }
        // The same signatures claimed for another round do not verify.
        let moved = CommitCertificate(height: 1, round: 3, blockHash: block, signatures: certificate.signatures)
        XCTAssertThrowsError(try moved.verify(TestChain.domain, validators: TestChain.validators)) {
            guard case CertificateError.invalidSignature(index: 0, _) = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try CommitCertificate(height: 1, round: 2, blockHash: block,
                                                   precommits: [TestChain.vote(TestChain.keys[0], .prevote, round: 2, block: block)])) {
            XCTAssertEqual($0 as? CertificateError, .mismatchedVote(index: 0))
        }
    }

    func testDuplicateVoteEvidence() throws {
        let key = TestChain.keys[2]
        let a = TestChain.vote(key, .prevote, round: 1, block: block)
        let b = TestChain.vote(key, .prevote, round: 1, block: nil)
        let evidence = DuplicateVoteEvidence(a, b)
        XCTAssertEqual(evidence, DuplicateVoteEvidence(b, a), "canonical order")
        XCTAssertEqual(evidence.validator, key.address)
        XCTAssertNoThrow(try evidence.verify(TestChain.domain, validators: TestChain.validators))
        XCTAssertEqual(try DuplicateVoteEvidence(decoding: evidence.encoded), evidence)
        // Two signatures over one block (found by FuzzEvidence): still one canonical order.
        let resigned = SignedVote(vote: a.vote, signature: RecoverableSignature(r: a.signature.r, s: a.signature.s,
                                                                                 recoveryID: a.signature.recoveryID ^ 1))
        XCTAssertEqual(DuplicateVoteEvidence(a, resigned), DuplicateVoteEvidence(resigned, a))
        XCTAssertEqual(try DuplicateVoteEvidence(decoding: DuplicateVoteEvidence(a, resigned).encoded), DuplicateVoteEvidence(a, resigned))

        XCTAssertThrowsError(try DuplicateVoteEvidence(a, a).verify(TestChain.domain, validators: TestChain.validators)) {
            XCTAssertEqual($0 as? EvidenceError, .sameBlock)
        }
        let otherRound = TestChain.vote(key, .prevote, round: 2, block: nil)
        XCTAssertThrowsError(try DuplicateVoteEvidence(a, otherRound).verify(TestChain.domain, validators: TestChain.validators)) {
            XCTAssertEqual($0 as? EvidenceError, .differentPositions)
        }
        let forged = SignedVote(vote: b.vote, signature: TestChain.keys[3].sign(Keccak256.hash(b.vote.signBytes(TestChain.domain))))
        XCTAssertThrowsError(try DuplicateVoteEvidence(a, forged).verify(TestChain.domain, validators: TestChain.validators)) {
            guard case EvidenceError.invalidSignature = $0 else { return XCTFail("\($0)") }
        }
    }
}
