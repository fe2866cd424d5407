"""The model registry (0x…F3) end to end: uploads in signed transactions against a real opgd,
through web3.py and through `opg model upload`, read back over opg_ RPC and proven by eth_getProof."""
import hashlib
import json
import subprocess
import time

import numpy as np
import pytest
import rlp
from eth_utils import keccak
from onnx import TensorProto, helper, numpy_helper
from web3 import Web3

from models import (CHUNK_BYTES, REGISTRY, UploadFailed, begin_upload, chunks_of, missing_chunks, put_chunks, registry,
                    upload_model)
from opgnode import BIN, DEV_ACCOUNTS, GENESIS, ROOT, Node, RPCError, run
from test_proof import verify

OPG = str(BIN / "opg")
FIXTURES = ROOT / "Tests" / "InferenceTests" / "Fixtures" / "models"
EXPIRY_BLOCKS = 150  # 15 s at this module's 100 ms blocks
SIZE_CAP = 600_000


def mlp(path, hidden: int, seed: int) -> bytes:
    """A 1×64 → hidden → 4 MLP with random float weights: 4·64·hidden bytes of weights."""
    rng = np.random.default_rng(seed)
    w1 = numpy_helper.from_array(rng.standard_normal((64, hidden)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((hidden, 4)).astype(np.float32), "w2")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"), helper.make_node("Relu", ["h"], ["r"], name="relu"),
         helper.make_node("MatMul", ["r", "w2"], ["y"], name="fc2")],
        "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])], [w1, w2])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    path.write_bytes(model.SerializeToString())
    return path.read_bytes()


def b58decode(text: str) -> bytes:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    n = 0
    for c in text:
        n = n * 58 + alphabet.index(c)
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def unsupported(path) -> bytes:
    graph = helper.make_graph(
        [helper.make_node("Unique", ["x"], ["y"], name="uniq")], "u",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8).SerializeToString())
    return path.read_bytes()


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """A node of this module's own whose genesis has a short upload expiry and a small size cap."""
    workdir = tmp_path_factory.mktemp("models")
    genesis = json.loads(GENESIS.read_text())
    genesis["blobs"] = {"uploadExpiryBlocks": EXPIRY_BLOCKS, "maxBytes": SIZE_CAP}
    path = workdir / "genesis.json"
    path.write_text(json.dumps(genesis))
    n = Node(workdir=workdir / "node", block_interval_ms=100, extra_config={"genesis": str(path)}).init().start()
    yield n
    n.stop()


@pytest.fixture(scope="module")
def web3(chain):
    return chain.web3()


def reason(excinfo) -> str:
    return str(excinfo.value)


def test_multi_chunk_upload_interrupted_and_resumed_with_the_cli(chain, web3, tmp_path):
    account = DEV_ACCOUNTS[0]
    data = mlp(tmp_path / "mlp.onnx", 1500, seed=1)
    assert len(chunks_of(data)) >= 4
    # A first client sends two chunks and stops.
    begin_upload(web3, account, data, "mlp", "a test MLP")
    put_chunks(web3, account, data, [0, 2])
    assert missing_chunks(web3, account.address, data) == [i for i in range(len(chunks_of(data))) if i not in (0, 2)]
    # The CLI, interrupted after its first confirmed chunk, then run again, sends the rest.
    keystore, password = tmp_path / "keys", tmp_path / "pw"
    password.write_text("pw")
    (tmp_path / "key.hex").write_text(account.key.hex())
    assert run([OPG, "account", "import", "--keystore", str(keystore), "--password-file", str(password), str(tmp_path / "key.hex")]).returncode == 0
    argv = [OPG, "model", "upload", "--rpc", chain.url, "--keystore", str(keystore), "--password-file", str(password),
            "--from", account.address, "--name", "mlp", "--description", "a test MLP", str(tmp_path / "mlp.onnx")]
    before = len(missing_chunks(web3, account.address, data))
    cli = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while len(missing_chunks(web3, account.address, data)) == before and time.time() < deadline and cli.poll() is None:
        time.sleep(0.02)
    cli.kill()
    cli.wait()
    p = run(argv)
    assert p.returncode == 0, p.stderr
    assert "chunks sent" in p.stderr and "confirmed" in p.stderr
    ids = json.loads(p.stdout)
    sha = "0x" + hashlib.sha256(data).hexdigest()
    assert ids["sha256"] == sha and ids["cidV0"].startswith("Qm") and ids["cidV1"].startswith("bafy")
    model = chain.result("opg_getModel", [ids["cidV1"]])
    assert model["cidV0"] == ids["cidV0"] and model["size"] == len(data) and model["name"] == "mlp"
    assert model["description"] == "a test MLP" and model["kernelSpecVersion"] == 1
    assert Web3.to_checksum_address(model["owner"]) == account.address
    assert model["inputs"] == [{"name": "x", "elementType": "FLOAT", "shape": ["batch", "64"]}]
    assert model["outputs"] == [{"name": "y", "elementType": "FLOAT", "shape": ["batch", "4"]}]
    assert model["opsets"] == [{"domain": "ai.onnx", "version": 17}]
    assert model["cost"]["macs"] >= 64 * 1500 + 1500 * 4 and model["cost"]["peakBytes"] > 0
    # Every byte reads back, a page at a time; the helper sees the model as registered.
    got = b""
    while len(got) < len(data):
        got += bytes.fromhex(chain.result("opg_getModelBytes", [sha, hex(len(got)), hex(300_000)])[2:])
    assert got == data
    assert upload_model(web3, DEV_ACCOUNTS[1], tmp_path / "mlp.onnx")["cid_v0"] == ids["cidV0"]
    # `opg model info` and the CLI on a registered file.
    info = run([OPG, "model", "info", "--rpc", chain.url, sha])
    assert info.returncode == 0 and json.loads(info.stdout)["cidV0"] == ids["cidV0"]
    again = run(argv)
    assert again.returncode == 0 and "already registered" in again.stderr and json.loads(again.stdout) == ids


