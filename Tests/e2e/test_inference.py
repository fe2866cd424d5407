"""On-chain inference end to end (docs/inference.md): the precompile at 0x…F4 and the hub at
0x…F5 over JSON-RPC with web3.py and with OpenGradient's own SDK (`opengradient` 1.1.4,
`og.Alpha(...).infer`), against a real opgd. Models are registered with the registry's
upload helper (Tests/e2e/models.py); outputs are compared with `opg model run` on the
same files."""
import hashlib
import json
import os
from decimal import Decimal
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from eth_utils import keccak
from web3 import Web3
from web3.exceptions import ContractLogicError

from opgnode import BIN, DEV_ACCOUNTS, ROOT, run, sign

OPG = str(BIN / "opg")
# The debug build `make e2e` also makes: same chain, same roots, whatever the optimiser did.
DEBUG_BIN = Path(os.environ.get("OPG_DEBUG_BIN", ROOT / ".build" / "debug"))
PRECOMPILE = Web3.to_checksum_address("0x" + "00" * 19 + "f4")
HUB = Web3.to_checksum_address("0x" + "00" * 19 + "f5")
PRECOMPILE_ABI = json.loads((ROOT / "docs" / "abi" / "InferencePrecompile.json").read_text())
HUB_ABI = json.loads((ROOT / "docs" / "abi" / "InferenceHub.json").read_text())
FIXTURES = ROOT / "Tests" / "InferenceTests" / "Fixtures" / "models"
UNKNOWN = "0x" + hashlib.sha256(b"no such model").hexdigest()
EMPTY_INPUT = ([], [])


def precompile(w3):
    return w3.eth.contract(address=PRECOMPILE, abi=PRECOMPILE_ABI)


def hub(w3):
    return w3.eth.contract(address=HUB, abi=HUB_ABI)


def fixed_point(x) -> tuple[int, int]:
    """(value, decimals) of a float32's shortest decimal, as OpenGradient's SDK writes it."""
    sign_, digits, exponent = Decimal(str(np.float32(x))).normalize().as_tuple()
    value = int("".join(map(str, digits))) * (-1 if sign_ else 1)
    return (value * 10 ** exponent, 0) if exponent >= 0 else (value, -exponent)


def fixture(name: str):
    """The model's path, its input name and the fixture input array."""
    path = FIXTURES / f"{name}.onnx"
    input_name = onnx.load(str(path)).graph.input[0].name
    array = numpy_helper.to_array(onnx.load_tensor(str(FIXTURES / f"{name}.input.pb")))
    return path, input_name, array


def model_input(name: str, array) -> tuple:
    return ([(name, [fixed_point(v) for v in array.flatten()], list(array.shape))], [])


def reference(name: str) -> dict:
    """`opg model run`'s outputs of the fixture, by name."""
    path, input_name, _ = fixture(name)
    out = json.loads(run([OPG, "model", "run", str(path), "--input", f"{input_name}={FIXTURES / f'{name}.input.pb'}"], check=True).stdout)
    return {o["name"]: o for o in out["outputs"]}


def to_float32(value: int, decimals: int):
    return np.float32(Decimal(value) / (Decimal(10) ** decimals))


def check_output(output, name: str):
    """A decoded ModelOutput equals `opg model run`'s outputs, number for number."""
    numbers, strings, jsons, simulated = output
    assert simulated is False and strings == []
    expected = reference(name)
    got = {}
    for tensor_name, values, shape in numbers:
        got[tensor_name] = (np.array([to_float32(v, d) for v, d in values], dtype=np.float32).reshape(shape), shape)
    for tensor_name, text in jsons:
        rows = json.loads(text)
        assert [[np.float32(v) for v in row.values()] for row in rows] == [
            [np.float32(v) for v in row.values()] for row in expected[tensor_name]["data"]]
        assert [list(row) for row in rows] == [list(row) for row in expected[tensor_name]["data"]], "keys in class order"
    for tensor_name, (array, shape) in got.items():
        assert shape == expected[tensor_name]["shape"]
        assert np.array_equal(array, np.array(expected[tensor_name]["data"], dtype=np.float32).reshape(shape)), tensor_name
    assert set(got) | {j[0] for j in jsons} == set(expected)


def send(w3, account, call, gas: int):
    tx = call.build_transaction({"from": account.address, "gas": gas, "maxFeePerGas": 10 * 10**9, "maxPriorityFeePerGas": 10**9,
                                 "nonce": w3.eth.get_transaction_count(account.address, "pending"), "chainId": w3.eth.chain_id})
    signed = sign(account, w3, **{k: tx[k] for k in ("to", "data", "gas", "nonce")})
    w3.eth.send_raw_transaction(signed.raw_transaction)
    return w3.eth.wait_for_transaction_receipt(signed.hash, timeout=60, poll_latency=0.05)


# --- refusals: no model needed --------------------------------------------------------------


