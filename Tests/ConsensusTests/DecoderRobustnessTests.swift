import Consensus
import Crypto
import Primitives
import XCTest

/// Every decoder of bytes that arrive from peers or disk, fed truncations and byte mutations of
/// valid encodings: each either decodes or throws a named error, never traps.
final class DecoderRobustnessTests: XCTestCase {
    private func mutations(of bytes: [UInt8], seed: UInt64) -> [[UInt8]] {
        var random = SimRandom(seed: seed)
        var out = (0...bytes.count).map { Array(bytes.prefix($0)) }
        for _ in 0..<300 {
            var m = bytes
            for _ in 0...random.below(3) { m[random.below(m.count)] = UInt8(truncatingIfNeeded: random.next()) }
            out.append(m)
        }
        return out
    }

    func testDecodersThrowOrDecodeButNeverTrap() throws {
        let key = TestChain.keys[0]
        let value = TestChain.value("payload")
        let proposal = Proposal(height: 9, round: 3, polRound: 1, value: value, proposer: key.address)
        let signedProposal = ConsensusMessage.proposal(SignedProposal(proposal: proposal, signature: key.sign(Keccak256.hash(proposal.signBytes(TestChain.domain)))))
        let vote = TestChain.vote(key, .precommit, block: value.blockHash)
        let certificate = try CommitCertificate(height: 1, round: 0, blockHash: value.blockHash,
                                                precommits: TestChain.keys.prefix(3).map { TestChain.vote($0, .precommit, block: value.blockHash) })
        let evidence = DuplicateVoteEvidence(vote, TestChain.vote(key, .precommit, block: nil))
        let state = SignerState(position: vote.vote.position, signBytes: vote.vote.signBytes(TestChain.domain), signature: vote.signature)
        let records: [WALRecord] = [.received(signedProposal), .certifiedDecision(value: value, certificate: certificate),
                                    .timeout(Timeout(kind: .precommit, height: 2, round: 1))]

        var decoded = 0, refused = 0
        func attempt(_ body: () throws -> Void) {
            do { try body(); decoded += 1 } catch { refused += 1; XCTAssertFalse("\(error)".isEmpty) }
        }
        for (i, m) in [signedProposal, .vote(vote)].enumerated() {
            for bytes in mutations(of: m.encoded, seed: UInt64(i)) { attempt { _ = try ConsensusMessage(decoding: bytes) } }
        }
        for bytes in mutations(of: certificate.encoded, seed: 10) { attempt { _ = try CommitCertificate(decoding: bytes) } }
        for bytes in mutations(of: evidence.encoded, seed: 11) { attempt { _ = try DuplicateVoteEvidence(decoding: bytes) } }
        for bytes in mutations(of: state.encoded, seed: 12) { attempt { _ = try SignerState(decoding: bytes) } }
        for (i, r) in records.enumerated() {
            for bytes in mutations(of: r.encoded, seed: UInt64(20 + i)) { attempt { _ = try WALRecord(decoding: bytes) } }
        }
        XCTAssertGreaterThan(decoded, 0)
        XCTAssertGreaterThan(refused, 0)
    }
}
