"""The chat job spec (docs/chat.md, "The chat job") on the real chat model, and `opg chat` as
a conversation on a real devnet:

- `opg chat input` writes the canonical input bytes; `opg chat generate` runs the spec on the
  model file, streaming the answer, and gives the pinned token ids (recorded from our own
  kernel), the same output bytes, output hash and trace root on 1 and 2 threads and from an
  input file; refused inputs fail before the model loads, naming the rule;
- `opg chat --message` sends a message as a job of the jobs module on the chat model
  registered by reference (tools/chat/register_dev_model.py, what `make dev` runs); this test
  plays the provider (it runs `opg chat generate` on the job's input and commits the output
  and trace root) and three verifiers (commit and reveal `valid` attestations), and `opg chat`
  prints submitted → answered → attested k/n → final with the answer and a verified badge.

Answers are capped at a few tokens: every `opg` here loads the 542 MB model."""
import json
import subprocess
import time

import pytest
from eth_account import Account
from eth_utils import keccak

from opgnode import BIN, DEV_ACCOUNTS, GENESIS, ROOT, Node, run
from test_jobs import ETHER, JOBS, STAKING, ZERO, abi, send
from test_daemons import Daemon
from test_verification_vectors import attestation, commitment, digest_of

OPG = str(BIN / "opg")
MODEL = ROOT / ".build" / "chat" / "smollm2-135m.onnx"
TOKENIZER = ROOT / ".build" / "chat" / "smollm2-tokenizer.json"
# The chat model's CIDv0 (docs/chat.md; ChatRunner.modelCID, which the daemons serve).
CHAT_MODEL_ID = "QmRKDnhryJNa55zSzdVGS6djodxMjULCekyAC7gkKZ4mCt"
QUESTION = "What is the capital of France?"
# Recorded from opg's own kernel; <|im_end|> (2) ends the answer.
ANSWER_IDS = [504, 3575, 282, 4649, 314, 7042, 30, 2]
ANSWER = "The capital of France is Paris."
INPUT = ('{"maxTokens":8,"messages":[{"content":"What is the capital of France?","role":"user"}]}').encode()
# The chat trace root of that answer (docs/chat.md, "Trace root"), recorded from our kernel.
TRACE_ROOT = "0x8e3f6d790bd1b2710b22c3e5ad3af6f1bc987f394f91380ca52d94769d9b7aa0"
OUTPUT = b'{"finish":"stop","text":"The capital of France is Paris.","tokens":[504,3575,282,4649,314,7042,30,2]}'
EPOCH_BLOCKS = 4
PROVIDER, VERIFIERS, REQUESTER, OUTSIDER = DEV_ACCOUNTS[1], DEV_ACCOUNTS[2:5], DEV_ACCOUNTS[6], DEV_ACCOUNTS[7]


def generate(*args, timeout=300):
    return subprocess.run([OPG, "chat", "generate", "--model-file", str(MODEL), "--tokenizer", str(TOKENIZER), *args],
                          capture_output=True, text=True, timeout=timeout)


def test_input_bytes_are_canonical():
    out = run([OPG, "chat", "input", "--max-tokens", "8", "--message", f"user={QUESTION}"], check=True)
    assert out.stdout.encode() == INPUT
    bad = run([OPG, "chat", "input", "--message", f"assistant={QUESTION}"])
    assert bad.returncode == 2 and "the last message is from assistant" in bad.stderr


def test_generate_streams_the_pinned_answer_the_same_on_one_and_two_threads(tmp_path):
    streamed = generate("--max-tokens", "8", "--message", f"user={QUESTION}", "--output-file", str(tmp_path / "out.json"))
    assert streamed.returncode == 0, streamed.stderr
    lines = streamed.stdout.splitlines()
    assert lines[0] == ANSWER
    assert lines[1] == "tokens [" + ",".join(map(str, ANSWER_IDS)) + "]"
    assert lines[2] == "finish stop"
    assert lines[3] == "output hash 0x" + keccak(OUTPUT).hex().removeprefix("0x")
    assert lines[4] == f"trace root {TRACE_ROOT}"
    assert (tmp_path / "out.json").read_bytes() == OUTPUT
    (tmp_path / "input.json").write_bytes(INPUT)
    two = generate("--input-file", str(tmp_path / "input.json"), "--threads", "2", "--json")
    assert two.returncode == 0, two.stderr
    result = json.loads(two.stdout)
    assert result["output"].encode() == OUTPUT and result["tokens"] == ANSWER_IDS and result["text"] == ANSWER
    assert result["traceRoot"] == TRACE_ROOT and len(result["stepRoots"]) == len(ANSWER_IDS)


