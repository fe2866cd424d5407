"""`opg model inspect` against models written by the `onnx` package and exported by
skl2onnx: what opg reads must be what onnx itself reads from the same bytes."""
import json
import subprocess

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from opgnode import BIN


def inspect(path, *extra):
    return subprocess.run([str(BIN / "opg"), "model", "inspect", *extra, str(path)], capture_output=True, text=True, timeout=60)


def onnx_view(model: onnx.ModelProto) -> dict:
    """The fields `opg model inspect --json` reports, computed with onnx."""
    def vtype(t):
        kind = t.WhichOneof("value")
        if kind == "tensor_type":
            shape = None
            if t.tensor_type.HasField("shape"):
                shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param if d.HasField("dim_param") else None)
                         for d in t.tensor_type.shape.dim]
            return {"kind": "tensor", "elementType": TensorProto.DataType.Name(t.tensor_type.elem_type), "shape": shape}
        if kind == "sequence_type":
            return {"kind": "sequence", "element": vtype(t.sequence_type.elem_type)}
        if kind == "map_type":
            return {"kind": "map", "key": TensorProto.DataType.Name(t.map_type.key_type), "value": vtype(t.map_type.value_type)}
        return None

    inits = {i.name for i in model.graph.initializer}
    ops = {}

    def visit(g):
        for n in g.node:
            name = n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}:{n.op_type}"
            ops[name] = ops.get(name, 0) + 1
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    visit(a.g)
                for sub in a.graphs:
                    visit(sub)
    visit(model.graph)
    return {
        "irVersion": model.ir_version,
        "producerName": model.producer_name,
        "producerVersion": model.producer_version,
        "opsets": [{"domain": o.domain, "version": o.version} for o in model.opset_import],
        "inputs": [{"name": i.name, "type": vtype(i.type)} for i in model.graph.input if i.name not in inits],
        "outputs": [{"name": o.name, "type": vtype(o.type)} for o in model.graph.output],
        "initializers": [{"name": t.name, "elementType": TensorProto.DataType.Name(t.data_type), "shape": list(t.dims)}
                         for t in model.graph.initializer],
        "nodeCount": len(model.graph.node),
        "operators": dict(sorted(ops.items())),
    }


def sklearn_models():
    from skl2onnx import to_onnx
    from sklearn.datasets import load_diabetes, load_digits
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    dx, dy = load_digits(return_X_y=True)
    dx = dx.astype(np.float32)[:300]
    dy = dy[:300]
    bx, by = load_diabetes(return_X_y=True)
    bx = bx.astype(np.float32)
    yield "logreg_zipmap", to_onnx(LogisticRegression(max_iter=300).fit(dx, dy), dx[:1])
    yield "mlp", to_onnx(MLPClassifier(hidden_layer_sizes=(16,), max_iter=50, random_state=0).fit(dx, dy), dx[:1],
                         options={"zipmap": False})
    yield "forest", to_onnx(RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(dx, dy), dx[:1])
    yield "gbr_pipeline", to_onnx(make_pipeline(StandardScaler(), GradientBoostingRegressor(n_estimators=10, random_state=0)).fit(bx, by),
                                  bx[:1])


