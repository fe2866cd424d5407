"""Trust records end to end (docs/inference.md, "Trust records"): inferences run by
transaction through the precompile (0x…F4) and the hub (0x…F5) against a real opgd each
leave a record in the precompile's storage; opg_getInference, opg_getInferencesByModel and
opg_inferenceStats read them; their input and output hashes equal `opg model run`'s
`inputHash` and `hash` for the same inputs; eth_getProof proves them; `opg inference
verify` compares a local re-run with them. An eth_call leaves none."""
import json

import pytest
from eth_utils import keccak

from opgnode import DEV_ACCOUNTS, run
from test_inference import FIXTURES, OPG, PRECOMPILE, UNKNOWN, fixture, hub, model_input, precompile, send

MODELS = ("digits_mlp", "diabetes_gbr")


def rpc_result(node, method, params):
    body = node.rpc(method, params)
    assert "result" in body, body
    return body["result"]


def rpc_error(node, method, params) -> str:
    body = node.rpc(method, params)
    assert "error" in body, body
    return body["error"]["message"]


def model_run_hashes(name: str) -> tuple[str, str]:
    """`opg model run`'s (inputHash, hash) of the fixture's input."""
    path, input_name, _ = fixture(name)
    out = json.loads(run([OPG, "model", "run", str(path), "--input", f"{input_name}={FIXTURES / f'{name}.input.pb'}"], check=True).stdout)
    return out["inputHash"], out["hash"]


@pytest.fixture(scope="module")
def inferences(node, w3):
    """Three inference transactions: digits_mlp by the precompile (caller A) and by the hub
    (caller B), diabetes_gbr by the precompile (caller A); then an eth_call."""
    models = pytest.importorskip("models", reason="needs the model registry (Tests/e2e/models.py)")
    ids = {name: models.upload_model(w3, DEV_ACCOUNTS[9], FIXTURES / f"{name}.onnx", name=name) for name in MODELS}
    a, b = DEV_ACCOUNTS[6], DEV_ACCOUNTS[5]
    runs = []
    for name, account, via in (("digits_mlp", a, "precompile"), ("digits_mlp", b, "hub"), ("diabetes_gbr", a, "precompile")):
        _, input_name, array = fixture(name)
        if via == "precompile":
            fn = precompile(w3).functions.runModelInference((0, ids[name]["cid_v0"], model_input(input_name, array)))
        else:
            fn = hub(w3).functions.run(ids[name]["cid_v0"], 0, model_input(input_name, array))
        estimate = fn.estimate_gas({"from": account.address})
        receipt = send(w3, account, fn, estimate)
        assert receipt.status == 1 and receipt.gasUsed == estimate, (name, via, receipt.gasUsed, estimate)
        (event,) = precompile(w3).events.ModelInferenceEvent().process_receipt(receipt)
        runs.append({"name": name, "caller": account.address, "receipt": receipt, "id": event.args.inferenceID})
    return {"ids": ids, "runs": runs}


def test_every_transaction_inference_has_its_record(node, w3, inferences):
    for r in inferences["runs"]:
        record = rpc_result(node, "opg_getInference", [r["id"]])
        input_hash, output_hash = model_run_hashes(r["name"])
        receipt = r["receipt"]
        assert record["id"] == r["id"]
        assert record["modelId"] == inferences["ids"][r["name"]]["cid_v0"]
        assert record["modelSha256"] == inferences["ids"][r["name"]]["sha256"]
        assert (record["inputHash"], record["outputHash"]) == (input_hash, output_hash), r["name"]
        assert record["caller"] == r["caller"], "the hub's caller, not the hub"
        assert record["blockNumber"] == receipt.blockNumber
        assert record["transactionHash"] == receipt.transactionHash.to_0x_hex()
        assert record["transactionIndex"] == receipt.transactionIndex
        assert record["gas"] >= 20_000 and record["kernelSpecVersion"] == 1


def test_a_call_leaves_no_record(node, w3, inferences):
    before = rpc_result(node, "opg_getInferencesByModel", [inferences["ids"]["digits_mlp"]["cid_v0"]])
    _, input_name, array = fixture("digits_mlp")
    precompile(w3).functions.runModelInference((0, inferences["ids"]["digits_mlp"]["cid_v0"], model_input(input_name, array))).call(
        {"from": DEV_ACCOUNTS[6].address})
    assert rpc_result(node, "opg_getInferencesByModel", [inferences["ids"]["digits_mlp"]["cid_v0"]]) == before


