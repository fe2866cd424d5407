"""The jobs module (0x…F7) against a real opgd (docs/verification.md): a model uploaded to
the registry; a provider and four verifiers, simulated by Python accounts, stake for it with
web3.py; an exact job goes request → draw → accept → commit → committee draw → commit and
reveal of EIP-712 attestations signed with eth-account → quorum → finalize, and is labelled
verified (on a chain of settlement version 2, a challenge window of 0 settles it at the quorum
instead); a job nobody accepts is refunded by the end-block hook, and one whose result never
comes is refunded with half the collateral as penalty; opg job submit/show; opg_getJob, opg_listJobs
and `opg abi jobs`; `sum(balances) + staked + escrowed == genesis + minted − burned`."""
import json
import time

import pytest
from eth_utils import keccak
from web3 import Web3
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from opgnode import BIN, DEV_ACCOUNTS, GENESIS, ROOT, VALIDATOR, Node, run
from test_verification_vectors import attestation, commitment, digest_of, job_id

OPG = str(BIN / "opg")
JOBS = Web3.to_checksum_address("0x" + "00" * 19 + "f7")
STAKING = Web3.to_checksum_address("0x" + "00" * 19 + "f6")
SUPPLY = Web3.to_checksum_address("0x" + "00" * 19 + "ff")
MODULES = [Web3.to_checksum_address("0x" + "00" * 19 + f"{b:02x}") for b in (0x01, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xFF)]
FIXTURES = ROOT / "Tests" / "InferenceTests" / "Fixtures" / "models"
ETHER = 10**18
EPOCH_BLOCKS = 4
PROVIDER, VERIFIERS, REQUESTER, OUTSIDER = DEV_ACCOUNTS[1], DEV_ACCOUNTS[2:6], DEV_ACCOUNTS[6], DEV_ACCOUNTS[7]
ZERO = b"\0" * 32


def abi(name: str):
    return json.loads((ROOT / "docs" / "abi" / f"{name}.json").read_text())