@pytest.mark.parametrize("data, reason", [
    (b'{"maxTokens": 8,"messages":[{"content":"x","role":"user"}]}', "not in canonical form"),
    (b'{"maxTokens":300,"messages":[{"content":"x","role":"user"}]}', "maxTokens 300 is out of range"),
    (b'{"messages":[{"content":"x","role":"robot"}]}', 'unknown role "robot"'),
    (b'[1,2]', "not a JSON object"),
])
def test_refused_inputs_name_the_rule(tmp_path, data, reason):
    (tmp_path / "input.json").write_bytes(data)
    out = generate("--input-file", str(tmp_path / "input.json"), timeout=30)
    assert out.returncode == 1 and reason in out.stderr, out.stderr


def test_a_content_holding_a_special_token_is_refused():
    out = generate("--message", "user=hi<|im_end|>", "--max-tokens", "1")
    assert out.returncode == 1 and "holds the special token <|im_end|>" in out.stderr, out.stderr


def start_devnet(work, block_interval_ms=200):
    """A node whose genesis enables staking (4-block epochs) and jobs (a committee of 3, no
    challenge window)."""
    genesis = json.loads(GENESIS.read_text())
    genesis["staking"] = {"epochBlocks": EPOCH_BLOCKS, "providerMinStake": str(10 * ETHER), "verifierMinStake": str(5 * ETHER)}
    genesis["jobs"] = {"acceptBlocks": 100, "attestCommitBlocks": 100, "attestRevealBlocks": 100, "challengeBlocks": 0, "committeeSize": 3}
    (work / "genesis.json").write_text(json.dumps(genesis))
    return Node(workdir=work / "node", block_interval_ms=block_interval_ms, extra_config={"genesis": str(work / "genesis.json")}).init().start()


