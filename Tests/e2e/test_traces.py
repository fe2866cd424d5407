"""Execution traces and initializer commitments (docs/traces.md) checked by a second,
independent implementation: the canonical encoding, the chunking, the Merkle tree and the
schedule root are written here again from the spec with numpy, the onnx package and eth_utils' keccak, and
compared with `opg model trace` and `opg model ref`; each node's outputs are compared with
onnxruntime's intermediate values within a tolerance (a sanity check: opg's bits are the
spec, ort's are not)."""
import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from eth_utils import keccak
from onnx import TensorProto, helper, numpy_helper
from web3 import Web3

from models import REGISTRY
from opgnode import BIN, DEV_ACCOUNTS, ROOT, run

FIXTURES = Path(__file__).resolve().parents[1] / "InferenceTests" / "Fixtures" / "models"
MODELS = sorted(FIXTURES.glob("*.onnx"))
CHUNK = 65_536
ML_WITH_SEQUENCES = {"ZipMap"}


def opg(*args, timeout=300):
    p = subprocess.run([str(BIN / "opg"), "model", *map(str, args)], capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


# --- the spec, again ---------------------------------------------------------------

def leaf_hash(data: bytes) -> bytes:
    return keccak(b"\x00" + data)


def inner_hash(left: bytes, right: bytes) -> bytes:
    return keccak(b"\x01" + left + right)


def merkle_root(leaves):
    level = [leaf_hash(x) for x in leaves]
    if not level:
        return bytes(32)
    while len(level) > 1:
        nxt = [inner_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def verify_proof(leaf: bytes, index: int, count: int, siblings, root: bytes) -> bool:
    node, pos, width, k = leaf_hash(leaf), index, count, 0
    while width > 1:
        if pos ^ 1 < width:
            node = inner_hash(node, siblings[k]) if pos % 2 == 0 else inner_hash(siblings[k], node)
            k += 1
        pos //= 2
        width = (width + 1) // 2
    return k == len(siblings) and node == root


WIDTH = {TensorProto.FLOAT: "<f4", TensorProto.DOUBLE: "<f8", TensorProto.INT64: "<i8", TensorProto.INT32: "<i4",
         TensorProto.INT16: "<i2", TensorProto.INT8: "<i1", TensorProto.UINT8: "<u1", TensorProto.UINT16: "<u2",
         TensorProto.UINT32: "<u4", TensorProto.UINT64: "<u8", TensorProto.BOOL: "<u1"}


def values_bytes(data_type: int, array: np.ndarray) -> bytes:
    if data_type == TensorProto.STRING:
        out = b""
        for s in array.reshape(-1):
            s = s if isinstance(s, bytes) else str(s).encode()
            out += len(s).to_bytes(8, "little") + s
        return out
    flat = array.reshape(-1).astype(WIDTH[data_type])
    if data_type == TensorProto.FLOAT:
        bits = flat.view("<u4").copy()
        bits[np.isnan(flat)] = 0x7FC00000
        return bits.tobytes()
    if data_type == TensorProto.DOUBLE:
        bits = flat.view("<u8").copy()
        bits[np.isnan(flat)] = 0x7FF8000000000000
        return bits.tobytes()
    return flat.tobytes()


def canonical(tensors) -> bytes:
    """The canonical encoding of a list of (data_type, array)."""
    out = len(tensors).to_bytes(4, "little")
    for data_type, array in tensors:
        out += data_type.to_bytes(4, "little") + array.ndim.to_bytes(4, "little")
        out += b"".join(int(d).to_bytes(8, "little") for d in array.shape)
        out += values_bytes(data_type, array)
    return out


def tensor_chunks(t: onnx.TensorProto):
    array = numpy_helper.to_array(t)
    name = t.name.encode()
    header = len(name).to_bytes(8, "little") + name + t.data_type.to_bytes(4, "little") + len(t.dims).to_bytes(4, "little")
    header += b"".join(int(d).to_bytes(8, "little") for d in t.dims)
    rows = int(t.dims[0]) if len(t.dims) else 1
    chunks = [header]
    if t.data_type == TensorProto.STRING:
        current = b""
        for r in range(rows):
            row = values_bytes(t.data_type, array.reshape(rows, -1)[r]) if rows else b""
            if len(current) + len(row) > CHUNK and current:
                chunks.append(current)
                current = b""
            if len(row) > CHUNK:
                chunks += [row[i:i + CHUNK] for i in range(0, len(row), CHUNK)]
            else:
                current += row
        if current:
            chunks.append(current)
        return chunks
    data = values_bytes(t.data_type, array)
    row_bytes = len(data) // rows if rows else 0
    if row_bytes == 0:
        return chunks
    if row_bytes <= CHUNK:
        step = (CHUNK // row_bytes) * row_bytes
        chunks += [data[i:i + step] for i in range(0, len(data), step)]
    else:
        for r in range(rows):
            row = data[r * row_bytes:(r + 1) * row_bytes]
            chunks += [row[i:i + CHUNK] for i in range(0, row_bytes, CHUNK)]
    return chunks


def schedule_leaves(model) -> list:
    """The schedule root's leaves (docs/traces.md, "The schedule root"), by its written rules:
    the execution order (among ready nodes the earliest in the file first), and per input
    u8 kind (0 omitted, 1 fed graph input, 2 initializer, 3 node output) ‖ u64 index ‖ u64 output."""
    g = model.graph
    initializers = {}
    for i, t in enumerate(g.initializer):
        initializers.setdefault(t.name, i)
    fed = [v.name for v in g.input if v.name not in initializers]
    available, order = set(fed) | set(initializers), []
    while len(order) < len(g.node):
        i = next(i for i, n in enumerate(g.node) if i not in order and all(x == "" or x in available for x in n.input))
        order.append(i)
        available |= {o for o in g.node[i].output if o}
    produced = {}
    for position, i in enumerate(order):
        for k, name in enumerate(o for o in g.node[i].output if o):
            produced.setdefault(name, (position, k))

    def source(name):
        kind, index, output = ((0, 0, 0) if name == "" else (1, fed.index(name), 0) if name in fed
                               else (3, *produced[name]) if name in produced else (2, initializers[name], 0))
        return bytes([kind]) + index.to_bytes(8, "little") + output.to_bytes(8, "little")
    leaves = [i.to_bytes(8, "little") + b"".join(source(x) for x in g.node[i].input) for i in order]
    return leaves + [b"".join(source(o.name) for o in g.output)]


def reference_record(path: Path):
    model = onnx.load(str(path))
    tensors = [tensor_chunks(t) for t in model.graph.initializer]
    roots = [merkle_root(c) for c in tensors]
    opsets = {("" if o.domain == "ai.onnx" else o.domain): o.version for o in model.opset_import}
    node_leaves = [opsets["" if n.domain == "ai.onnx" else n.domain].to_bytes(8, "little") + n.SerializeToString()
                   for n in model.graph.node]
    ops = sorted({n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}:{n.op_type}" for n in model.graph.node})
    data = path.read_bytes()
    return {"fileSha256": "0x" + hashlib.sha256(data).hexdigest(), "size": len(data), "nodeCount": len(model.graph.node),
            "initializerCount": len(tensors), "nodesRoot": "0x" + merkle_root(node_leaves).hex(), "initializerRoot": "0x" + merkle_root(roots).hex(), "operators": ops,
            "scheduleRoot": "0x" + merkle_root(schedule_leaves(model)).hex(),
            "initializers": [{"name": t.name, "root": "0x" + r.hex(), "chunks": len(c)}
                             for t, r, c in zip(model.graph.initializer, roots, tensors)]}


# --- models ----------------------------------------------------------------------

def gather_model(path: Path):
    """An embedding table of 3,000 rows of 256 bytes (256 rows to a chunk), a table with
    rows of 80,000 bytes (two chunks each) and a Gather from each."""
    rng = np.random.default_rng(7)
    table = rng.standard_normal((3000, 64)).astype(np.float32)
    table[5, 3] = np.nan
    wide = rng.standard_normal((3, 20000)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["emb"]), helper.make_node("Gather", ["wide", "row"], ["w"]),
         helper.make_node("ReduceSum", ["emb"], ["s"], keepdims=0)],
        "gather", [helper.make_tensor_value_info("ids", TensorProto.INT64, [4]), helper.make_tensor_value_info("row", TensorProto.INT64, [1])],
        [helper.make_tensor_value_info("s", TensorProto.FLOAT, []), helper.make_tensor_value_info("w", TensorProto.FLOAT, [1, 20000])],
        [numpy_helper.from_array(table, "table"), numpy_helper.from_array(wide, "wide"),
         numpy_helper.from_array(np.array(3, dtype=np.int32), "unused_scalar"),
         numpy_helper.from_array(np.zeros((0, 4), dtype=np.float32), "empty")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return table, wide


def test_merkle_vector_matches_the_swift_unit_test():
    # MerkleTreeTests.testRootsFollowTheWrittenRules builds the same three leaves.
    assert merkle_root([b"", b"\x01", b"\x02\x03"]) == inner_hash(inner_hash(leaf_hash(b""), leaf_hash(b"\x01")), leaf_hash(b"\x02\x03"))
    assert merkle_root([]) == bytes(32)
    assert merkle_root([b"a"]) == leaf_hash(b"a")


@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.stem)
def test_reference_record_matches_an_independent_computation(model):
    record = opg("ref", model, "--uri", "https://models.example/" + model.name)
    expected = reference_record(model)
    for key, value in expected.items():
        assert record[key] == value, key
    assert record["cidV0"].startswith("Qm") and record["chunkBytes"] == CHUNK


def test_rows_of_a_gather_table_map_to_chunks(tmp_path):
    path = tmp_path / "gather.onnx"
    table, wide = gather_model(path)
    record = opg("ref", path, "--uri", "ipfs://example")
    assert record == {**record, **reference_record(path)}
    chunks = {c["name"]: c["chunks"] for c in record["initializers"]}
    assert chunks == {"table": 1 + 12, "wide": 1 + 6, "unused_scalar": 2, "empty": 1}
    model = onnx.load(str(path))
    table_chunks = tensor_chunks(model.graph.initializer[0])
    # Rows 700..709: chunk 1 + 700 // 256 = 3, starting (700 % 256) rows in.
    rows_per_chunk = CHUNK // 256
    chunk = table_chunks[1 + 700 // rows_per_chunk]
    offset = (700 % rows_per_chunk) * 256
    assert chunk[offset:offset + 10 * 256] == table[700:710].tobytes()
    wide_chunks = tensor_chunks(model.graph.initializer[1])
    assert b"".join(wide_chunks[1 + 2 * 2:1 + 3 * 2]) == wide[2].tobytes()
    # The Gather's trace entry is exactly the rows, as the independent encoding says.
    (tmp_path / "ids.json").write_text("[700, 701, 5, 2999]")
    (tmp_path / "row.json").write_text("[2]")
    trace = opg("trace", path, "--input", f"ids={tmp_path / 'ids.json'}", "--input", f"row={tmp_path / 'row.json'}")
    steps = {s["node"]: s["outputHash"] for s in trace["nodes"]}
    assert steps[0] == "0x" + keccak(canonical([(TensorProto.FLOAT, table[[700, 701, 5, 2999]])])).hex()
    assert steps[1] == "0x" + keccak(canonical([(TensorProto.FLOAT, wide[[2]])])).hex()


@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.stem)
def test_trace_hashes_recomputed_and_close_to_onnxruntime(model, tmp_path):
    feed = onnx.load_tensor(str(model.with_suffix(".input.pb")))
    out = tmp_path / "nodes"
    trace = opg("trace", model, "--input", f"{feed.name}={model.with_suffix('.input.pb')}", "--output-dir", out, "--proof", "0")
    m = onnx.load(str(model))
    assert trace["nodeCount"] == len(m.graph.node)
    # The root, recomputed from the per-node hashes; the printed proof checks.
    hashes = [bytes.fromhex(s["outputHash"][2:]) for s in trace["nodes"]]
    root = bytes.fromhex(trace["traceRoot"][2:])
    assert merkle_root(hashes) == root
    proof = trace["proof"]
    assert verify_proof(hashes[0], 0, proof["leafCount"], [bytes.fromhex(s[2:]) for s in proof["siblings"]], root)
    # Every node's written outputs hash (independent encoding) to its trace entry.
    written = {}
    for step in trace["nodes"]:
        node = m.graph.node[step["node"]]
        if node.op_type in ML_WITH_SEQUENCES:
            continue
        names = [n for n in node.output if n]
        tensors = [onnx.load_tensor(str(out / f"{step['position']}.{k}.pb")) for k in range(len(names))]
        arrays = [(t.data_type, numpy_helper.to_array(t)) for t in tensors]
        assert "0x" + keccak(canonical(arrays)).hex() == step["outputHash"], (node.op_type, step)
        written.update(zip(names, arrays))
    # onnxruntime's intermediate values, every node output made a graph output.
    inferred = onnx.shape_inference.infer_shapes(m)
    infos = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    exposed = [n for n in written if n in infos and infos[n].type.HasField("tensor_type")]
    del m.graph.output[:]
    m.graph.output.extend(infos[n] for n in exposed)
    session = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    values = session.run(exposed, {feed.name: numpy_helper.to_array(feed)})
    assert exposed, "nothing to compare"
    for name, theirs in zip(exposed, values):
        data_type, ours = written[name]
        assert ours.shape == np.asarray(theirs).shape, name
        if data_type in (TensorProto.FLOAT, TensorProto.DOUBLE):
            np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-4, err_msg=name)
        else:
            np.testing.assert_array_equal(ours, theirs, err_msg=name)


def test_reference_submitted_by_the_cli_is_read_back_and_refused_by_the_precompile(fresh_node, tmp_path):
    chain = fresh_node.start()
    account = DEV_ACCOUNTS[0]
    keystore, password = tmp_path / "keys", tmp_path / "pw"
    password.write_text("pw")
    (tmp_path / "key.hex").write_text(account.key.hex())
    assert run([str(BIN / "opg"), "account", "import", "--keystore", str(keystore), "--password-file", str(password),
                str(tmp_path / "key.hex")]).returncode == 0
    model = FIXTURES / "encoder_block.onnx"
    record = opg("ref", model, "--uri", "https://models.example/encoder_block.onnx", "--name", "enc", "--submit", "--rpc", chain.url,
                 "--keystore", keystore, "--password-file", password, "--from", account.address)
    assert record["transaction"].startswith("0x")
    expected = reference_record(model)
    w3 = chain.web3()
    abi = json.loads((ROOT / "docs" / "abi" / "ModelRegistry.json").read_text())
    registry = w3.eth.contract(address=REGISTRY, abi=abi)
    for model_id in (record["cidV0"], record["cidV1"], expected["fileSha256"]):
        ref = registry.functions.getModelReference(model_id).call()
        assert ref[0] == record["cidV0"] and ref[2].hex().removeprefix("0x") == expected["fileSha256"][2:]
        assert ref[3] == expected["size"] and ref[4] == account.address and ref[5] == "enc"
        assert "0x" + ref[9].hex().removeprefix("0x") == expected["initializerRoot"] and ref[10] == expected["initializerCount"]
        assert "0x" + ref[11].hex().removeprefix("0x") == expected["nodesRoot"] and ref[12] == expected["nodeCount"]
        assert ref[13] == expected["operators"] and ref[14] == ["https://models.example/encoder_block.onnx"]
        assert "0x" + ref[15].hex().removeprefix("0x") == expected["scheduleRoot"], "reference version 2 records the schedule root"
    precompile_abi = json.loads((ROOT / "docs" / "abi" / "InferencePrecompile.json").read_text())
    precompile = w3.eth.contract(address=Web3.to_checksum_address("0x" + "00" * 19 + "f4"), abi=precompile_abi)
    with pytest.raises(Exception) as refused:
        precompile.functions.runModelInference((0, record["cidV0"], ([], []))).call({"from": account.address})
    assert f"model {record['cidV0']} is registered by reference" in str(refused.value)
    again = subprocess.run([str(BIN / "opg"), "model", "ref", str(model), "--uri", "ipfs://x", "--submit", "--rpc", chain.url,
                            "--keystore", str(keystore), "--password-file", str(password), "--from", account.address],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and f"model already registered: {record['cidV0']}" in again.stderr
