"""A dispute over a model registered by reference, played by the operator daemons as real
processes on loopback (docs/verification.md, "Models by reference"; docs/daemons.md,
"Disputes"): a model of about 3.3 MB (an embedding table of 12,288 rows of 64 floats read by a
Gather, then a MatMul by a 64 × 1,024 weight of 256 KiB) is registered by reference with the
schedule root `opg model ref` computes, so the chain holds none of its bytes; the daemons
read the file from their config (`models`). A provider whose trace has a wrong MatMul entry
(`corruptTrace`) is voted invalid and reveals its trace; a verifier stages the MatMul's
weight on chain in 64 KiB chunks, each proven against the registered initializer root, then
proves the node (proven against the nodes and schedule roots) wrong with
`proveReferenceNode`. The job is overturned, the provider slashed 5% and jailed, the
requester refunded, and the supply invariant holds. Verifiers that wrongly vote invalid
against an honest provider of the same model lose at `resolveBy`: the provider revealed and
nothing was proven. One-second blocks, so that the staging fits the dispute's 100 blocks even
with debug binaries; the honest-provider case, which stages nothing, restarts the node with
quarter-second blocks."""
import json
import subprocess

import numpy as np
import onnx
import pytest
from eth_account import Account
from onnx import TensorProto, helper, numpy_helper

from opgnode import DEV_ACCOUNTS
from test_daemons import OPG, Daemon, wait_for
from test_jobs import ETHER, abi, assert_supply_holds, send, staked_chain
from test_traces import canonical

PROVIDERS, VERIFIERS, REQUESTER = DEV_ACCOUNTS[1:4], DEV_ACCOUNTS[4:8], DEV_ACCOUNTS[8]
PROVIDER_STAKE, VERIFIER_STAKE = 20 * ETHER, 10 * ETHER
REGISTRY = "0x00000000000000000000000000000000000000F3"
REGISTER = "registerReference(bytes32,string,uint64,bytes32,uint64,bytes32,uint64,bytes32,string[],string[],string,string)"


def write_model(path):
    """Gather over a 12,288 × 64 table (3 MiB), then MatMul by a 64 × 1,024 weight (256 KiB:
    sixteen rows to a 64 KiB chunk, 4 value chunks)."""
    rng = np.random.default_rng(11)
    table = rng.standard_normal((12288, 64)).astype(np.float32)
    weight = (rng.standard_normal((64, 1024)) / 8).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["emb"], axis=0), helper.make_node("MatMul", ["emb", "weight"], ["y"])],
        "reference_dispute", [helper.make_tensor_value_info("ids", TensorProto.INT64, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 1024])],
        [numpy_helper.from_array(table, "table"), numpy_helper.from_array(weight, "weight")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="opg-tests")
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    work = tmp_path_factory.mktemp("reference-disputes")
    model_file = work / "reference_dispute.onnx"
    write_model(model_file)
    record = json.loads(subprocess.run([OPG, "model", "ref", str(model_file), "--uri", "https://models.example/reference_dispute.onnx"],
                                       capture_output=True, text=True, timeout=120, check=True).stdout)

    def register(w3):
        registry = w3.eth.contract(address=w3.to_checksum_address(REGISTRY), abi=abi("ModelRegistry"))
        call = registry.get_function_by_signature(REGISTER)(
            bytes.fromhex(record["fileSha256"][2:]), record["cidV0"], record["size"], bytes.fromhex(record["initializerRoot"][2:]),
            record["initializerCount"], bytes.fromhex(record["nodesRoot"][2:]), record["nodeCount"],
            bytes.fromhex(record["scheduleRoot"][2:]), record["operators"], record["uris"], record["name"], record["description"])
        assert send(w3, DEV_ACCOUNTS[9], call).status == 1
        return record["cidV0"]

    jobs = {"acceptBlocks": 10, "attestCommitBlocks": 12, "attestRevealBlocks": 12, "challengeBlocks": 30, "committeeSize": 3,
            "challengeBond": str(ETHER)}
    # one-second blocks: the verifier stages several chunk transactions, each waited for, within the dispute's 100 blocks
    chain = staked_chain(work, jobs, {p: PROVIDER_STAKE for p in PROVIDERS}, {v: VERIFIER_STAKE for v in VERIFIERS},
                         node_config={"blockIntervalMs": 1000}, register=register)
    keystore, password = work / "keystore", work / "password"
    password.write_text("reference disputes e2e\n")
    keystore.mkdir()
    (keystore / "requester.json").write_text(json.dumps(Account.encrypt(REQUESTER.key, "reference disputes e2e", kdf="scrypt", iterations=2**10)))
    (work / "input.bin").write_bytes(canonical([(TensorProto.INT64, np.array([3, 4000, 12287], dtype=np.int64))]))
    models = {record["cidV0"]: str(model_file)}
    net = dict(chain, record=record, providers=[Daemon(work, "provider", a, models=models) for a in PROVIDERS],
               verifiers=[Daemon(work, "verifier", a, models=models) for a in VERIFIERS],
               submit=["--rpc", chain["node"].url, "--keystore", str(keystore), "--password-file", str(password), "--from", REQUESTER.address])
    yield net
    for d in net["providers"] + net["verifiers"]:
        d.stop()
    chain["node"].stop()