def register_and_stake(node, w3):
    """Registers the chat model by reference as `make dev` does, stakes PROVIDER and VERIFIERS
    for it and waits until they are eligible; returns the model's id."""
    registered = run([str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "tools" / "chat" / "register_dev_model.py"),
                      "--rpc", node.url, "--opg", OPG, str(MODEL)], check=True, timeout=600)  # hashes 542 MB: minutes on a loaded machine
    model = registered.stdout.split("by reference: ")[1].split()[0]
    assert model == CHAT_MODEL_ID
    staking = w3.eth.contract(address=STAKING, abi=abi("Staking"))
    last = send(w3, PROVIDER, staking.functions.registerProvider([model], "cpu"), value=10 * ETHER).blockNumber
    for verifier in VERIFIERS:
        last = max(last, send(w3, verifier, staking.functions.registerVerifier([model], "cpu"), value=5 * ETHER).blockNumber)
    node.wait_block((last // EPOCH_BLOCKS + 1) * EPOCH_BLOCKS, timeout=60)
    return model


def requester_keystore(work, requester=REQUESTER):
    """The requester's keystore (light scrypt) and password file, for `opg chat --keystore`."""
    keystore, password = work / f"keystore-{requester.address}", work / "password"
    password.write_text("chat e2e\n")
    keystore.mkdir(exist_ok=True)
    (keystore / "requester.json").write_text(json.dumps(Account.encrypt(requester.key, "chat e2e", kdf="scrypt", iterations=2**10)))
    return ["--keystore", str(keystore), "--password-file", str(password), "--from", requester.address]


@pytest.fixture(scope="module")
def devnet(tmp_path_factory):
    work = tmp_path_factory.mktemp("chat")
    node = start_devnet(work)
    yield {"node": node, "w3": node.web3(), "work": work}
    node.stop()


def test_opg_chat_message_goes_through_the_jobs_module_to_a_verified_answer(devnet):
    node, w3, work = devnet["node"], devnet["w3"], devnet["work"]
    model = register_and_stake(node, w3)
    jobs = w3.eth.contract(address=JOBS, abi=abi("Jobs"))
    chat = subprocess.Popen([OPG, "chat", "--rpc", node.url, *requester_keystore(work), "--message", QUESTION, "--max-tokens", "8",
                             "--max-fee", "2", "--verification-fee", "1", "--deadline-blocks", "2000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        job = wait_for(lambda: next(iter(node.result("opg_listJobs", [{"requester": REQUESTER.address, "status": "assigned"}])["items"]), None),
                       alive=chat)
        jid = bytes.fromhex(job["jobId"][2:])
        assert job["provider"] == PROVIDER.address and job["modelId"] == model and job["verificationClass"] == "exact"
        assert send(w3, PROVIDER, jobs.functions.acceptJob(jid, ETHER), value=2 * ETHER).status == 1
        job_input = jobs.functions.jobInput(jid).call()
        assert job_input == INPUT, "opg chat sends the conversation as canonical input bytes"
        (work / "job-input.json").write_bytes(job_input)
        replay = generate("--input-file", str(work / "job-input.json"), "--json")
        assert replay.returncode == 0, replay.stderr
        result = json.loads(replay.stdout)
        output, trace = result["output"].encode(), bytes.fromhex(result["traceRoot"][2:])
        assert send(w3, PROVIDER, jobs.functions.commitResult(jid, output, ZERO, "", trace)).status == 1
        job = wait_for(lambda: (j := node.result("opg_getJob", [job["jobId"]]))["status"] == "attesting" and j)
        message = attestation(jid, model, keccak(job_input), keccak(output), trace, 1, job["epoch"], w3.eth.chain_id)
        by_address = {v.address: v for v in VERIFIERS}
        reveals = []
        for member in (m["address"] for m in job["committee"]):
            salt = keccak(text=f"salt {member}")
            assert send(w3, by_address[member], jobs.functions.commitAttestation(jid, commitment(digest_of(message), salt, member))).status == 1
            reveals.append((jid, member, 1, salt, bytes(by_address[member].sign_message(message).signature)))
        assert send(w3, OUTSIDER, jobs.functions.revealAttestations(reveals)).status == 1
        stdout, stderr = chat.communicate(timeout=120)
    except Exception:
        chat.kill()
        raise AssertionError(f"opg chat printed: {chat.communicate()}")
    assert chat.returncode == 0, stderr
    assert "often wrong on facts and arithmetic" in stdout and "public on chain" in stdout
    lines = stdout.splitlines()
    assert any(line.startswith(f"submitted  job {job['jobId']}") for line in lines)
    assert ANSWER in lines
    assert "attested   3/3: quorum reached" in stdout
    assert lines[-1] == f"[final · verified (re-executed bit for bit) · job {job['jobId']}]"
    assert node.result("opg_getJob", [job["jobId"]])["label"] == "verified", "opg chat finalized the job itself"


def test_the_daemons_answer_and_verify_a_chat_job(tmp_path):
    """`opg provider` and three `opg verifier`s with the chat model's files in their config
    (docs/daemons.md, `chat`) run the chat job themselves: `opg chat --message` on a fresh
    devnet reaches a verified answer with nobody playing a role by hand, and `opg job verify`
    re-runs it to `verified`."""
    node = start_devnet(tmp_path)
    daemons = []
    try:
        register_and_stake(node, node.web3())
        files = {"chat": {"modelFile": str(MODEL), "tokenizerFile": str(TOKENIZER)}}
        daemons = [Daemon(tmp_path, "provider", PROVIDER, **files).start(node)]
        daemons += [Daemon(tmp_path, "verifier", v, **files).start(node) for v in VERIFIERS]
        chat = subprocess.run([OPG, "chat", "--rpc", node.url, *requester_keystore(tmp_path), "--message", QUESTION, "--max-tokens", "8",
                               "--max-fee", "2", "--verification-fee", "1", "--deadline-blocks", "2000"],
                              capture_output=True, text=True, timeout=400)
        logs = "\n".join(d.log_tail() for d in daemons)
        assert chat.returncode == 0, chat.stderr + logs
        lines = chat.stdout.splitlines()
        assert ANSWER in lines, chat.stdout + logs
        assert "attested   3/3: quorum reached" in chat.stdout
        assert lines[-1].startswith("[final · verified (re-executed bit for bit) · job "), chat.stdout
        job = node.result("opg_getJob", [lines[-1].split("job ")[1].rstrip("]")])
        assert job["label"] == "verified" and job["provider"] == PROVIDER.address
        assert {m["verdict"] for m in job["committee"]} == {"valid"}
        verify = subprocess.run([OPG, "job", "verify", "--rpc", node.url, "--model-file", str(MODEL), "--tokenizer", str(TOKENIZER), job["jobId"]],
                                capture_output=True, text=True, timeout=300)
        assert verify.returncode == 0 and verify.stdout.strip() == "verified", verify.stdout + verify.stderr
    finally:
        for d in daemons:
            d.stop()
        node.stop()


def wait_for(probe, timeout=90, alive=None):
    """The first truthy `probe()`; fails at once if the process `alive` has exited."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if value := probe():
            return value
        if alive is not None and alive.poll() is not None:
            raise AssertionError(f"exited {alive.returncode} before the devnet got there")
        time.sleep(0.2)
    raise TimeoutError("the devnet did not get there in time")
