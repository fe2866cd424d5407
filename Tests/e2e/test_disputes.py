"""Disputes in the jobs module (docs/verification.md, "Disputes") against a real opgd: Python
plays the requester, a provider, four verifiers and a challenger. The job's input is the
canonical tensor encoding of the fixture's input, written here from the ONNX file with
numpy; the honest output hash and trace root come from `opg model trace` (the kernel is the
spec). An honest provider voted invalid by its committee wins the dispute and the
committee is slashed; a wrong provider voted valid is challenged, loses its collateral and
5% of its stake, is jailed, and the requester is refunded. The chain re-executes the job
itself in `resolveDispute` and reports the output hash and trace root it found. A provider
whose trace has a wrong node reveals it (dispute_calldata.reveal_pieces) and a challenger
proves that one node wrong (dispute_calldata.producers). The supply invariant holds after
each."""
import pytest
from eth_utils import keccak
from onnx import load_tensor, numpy_helper
from web3.logs import DISCARD

from dispute_calldata import first_difference, local_trace, merkle_proof, producers, reveal_pieces
from opgnode import BIN, DEV_ACCOUNTS
from test_traces import canonical, merkle_root
from test_jobs import FIXTURES, ZERO, assert_supply_holds, send, staked_chain, wait_status
from test_verification_vectors import attestation, commitment, digest_of, job_id

ETHER = 10**18
PROVIDERS, VERIFIERS, REQUESTER, CHALLENGER = [DEV_ACCOUNTS[1], DEV_ACCOUNTS[8]], DEV_ACCOUNTS[2:6], DEV_ACCOUNTS[6], DEV_ACCOUNTS[7]
MODEL_FILE, INPUT_FILE = FIXTURES / "digits_logreg.onnx", FIXTURES / "digits_logreg.input.pb"
FEE, MAX_FEE, VERIFICATION_FEE, BOND = 4 * ETHER, 10 * ETHER, 2 * ETHER, ETHER
VALID, INVALID = 1, 2
STATES = {"open": 1, "providerWrong": 2, "providerRight": 3, "undecided": 4}


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    work = tmp_path_factory.mktemp("disputes")
    jobs = {"acceptBlocks": 8, "attestCommitBlocks": 10, "attestRevealBlocks": 10, "challengeBlocks": 30, "committeeSize": 3,
            "challengeBond": str(BOND)}
    state = staked_chain(work, jobs, {p: 20 * ETHER for p in PROVIDERS}, {v: (10 + i) * ETHER for i, v in enumerate(VERIFIERS)})
    tensor = load_tensor(str(INPUT_FILE))
    trace = local_trace(BIN / "opg", MODEL_FILE, {"X": INPUT_FILE}, work / "trace")
    state["honest"] = {"input": canonical([(tensor.data_type, numpy_helper.to_array(tensor))]), "outputHash": trace.output_hash,
                       "traceRoot": trace.root, "trace": trace}
    yield state
    state["node"].stop()


def stake_of(chain, account) -> int:
    return chain["staking"].functions.getOperator(account.address).call()[1]


def committed_job(chain, output_hash: bytes, trace_root: bytes):
    """Requests a job on the honest input; the drawn provider accepts it and commits
    `output_hash` (by reference) and `trace_root`. Returns the job id and the provider."""
    node, w3, jobs, honest = chain["node"], chain["w3"], chain["jobs"], chain["honest"]
    jid = job_id(w3.eth.chain_id, REQUESTER.address, jobs.functions.nonceOf(REQUESTER.address).call())
    fn = jobs.functions.requestJob(chain["model"], honest["input"], ZERO, "", 1, MAX_FEE, VERIFICATION_FEE, w3.eth.block_number + 200)
    assert send(w3, REQUESTER, fn, value=MAX_FEE + VERIFICATION_FEE).status == 1
    drawn = wait_status(node, jid, ["assigned"])["provider"]
    provider = next(p for p in PROVIDERS if p.address == drawn)
    assert send(w3, provider, jobs.functions.acceptJob(jid, FEE), value=2 * FEE).status == 1
    fn = jobs.functions.commitResult(jid, b"", output_hash, "http://127.0.0.1:1/out", trace_root)
    assert send(w3, provider, fn).status == 1
    return jid, provider


def vote(chain, jid: bytes, output_hash: bytes, trace_root: bytes, verdict: int) -> list[str]:
    """Every committee member commits and reveals `verdict`; returns the members."""
    node, w3, jobs = chain["node"], chain["w3"], chain["jobs"]
    job = wait_status(node, jid, ["attesting"])
    members = [m["address"] for m in job["committee"]]
    by_address = {v.address: v for v in VERIFIERS}
    message = attestation(jid, chain["model"], bytes.fromhex(job["inputHash"][2:]), output_hash, trace_root, verdict,
                          job["epoch"], w3.eth.chain_id)
    digest = digest_of(message)
    reveals = []
    for member in members:
        salt = keccak(text=f"dispute salt {member}")
        assert send(w3, by_address[member], jobs.functions.commitAttestation(jid, commitment(digest, salt, member))).status == 1
        reveals.append((jid, member, verdict, salt, bytes(by_address[member].sign_message(message).signature)))
    assert send(w3, CHALLENGER, jobs.functions.revealAttestations(reveals)).status == 1
    return members


