import Consensus
import Crypto
import Primitives
import XCTest

/// Algorithm 1 rule by rule on one engine, with the other validators' messages written by hand.
final class EngineTests: XCTestCase {
    private let set = TestChain.validators
    private let v = TestChain.value("v")
    private let w = TestChain.value("w")

    private func key(_ a: Address) -> PrivateKey { TestChain.keys.first { $0.address == a }! }
    private func proposer(_ round: UInt32, height: UInt64 = 1) -> PrivateKey { key(set.proposer(round: round).address) }
    private func others(than me: PrivateKey) -> [PrivateKey] { TestChain.keys.filter { $0 != me } }

    private func sign(_ u: UnsignedMessage, with key: PrivateKey) -> ConsensusMessage {
        let signature = key.sign(Keccak256.hash(u.signBytes(TestChain.domain)))
        switch u {
        case .proposal(let p): return .proposal(SignedProposal(proposal: p, signature: signature))
        case .vote(let v): return .vote(SignedVote(vote: v, signature: signature))
        }
    }

    private func proposal(_ value: ProposalValue, round: UInt32, polRound: UInt32? = nil) -> ConsensusMessage {
        let k = proposer(round)
        return sign(.proposal(Proposal(height: 1, round: round, polRound: polRound, value: value, proposer: k.address)), with: k)
    }

    private func signed(_ effects: [EngineEffect]) -> [UnsignedMessage] {
        effects.compactMap { if case .signAndBroadcast(let u) = $0 { return u } else { return nil } }
    }

    private func answerValidity(_ engine: inout TendermintEngine, _ effects: [EngineEffect]) -> [EngineEffect] {
        var out: [EngineEffect] = []
        for case .requestValidation(let h, let value) in effects {
            out += engine.handle(.validity(height: h, value: value.key, valid: true))
        }
        return out
    }

    func testProposerDecidesThroughProposePrevotePrecommit() throws {
        let me = proposer(0)
        var engine = TendermintEngine(me: me.address, validators: set, timeouts: .testProfile)
        var effects = engine.startHeight(1, validators: set)
        XCTAssertEqual(effects.first, .requestValue(height: 1, round: 0), "line 16: getValue()")
        effects = engine.handle(.proposalValue(height: 1, round: 0, value: v))
        guard case .proposal(let p)? = signed(effects).first else { return XCTFail("no proposal") }
        XCTAssertNil(p.polRound, "line 17 with validRound −1")
        effects = engine.handle(.message(sign(.proposal(p), with: me)))
        XCTAssertEqual(signed(effects), [.vote(Vote(type: .prevote, height: 1, round: 0, blockHash: v.blockHash, validator: me.address))], "line 24")
        for k in TestChain.keys.prefix(3) { effects = engine.handle(.message(.vote(TestChain.vote(k, .prevote, block: v.blockHash)))) }
        XCTAssertEqual(signed(effects), [.vote(Vote(type: .precommit, height: 1, round: 0, blockHash: v.blockHash, validator: me.address))], "line 40")
        XCTAssertEqual(engine.lockedValue, v)
        XCTAssertEqual(engine.lockedRound, 0)
        XCTAssertEqual(engine.validRound, 0)
        var decision: Decision?
        for k in TestChain.keys.prefix(3) {
            for case .decide(let d) in engine.handle(.message(.vote(TestChain.vote(k, .precommit, block: v.blockHash)))) { decision = d }
        }
        XCTAssertEqual(decision?.value, v, "line 51")
        XCTAssertEqual(try decision?.certificate.verify(TestChain.domain, validators: set), 30)
        XCTAssertEqual(engine.handle(.timeout(Timeout(kind: .commit, height: 1, round: 0))), [.heightCompleted(1)])
    }

