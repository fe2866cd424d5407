#!/usr/bin/env python3
"""Writes the seed corpus of Fuzz/FuzzONNX: small, valid ONNX models and tensors that
cover the reader's paths (typed and raw tensor data, every attribute kind, nested
graphs, sequence/map types from a scikit-learn classifier with ZipMap), one model per
operator opg runs, taken from ONNX's backend node test cases (the fuzzer compiles and runs
what it reads, so each kernel gets mutated graphs to chew on), and the real models the tests
commit with their input tensors (Tests/InferenceTests/Fixtures/models: scikit-learn pipelines, a CNN, a transformer
block), so mutations start from whole trained graphs.

  make_fuzz_corpus.py OUT_DIR
"""
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def mlp() -> onnx.ModelProto:
    rng = np.random.default_rng(1)
    w = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "W")
    b = helper.make_tensor("B", TensorProto.FLOAT, [3], [0.5, -1.0, 2.0])  # typed float_data
    nodes = [helper.make_node("Gemm", ["X", "W", "B"], ["H"], name="fc", alpha=1.0, transB=0),
             helper.make_node("Relu", ["H"], ["Y"], name="act")]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 4])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", 3])], [w, b])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="opg-corpus")


def attributes_and_subgraph() -> onnx.ModelProto:
    then_g = helper.make_graph([helper.make_node("Constant", [], ["t"], value=helper.make_tensor("c", TensorProto.INT64, [2], [1, 2]))],
                               "then", [], [helper.make_tensor_value_info("t", TensorProto.INT64, [2])])
    else_g = helper.make_graph([helper.make_node("Constant", [], ["e"], value_ints=[3, 4])],
                               "else", [], [helper.make_tensor_value_info("e", TensorProto.INT64, [2])])
    nodes = [helper.make_node("If", ["cond"], ["out"], then_branch=then_g, else_branch=else_g),
             helper.make_node("Cast", ["out"], ["f"], to=TensorProto.DOUBLE),
             helper.make_node("LabelEncoder", ["f"], ["lab"], domain="ai.onnx.ml", keys_floats=[1.0, 2.0],
                              values_strings=["a", "b"], default_string="?")]
    graph = helper.make_graph(nodes, "branches", [helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
                              [helper.make_tensor_value_info("lab", TensorProto.STRING, [2])],
                              [helper.make_tensor("i8", TensorProto.INT8, [3], [-1, 0, 1]),
                               helper.make_tensor("u8", TensorProto.UINT8, [2], b"\x01\xff", raw=True),
                               helper.make_tensor("d", TensorProto.DOUBLE, [1], [2.5]),
                               helper.make_tensor("flag", TensorProto.BOOL, [2], [True, False])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])


def tree_classifier() -> onnx.ModelProto:
    from skl2onnx import to_onnx
    from sklearn.ensemble import RandomForestClassifier
    rng = np.random.default_rng(2)
    x = rng.standard_normal((40, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    clf = RandomForestClassifier(n_estimators=2, max_depth=2, random_state=0).fit(x, y)
    return to_onnx(clf, x[:1], target_opset={"": 17, "ai.onnx.ml": 3})


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, model in (("mlp.onnx", mlp()), ("branches.onnx", attributes_and_subgraph()), ("forest.onnx", tree_classifier())):
        onnx.checker.check_model(model)
        (out / name).write_bytes(model.SerializeToString())
    # One conformance model per supported operator (the first passing case of each).
    from onnx.backend.test.case.node import collect_testcases
    passing = set((Path(__file__).resolve().parents[2] / "Tests" / "conformance" / "passing.txt").read_text().split())
    seen = set()
    for case in collect_testcases():
        if case.name not in passing or len(case.model.graph.node) != 1:
            continue
        op = case.model.graph.node[0].op_type
        if op in seen:
            continue
        seen.add(op)
        (out / f"op_{op}.onnx").write_bytes(case.model.SerializeToString())
    for model in sorted((Path(__file__).resolve().parents[2] / "Tests" / "InferenceTests" / "Fixtures" / "models").glob("*")):
        (out / f"fixture_{model.name}").write_bytes(model.read_bytes())
    (out / "tensor_int64.pb").write_bytes(numpy_helper.from_array(np.arange(6, dtype=np.int64).reshape(2, 3), "x").SerializeToString())
    (out / "tensor_float.pb").write_bytes(numpy_helper.from_array(np.linspace(-1, 1, 5, dtype=np.float32), "y").SerializeToString())


if __name__ == "__main__":
    main()
