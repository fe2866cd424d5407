"""`opg model run` as a user drives it: real models exported by skl2onnx and written with
onnx.helper, inputs as TensorProto .pb and JSON, outputs compared with onnxruntime and
with the committed golden hashes; bad arguments and inputs fail with named rules."""
import json
import struct
import subprocess
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from eth_utils import keccak
from onnx import TensorProto, helper, numpy_helper

from opgnode import BIN

FIXTURES = Path(__file__).resolve().parents[1] / "InferenceTests" / "Fixtures"
MODELS = sorted((FIXTURES / "models").glob("*.onnx"))
GOLDEN = json.loads((FIXTURES / "golden.json").read_text())


def opg(*args, timeout=300):
    return subprocess.run([str(BIN / "opg"), "model", "run", *map(str, args)], capture_output=True, text=True, timeout=timeout)


def input_of(model: Path):
    tensor = onnx.load_tensor(str(model.with_suffix(".input.pb")))
    return tensor.name, model.with_suffix(".input.pb"), numpy_helper.to_array(tensor)


@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.stem)
def test_fixture_matches_golden_hash_and_onnxruntime(model, tmp_path):
    name, path, x = input_of(model)
    hashes = set()
    for extra in ([], ["--threads", "3"], ["--reference"]):
        p = opg(model, "--input", f"{name}={path}", "--output-dir", tmp_path / "out", *extra)
        assert p.returncode == 0, p.stderr
        hashes.add(json.loads(p.stdout)["hash"])
    assert hashes == {GOLDEN[model.stem]}
    expected = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(None, {name: x})
    for i, want in enumerate(expected):
        raw = (tmp_path / "out" / f"{i}.pb").read_bytes()
        if isinstance(want, list):  # ZipMap
            got = numpy_helper.to_list(onnx.SequenceProto.FromString(raw))
            assert [list(g.keys()) for g in got] == [list(w.keys()) for w in want]
            np.testing.assert_allclose([[float(v) for v in g.values()] for g in got], [list(w.values()) for w in want], rtol=1e-4, atol=1e-6)
            continue
        got = numpy_helper.to_array(onnx.TensorProto.FromString(raw))
        assert got.shape == want.shape and got.dtype == want.dtype
        if want.dtype.kind == "f":
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
        else:
            np.testing.assert_array_equal(got, want)


def small_model(tmp_path, op="Add", opset=17, inputs=("a", "b"), elem=TensorProto.FLOAT, shape=(2, 3), **attrs):
    node = helper.make_node(op, list(inputs), ["y"], **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(i, elem, list(shape)) for i in inputs],
                              [helper.make_tensor_value_info("y", elem, None)])
    path = tmp_path / "m.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString())
    return path


def test_json_inputs_and_outputs(tmp_path):
    model = small_model(tmp_path)
    (tmp_path / "a.json").write_text("[[1, 2, 3], [4, 5, 6.5]]")
    (tmp_path / "b.json").write_text('[[0.1, 0.2, 0.3], ["NaN", "Infinity", -1e-3]]')
    p = opg(model, "--input", f"a={tmp_path / 'a.json'}", "--input", f"b={tmp_path / 'b.json'}")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    y = out["outputs"][0]
    assert y["name"] == "y" and y["elementType"] == "FLOAT" and y["shape"] == [2, 3]
    # Floats are printed in their shortest form that reads back as the same float32.
    row = np.array(y["data"][0], np.float32)
    assert row.tobytes() == (np.array([1, 2, 3], np.float32) + np.array([0.1, 0.2, 0.3], np.float32)).tobytes()
    assert y["data"][1][:2] == ["NaN", "Infinity"]
    assert np.float32(y["data"][1][2]) == np.float32(6.5) + np.float32(-1e-3)
    assert out["hash"].startswith("0x") and len(out["hash"]) == 66


def test_pb_and_json_inputs_give_the_same_hash(tmp_path):
    model = small_model(tmp_path)
    a = np.arange(6, dtype=np.float32).reshape(2, 3) / 7
    (tmp_path / "a.pb").write_bytes(numpy_helper.from_array(a, "a").SerializeToString())
    (tmp_path / "a.json").write_text(json.dumps(a.tolist()))
    (tmp_path / "b.json").write_text(json.dumps(np.ones((2, 3)).tolist()))
    one = opg(model, "--input", f"a={tmp_path / 'a.pb'}", "--input", f"b={tmp_path / 'b.json'}")
    two = opg(model, "--input", f"a={tmp_path / 'a.json'}", "--input", f"b={tmp_path / 'b.json'}")
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    assert json.loads(one.stdout)["hash"] == json.loads(two.stdout)["hash"]


