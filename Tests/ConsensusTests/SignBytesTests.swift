import Consensus
import Crypto
import Primitives
import XCTest

final class SignBytesTests: XCTestCase {
    /// The layout of docs/consensus.md, byte by byte.
    func testLayoutIsFixedWidthAndDomainSeparated() {
        let block = Keccak256.hash([1, 2, 3])
        let bytes = SignBytes.encode(domain: TestChain.domain, type: .proposal, height: 0x0102, round: 3, polRound: 1, blockHash: block)
        XCTAssertEqual(bytes.count, 106)
        XCTAssertEqual(Array(bytes[0..<16]), Array("opg-consensus-v1".utf8))
        XCTAssertEqual(Array(bytes[16..<24]), [0, 0, 0, 0, 0, 0, 0, 7])
        XCTAssertEqual(Array(bytes[24..<56]), TestChain.domain.genesisHash.bytes)
        XCTAssertEqual(bytes[56], 0x01)
        XCTAssertEqual(Array(bytes[57..<65]), [0, 0, 0, 0, 0, 0, 1, 2])
        XCTAssertEqual(Array(bytes[65..<69]), [0, 0, 0, 3])
        XCTAssertEqual(Array(bytes[69..<73]), [0, 0, 0, 1])
        XCTAssertEqual(bytes[73], 1)
        XCTAssertEqual(Array(bytes[74..<106]), block.bytes)

        let nilVote = Vote(type: .precommit, height: 5, round: 0, blockHash: nil, validator: TestChain.keys[0].address).signBytes(TestChain.domain)
        XCTAssertEqual(nilVote.count, 106)
        XCTAssertEqual(nilVote[56], 0x03)
        XCTAssertEqual(Array(nilVote[69..<73]), [0xFF, 0xFF, 0xFF, 0xFF], "no POL round is 0xFFFFFFFF")
        XCTAssertEqual(Array(nilVote[73..<106]), [UInt8](repeating: 0, count: 33), "nil block: flag 0 and 32 zero bytes")

        let otherChain = SignDomain(chainID: 8, genesisHash: TestChain.domain.genesisHash)
        let vote = Vote(type: .prevote, height: 5, round: 0, blockHash: block, validator: TestChain.keys[0].address)
        XCTAssertNotEqual(vote.signBytes(TestChain.domain), vote.signBytes(otherChain))
        XCTAssertEqual(SignBytes.position(of: vote.signBytes(TestChain.domain), domain: TestChain.domain),
                       SignPosition(height: 5, round: 0, step: .prevote))
        XCTAssertNil(SignBytes.position(of: vote.signBytes(otherChain), domain: TestChain.domain))
    }

    func testMessagesRoundTripAndBadBytesAreNamed() throws {
        let key = TestChain.keys[1]
        let value = TestChain.value("block")
        let proposal = Proposal(height: 3, round: 2, polRound: 1, value: value, proposer: key.address)
        let messages: [ConsensusMessage] = [
            .proposal(SignedProposal(proposal: proposal, signature: key.sign(Keccak256.hash(proposal.signBytes(TestChain.domain))))),
            .vote(TestChain.vote(key, .prevote, block: value.blockHash)),
            .vote(TestChain.vote(key, .precommit, block: nil)),
        ]
        for m in messages {
            XCTAssertEqual(try ConsensusMessage(decoding: m.encoded), m)
            XCTAssertThrowsError(try ConsensusMessage(decoding: Array(m.encoded.dropLast()))) {
                guard case ConsensusMessageError.truncated = $0 else { return XCTFail("\($0)") }
            }
            XCTAssertThrowsError(try ConsensusMessage(decoding: m.encoded + [0])) {
                XCTAssertEqual($0 as? ConsensusMessageError, .trailingBytes(count: 1))
            }
        }
        XCTAssertThrowsError(try ConsensusMessage(decoding: [9])) { XCTAssertEqual($0 as? ConsensusMessageError, .unknownKind(9)) }
    }

    func testAuthenticationNamesTheRuleBroken() throws {
        let verifier = SignatureVerifier()
        let good = ConsensusMessage.vote(TestChain.vote(TestChain.keys[0], .prevote, block: nil))
        XCTAssertNoThrow(try good.authenticate(TestChain.domain, validators: TestChain.validators, verifier: verifier))

        // Signed by key 1 but claiming key 0.
        let v = Vote(type: .prevote, height: 1, round: 0, blockHash: nil, validator: TestChain.keys[0].address)
        let forged = ConsensusMessage.vote(SignedVote(vote: v, signature: TestChain.keys[1].sign(Keccak256.hash(v.signBytes(TestChain.domain)))))
        XCTAssertThrowsError(try forged.authenticate(TestChain.domain, validators: TestChain.validators, verifier: verifier)) {
            XCTAssertEqual($0 as? ConsensusMessageError, .wrongSigner(claimed: TestChain.keys[0].address, recovered: TestChain.keys[1].address))
        }
        let stranger = try PrivateKeyFixture.stranger()
        let outsider = ConsensusMessage.vote(TestChain.vote(stranger, .prevote, block: nil))
        XCTAssertThrowsError(try outsider.authenticate(TestChain.domain, validators: TestChain.validators, verifier: verifier)) {
            XCTAssertEqual($0 as? ConsensusMessageError, .unknownValidator(stranger.address))
        }
        let proposer = TestChain.validators.proposer(round: 0).address
        let notProposer = TestChain.keys.first { $0.address != proposer }!
        let p = Proposal(height: 1, round: 0, polRound: nil, value: TestChain.value("x"), proposer: notProposer.address)
        let wrong = ConsensusMessage.proposal(SignedProposal(proposal: p, signature: notProposer.sign(Keccak256.hash(p.signBytes(TestChain.domain)))))
        XCTAssertThrowsError(try wrong.authenticate(TestChain.domain, validators: TestChain.validators, verifier: verifier)) {
            XCTAssertEqual($0 as? ConsensusMessageError, .wrongProposer(got: notProposer.address, expected: proposer))
        }
    }
}

/// A key that is not one of the test validators.
enum PrivateKeyFixture {
    static func stranger() throws -> PrivateKey { try PrivateKey(Keccak256.digest(Array("stranger".utf8))) }
}
