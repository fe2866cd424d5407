"""The dispute game played by the operator daemons (docs/daemons.md, "Disputes") as real
processes on loopback: one opgd, three `opg provider` and four `opg verifier` processes,
jobs requested with `opg job submit`. A provider whose trace has a wrong node
(`corruptTrace`) is voted invalid, reveals its trace, a verifier proves that node wrong with
`proveNode`, and the job is overturned (provider slashed 5% and jailed, requester refunded).
A provider whose output is wrong over an honest trace (`corruptOutput`) loses the same way
to `proveOutput`, and a lying `alwaysValid` member is slashed 10%. Verifiers that wrongly
vote invalid (`alwaysInvalid`) lose: the provider reveals its trace — SIGKILLed right after
recording the reveal and restarted, without a second signature — nothing can be proven
against it, and the job is finalized at `resolveBy`, the invalid voters slashed 10%. An
honest verifier outvoted by an `alwaysValid` quorum challenges within the window (bond
from the chain's parameters), the provider reveals, the challenger proves the output wrong
and the job is overturned, the bond returned. A provider whose trace is wrong but output
right (`corruptTrace`) under an `alwaysValid` quorum is challenged by the honest verifier
(config `watch`: as a member its re-run's trace root contradicts the commitment, as a
watcher it re-runs the job it did not attest) and overturned by `proveNode`. The supply
invariant holds after each. Test order matters: each wrong provider is jailed (a fourth
provider is staked for the last test)."""
import json

import pytest
from eth_account import Account

from opgnode import DEV_ACCOUNTS, run
from test_daemons import JOB_INPUT, OPG, Daemon, submit, wait_for
from test_jobs import ETHER, assert_supply_holds, staked_chain

PROVIDERS, VERIFIERS, REQUESTER = DEV_ACCOUNTS[1:4] + DEV_ACCOUNTS[:1], DEV_ACCOUNTS[4:8], DEV_ACCOUNTS[8]
PROVIDER_STAKE, VERIFIER_STAKE = 20 * ETHER, 10 * ETHER


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    work = tmp_path_factory.mktemp("dispute-daemons")
    jobs = {"acceptBlocks": 10, "attestCommitBlocks": 12, "attestRevealBlocks": 12, "challengeBlocks": 30, "committeeSize": 3,
            "challengeBond": str(ETHER)}
    chain = staked_chain(work, jobs, {p: PROVIDER_STAKE for p in PROVIDERS}, {v: VERIFIER_STAKE for v in VERIFIERS})
    node = chain["node"]
    keystore, password = work / "keystore", work / "password"
    password.write_text("dispute daemons e2e\n")
    keystore.mkdir()
    (keystore / "requester.json").write_text(json.dumps(Account.encrypt(REQUESTER.key, "dispute daemons e2e", kdf="scrypt", iterations=2**10)))
    (work / "input.bin").write_bytes(JOB_INPUT)
    net = dict(chain, providers=[Daemon(work, "provider", a) for a in PROVIDERS], verifiers=[Daemon(work, "verifier", a) for a in VERIFIERS],
               submit=["--rpc", node.url, "--keystore", str(keystore), "--password-file", str(password), "--from", REQUESTER.address])
    yield net
    for d in net["providers"] + net["verifiers"]:
        d.stop()
    node.stop()


def start(net, provider_settings: dict, verifier_settings: dict | None = None, liar: dict | None = None):
    """(Re)starts every daemon with the given test knobs (`liar` for the last verifier only)."""
    for d in net["providers"]:
        d.stop()
        d.start(net["node"], **provider_settings)
    for i, d in enumerate(net["verifiers"]):
        d.stop()
        d.start(net["node"], **(liar if liar is not None and i == len(net["verifiers"]) - 1 else verifier_settings or {}))


def start_outvoted(net, provider_settings: dict, honest_settings: dict):
    """Restarts the providers with `provider_settings` and the verifiers as `alwaysValid` liars
    but the least-staked one, honest with `honest_settings` (so two liars of a committee are a
    quorum); returns the honest verifier and the liars."""
    honest = min(net["verifiers"], key=lambda v: stake(net, v.account))
    liars = [v for v in net["verifiers"] if v is not honest]
    for d in net["providers"]:
        d.stop()
        d.start(net["node"], **provider_settings)
    for v in net["verifiers"]:
        v.stop()
        v.start(net["node"], **(honest_settings if v is honest else {"alwaysValid": True}))
    return honest, liars


def job_of(net, jid):
    return net["node"].result("opg_getJob", [jid])