def test_records_are_proved_by_eth_get_proof(node, w3, inferences):
    r = inferences["runs"][1]
    base = int.from_bytes(keccak(bytes.fromhex(r["id"][2:]) + (1).to_bytes(32, "big")), "big")
    slots = [hex(base + k) for k in range(6)]
    proof = rpc_result(node, "eth_getProof", [PRECOMPILE, slots, "latest"])
    record = rpc_result(node, "opg_getInference", [r["id"]])
    values = [int(p["value"], 16) for p in proof["storageProof"]]
    assert values[0] == int(record["modelSha256"], 16)
    assert values[1] == int(record["inputHash"], 16) and values[2] == int(record["outputHash"], 16)
    assert values[3] == int(record["transactionHash"], 16)
    assert values[4] >> 96 == int(r["caller"], 16)
    assert all(p["proof"] for p in proof["storageProof"])


def test_listing_by_model_pages(node, w3, inferences):
    ids = inferences["ids"]["digits_mlp"]
    mine = [r["id"] for r in inferences["runs"] if r["name"] == "digits_mlp"]
    for model_id in (ids["cid_v0"], ids["cid_v1"], ids["sha256"]):
        everything = rpc_result(node, "opg_getInferencesByModel", [model_id])
        assert everything["nextCursor"] is None
        assert [i["id"] for i in everything["items"]][-2:] == mine, "in execution order"
    total = len(everything["items"])
    seen, cursor = [], None
    while True:
        page = rpc_result(node, "opg_getInferencesByModel", [ids["cid_v0"], cursor, "0x1"])
        assert len(page["items"]) == 1
        seen.append(page["items"][0]["id"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == [i["id"] for i in everything["items"]] and len(seen) == total


def test_bad_input_gets_clear_errors(node, inferences):
    assert "inference id" in rpc_error(node, "opg_getInference", ["0x1234"])
    missing = "0x" + "ab" * 32
    assert rpc_error(node, "opg_getInference", [missing]) == f"no inference with id {missing}"
    assert "unknown model" in rpc_error(node, "opg_getInferencesByModel", [UNKNOWN])
    cid = inferences["ids"]["digits_mlp"]["cid_v0"]
    assert "limit 0 is not in 1…100" in rpc_error(node, "opg_getInferencesByModel", [cid, None, "0x0"])
    assert "is past the end" in rpc_error(node, "opg_getInferencesByModel", [cid, "0xffff"])
    head = int(rpc_result(node, "eth_blockNumber", []), 16)
    assert "range of 10001 blocks is over the limit of 10000 blocks per call" in rpc_error(node, "opg_inferenceStats", ["0x0", hex(10_000)])
    assert "is past the head" in rpc_error(node, "opg_inferenceStats", ["0x0", hex(head + 1000)])
    assert "is before fromBlock" in rpc_error(node, "opg_inferenceStats", ["0x5", "0x4"])


def test_stats_count_calls_callers_models_and_blocks(node, inferences):
    runs = inferences["runs"]
    first, last = runs[0]["receipt"].blockNumber, runs[-1]["receipt"].blockNumber
    stats = rpc_result(node, "opg_inferenceStats", [hex(first), hex(last)])
    assert (stats["fromBlock"], stats["toBlock"], stats["calls"], stats["uniqueCallers"]) == (first, last, 3, 2)
    ids = inferences["ids"]
    expected_models = sorted([{"modelId": ids["digits_mlp"]["cid_v0"], "calls": 2, "uniqueCallers": 2},
                              {"modelId": ids["diabetes_gbr"]["cid_v0"], "calls": 1, "uniqueCallers": 1}], key=lambda m: m["modelId"])
    assert stats["models"] == expected_models
    per_block = {}
    for r in runs:
        per_block[r["receipt"].blockNumber] = per_block.get(r["receipt"].blockNumber, 0) + 1
    assert stats["blocks"] == [{"block": n, "calls": c} for n, c in sorted(per_block.items())]
    empty = rpc_result(node, "opg_inferenceStats", ["0x0", "0x0"])
    assert (empty["calls"], empty["models"], empty["blocks"]) == (0, [], [])


def test_verify_checks_the_trust_record(node, inferences):
    r = inferences["runs"][1]
    p = run([OPG, "inference", "verify", "--rpc", node.url, r["receipt"].transactionHash.to_0x_hex()])
    assert p.returncode == 0, p.stderr
    verified, inference_id, _, _, input_label, input_hash, output_label, output_hash = p.stdout.split()
    assert (verified, inference_id, input_label, output_label) == ("verified", r["id"], "inputHash", "hash")
    assert (input_hash, output_hash) == model_run_hashes(r["name"])