def test_input_hash_is_the_canonical_encoding_of_the_inputs_in_graph_order(tmp_path):
    model = small_model(tmp_path)
    a = np.arange(6, dtype=np.float32).reshape(2, 3) / 7
    b = np.full((2, 3), -0.5, np.float32)
    (tmp_path / "a.json").write_text(json.dumps(a.tolist()))
    (tmp_path / "b.json").write_text(json.dumps(b.tolist()))
    forward = opg(model, "--input", f"a={tmp_path / 'a.json'}", "--input", f"b={tmp_path / 'b.json'}")
    backward = opg(model, "--input", f"b={tmp_path / 'b.json'}", "--input", f"a={tmp_path / 'a.json'}")
    assert forward.returncode == 0 and backward.returncode == 0, forward.stderr + backward.stderr
    # docs/determinism.md "Result hash": u32 count, then per tensor u32 type, u32 rank,
    # u64 per dimension and the values little-endian, all written here independently.
    encoding = struct.pack("<I", 2)
    for t in (a, b):
        encoding += struct.pack("<II", 1, t.ndim) + struct.pack(f"<{t.ndim}Q", *t.shape) + t.astype("<f4").tobytes()
    expected = "0x" + keccak(encoding).hex()
    assert json.loads(forward.stdout)["inputHash"] == expected
    assert json.loads(backward.stdout)["inputHash"] == expected


@pytest.mark.parametrize("content,rule", [
    ("[[1, 2, 3], [4, 5]]", "ragged"),
    ("[[1, 2, 3], [4, 5, \"x\"]]", "not a number"),
    ("[[1, 2, 3], [4, 5, 6]", "invalid JSON"),
    ("[[1, 2, 3, 4], [4, 5, 6, 7]]", "dimension 1 is 4"),
    ("[1, 2, 3]", "rank 1"),
    ("[[1, 2, 3], [4, 5, 1e39]]", "not a finite float32"),
])
def test_bad_json_input_names_the_rule(tmp_path, content, rule):
    model = small_model(tmp_path)
    (tmp_path / "a.json").write_text(content)
    (tmp_path / "b.json").write_text("[[1, 2, 3], [4, 5, 6]]")
    p = opg(model, "--input", f"a={tmp_path / 'a.json'}", "--input", f"b={tmp_path / 'b.json'}")
    assert p.returncode == 1, p.stdout
    assert rule in p.stderr, p.stderr


def test_usage_errors_exit_2(tmp_path):
    model = small_model(tmp_path)
    (tmp_path / "a.json").write_text("[[1, 2, 3], [4, 5, 6]]")
    for args, rule in [
        ([model, "--input", "a"], "is not NAME=FILE"),
        ([model, "--input", f"zz={tmp_path / 'a.json'}"], "has no input \"zz\""),
        ([model, "--input", f"a={tmp_path / 'missing.json'}"], "cannot read"),
        ([model, "--threads", "0"], "is not a thread count"),
        ([model, "--input", f"a={tmp_path / 'a.json'}", "--input", f"a={tmp_path / 'a.json'}"], "more than once"),
        ([], "missing argument FILE.onnx"),
    ]:
        p = opg(*args)
        assert p.returncode == 2, (args, p.stderr)
        assert rule in p.stderr, p.stderr


def test_missing_input_and_runtime_errors_exit_1(tmp_path):
    model = small_model(tmp_path)
    (tmp_path / "a.json").write_text("[[1, 2, 3], [4, 5, 6]]")
    p = opg(model, "--input", f"a={tmp_path / 'a.json'}")
    assert p.returncode == 1 and "input 'b' is not given" in p.stderr
    gather = tmp_path / "g"
    gather.mkdir()
    node = helper.make_node("Gather", ["d", "i"], ["y"], axis=0)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("d", TensorProto.FLOAT, [3]),
                                            helper.make_tensor_value_info("i", TensorProto.INT64, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    (gather / "m.onnx").write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
    (gather / "d.json").write_text("[1, 2, 3]")
    (gather / "i.json").write_text("[7]")
    p = opg(gather / "m.onnx", "--input", f"d={gather / 'd.json'}", "--input", f"i={gather / 'i.json'}")
    assert p.returncode == 1 and "index 7 is out of range for axis 0 of size 3" in p.stderr, p.stderr


def test_unsupported_operator_exits_3_naming_op_node_and_opset(tmp_path):
    node = helper.make_node("Sin", ["x"], ["y"], name="trig")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = tmp_path / "sin.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)]).SerializeToString())
    (tmp_path / "x.json").write_text("[1, 2]")
    p = opg(path, "--input", f"x={tmp_path / 'x.json'}")
    assert p.returncode == 3
    assert "unsupported operator Sin (domain ai.onnx, opset 15) at Sin node 'trig'" in p.stderr


def test_malformed_model_exits_1(tmp_path):
    path = tmp_path / "bad.onnx"
    path.write_bytes(b"\x08\x07\x12\xff\xff\xff\xff\x0f")
    p = opg(path)
    assert p.returncode == 1 and "bad.onnx" in p.stderr


def test_bench_reports_wall_and_cpu_seconds_per_run():
    model = FIXTURES / "models" / "digits_mlp.onnx"
    name, path, _ = input_of(model)
    p = subprocess.run([str(BIN / "opg"), "model", "bench", str(model), "--input", f"{name}={path}", "--threads", "2",
                        "--min-time", "0.05"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    result = json.loads(p.stdout)
    assert result["runs"] >= 1 and result["secondsPerRun"] > 0 and result["cpuSecondsPerRun"] > 0
