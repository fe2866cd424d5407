"""The operator daemons (docs/daemons.md) as real processes on loopback: one opgd, two
`opg provider` and four `opg verifier` processes staked by transactions, jobs requested with
`opg job submit --wait`. Honest flow → finalized and verified (and `opg job verify` agrees); an
attested-only job → checked for form and availability, labelled attested; no provider online →
refunded; a verifier offline → the other members still make the quorum;
daemons SIGKILLed right after recording a signature and restarted → the same signature is
reused, no second one exists and the job completes; a provider that corrupts its output →
the verifiers vote invalid and the job is disputed (a lying `alwaysValid` verifier cannot
save it). The supply invariant holds at the end."""
import json
import signal
import subprocess
import time

import pytest
import requests
from eth_account import Account
from onnx import load_tensor_from_string, numpy_helper

from opgnode import BIN, DEV_ACCOUNTS, free_port, run
from test_traces import canonical
from test_jobs import ETHER, FIXTURES, assert_supply_holds, staked_chain

OPG = str(BIN / "opg")
PROVIDERS, VERIFIERS, REQUESTER = DEV_ACCOUNTS[1:3], DEV_ACCOUNTS[3:7], DEV_ACCOUNTS[7]
INPUT_PB = load_tensor_from_string((FIXTURES / "digits_logreg.input.pb").read_bytes())
# docs/daemons.md, "Job input and output": the canonical list of the model's inputs, in its order
JOB_INPUT = canonical([(INPUT_PB.data_type, numpy_helper.to_array(INPUT_PB))])
SETTLED = {"finalized", "refunded", "unverified", "disputed"}


class Daemon:
    """One `opg provider` or `opg verifier` process with its key, config, state and log."""

    def __init__(self, work, role: str, account, **settings):
        self.role, self.account = role, account
        self.dir = work / f"{role}-{account.address[:8]}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = self.dir / "operator.key"
        self.key.write_text(account.key.hex())
        self.config_file = self.dir / "config.json"
        self.log = self.dir / "daemon.log"
        self.record = self.dir / "state" / "signing-record.jsonl"
        self.settings = settings
        self.proc = None

    def start(self, node, **overrides):
        config = {"rpc": node.url, "keyFile": str(self.key), "stateDir": str(self.dir / "state"), "pollMs": 50, "statusSeconds": 2,
                  "listen": {"host": "127.0.0.1", "port": free_port()}, "logLevel": "debug"}
        if self.role == "provider":
            config["fee"] = str(4 * ETHER)
        config.update(self.settings)
        config.update(overrides)
        self.config_file.write_text(json.dumps(config, indent=2))
        self.proc = subprocess.Popen([OPG, self.role, "--config", str(self.config_file)], stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def entries(self, job: str):
        if not self.record.exists():
            return []
        entries = []
        for line in self.record.read_text().splitlines():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:  # a line being written
                pass
        return [e for e in entries if e["job"] == job]

    def log_tail(self, n=30):
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:]) if self.log.exists() else "(no log)"


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    work = tmp_path_factory.mktemp("daemons")
    jobs = {"acceptBlocks": 10, "attestCommitBlocks": 12, "attestRevealBlocks": 12, "challengeBlocks": 2, "committeeSize": 3,
            "challengeBond": str(ETHER)}
    # equal verifier stakes: any two of a committee of three make the 2/3 quorum
    chain = staked_chain(work, jobs, {p: 10 * ETHER for p in PROVIDERS}, {v: 5 * ETHER for v in VERIFIERS})
    node, w3, model, genesis = chain["node"], chain["w3"], chain["model"], chain["genesis"]
    providers = [Daemon(work, "provider", a).start(node) for a in PROVIDERS]
    verifiers = [Daemon(work, "verifier", a).start(node) for a in VERIFIERS]
    keystore, password = work / "keystore", work / "password"
    password.write_text("daemons e2e\n")
    keystore.mkdir()  # light scrypt (n = 2^10): the default costs seconds per submit on a loaded machine
    (keystore / "requester.json").write_text(json.dumps(Account.encrypt(REQUESTER.key, "daemons e2e", kdf="scrypt", iterations=2**10)))
    (work / "input.bin").write_bytes(JOB_INPUT)
    net = {"node": node, "w3": w3, "model": model, "work": work, "providers": providers, "verifiers": verifiers, "genesis": genesis,
           "supply": chain["supply"], "jobs": chain["jobs"],
           "submit": ["--rpc", node.url, "--keystore", str(keystore), "--password-file", str(password), "--from", REQUESTER.address]}
    yield net
    for d in providers + verifiers:
        d.stop()
    node.stop()