def test_registration_is_proven_by_eth_get_proof(chain, web3, tmp_path):
    data = (FIXTURES / "digits_logreg.onnx").read_bytes()
    ids = upload_model(web3, DEV_ACCOUNTS[2], FIXTURES / "digits_logreg.onnx", name="logreg")
    sha = hashlib.sha256(data).digest()
    slot = keccak(sha + (0).to_bytes(32, "big"))  # models[sha256].cidDigest
    head = web3.eth.get_block("latest")
    proof = web3.eth.get_proof(REGISTRY, [int.from_bytes(slot, "big")], head.number)
    digest = b58decode(ids["cid_v0"])[2:]
    assert int.from_bytes(bytes(proof.storageProof[0].value), "big") == int.from_bytes(digest, "big")
    account = verify(head.stateRoot, bytes.fromhex(REGISTRY[2:]), [bytes(p) for p in proof.accountProof])
    assert account is not None
    storage_root = rlp.decode(account)[2]
    assert storage_root == bytes(proof.storageHash)
    value = verify(storage_root, slot, [bytes(p) for p in proof.storageProof[0].proof])
    assert rlp.decode(value) == digest.lstrip(b"\0")


def test_refusals_name_the_rule(chain, web3, tmp_path):
    account = DEV_ACCOUNTS[3]
    before = chain.result("opg_listModels", [])
    unsupported(tmp_path / "unique.onnx")
    with pytest.raises(UploadFailed) as e:
        upload_model(web3, account, tmp_path / "unique.onnx")
    assert "unsupported operator Unique" in reason(e) and "uniq" in reason(e)
    big = mlp(tmp_path / "big.onnx", 2500, seed=2)
    assert len(big) > SIZE_CAP
    with pytest.raises(UploadFailed) as e:
        upload_model(web3, account, tmp_path / "big.onnx")
    assert f"model of {len(big)} bytes exceeds the size cap of {SIZE_CAP} bytes" in reason(e)
    p = run([OPG, "model", "upload", "--rpc", chain.url, "--from", account.address, "--keystore", str(tmp_path / "none"), str(tmp_path / "unique.onnx")])
    assert p.returncode != 0 and "keystore" in p.stderr
    # The CLI resumes the refused upload and reports the kernel's reason.
    keystore, password = tmp_path / "keys", tmp_path / "pw"
    password.write_text("pw")
    (tmp_path / "key.hex").write_text(account.key.hex())
    assert run([OPG, "account", "import", "--keystore", str(keystore), "--password-file", str(password), str(tmp_path / "key.hex")]).returncode == 0
    p = run([OPG, "model", "upload", "--rpc", chain.url, "--from", account.address, "--keystore", str(keystore),
             "--password-file", str(password), str(tmp_path / "unique.onnx")])
    assert p.returncode == 1 and "unsupported operator Unique" in p.stderr, p.stderr
    # Bad chunks: wrong length, out of range, before beginUpload.
    other = (FIXTURES / "diabetes_scaled_ridge.onnx").read_bytes()
    sha = hashlib.sha256(other).digest()
    with pytest.raises(Exception) as e:
        registry(web3).functions.putChunk(sha, 0, other).call({"from": account.address})
    assert "call beginUpload first" in reason(e)
    begin_upload(web3, account, other)
    with pytest.raises(Exception) as e:
        registry(web3).functions.putChunk(sha, 0, other + b"x").call({"from": account.address})
    assert f"chunk 0 must be {len(other)} bytes, got {len(other) + 1}" in reason(e)
    with pytest.raises(Exception) as e:
        registry(web3).functions.putChunk(sha, 1, other).call({"from": account.address})
    assert "chunk index 1 out of range: the upload has 1 chunks" in reason(e)
    with pytest.raises(Exception) as e:
        registry(web3).functions.finalizeUpload(sha).call({"from": account.address})
    assert "upload incomplete: 0 of 1 chunks received" in reason(e)
    # Nothing was lost: the refused uploads left the registered models as they were.
    assert chain.result("opg_listModels", []) == before
    for model in before["items"]:
        size = model["size"]
        tail = chain.result("opg_getModelBytes", [model["cidV1"], hex(max(0, size - 8)), hex(8)])
        assert len(tail) == 2 + 2 * min(8, size)