def settled(net, jid, timeout):
    everyone = net["providers"] + net["verifiers"]
    final = {"finalized", "overturned", "refunded", "unverified"}
    return wait_for(lambda: (lambda j: j if j["status"] in final else None)(job_of(net, jid)), f"job {jid} did not settle", timeout=timeout,
                    daemons=everyone)


def stake(net, account) -> int:
    return net["staking"].functions.getOperator(account.address).call()[1]


def steps(daemon, jid):
    return [e["step"] for e in daemon.entries(jid) if e["kind"] == "transaction"]


def assert_overturned(net, jid, job):
    provider = next(d for d in net["providers"] if d.account.address == job["provider"])
    assert job["status"] == "overturned" and job["label"] == "overturned", job
    dispute = job["dispute"]
    assert dispute["state"] == "providerWrong" and dispute["challenger"] is None, "opened by the committee's invalid quorum"
    assert dispute["revealedPieces"] == 1 and dispute["resolvedAt"] < dispute["resolveBy"], "proven before the deadline, after the reveal"
    assert steps(provider, jid) == ["accept", "commit", "trace#0"], provider.log_tail()
    provers = [v for v in net["verifiers"] if "prove" in steps(v, jid)]
    assert provers, "\n".join(v.log_tail() for v in net["verifiers"])
    operator = net["staking"].functions.getOperator(provider.account.address).call()
    assert operator[1] == PROVIDER_STAKE - PROVIDER_STAKE // 20 and operator[5] is True, "5% of the wrong provider's stake, jailed"
    assert assert_supply_holds(net) == 0
    return provider


def test_a_wrong_trace_node_is_revealed_and_proven_by_the_daemons(net):
    start(net, {"corruptTrace": True})
    before = net["w3"].eth.get_balance(REQUESTER.address)
    jid, lines, _ = submit(net, wait=False)
    job = settled(net, jid, timeout=120)
    assert_overturned(net, jid, job)
    assert job["dispute"]["faultPosition"] == 1, "digits_logreg's second node (the middle of two) was corrupted"
    assert [m["verdict"] for m in job["committee"]] == ["invalid"] * 3
    spent = before - net["w3"].eth.get_balance(REQUESTER.address)
    assert 0 < spent < ETHER // 100, "the requester got the max fee and verification fee back (it paid gas only)"
    verify = run([OPG, "job", "verify", "--rpc", net["node"].url, jid])
    assert verify.returncode == 1 and "trace root differs" in verify.stdout, verify.stdout + verify.stderr


def test_a_wrong_output_over_an_honest_trace_is_proven_and_a_lying_member_slashed(net):
    liar = net["verifiers"][-1]
    start(net, {"corruptOutput": True}, liar={"alwaysValid": True})
    liar_stake = stake(net, liar.account)
    jid, _, _ = submit(net, wait=False)
    job = settled(net, jid, timeout=120)
    assert_overturned(net, jid, job)
    assert job["dispute"]["faultPosition"] is None, "proveOutput: the output contradicts the trace"
    verdicts = {m["address"]: m["verdict"] for m in job["committee"]}
    for address, verdict in verdicts.items():
        assert verdict == ("valid" if address == liar.account.address else "invalid"), verdicts
    expected = liar_stake - liar_stake // 10 if liar.account.address in verdicts else liar_stake
    assert stake(net, liar.account) == expected, "a member who attested valid to a wrong output loses 10%"


def test_verifiers_that_wrongly_dispute_lose_and_the_provider_defends_across_a_restart(net):
    start(net, {}, {"alwaysInvalid": True})
    jid, _, _ = submit(net, wait=False)
    everyone = net["providers"] + net["verifiers"]
    job = wait_for(lambda: (lambda j: j if j["status"] == "disputed" else None)(job_of(net, jid)), "no dispute opened", timeout=90,
                   daemons=everyone)
    provider = next(d for d in net["providers"] if d.account.address == job["provider"])
    wait_for(lambda: "trace#0" in steps(provider, jid), "the provider recorded no trace reveal", timeout=30, daemons=[provider])
    provider.kill9()
    provider.start(net["node"])
    members = [v for v in net["verifiers"] if v.account.address in {m["address"] for m in job["committee"]}]
    stakes = {v.account.address: stake(net, v.account) for v in members}
    job = settled(net, jid, timeout=120)
    assert job["status"] == "finalized" and job["label"] == "verified", job
    dispute = job["dispute"]
    assert dispute["state"] == "providerRight" and dispute["revealedPieces"] == 1 and dispute["resolvedAt"] == dispute["resolveBy"]
    assert steps(provider, jid) == ["accept", "commit", "trace#0"], "one reveal signed, resent as it was after the restart"
    for v in members:
        assert "prove" not in steps(v, jid), "nothing can be proven against an honest provider"
        assert stake(net, v.account) == stakes[v.account.address] - stakes[v.account.address] // 10, "10% of each wrong disputer's stake"
        assert "nothing to prove" in v.log.read_text()
    assert assert_supply_holds(net) == 0