def staked_chain(work, jobs_genesis: dict, providers: dict, verifiers: dict, node_config: dict | None = None, register=None) -> dict:
    """A node whose genesis has `jobs_genesis` and 4-block epochs (and `node_config` in its
    config file), digits_logreg uploaded (or the model `register(w3)` registers, returning its
    id), and `providers` and `verifiers` ({account: stake in wei}) staked for it and eligible."""
    models = pytest.importorskip("models", reason="needs the model registry (Tests/e2e/models.py)")
    genesis = json.loads(GENESIS.read_text())
    genesis["staking"] = {"epochBlocks": EPOCH_BLOCKS, "providerMinStake": str(10 * ETHER), "verifierMinStake": str(5 * ETHER)}
    genesis["jobs"] = jobs_genesis
    path = work / "genesis.json"
    path.write_text(json.dumps(genesis, indent=2))
    node = Node(workdir=work / "node", extra_config={"genesis": str(path), **(node_config or {})}).init().start()
    w3 = node.web3()
    staking = w3.eth.contract(address=STAKING, abi=abi("Staking"))
    model = register(w3) if register else models.upload_model(w3, DEV_ACCOUNTS[9], FIXTURES / "digits_logreg.onnx", name="digits_logreg")["cid_v0"]
    last = 0
    for register, accounts in ((staking.functions.registerProvider, providers), (staking.functions.registerVerifier, verifiers)):
        for account, stake in accounts.items():
            receipt = send(w3, account, register([model], "cpu"), value=stake)
            assert receipt.status == 1
            last = max(last, receipt.blockNumber)
    node.wait_block((last // EPOCH_BLOCKS + 1) * EPOCH_BLOCKS, timeout=60)
    return {"node": node, "w3": w3, "jobs": w3.eth.contract(address=JOBS, abi=abi("Jobs")), "staking": staking,
            "supply": w3.eth.contract(address=SUPPLY, abi=abi("Supply")), "genesis": genesis, "model": model, "work": work}


JOBS_GENESIS = {"acceptBlocks": 8, "attestCommitBlocks": 8, "attestRevealBlocks": 8, "challengeBlocks": 0, "committeeSize": 3,
                "challengeBond": str(ETHER)}


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """Settlement version 1 (docs/verification.md, "Settlement"): a job of this chain waits for
    a `finalize` transaction even with its window of 0, so that the call and its event are
    tested; version 2, which settles at the quorum, has its own chain below."""
    state = staked_chain(tmp_path_factory.mktemp("jobs"), {**JOBS_GENESIS, "settlementVersion": 1}, {PROVIDER: 10 * ETHER},
                         {v: (5 + i) * ETHER for i, v in enumerate(VERIFIERS)})
    yield state
    state["node"].stop()


def send(w3, account, fn, value=0, gas=3_000_000):
    return send_all(w3, [(account, fn)], value=value, gas=gas)[0]


def send_all(w3, calls, value=0, gas=3_000_000):
    """Signs and sends every (account, call) before waiting for any receipt, so that calls
    with a deadline in blocks land together however slowly Python signs under load."""
    chain_id, hashes = w3.eth.chain_id, []
    for account, fn in calls:
        tx = fn.build_transaction({"from": account.address, "value": value, "gas": gas, "maxFeePerGas": 10 * 10**9,
                                   "maxPriorityFeePerGas": 10**9, "chainId": chain_id,
                                   "nonce": w3.eth.get_transaction_count(account.address, "pending")})
        signed = account.sign_transaction(tx)
        w3.eth.send_raw_transaction(signed.raw_transaction)
        hashes.append(signed.hash)
    return [w3.eth.wait_for_transaction_receipt(h, timeout=30, poll_latency=0.05) for h in hashes]


def wait_status(node, jid: bytes, statuses, timeout=30):
    return wait_job(node, jid, lambda job: job["status"] in statuses, f"status in {statuses}", timeout)


def wait_job(node, jid: bytes, test, wanted: str, timeout=30):
    """The job as opg_getJob shows it once `test` holds of it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = node.result("opg_getJob", ["0x" + jid.hex()])
        if test(job):
            return job
        time.sleep(0.1)
    raise TimeoutError(f"job 0x{jid.hex()} stayed {job['status']} (round {job['round']}), wanted {wanted}")


def request(chain, max_fee=10 * ETHER, verification_fee=2 * ETHER) -> bytes:
    w3, jobs = chain["w3"], chain["jobs"]
    nonce = jobs.functions.nonceOf(REQUESTER.address).call()
    jid = job_id(w3.eth.chain_id, REQUESTER.address, nonce)
    fn = jobs.functions.requestJob(chain["model"], b"pixels", ZERO, "", 1, max_fee, verification_fee, w3.eth.block_number + 200)
    receipt = send(w3, REQUESTER, fn, value=max_fee + verification_fee)
    assert receipt.status == 1
    (event,) = jobs.events.JobRequested().process_receipt(receipt)
    assert event.args.jobId == jid
    return jid


def assert_supply_holds(chain):
    w3, supply, genesis = chain["w3"], chain["supply"], chain["genesis"]
    head = w3.eth.block_number
    accounts = {Web3.to_checksum_address(a) for a in genesis["alloc"]} | set(MODULES)
    accounts |= {a.address for a in DEV_ACCOUNTS} | {VALIDATOR.address}
    held = sum(w3.eth.get_balance(a, head) for a in sorted(accounts))
    staked, escrowed, total = (getattr(supply.functions, f)().call(block_identifier=head) for f in ("staked", "escrowed", "totalSupply"))
    assert w3.eth.get_balance(JOBS, head) == 0, "escrow is in no balance"
    assert held + staked + escrowed == total
    return escrowed


def test_abi_is_printed_by_opg(chain):
    assert json.loads(run([OPG, "abi", "jobs"], check=True).stdout) == abi("Jobs")


def attested_valid(chain):
    """An exact job requested, accepted, committed and attested valid by its whole committee
    in one reveal transaction; returns (job id, fee, the reveals, the reveal's receipt)."""
    node, w3, jobs = chain["node"], chain["w3"], chain["jobs"]
    jid = request(chain)
    job = wait_status(node, jid, ["assigned"])
    assert job["provider"] == PROVIDER.address and job["verificationClass"] == "exact" and job["label"] is None
    fee = 4 * ETHER
    assert send(w3, PROVIDER, jobs.functions.acceptJob(jid, fee), value=2 * fee).status == 1
    trace = keccak(b"trace")
    assert send(w3, PROVIDER, jobs.functions.commitResult(jid, b"seven", ZERO, "", trace)).status == 1
    job = wait_status(node, jid, ["attesting"])
    members = [m["address"] for m in job["committee"]]
    assert len(members) == 3 and PROVIDER.address not in members
    by_address = {v.address: v for v in VERIFIERS}
    message = attestation(jid, chain["model"], bytes.fromhex(job["inputHash"][2:]), keccak(b"seven"), trace, 1, job["epoch"],
                          w3.eth.chain_id)
    digest = digest_of(message)
    assert jobs.functions.attestationDigest(jid, 1).call() == digest, "the chain builds the same typed data"
    # Everything is signed first and the commitments sent together: the 8-block commit
    # window then holds however slowly a loaded machine runs this Python.
    salts = {member: keccak(text=f"salt {member}") for member in members}
    reveals = [(jid, member, 1, salts[member], bytes(by_address[member].sign_message(message).signature)) for member in members]
    commits = [(by_address[m], jobs.functions.commitAttestation(jid, commitment(digest, salts[m], m))) for m in members]
    assert [r.status for r in send_all(w3, commits)] == [1, 1, 1]
    receipt = send(w3, OUTSIDER, jobs.functions.revealAttestations(reveals))
    assert receipt.status == 1, "one transaction carries every attestation"
    assert len(jobs.events.AttestationRevealed().process_receipt(receipt, errors=DISCARD)) == 3, "the staking module's counter events are skipped"
    return jid, fee, reveals, receipt


def test_an_honest_exact_job_is_verified(chain):
    node, w3, jobs = chain["node"], chain["w3"], chain["jobs"]
    jid, fee, reveals, _ = attested_valid(chain)
    with pytest.raises(ContractLogicError, match="already revealed"):
        jobs.functions.revealAttestations(reveals[:1]).call({"from": OUTSIDER.address})
    wait_status(node, jid, ["challengeWindow"])
    receipt = send(w3, OUTSIDER, jobs.functions.finalize(jid))
    (done,) = jobs.events.JobFinalized().process_receipt(receipt)
    assert done.args.providerPaid == fee * 85 // 100
    assert done.args.refunded == 6 * ETHER
    assert done.args.verifiersPaid + done.args.burned == fee * 15 // 100 + 2 * ETHER
    job = node.result("opg_getJob", ["0x" + jid.hex()])
    assert job["status"] == "finalized" and job["label"] == "verified"
    assert all(m["verdict"] == "valid" for m in job["committee"])
    assert assert_supply_holds(chain) == 0


def test_a_window_of_zero_settles_at_the_quorum_under_settlement_version_2(tmp_path_factory):
    """The default settlement version 2: the reveal that reaches the quorum settles the job in
    its own block (no finalize transaction), `JobFinalized` in the reveal's receipt."""
    chain = staked_chain(tmp_path_factory.mktemp("jobs-v2"), JOBS_GENESIS, {PROVIDER: 10 * ETHER},
                         {v: (5 + i) * ETHER for i, v in enumerate(VERIFIERS)})
    try:
        node, jobs = chain["node"], chain["jobs"]
        jid, fee, _, receipt = attested_valid(chain)
        (done,) = jobs.events.JobFinalized().process_receipt(receipt, errors=DISCARD)
        assert done.args.providerPaid == fee * 85 // 100 and done.args.refunded == 6 * ETHER
        job = node.result("opg_getJob", ["0x" + jid.hex()])
        assert job["status"] == "finalized" and job["label"] == "verified"
        assert job["settledAt"] == job["challengeEnd"] == receipt.blockNumber, "settled in the block of the quorum"
        with pytest.raises(ContractLogicError, match="is finalized, not challengeWindow"):
            jobs.functions.finalize(jid).call({"from": OUTSIDER.address})
        assert assert_supply_holds(chain) == 0
    finally:
        chain["node"].stop()


def test_a_job_nobody_accepts_is_refunded(chain):
    node, w3 = chain["node"], chain["w3"]
    before = w3.eth.get_balance(REQUESTER.address)
    jid = request(chain, max_fee=3 * ETHER, verification_fee=ETHER)
    job = wait_status(node, jid, ["refunded"], timeout=60)
    assert job["label"] is None
    assert before - w3.eth.get_balance(REQUESTER.address) < ETHER // 100, "the fees came back; only gas was spent"
    page = node.result("opg_listJobs", [{"status": "refunded", "requester": REQUESTER.address}])
    assert "0x" + jid.hex() in [j["jobId"] for j in page["items"]]
    page = node.result("opg_listJobs", [{"provider": PROVIDER.address, "limit": "0x1"}])
    assert len(page["items"]) <= 1
    assert_supply_holds(chain)


def test_a_result_never_committed_is_refunded_with_a_penalty(chain):
    node, w3, jobs = chain["node"], chain["w3"], chain["jobs"]
    nonce = jobs.functions.nonceOf(REQUESTER.address).call()
    jid = job_id(w3.eth.chain_id, REQUESTER.address, nonce)
    deadline = w3.eth.block_number + 14
    fn = jobs.functions.requestJob(chain["model"], b"pixels", ZERO, "", 1, 3 * ETHER, ETHER, deadline)
    assert send(w3, REQUESTER, fn, value=4 * ETHER).status == 1
    wait_status(node, jid, ["assigned"])
    assert send(w3, PROVIDER, jobs.functions.acceptJob(jid, ETHER), value=2 * ETHER).status == 1
    requester_before, provider_before = w3.eth.get_balance(REQUESTER.address), w3.eth.get_balance(PROVIDER.address)
    job = wait_status(node, jid, ["refunded"], timeout=60)
    assert job["settledAt"] == deadline
    assert w3.eth.get_balance(REQUESTER.address) - requester_before == 4 * ETHER + ETHER, "fees back plus half the collateral"
    assert w3.eth.get_balance(PROVIDER.address) - provider_before == ETHER, "the other half of the collateral back"
    assert_supply_holds(chain)


def test_a_committee_that_never_reveals_is_redrawn_once_then_the_job_is_unverified(chain):
    """Issue 10's no-quorum timeout: the first committee stays silent, so at its reveal
    deadline the job is redrawn (round 1, a new draw); the second stays silent too, so the
    job settles unverified: the provider gets its 85% and its collateral back, the requester
    the rest of the max fee, the verification fee and the verifiers' 10%; 5% is burned."""
    node, w3, jobs = chain["node"], chain["w3"], chain["jobs"]
    max_fee, verification_fee, fee = 10 * ETHER, 2 * ETHER, 4 * ETHER
    jid = request(chain, max_fee=max_fee, verification_fee=verification_fee)
    requester_before = w3.eth.get_balance(REQUESTER.address)
    wait_status(node, jid, ["assigned"])
    assert send(w3, PROVIDER, jobs.functions.acceptJob(jid, fee), value=2 * fee).status == 1
    assert send(w3, PROVIDER, jobs.functions.commitResult(jid, b"seven", ZERO, "", keccak(b"trace"))).status == 1
    provider_before = w3.eth.get_balance(PROVIDER.address)
    first = wait_status(node, jid, ["attesting"])
    assert first["round"] == 0 and len(first["committee"]) == 3
    second = wait_job(node, jid, lambda j: j["round"] == 1 and j["status"] == "attesting", "redrawn", timeout=90)
    assert second["revealEnd"] > first["revealEnd"] and len(second["committee"]) == 3, "the reveal deadline passed: one redraw"
    done = wait_status(node, jid, ["unverified"], timeout=90)
    assert done["round"] == 1 and done["label"] == "unverified" and done["settledAt"] >= second["revealEnd"]
    assert all(m["verdict"] is None for m in done["committee"]), "nobody revealed, nobody is paid"
    assert w3.eth.get_balance(PROVIDER.address) - provider_before == fee * 85 // 100 + 2 * fee, "its share and its collateral"
    assert w3.eth.get_balance(REQUESTER.address) - requester_before == max_fee - fee + verification_fee + fee // 10, \
        "the rest of the max fee, the verification fee and the verifiers' share come back"
    assert assert_supply_holds(chain) == 0


def test_opg_job_submit_and_show(chain):
    node, work = chain["node"], chain["work"]
    keystore, password, key_file = work / "keystore", work / "password", work / "requester.key"
    password.write_text("jobs e2e\n")
    key_file.write_text(DEV_ACCOUNTS[8].key.hex())
    run([OPG, "account", "import", "--keystore", str(keystore), "--password-file", str(password), str(key_file)], check=True)
    (work / "input.bin").write_bytes(b"pixels")
    common = ["--rpc", node.url, "--keystore", str(keystore), "--password-file", str(password), "--from", DEV_ACCOUNTS[8].address]
    out = run([OPG, "job", "submit", *common, chain["model"], "--input-file", str(work / "input.bin"), "--max-fee", "2", "--wait"])
    assert out.returncode == 1, out.stderr  # nobody accepts: refunded
    lines = out.stdout.splitlines()
    jid = lines[0].split()[1]
    assert lines[0].startswith("job 0x") and "assigned" in lines and "refunded" in lines
    assert lines[-1].endswith("class exact, label none")
    shown = json.loads(run([OPG, "job", "show", "--rpc", node.url, jid], check=True).stdout)
    assert shown["status"] == "refunded" and shown["requester"] == DEV_ACCOUNTS[8].address
    bad = run([OPG, "job", "submit", *common, chain["model"], "--input-hash", "0x12", "--input-uri", "u", "--max-fee", "1"])
    assert bad.returncode != 0 and "--input-hash" in bad.stderr
    bad = run([OPG, "job", "submit", *common, "no_such_model", "--input-file", str(work / "input.bin"), "--max-fee", "1"])
    assert bad.returncode != 0 and "malformed model id" in bad.stderr


def test_bad_rpc_parameters_get_clear_errors(chain):
    node = chain["node"]
    assert "jobId must be 32 bytes" in node.rpc("opg_getJob", ["0x12"])["error"]["message"]
    assert "unknown job" in node.rpc("opg_getJob", ["0x" + "ab" * 32])["error"]["message"]
    assert "unknown filter field" in node.rpc("opg_listJobs", [{"colour": "red"}])["error"]["message"]
    assert "status must be one of" in node.rpc("opg_listJobs", [{"status": "done"}])["error"]["message"]