def submit(net, wait=True, timeout=90, extra=()):
    """`opg job submit` of the fixture input; returns (job id, stdout lines, exit status)."""
    argv = [OPG, "job", "submit", *net["submit"], net["model"], "--input-file", str(net["work"] / "input.bin"), "--max-fee", "10",
            "--verification-fee", "2", "--deadline-blocks", "60", *extra] + (["--wait"] if wait else [])
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    lines = p.stdout.splitlines()
    assert lines and lines[0].startswith("job 0x"), p.stderr
    return lines[0].split()[1], lines, p.returncode


def job_of(net, jid):
    return net["node"].result("opg_getJob", [jid])


def wait_for(predicate, what, timeout=60, daemons=()):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise TimeoutError(f"{what}\n" + "\n".join(f"--- {d.role} {d.account.address}\n{d.log_tail()}" for d in daemons))


def attestation_lines(verifier, jid):
    return [e for e in verifier.entries(jid) if e["kind"] == "attestation"]


def assert_one_signature_per_round(net, jid):
    for v in net["verifiers"]:
        rounds = [e["round"] for e in attestation_lines(v, jid)]
        assert len(rounds) == len(set(rounds)), f"{v.account.address} signed twice in one round: {v.entries(jid)}"
    for v in VERIFIERS:
        assert not net["node"].result("opg_getOperator", [v.address])["tombstoned"]


def test_an_honest_job_is_finalized_and_verified(net):
    jid, lines, status = submit(net)
    everyone = net["providers"] + net["verifiers"]
    assert status == 0, "\n".join(lines) + "\n" + "\n".join(d.log_tail() for d in everyone)
    for step in ("assigned", "attesting", "finalized"):  # opg polls every 200 ms: one-block statuses may pass unseen
        assert any(line.startswith(step) for line in lines), (step, lines)
    assert lines[-1].endswith("class exact, label verified"), lines
    job = job_of(net, jid)
    assert job["status"] == "finalized" and job["label"] == "verified"
    assert [m["verdict"] for m in job["committee"]] == ["valid"] * 3
    verified = run([OPG, "job", "verify", "--rpc", net["node"].url, jid])
    assert verified.returncode == 0 and verified.stdout.strip() == "verified", verified.stdout + verified.stderr
    provider = next(d for d in net["providers"] if d.account.address == job["provider"])
    steps = [e["step"] for e in provider.entries(jid) if e["kind"] == "transaction"]
    assert steps == ["accept", "commit", "finalize"] or steps == ["accept", "commit"], steps
    port = json.loads(provider.config_file.read_text())["listen"]["port"]
    assert requests.get(f"http://127.0.0.1:{port}/jobs/{jid}/input", timeout=5).content == JOB_INPUT, "the provider serves the input it holds"
    assert requests.get(f"http://127.0.0.1:{port}/jobs/{jid}/nothing", timeout=5).status_code == 404
    assert_one_signature_per_round(net, jid)
    assert "status: provider" in provider.log.read_text()


def test_a_pipelined_commit_that_fails_in_its_block_is_signed_again_with_an_estimate(net):
    """docs/daemons.md, "Pipelined transactions": the commit sent behind the accept runs out
    of gas (`starvePipelinedCommit`); the provider finds its failed receipt at a later head
    and commits again as `commit-retry`, and the job is verified as any other."""
    w3 = net["w3"]
    for d in net["providers"]:
        d.stop()
        d.start(net["node"], starvePipelinedCommit=True)
    try:
        jid, lines, status = submit(net)
        assert status == 0, "\n".join(lines) + "\n" + "\n".join(d.log_tail() for d in net["providers"])
        job = job_of(net, jid)
        assert job["status"] == "finalized" and job["label"] == "verified", job["status"]
        provider = next(d for d in net["providers"] if d.account.address == job["provider"])
        sent = {e["step"]: w3.eth.get_transaction_receipt(w3.keccak(hexstr=e["raw"])) for e in provider.entries(jid) if e["kind"] == "transaction"}
        assert list(sent)[:3] == ["accept", "commit", "commit-retry"], list(sent)
        assert sent["accept"].status == 1 and sent["commit"].status == 0 and sent["commit-retry"].status == 1
        assert sent["commit"].blockNumber == sent["accept"].blockNumber, "the starved commit rode behind its accept"
        assert "signing it again as commit-retry" in provider.log.read_text()
    finally:
        for d in net["providers"]:
            d.stop()
            d.start(net["node"])


def test_no_provider_online_refunds_the_requester(net):
    for p in net["providers"]:
        p.stop()
    try:
        jid, lines, status = submit(net)
        assert status == 1 and "refunded" in lines, lines
        assert job_of(net, jid)["status"] == "refunded"
    finally:
        for p in net["providers"]:
            p.start(net["node"])