def test_refusals_reach_the_caller_as_revert_reasons(node, w3):
    caller = {"from": DEV_ACCOUNTS[8].address}
    with pytest.raises(ContractLogicError, match="unknown model"):
        precompile(w3).functions.runModelInference((0, UNKNOWN, EMPTY_INPUT)).call(caller)
    with pytest.raises(ContractLogicError, match="unknown model"):
        hub(w3).functions.run(UNKNOWN, 0, EMPTY_INPUT).estimate_gas(caller)
    for mode, offered in ((1, "ZKML mode is not offered"), (2, "TEE mode is not offered")):
        for fn in (precompile(w3).functions.runModelInference((mode, UNKNOWN, EMPTY_INPUT)), hub(w3).functions.run(UNKNOWN, mode, EMPTY_INPUT)):
            with pytest.raises(ContractLogicError, match=offered):
                fn.call(caller)
    for contract in (precompile(w3), hub(w3)):
        with pytest.raises(ContractLogicError, match="LLMs are not run inside blocks"):
            contract.functions.runLLMCompletion((0, "any", "hello", 10, [], 0)).call(caller)
        with pytest.raises(ContractLogicError, match="LLMs are not run inside blocks"):
            contract.functions.runLLMChat((0, "any", [("user", "hi", "", "", [])], [], "", 10, [], 0)).call(caller)
    # Calldata the codec refuses: its reason, not a trap.
    data = precompile(w3).encode_abi("runModelInference", [(0, UNKNOWN, EMPTY_INPUT)])
    body = node.rpc("eth_call", [{"from": caller["from"], "to": PRECOMPILE, "data": data[:80]}, "latest"])
    assert "invalid calldata" in body["error"]["message"], body


def test_verify_names_a_transaction_without_inference(node, w3):
    account = DEV_ACCOUNTS[8]
    signed = sign(account, w3, to=DEV_ACCOUNTS[7].address, value=1, gas=21_000, nonce=w3.eth.get_transaction_count(account.address, "pending"))
    w3.eth.send_raw_transaction(signed.raw_transaction)
    w3.eth.wait_for_transaction_receipt(signed.hash, timeout=30, poll_latency=0.05)
    p = run([OPG, "inference", "verify", "--rpc", node.url, "0x" + signed.hash.hex().removeprefix("0x")])
    assert p.returncode == 1 and "ran no inference (no ModelInferenceEvent in its receipt)" in p.stderr, p.stderr
    bad = run([OPG, "inference", "verify", "--rpc", node.url, "0x1234"])
    assert bad.returncode == 2 and "TXHASH: not a 32-byte hex hash" in bad.stderr


def test_the_sdk_reports_a_revert_with_its_reason(node):
    import opengradient as og
    from opengradient.types import InferenceMode

    alpha = og.Alpha(private_key=DEV_ACCOUNTS[8].key.hex(), rpc_url=node.url, inference_contract_address=HUB)
    with pytest.raises(ContractLogicError, match="simulation failed with revert reason: .*unknown model"):
        alpha.infer(UNKNOWN, InferenceMode.VANILLA, {"X": np.zeros((1, 64), dtype=np.float32)}, max_retries=1)


# --- with registered models (the model registry's upload helper) ----------------------------


@pytest.fixture(scope="module")
def registered(node, w3):
    models = pytest.importorskip("models", reason="needs the model registry (Tests/e2e/models.py)")
    ids = {}
    for name in ("digits_mlp", "digits_logreg_zipmap", "diabetes_gbr"):
        uploaded = models.upload_model(w3, DEV_ACCOUNTS[9], FIXTURES / f"{name}.onnx", name=name)
        ids[name] = uploaded["cid_v0"]
        ids[f"{name}@all"] = [uploaded["cid_v0"], uploaded["cid_v1"], uploaded["sha256"]]
    return ids


def test_precompile_by_transaction_and_by_call(node, w3, registered):
    account = DEV_ACCOUNTS[8]
    for name in ("digits_mlp", "digits_logreg_zipmap", "diabetes_gbr"):
        _, input_name, array = fixture(name)
        fn = precompile(w3).functions.runModelInference((0, registered[name], model_input(input_name, array)))
        by_call = fn.call({"from": account.address})
        check_output(by_call, name)
        estimate = fn.estimate_gas({"from": account.address})
        receipt = send(w3, account, fn, estimate)
        assert receipt.status == 1 and receipt.gasUsed == estimate, (name, receipt.gasUsed, estimate)
        (event,) = precompile(w3).events.ModelInferenceEvent().process_receipt(receipt)
        assert event.args.request["modelCID"] == registered[name]
        assert event.args.inferenceID.startswith("0x") and len(event.args.inferenceID) == 66
        response = event.args.response  # web3 decodes the event's structs into dicts by field name
        numbers = [(t["name"], [(n["value"], n["decimals"]) for n in t["values"]], t["shape"]) for t in response["numbers"]]
        check_output((numbers, response["strings"], [(j["name"], j["value"]) for j in response["jsons"]],
                      response["is_simulation_result"]), name)
    # Every form of a model id runs the same model.
    _, input_name, array = fixture("diabetes_gbr")
    outputs = [precompile(w3).functions.runModelInference((0, ids, model_input(input_name, array))).call({"from": account.address})
               for ids in registered["diabetes_gbr@all"]]
    assert outputs[0] == outputs[1] == outputs[2]