    /// With `skipCommitPause` the height is complete when the last validator's precommit for the
    /// decided block arrives after the decision; without it only the commit timeout completes it.
    func testCommitPauseEndsOnceEveryPrecommitIsInWhenSkipping() throws {
        let t = TimeoutConfig.testProfile
        let skipping = try TimeoutConfig(proposeMillis: t.proposeMillis, prevoteMillis: t.prevoteMillis, precommitMillis: t.precommitMillis,
                                         roundIncrementMillis: t.roundIncrementMillis, commitMillis: t.commitMillis,
                                         rebroadcastMillis: t.rebroadcastMillis, skipCommitPause: true)
        for skip in [false, true] {
            var engine = TendermintEngine(me: nil, validators: set, timeouts: skip ? skipping : t)
            _ = engine.startHeight(1, validators: set)
            _ = answerValidity(&engine, engine.handle(.message(proposal(v, round: 0))))
            var effects: [EngineEffect] = []
            for k in TestChain.keys.prefix(3) { effects += engine.handle(.message(.vote(TestChain.vote(k, .precommit, block: v.blockHash)))) }
            XCTAssertEqual(engine.decision?.value, v)
            XCTAssertFalse(effects.contains(.heightCompleted(1)), "3 of 4 precommits: the pause runs")
            let last = TestChain.keys[3]
            XCTAssertTrue(engine.handle(.message(.vote(TestChain.vote(last, .precommit, round: 1, block: v.blockHash)))).isEmpty,
                          "a precommit of another round counts for nothing")
            effects = engine.handle(.message(.vote(TestChain.vote(last, .precommit, block: v.blockHash))))
            XCTAssertEqual(effects, skip ? [.heightCompleted(1)] : [], "the fourth precommit ends the pause only when skipping")
            XCTAssertTrue(engine.handle(.message(.vote(TestChain.vote(last, .precommit, block: v.blockHash)))).isEmpty, "once")
            XCTAssertEqual(engine.handle(.timeout(Timeout(kind: .commit, height: 1, round: 0))), [.heightCompleted(1)],
                           "the commit timeout still completes the height (the driver ignores a second completion)")
        }
    }

    func testTimeoutsMoveRoundsAndNilQuorumsPrecommitNil() {
        let me = others(than: proposer(0))[0]
        var engine = TendermintEngine(me: me.address, validators: set, timeouts: .testProfile)
        let start = engine.startHeight(1, validators: set)
        XCTAssertTrue(start.contains(.scheduleTimeout(Timeout(kind: .propose, height: 1, round: 0), millis: 30)), "line 19")
        var effects = engine.handle(.timeout(Timeout(kind: .propose, height: 1, round: 0)))
        XCTAssertEqual(signed(effects), [.vote(Vote(type: .prevote, height: 1, round: 0, blockHash: nil, validator: me.address))], "line 59")
        XCTAssertEqual(engine.step, .prevote)
        for k in others(than: me).prefix(2) { effects = engine.handle(.message(.vote(TestChain.vote(k, .prevote, block: nil)))) }
        XCTAssertTrue(signed(effects).isEmpty, "two nil prevotes of others are 20 of 40: no quorum yet")
        effects = engine.handle(.message(.vote(TestChain.vote(me, .prevote, block: nil))))
        XCTAssertEqual(signed(effects), [.vote(Vote(type: .precommit, height: 1, round: 0, blockHash: nil, validator: me.address))], "line 45")
        for k in TestChain.keys.prefix(3) { effects = engine.handle(.message(.vote(TestChain.vote(k, .precommit, block: nil)))) }
        XCTAssertTrue(effects.contains(.scheduleTimeout(Timeout(kind: .precommit, height: 1, round: 0), millis: 10)), "line 48")
        _ = engine.handle(.timeout(Timeout(kind: .precommit, height: 1, round: 0)))
        XCTAssertEqual(engine.round, 1, "line 67")
        XCTAssertEqual(engine.step, .propose)
        // A stale timeout of round 0 does nothing.
        XCTAssertTrue(signed(engine.handle(.timeout(Timeout(kind: .propose, height: 1, round: 0)))).isEmpty)
    }

    func testLockIsKeptWithoutAPOLAndReleasedByANewerOne() {
        let me = others(than: proposer(0)).first { $0 != proposer(1) && $0 != proposer(2) } ?? others(than: proposer(0))[0]
        var engine = TendermintEngine(me: me.address, validators: set, timeouts: .testProfile)
        _ = engine.startHeight(1, validators: set)
        // Round 0: lock on v.
        _ = answerValidity(&engine, engine.handle(.message(proposal(v, round: 0))))
        for k in TestChain.keys.prefix(3) { _ = engine.handle(.message(.vote(TestChain.vote(k, .prevote, block: v.blockHash)))) }
        XCTAssertEqual(engine.lockedValue, v)
        for k in TestChain.keys.prefix(3) { _ = engine.handle(.message(.vote(TestChain.vote(k, .precommit, block: nil)))) }
        _ = engine.handle(.timeout(Timeout(kind: .precommit, height: 1, round: 0)))
        XCTAssertEqual(engine.round, 1)
        // Round 1: w without a POL; locked on v → prevote nil (line 26).
        var effects = engine.handle(.message(proposal(w, round: 1)))
        effects += answerValidity(&engine, effects)
        XCTAssertEqual(signed(effects), [.vote(Vote(type: .prevote, height: 1, round: 1, blockHash: nil, validator: me.address))])
        // Others prevote w in round 1: with the proposal that is a POL for w in our round, so line 36 moves lock and valid value to w.
        for k in others(than: me) { effects = engine.handle(.message(.vote(TestChain.vote(k, .prevote, round: 1, block: w.blockHash)))) }
        XCTAssertEqual(engine.lockedValue, w)
        XCTAssertEqual(engine.lockedRound, 1)
        XCTAssertEqual(engine.validValue, w)
        XCTAssertEqual(engine.validRound, 1)
    }