def test_a_verifier_offline_leaves_a_quorum_of_the_others(net):
    offline = net["verifiers"][0]
    offline.stop()
    try:
        jid, lines, status = submit(net)
        assert status == 0, lines
        job = job_of(net, jid)
        assert job["label"] == "verified"
        verdicts = {m["address"]: m["verdict"] for m in job["committee"]}
        if offline.account.address in verdicts:  # drawn while offline: the other two (2/3 of equal weight) decide at revealEnd
            assert verdicts.pop(offline.account.address) is None
        assert set(verdicts.values()) == {"valid"}
    finally:
        offline.start(net["node"])


def test_daemons_killed_mid_job_restart_without_a_second_signature(net):
    jid, _, _ = submit(net, wait=False)
    providers, verifiers = net["providers"], net["verifiers"]
    everyone = providers + verifiers
    # The provider dies right after recording its accept (before or after sending it).
    drawn = wait_for(lambda: next((p for p in providers if any(e.get("step") == "accept" for e in p.entries(jid))), None),
                     "no provider recorded an accept", daemons=everyone)
    drawn.kill9()
    drawn.start(net["node"])
    # Every committee member dies right after recording its signed attestation, then restarts.
    job = wait_for(lambda: (lambda j: j if j["status"] == "attesting" else None)(job_of(net, jid)), "no committee drawn", daemons=everyone)
    members = [v for v in verifiers if v.account.address in {m["address"] for m in job["committee"]}]
    before = {}
    for v in members:
        line = wait_for(lambda: attestation_lines(v, jid), f"{v.account.address} recorded no attestation", daemons=[v])[0]
        v.kill9()
        before[v.account.address] = line
        v.start(net["node"])
    job = wait_for(lambda: (lambda j: j if j["status"] in SETTLED else None)(job_of(net, jid)), "the job did not settle", timeout=90,
                   daemons=everyone)
    assert job["status"] == "finalized" and job["label"] == "verified", job
    for v in members:
        lines = attestation_lines(v, jid)
        assert lines == [before[v.account.address]], "the restarted verifier reused its recorded signature"
        assert [e["step"] for e in v.entries(jid) if e["kind"] == "transaction"] == ["commit#0", "reveal#0"]
    assert_one_signature_per_round(net, jid)


def test_a_corrupted_output_is_voted_invalid_and_disputed(net):
    node = net["node"]
    for p in net["providers"]:
        p.stop()
        p.start(node, corruptOutput=True)
    liar = net["verifiers"][3]
    liar.stop()
    liar.start(node, alwaysValid=True)
    try:
        jid, lines, status = submit(net)
        assert status == 1 and "disputed" in lines, lines
        job = job_of(net, jid)
        # the daemons then play the dispute out (test_dispute_daemons.py): it may be overturned already
        assert job["status"] in ("disputed", "overturned") and job["dispute"]["challenger"] is None
        verdicts = {m["address"]: m["verdict"] for m in job["committee"]}
        for address, verdict in verdicts.items():
            assert verdict == ("valid" if address == liar.account.address else "invalid"), verdicts
        verify = run([OPG, "job", "verify", "--rpc", node.url, jid])
        assert verify.returncode == 1 and verify.stdout.startswith("output differs"), verify.stdout + verify.stderr
        assert "first difference at byte" in verify.stdout
        assert_one_signature_per_round(net, jid)
    finally:
        for d in net["providers"] + [liar]:
            d.stop()
            d.start(node)


def test_an_attested_only_job_is_checked_for_form_and_labelled_attested(net):
    jid, lines, status = submit(net, extra=["--class", "attestedOnly"])
    assert status == 0 and lines[-1].endswith("class attestedOnly, label attested"), lines
    job = job_of(net, jid)
    assert job["traceRoot"] == "0x" + "00" * 32 and [m["verdict"] for m in job["committee"]] == ["valid"] * 3
    refused = run([OPG, "job", "verify", "--rpc", net["node"].url, jid])
    assert refused.returncode == 1 and "is attested-only" in refused.stderr, refused.stderr


def test_bad_config_names_the_field(net):
    bad = net["work"] / "bad.json"
    bad.write_text(json.dumps({"rpc": net["node"].url, "keyFile": "k", "stateDir": str(net["work"] / "x")}))
    p = run([OPG, "provider", "--config", str(bad)])
    assert p.returncode == 2 and f"config {bad}: fee: missing required field" in p.stderr, p.stderr
    bad.write_text(json.dumps({"rpc": net["node"].url, "keyFile": str(bad), "stateDir": str(net["work"] / "x"), "fee": "1"}))
    p = run([OPG, "verifier", "--config", str(bad)])
    assert p.returncode == 2 and "unknown field" in p.stderr and "fee" in p.stderr, p.stderr
    p = run([OPG, "provider", "--config", str(bad)])
    assert p.returncode == 2 and f"keyFile {bad}: not a secp256k1 private key" in p.stderr, p.stderr
    assert "docs/daemons.md" in run([OPG, "provider", "--help"], check=True).stdout


def test_the_supply_invariant_holds_at_the_end(net):
    assert_supply_holds(net)