def resolve(chain, jid: bytes) -> int:
    """Sends resolveDispute from the challenger's account; returns the state it emitted."""
    receipt = send(chain["w3"], CHALLENGER, chain["jobs"].functions.resolveDispute(jid, b""), gas=5_000_000)
    assert receipt.status == 1
    (event,) = chain["jobs"].events.DisputeResolved().process_receipt(receipt, errors=DISCARD)
    return event.args.state


def test_an_honest_provider_voted_invalid_wins_and_the_committee_is_slashed(chain):
    node, honest = chain["node"], chain["honest"]
    jid, _ = committed_job(chain, honest["outputHash"], honest["traceRoot"])
    members = vote(chain, jid, honest["outputHash"], honest["traceRoot"], INVALID)
    job = wait_status(node, jid, ["disputed"])
    assert job["dispute"]["state"] == "open" and job["dispute"]["challenger"] is None, "opened by the committee"
    assert job["dispute"]["resolveBy"] == job["dispute"]["openedAt"] + 100
    stakes = {m: chain["staking"].functions.getOperator(m).call()[1] for m in members}
    assert resolve(chain, jid) == STATES["providerRight"]
    job = node.result("opg_getJob", ["0x" + jid.hex()])
    assert job["status"] == "finalized" and job["label"] == "verified"
    assert job["dispute"]["state"] == "providerRight"
    assert job["dispute"]["outputHash"] == "0x" + honest["outputHash"].hex(), "the chain's run agrees with opg model trace"
    assert job["dispute"]["traceRoot"] == "0x" + honest["traceRoot"].hex()
    for m in members:
        assert chain["staking"].functions.getOperator(m).call()[1] == stakes[m] - stakes[m] // 10, "10% of each invalid voter's stake"
    assert assert_supply_holds(chain) == 0


def test_a_wrong_trace_entry_is_proven_by_re_executing_one_node(chain):
    node, w3, jobs, honest = chain["node"], chain["w3"], chain["jobs"], chain["honest"]
    trace = honest["trace"]
    leaves = list(trace.leaves)
    leaves[-1] = keccak(b"a wrong output of the last node")
    root = merkle_root(leaves)
    jid, provider = committed_job(chain, honest["outputHash"], root)
    vote(chain, jid, honest["outputHash"], root, VALID)
    wait_status(node, jid, ["challengeWindow"])
    assert send(w3, CHALLENGER, jobs.functions.challenge(jid), value=BOND).status == 1
    revealed = []
    for piece, piece_leaves, proof in reveal_pieces(leaves):
        receipt = send(w3, provider, jobs.functions.revealTrace(jid, piece, piece_leaves, proof))
        assert receipt.status == 1
        (event,) = jobs.events.TraceRevealed().process_receipt(receipt)
        revealed += event.args.leaves
    assert node.result("opg_getJob", ["0x" + jid.hex()])["dispute"]["revealedPieces"] == 1
    q = first_difference(revealed, trace.leaves)
    assert q == len(leaves) - 1
    fn = jobs.functions.proveNode(jid, q, revealed[q], merkle_proof(revealed, q), b"", producers(MODEL_FILE, trace, q, revealed))
    receipt = send(w3, CHALLENGER, fn, gas=5_000_000)
    assert receipt.status == 1
    (event,) = jobs.events.DisputeResolved().process_receipt(receipt, errors=DISCARD)
    assert event.args.state == STATES["providerWrong"]
    job = node.result("opg_getJob", ["0x" + jid.hex()])
    assert job["status"] == "overturned" and job["dispute"]["faultPosition"] == q
    assert job["dispute"]["outputHash"] == "0x" + trace.leaves[q].hex(), "the node's honest output hash, recomputed on chain"
    assert assert_supply_holds(chain) == 0


def test_a_wrong_provider_is_challenged_slashed_and_jailed_and_the_requester_refunded(chain):
    node, w3, jobs = chain["node"], chain["w3"], chain["jobs"]
    corrupted = keccak(b"a corrupted output")
    jid, provider = committed_job(chain, corrupted, chain["honest"]["traceRoot"])
    vote(chain, jid, corrupted, chain["honest"]["traceRoot"], VALID)
    wait_status(node, jid, ["challengeWindow"])
    requester_before = w3.eth.get_balance(REQUESTER.address)
    provider_stake = stake_of(chain, provider)
    receipt = send(w3, CHALLENGER, jobs.functions.challenge(jid), value=BOND)
    assert receipt.status == 1
    assert wait_status(node, jid, ["disputed"])["dispute"]["challenger"] == CHALLENGER.address
    assert resolve(chain, jid) == STATES["providerWrong"]
    job = node.result("opg_getJob", ["0x" + jid.hex()])
    assert job["status"] == "overturned" and job["label"] == "overturned"
    assert job["dispute"]["state"] == "providerWrong" and job["dispute"]["outputHash"] == "0x" + chain["honest"]["outputHash"].hex()
    assert w3.eth.get_balance(REQUESTER.address) - requester_before == MAX_FEE + VERIFICATION_FEE, "max fee and verification fee back"
    operator = chain["staking"].functions.getOperator(provider.address).call()
    assert operator[1] == provider_stake - provider_stake * 5 // 100 and operator[5] is True, "5% of its stake, jailed"
    assert assert_supply_holds(chain) == 0