def test_an_outvoted_honest_verifier_challenges_and_proves_the_result_wrong(net):
    honest, liars = start_outvoted(net, {"corruptOutput": True}, {})
    w3 = net["w3"]
    for _ in range(5):  # the committee is 3 of 4: retry until it holds the honest verifier
        liar_stakes = {v.account.address: stake(net, v.account) for v in liars}
        requester_before, honest_before = w3.eth.get_balance(REQUESTER.address), w3.eth.get_balance(honest.account.address)
        jid, _, _ = submit(net, wait=False)
        job = settled(net, jid, timeout=120)
        if honest.account.address in {m["address"] for m in job["committee"]}:
            break
        assert job["status"] == "finalized", job
    else:
        pytest.fail("the honest verifier was never drawn")
    assert job["status"] == "overturned", (job, honest.log_tail())
    dispute = job["dispute"]
    assert dispute["state"] == "providerWrong" and dispute["challenger"] == honest.account.address, dispute
    assert dispute["revealedPieces"] == 1 and dispute["resolvedAt"] < dispute["resolveBy"] and dispute["faultPosition"] is None
    verdicts = {m["address"]: m["verdict"] for m in job["committee"]}
    assert verdicts[honest.account.address] == "invalid" and sorted(verdicts.values()) == ["invalid", "valid", "valid"], verdicts
    honest_steps = steps(honest, jid)
    assert honest_steps.count("challenge") == 1 and honest_steps[-2:] == ["challenge", "prove"], honest.log_tail()
    assert all("challenge" not in steps(v, jid) for v in liars)
    provider = next(d for d in net["providers"] if d.account.address == job["provider"])
    assert steps(provider, jid) == ["accept", "commit", "trace#0"], provider.log_tail()
    operator = net["staking"].functions.getOperator(provider.account.address).call()
    assert operator[1] == PROVIDER_STAKE - PROVIDER_STAKE // 20 and operator[5] is True, "5% of the wrong provider's stake, jailed"
    for v in liars:
        before = liar_stakes[v.account.address]
        assert stake(net, v.account) == (before - before // 10 if verdicts.get(v.account.address) == "valid" else before)
    assert 0 < requester_before - w3.eth.get_balance(REQUESTER.address) < ETHER // 100, "max fee and verification fee refunded"
    assert w3.eth.get_balance(honest.account.address) > honest_before, "the bond back, with half the collateral and a share of the slashes"
    assert assert_supply_holds(net) == 0


def test_a_wrong_trace_with_the_right_output_is_challenged_by_a_member_or_a_watcher(net):
    # every liar attests valid, so the committee's quorum is valid whether or not it holds the honest verifier
    honest, liars = start_outvoted(net, {"corruptTrace": True}, {"watch": True})
    jid, _, _ = submit(net, wait=False)
    job = settled(net, jid, timeout=150)
    assert job["status"] == "overturned", (job, honest.log_tail())
    dispute = job["dispute"]
    assert dispute["state"] == "providerWrong" and dispute["challenger"] == honest.account.address, dispute
    assert dispute["faultPosition"] == 1, "the corrupted middle node of digits_logreg is proven with proveNode"
    honest_steps = steps(honest, jid)
    assert honest_steps.count("challenge") == 1 and honest_steps[-2:] == ["challenge", "prove"], honest.log_tail()
    if "commit#0" in honest_steps:  # a member: its invalid vote was outvoted, its re-run's trace root contradicts the commitment
        assert "contradicts the committed" in honest.log.read_text() and "(same output hash)" in honest.log.read_text(), honest.log_tail()
    else:  # not drawn: it watched the job and re-ran it
        assert honest_steps == ["challenge", "prove"] and "re-run as a watcher" in honest.log.read_text(), honest.log_tail()
    assert all("challenge" not in steps(v, jid) for v in liars)
    provider = next(d for d in net["providers"] if d.account.address == job["provider"])
    assert steps(provider, jid) == ["accept", "commit", "trace#0"], provider.log_tail()
    operator = net["staking"].functions.getOperator(provider.account.address).call()
    assert operator[1] == PROVIDER_STAKE - PROVIDER_STAKE // 20 and operator[5] is True, "5% of the wrong provider's stake, jailed"
    assert assert_supply_holds(net) == 0