def submit_and_settle(net):
    """`opg job submit` of the fixture input over the model; returns (job id, the settled job)."""
    argv = [OPG, "job", "submit", *net["submit"], net["model"], "--input-file", str(net["work"] / "input.bin"), "--max-fee", "10",
            "--verification-fee", "2", "--deadline-blocks", "60"]
    submitted = subprocess.run(argv, capture_output=True, text=True, timeout=90)
    assert submitted.stdout.startswith("job 0x"), submitted.stderr
    jid = submitted.stdout.split()[1]
    job = wait_for(lambda: (lambda j: j if j["status"] in {"finalized", "overturned", "refunded", "unverified"} else None)(
        net["node"].result("opg_getJob", [jid])), f"job {jid} did not settle", timeout=400, daemons=net["providers"] + net["verifiers"])
    return jid, job


def test_a_wrong_node_of_a_model_by_reference_is_proven_with_its_weights_in_proven_chunks(net):
    node, w3 = net["node"], net["w3"]
    assert net["record"]["size"] > 3_000_000, "a model of a few MB, registered by reference"
    registry = w3.eth.contract(address=w3.to_checksum_address(REGISTRY), abi=abi("ModelRegistry"))
    assert "0x" + registry.functions.getModelReference(net["model"]).call()[15].hex().removeprefix("0x") == net["record"]["scheduleRoot"]
    for d in net["providers"]:
        d.start(node, corruptTrace=True)
    for d in net["verifiers"]:
        d.start(node)
    before = w3.eth.get_balance(REQUESTER.address)
    jid, job = submit_and_settle(net)
    assert job["status"] == "overturned", (job["status"], job.get("dispute"), "\n".join(d.log_tail() for d in net["verifiers"]))
    dispute = job["dispute"]
    assert dispute["state"] == "providerWrong" and dispute["revealedPieces"] == 1 and dispute["faultPosition"] == 1, dispute
    provers = [v for v in net["verifiers"] if any(e.get("step") == "prove" for e in v.entries(jid))]
    assert provers, "\n".join(v.log_tail() for v in net["verifiers"])
    stages = [e["step"] for v in net["verifiers"] for e in v.entries(jid) if e["kind"] == "transaction" and e["step"].startswith("stage#")]
    assert len(stages) >= 4, f"the weight's header and 4 value chunks arrive in batches under 96 KiB: {stages}"
    provider = next(d for d in net["providers"] if d.account.address == job["provider"])
    operator = net["staking"].functions.getOperator(provider.account.address).call()
    assert operator[1] == PROVIDER_STAKE - PROVIDER_STAKE // 20 and operator[5] is True, "5% of the wrong provider's stake, jailed"
    spent = before - w3.eth.get_balance(REQUESTER.address)
    assert 0 < spent < ETHER // 100, "the requester got the max fee and verification fee back (it paid gas only)"
    assert assert_supply_holds(net) == 0


def test_an_honest_provider_of_a_model_by_reference_wins_at_the_deadline(net):
    """Verifiers that wrongly vote invalid (`alwaysInvalid`): the provider reveals, nothing can
    be proven against it, and at `resolveBy` the hook settles for the provider that revealed
    (the whole run it cannot have: the model is not on chain)."""
    node = net["node"]
    for d in net["providers"] + net["verifiers"]:
        d.stop()
    # nothing is staged in this case: a quarter-second block interval (local config, no
    # consensus rule) lets the dispute's 100 blocks pass in ~25 s instead of 100 s
    node.stop()
    node.config["blockIntervalMs"] = 250
    node.config_file.write_text(json.dumps(node.config, indent=2))
    node.start()
    for d in net["providers"]:
        d.start(node)
    for d in net["verifiers"]:
        d.start(node, alwaysInvalid=True)
    _, job = submit_and_settle(net)
    assert job["status"] == "finalized" and job["dispute"]["state"] == "providerRight", (job["status"], job.get("dispute"))
    assert job["dispute"]["revealedPieces"] == 1
    assert assert_supply_holds(net) == 0