def test_reverts_by_transaction_carry_the_kernels_reason(node, w3, registered):
    account = DEV_ACCOUNTS[8]
    _, input_name, array = fixture("digits_mlp")
    bad = precompile(w3).functions.runModelInference((0, registered["digits_mlp"], model_input("pixels", array)))
    with pytest.raises(ContractLogicError, match=f"'pixels' is not an input of the model \\(inputs: {input_name}\\)"):
        bad.call({"from": account.address})
    good = precompile(w3).functions.runModelInference((0, registered["digits_mlp"], model_input(input_name, array)))
    data = bytes.fromhex(precompile(w3).encode_abi("runModelInference", [(0, registered["digits_mlp"], model_input(input_name, array))])[2:])
    intrinsic = 21_000 + sum(4 if b == 0 else 16 for b in data)
    receipt = send(w3, account, good, intrinsic + 10_000)  # the model record's reads fit, its inference gas does not
    assert receipt.status == 0 and receipt.gasUsed == intrinsic + 10_000


def test_hub_through_the_opengradient_sdk(node, w3, registered):
    import opengradient as og
    from opengradient.types import InferenceMode

    _, input_name, array = fixture("digits_mlp")
    alpha = og.Alpha(private_key=DEV_ACCOUNTS[8].key.hex(), rpc_url=node.url, inference_contract_address=HUB)
    result = alpha.infer(registered["digits_mlp"], InferenceMode.VANILLA, {input_name: array}, max_retries=1)
    receipt = w3.eth.get_transaction_receipt(result.transaction_hash if result.transaction_hash.startswith("0x") else "0x" + result.transaction_hash)
    assert receipt.status == 1
    expected = reference("digits_mlp")
    for name, out in expected.items():
        assert np.array_equal(result.model_output[name].astype(np.float32), np.array(out["data"], dtype=np.float32).reshape(out["shape"])), name
    # The hub's transaction carries both events: the precompile's request and response, and the hub's result.
    assert [log.address for log in receipt.logs] == [PRECOMPILE, HUB]
    # The SDK asked for 3 × the estimate; the receipt used exactly the estimate.
    tx = w3.eth.get_transaction(receipt.transactionHash)
    assert tx.gas == 3 * receipt.gasUsed and tx.type == 0


def test_verify_reruns_a_transactions_inferences(node, w3, registered):
    account = DEV_ACCOUNTS[8]
    _, input_name, array = fixture("digits_logreg_zipmap")
    fn = hub(w3).functions.run(registered["digits_logreg_zipmap"], 0, model_input(input_name, array))
    receipt = send(w3, account, fn, fn.estimate_gas({"from": account.address}))
    assert receipt.status == 1
    (event,) = precompile(w3).events.ModelInferenceEvent().process_receipt(receipt)
    p = run([OPG, "inference", "verify", "--rpc", node.url, "--threads", "2", receipt.transactionHash.to_0x_hex()])
    assert p.returncode == 0, p.stderr
    verified, inference_id, output, digest, input_label, _, output_label, _ = p.stdout.split()
    assert (input_label, output_label) == ("inputHash", "hash")  # the trust record's, checked in test_trust_records.py
    assert (verified, inference_id, output) == ("verified", event.args.inferenceID, "output")
    # The hash is Keccak-256 of abi.encode(ModelOutput): the precompile's return data for that input.
    data = precompile(w3).encode_abi("runModelInference", [(0, registered["digits_logreg_zipmap"], model_input(input_name, array))])
    raw = w3.eth.call({"from": account.address, "to": PRECOMPILE, "data": data})
    assert digest == "0x" + keccak(raw).hex()


def test_replay_re_runs_the_inferences(node, w3, registered):
    account = DEV_ACCOUNTS[8]
    _, input_name, array = fixture("digits_logreg_zipmap")
    fn = precompile(w3).functions.runModelInference((0, registered["digits_logreg_zipmap"], model_input(input_name, array)))
    assert send(w3, account, fn, fn.estimate_gas({"from": account.address})).status == 1
    node.stop()
    # The release node wrote the chain; the release and the debug build (no optimisation,
    # the Swift reference paths compiled differently) must both recompute every root.
    replays = [run([str(binary / "opgd"), "replay", "--datadir", str(node.datadir)]) for binary in (BIN, DEBUG_BIN)]
    node.start()
    for p in replays:
        assert p.returncode == 0, p.stderr
        assert "replay matches" in p.stdout + p.stderr