def test_an_abandoned_upload_expires(chain, web3, tmp_path):
    account = DEV_ACCOUNTS[4]
    data = mlp(tmp_path / "abandoned.onnx", 900, seed=3)
    receipt = begin_upload(web3, account, data)
    put_chunks(web3, account, data, [0])
    status = registry(web3).functions.uploadStatus(account.address, hashlib.sha256(data).digest()).call()
    assert status[2] == 1 and status[3] == receipt.blockNumber + EXPIRY_BLOCKS
    chain.wait_block(receipt.blockNumber + EXPIRY_BLOCKS + 1)
    status = registry(web3).functions.uploadStatus(account.address, hashlib.sha256(data).digest()).call()
    assert status[0] == 0 and status[2] == 0, "the end-block hook deleted the upload"
    with pytest.raises(Exception) as e:
        registry(web3).functions.putChunk(hashlib.sha256(data).digest(), 1, chunks_of(data)[1]).call({"from": account.address})
    assert "call beginUpload first" in reason(e)


def test_rpc_paging_and_bad_input(chain, web3, tmp_path):
    for name in ["diabetes_gbr.onnx", "digits_cnn.onnx", "digits_mlp.onnx"]:
        upload_model(web3, DEV_ACCOUNTS[5], FIXTURES / name, name=name)
    everything = chain.result("opg_listModels", [])
    assert everything["nextCursor"] is None and len(everything["items"]) >= 3
    pages, cursor = [], None
    while True:
        page = chain.result("opg_listModels", [cursor, hex(2)])
        assert len(page["items"]) <= 2
        pages += page["items"]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert pages == everything["items"]
    cli = run([OPG, "model", "list", "--rpc", chain.url, "--limit", "1"])
    assert cli.returncode == 0 and json.loads(cli.stdout)["items"] == everything["items"][:1]
    sha = everything["items"][0]["sha256"]
    for method, params, message in [
        ("opg_getModel", ["Qmnope"], "model id \"Qmnope\" is not a sha2-256 multihash"),
        ("opg_getModel", ["0x" + "ab" * 32], "unknown model ID"),
        ("opg_getModel", [], "missing value for required argument model id"),
        ("opg_listModels", [None, hex(0)], "limit 0 is not in 1…100"),
        ("opg_listModels", [None, hex(101)], "limit 101 is not in 1…100"),
        ("opg_listModels", [hex(10**6)], "past the end"),
        ("opg_listModels", ["zz"], "cursor"),
        ("opg_getModelBytes", [sha, "0x0", hex((1 << 20) + 1)], "over the limit of 1048576 bytes per call"),
        ("opg_getModelBytes", [sha, hex(10**9), "0x10"], "past the end of the model"),
        ("opg_getModelBytes", ["bafy!", "0x0", "0x10"], "malformed model id \"bafy!\""),
    ]:
        with pytest.raises(RPCError) as e:
            chain.result(method, params)
        assert message in e.value.message, (method, params, e.value.message)


def test_replay_re_executes_uploads_and_finds_the_same_blobs(chain, web3, tmp_path):
    upload_model(web3, DEV_ACCOUNTS[6], FIXTURES / "diabetes_scaled_ridge.onnx")
    chain.stop()
    p = run([str(BIN / "opgd"), "replay", "--datadir", str(chain.datadir)])
    chain.start()
    assert p.returncode == 0, p.stderr
    assert "replay matches" in p.stdout + p.stderr