    func testPOLRoundReleasesALockAtOrBelowIt() {
        let me = others(than: proposer(0)).first { $0 != proposer(2) }!
        var engine = TendermintEngine(me: me.address, validators: set, timeouts: .testProfile)
        _ = engine.startHeight(1, validators: set)
        _ = answerValidity(&engine, engine.handle(.message(proposal(v, round: 0))))
        for k in TestChain.keys.prefix(3) { _ = engine.handle(.message(.vote(TestChain.vote(k, .prevote, block: v.blockHash)))) }
        XCTAssertEqual(engine.lockedRound, 0)
        // Round 1 prevotes for w from three others (a POL for w at round 1), then we jump to round 2 (line 55).
        for k in others(than: me) { _ = engine.handle(.message(.vote(TestChain.vote(k, .prevote, round: 1, block: w.blockHash)))) }
        for k in others(than: me).prefix(2) { _ = engine.handle(.message(.vote(TestChain.vote(k, .precommit, round: 2, block: nil)))) }
        XCTAssertEqual(engine.round, 2, "f + 1 messages of round 2 → StartRound(2)")
        var effects = engine.handle(.message(proposal(w, round: 2, polRound: 1)))
        effects += answerValidity(&engine, effects)
        XCTAssertEqual(signed(effects), [.vote(Vote(type: .prevote, height: 1, round: 2, blockHash: w.blockHash, validator: me.address))],
                       "line 30: lockedRound 0 ≤ vr 1")
    }

    func testDecisionHasPriorityAndEquivocationYieldsEvidence() {
        let me = others(than: proposer(0))[0]
        var engine = TendermintEngine(me: me.address, validators: set, timeouts: .testProfile)
        _ = engine.startHeight(1, validators: set)
        let liar = others(than: me)[0]
        var effects = engine.handle(.message(.vote(TestChain.vote(liar, .prevote, block: v.blockHash))))
        effects = engine.handle(.message(.vote(TestChain.vote(liar, .prevote, block: w.blockHash))))
        XCTAssertEqual(effects.compactMap { if case .evidence(let e) = $0 { return e.validator } else { return nil } }, [liar.address])
        // Precommits for v in round 0 from three validators and the proposal: decide, ahead of every other rule.
        for k in TestChain.keys.prefix(3) { _ = engine.handle(.message(.vote(TestChain.vote(k, .precommit, block: v.blockHash)))) }
        effects = engine.handle(.message(proposal(v, round: 0)))
        XCTAssertNil(engine.decision, "valid(v) is not known yet")
        effects = answerValidity(&engine, effects)
        XCTAssertEqual(engine.decision?.value, v)
        XCTAssertTrue(signed(effects).isEmpty, "no prevote after the decision")
    }

    /// An equivocator's second vote, for a block nobody had proposed yet, is parked and counted
    /// once that block's proposal arrives (so it can complete a proof of lock).
    func testAnEquivocatorsVoteForALaterProposedBlockCounts() {
        let me = others(than: proposer(0))[0]
        let honest = proposer(0)
        let liar = others(than: me).first { $0 != honest }!
        var engine = TendermintEngine(me: me.address, validators: set, timeouts: .testProfile)
        _ = engine.startHeight(1, validators: set)
        _ = engine.handle(.message(.vote(TestChain.vote(liar, .prevote, block: v.blockHash))))
        _ = engine.handle(.message(.vote(TestChain.vote(liar, .prevote, block: w.blockHash))))
        let effects = engine.handle(.message(proposal(w, round: 0)))
        _ = answerValidity(&engine, effects)
        _ = engine.handle(.message(.vote(TestChain.vote(me, .prevote, block: w.blockHash))))
        XCTAssertNil(engine.lockedValue)
        _ = engine.handle(.message(.vote(TestChain.vote(honest, .prevote, block: w.blockHash))))
        XCTAssertEqual(engine.lockedValue, w, "me + honest + the liar's parked vote = 30 of 40")
    }
}