def helper_models():
    rng = np.random.default_rng(0)
    conv = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c"], ["r"]),
         helper.make_node("GlobalAveragePool", ["r"], ["p"]),
         helper.make_node("Flatten", ["p"], ["y"])],
        "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [numpy_helper.from_array(rng.standard_normal((4, 1, 3, 3)).astype(np.float32), "w")])
    yield "cnn", helper.make_model(conv, opset_imports=[helper.make_opsetid("", 17)], producer_name="opg-test", producer_version="1")
    then_g = helper.make_graph([helper.make_node("Neg", ["a"], ["t"])], "then", [], [helper.make_tensor_value_info("t", TensorProto.DOUBLE, [2])])
    else_g = helper.make_graph([helper.make_node("Abs", ["a"], ["e"])], "else", [], [helper.make_tensor_value_info("e", TensorProto.DOUBLE, [2])])
    branch = helper.make_graph(
        [helper.make_node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g)], "branch",
        [helper.make_tensor_value_info("cond", TensorProto.BOOL, []), helper.make_tensor_value_info("a", TensorProto.DOUBLE, [2])],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)])
    yield "if", helper.make_model(branch, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("name,model", list(sklearn_models()) + list(helper_models()), ids=lambda v: v if isinstance(v, str) else "")
def test_inspect_matches_onnx(tmp_path, name, model):
    path = tmp_path / f"{name}.onnx"
    path.write_bytes(model.SerializeToString())
    p = inspect(path, "--json")
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    for key in ("cost", "runnable", "unsupported"):  # opg's own findings, checked below
        got.pop(key)
    assert got == onnx_view(model)
    text = inspect(path)
    assert text.returncode == 0 and "operators:" in text.stdout


def test_initializer_values_match_numpy(tmp_path):
    """Tensors in raw_data and in typed fields both read back exactly (checked through
    a Constant-free graph whose initializers opg lists with their shapes)."""
    arrays = {"f": np.float32([[1.5, -2.25], [3.0, 1e-30]]), "i": np.int64([-(2**62), 7]), "b": np.bool_([True, False, True]),
              "u8": np.uint8([0, 255]), "d": np.float64([2.5])}
    inits = [numpy_helper.from_array(v, k) for k, v in arrays.items()]
    inits.append(helper.make_tensor("typed", TensorProto.FLOAT, [2], [0.5, 0.25]))
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])], inits)
    path = tmp_path / "inits.onnx"
    path.write_bytes(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    p = inspect(path, "--json")
    assert p.returncode == 0, p.stderr
    shapes = {t["name"]: t["shape"] for t in json.loads(p.stdout)["initializers"]}
    assert shapes == {**{k: list(v.shape) for k, v in arrays.items()}, "typed": [2]}


@pytest.mark.parametrize("blob,rule", [
    (b"", "no graph"),
    (b"\x0b", "groups are not supported"),
    (b"\x3a\xff\xff\x03", "runs past the end"),
    (b"not an onnx file at all", ""),
])
def test_malformed_files_exit_1_with_the_rule(tmp_path, blob, rule):
    path = tmp_path / "bad.onnx"
    path.write_bytes(blob)
    p = inspect(path)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert rule in p.stderr and "bad.onnx" in p.stderr


def test_external_data_is_refused(tmp_path):
    t = numpy_helper.from_array(np.zeros((4,), np.float32), "w")
    t.data_location = TensorProto.EXTERNAL
    t.ClearField("raw_data")
    entry = t.external_data.add()
    entry.key, entry.value = "location", "weights.bin"
    g = helper.make_graph([helper.make_node("Identity", ["w"], ["y"])], "g", [],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], [t])
    path = tmp_path / "ext.onnx"
    path.write_bytes(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    p = inspect(path)
    assert p.returncode == 1 and "external data" in p.stderr


def test_usage_errors_exit_2(tmp_path):
    assert subprocess.run([str(BIN / "opg"), "model"], capture_output=True).returncode == 2
    assert subprocess.run([str(BIN / "opg"), "model", "inspect"], capture_output=True).returncode == 2
    assert subprocess.run([str(BIN / "opg"), "model", "inspect", str(tmp_path / "missing.onnx")], capture_output=True).returncode == 2
    assert subprocess.run([str(BIN / "opg"), "model", "inspect", "--help"], capture_output=True).returncode == 0


@pytest.mark.parametrize("nodes,rule", [
    ([("Relu", ["x"], ["a"]), ("Add", ["a", "b"], ["b2"]), ("Neg", ["b2"], ["b"]), ("Abs", ["a"], ["y"])], "cycle"),
    ([("Relu", ["nope"], ["y"])], "input 'nope' is not a graph input"),
    ([("Relu", ["x"], ["y"]), ("Abs", ["x"], ["y"])], "output 'y' is already defined"),
    ([("Relu", ["x"], ["z"])], "output 'y' is not produced"),
])
def test_malformed_graphs_exit_1_with_the_rule(tmp_path, nodes, rule):
    g = helper.make_graph([helper.make_node(op, i, o) for op, i, o in nodes], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    path = tmp_path / "graph.onnx"
    path.write_bytes(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    p = inspect(path)
    assert p.returncode == 1 and rule in p.stderr, p.stderr


def mlp_model(tmp_path):
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((20, 16)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.standard_normal(16).astype(np.float32), "b1"),
             numpy_helper.from_array(rng.standard_normal((16, 4)).astype(np.float32), "w2")]
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "w2"], ["y"])]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 20])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])], inits)
    path = tmp_path / "mlp.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    return path


def test_cost_for_a_batch_size(tmp_path):
    path = mlp_model(tmp_path)
    costs = {}
    for batch in (1, 8):
        p = inspect(path, "--json", "--batch", str(batch))
        assert p.returncode == 0, p.stderr
        costs[batch] = json.loads(p.stdout)["cost"]
    one, eight = costs[1], costs[8]
    assert one["static"] and one["batch"] == 1
    # Gemm: 20·16 multiply-accumulates + 16 bias adds per row; Relu 16; MatMul 16·4.
    assert one["macs"] == 20 * 16 + 16 + 16 + 16 * 4
    assert eight["macs"] == 8 * one["macs"]
    assert [n["op"] for n in one["nodes"]] == ["Gemm", "Relu", "MatMul"]
    assert max(n["peakBytes"] for n in one["nodes"]) == one["peakBytes"]
    assert eight["peakBytes"] > one["peakBytes"] >= (20 * 16 + 16 + 16 * 4) * 4
    text = inspect(path, "--batch", "8").stdout
    assert f"cost at batch 8: {eight['macs']} multiply-accumulates" in text
    assert inspect(path, "--batch", "0").returncode == 2


def test_unsupported_model_is_inspected_but_not_runnable(tmp_path):
    graph = helper.make_graph([helper.make_node("Sin", ["x"], ["y"])], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    path = tmp_path / "sin.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)]).SerializeToString())
    p = inspect(path, "--json")
    assert p.returncode == 0
    out = json.loads(p.stdout)
    assert out["runnable"] is False and "unsupported operator Sin" in out["unsupported"] and out["cost"] is None
