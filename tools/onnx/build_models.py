#!/usr/bin/env python3
"""Builds the real models the cross-check and benchmarks use, deterministically.

scikit-learn models are trained on the data sets scikit-learn ships (digits, diabetes)
with fixed seeds and exported with skl2onnx; the CNN, the transformer encoder block
and the benchmark MLP are written with onnx.helper and seeded random weights.
Each model is written as NAME.onnx beside NAME.inputs.npy (a batch of real inputs).

  build_models.py OUT_DIR
"""
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

warnings.filterwarnings("ignore")

OPSET = 17


def sklearn_models(out: Path):
    from skl2onnx import to_onnx
    from sklearn.datasets import load_diabetes, load_digits
    from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor, RandomForestClassifier, RandomForestRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, SVR

    digits_x, digits_y = load_digits(return_X_y=True)
    digits_x = digits_x.astype(np.float32)
    diab_x, diab_y = load_diabetes(return_X_y=True)
    diab_x = diab_x.astype(np.float32)

    models = {
        "digits_logreg": (LogisticRegression(max_iter=2000), digits_x, digits_y, {"zipmap": False}),
        "digits_logreg_zipmap": (LogisticRegression(max_iter=2000), digits_x, digits_y, {}),
        "digits_mlp": (MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=300, random_state=0), digits_x, digits_y, {"zipmap": False}),
        "digits_forest": (RandomForestClassifier(n_estimators=30, max_depth=8, random_state=0), digits_x, digits_y, {"zipmap": False}),
        "digits_scaled_logreg": (make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)), digits_x, digits_y, {"zipmap": False}),
        "diabetes_gbr": (GradientBoostingRegressor(n_estimators=100, max_depth=3, random_state=0), diab_x, diab_y, None),
        "diabetes_forest": (RandomForestRegressor(n_estimators=30, max_depth=6, random_state=0), diab_x, diab_y, None),
        "diabetes_scaled_ridge": (make_pipeline(StandardScaler(), Ridge(alpha=1.0)), diab_x, diab_y, None),
        "digits_gbc100": (GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0), digits_x[:, :], digits_y, {"zipmap": False}),
        "digits_svc": (SVC(kernel="rbf", gamma=0.001), digits_x, digits_y, {"zipmap": False}),
        "digits_svc_proba": (SVC(kernel="rbf", gamma=0.001, probability=True, random_state=0), digits_x, digits_y, {}),
        "digits_scaled_svc_binary": (make_pipeline(StandardScaler(), SVC(kernel="poly", degree=2, gamma=0.01)), digits_x, (digits_y >= 5).astype(np.int64), {"zipmap": False}),
        "diabetes_scaled_svr": (make_pipeline(StandardScaler(), SVR(kernel="rbf", C=50.0)), diab_x, diab_y, None),
    }
    for name, (model, x, y, options) in models.items():
        model.fit(x[:-200], y[:-200])
        kwargs = {"target_opset": {"": OPSET, "ai.onnx.ml": 3}}
        if options:
            kwargs["options"] = {id(model) if not hasattr(model, "steps") else id(model.steps[-1][1]): options}
        onx = to_onnx(model, x[:1], **kwargs)
        (out / f"{name}.onnx").write_bytes(onx.SerializeToString())
        np.save(out / f"{name}.inputs.npy", x[-200:])


def weights(rng, *shape, scale=None):
    scale = scale or (1.0 / np.sqrt(shape[0] if len(shape) == 2 else np.prod(shape[1:])))
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def cnn(out: Path):
    from sklearn.datasets import load_digits
    rng = np.random.default_rng(1)
    inits = [
        numpy_helper.from_array(weights(rng, 8, 1, 3, 3), "w1"), numpy_helper.from_array(weights(rng, 8), "b1"),
        numpy_helper.from_array(weights(rng, 16, 8, 3, 3), "w2"), numpy_helper.from_array(weights(rng, 16), "b2"),
        numpy_helper.from_array(weights(rng, 16, 10), "w3"), numpy_helper.from_array(weights(rng, 10), "b3"),
        numpy_helper.from_array(np.array([1.0], np.float32), "bn_scale_unused"),
    ][:-1]
    nodes = [
        helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0),
    ]
    graph = helper.make_graph(nodes, "digits_cnn",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 8, 8])],
                              [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10]),
                               helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])], inits)
    save(out, "digits_cnn", graph)
    x, _ = load_digits(return_X_y=True)
    np.save(out / "digits_cnn.inputs.npy", (x[-200:] / 16.0).astype(np.float32).reshape(-1, 1, 8, 8))


def transformer(out: Path, tokens=16, width=64, heads=4, hidden=128):
    rng = np.random.default_rng(2)
    dh = width // heads
    arr = lambda name, value: numpy_helper.from_array(value, name)  # noqa: E731
    inits = [
        arr("ln1_g", np.ones(width, np.float32) + weights(rng, width, scale=0.1)), arr("ln1_b", weights(rng, width, scale=0.1)),
        arr("wq", weights(rng, width, width)), arr("wk", weights(rng, width, width)), arr("wv", weights(rng, width, width)),
        arr("wo", weights(rng, width, width)), arr("bo", weights(rng, width, scale=0.1)),
        arr("ln2_g", np.ones(width, np.float32)), arr("ln2_b", np.zeros(width, np.float32)),
        arr("w1", weights(rng, width, hidden)), arr("b1", weights(rng, hidden, scale=0.1)),
        arr("w2", weights(rng, hidden, width)), arr("b2", weights(rng, width, scale=0.1)),
        arr("heads_shape", np.array([0, tokens, heads, dh], np.int64)),
        arr("merge_shape", np.array([0, tokens, width], np.int64)),
        arr("scale", np.array(1.0 / np.sqrt(dh), np.float32)),
    ]
    n = helper.make_node
    nodes = [
        n("LayerNormalization", ["x", "ln1_g", "ln1_b"], ["h"], axis=-1, epsilon=1e-5),
        n("MatMul", ["h", "wq"], ["q"]), n("MatMul", ["h", "wk"], ["k"]), n("MatMul", ["h", "wv"], ["v"]),
        n("Reshape", ["q", "heads_shape"], ["q4"]), n("Reshape", ["k", "heads_shape"], ["k4"]), n("Reshape", ["v", "heads_shape"], ["v4"]),
        n("Transpose", ["q4"], ["qh"], perm=[0, 2, 1, 3]), n("Transpose", ["k4"], ["kt"], perm=[0, 2, 3, 1]),
        n("Transpose", ["v4"], ["vh"], perm=[0, 2, 1, 3]),
        n("MatMul", ["qh", "kt"], ["scores"]), n("Mul", ["scores", "scale"], ["scaled"]),
        n("Softmax", ["scaled"], ["attn"], axis=-1), n("MatMul", ["attn", "vh"], ["ctx"]),
        n("Transpose", ["ctx"], ["ctx_t"], perm=[0, 2, 1, 3]), n("Reshape", ["ctx_t", "merge_shape"], ["merged"]),
        n("MatMul", ["merged", "wo"], ["proj"]), n("Add", ["proj", "bo"], ["proj_b"]), n("Add", ["x", "proj_b"], ["res1"]),
        n("LayerNormalization", ["res1", "ln2_g", "ln2_b"], ["h2"], axis=-1, epsilon=1e-5),
        n("MatMul", ["h2", "w1"], ["f1"]), n("Add", ["f1", "b1"], ["f1b"]), n("Gelu", ["f1b"], ["act"]),
        n("MatMul", ["act", "w2"], ["f2"]), n("Add", ["f2", "b2"], ["f2b"]), n("Add", ["res1", "f2b"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "encoder_block",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", tokens, width])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", tokens, width])], inits)
    save(out, "encoder_block", graph, opset=20)
    np.save(out / "encoder_block.inputs.npy", rng.standard_normal((8, tokens, width)).astype(np.float32))


def mlp(out: Path):
    rng = np.random.default_rng(3)
    sizes = [784, 512, 512, 10]
    inits, nodes, prev = [], [], "x"
    for i in range(3):
        inits += [numpy_helper.from_array(weights(rng, sizes[i], sizes[i + 1]), f"w{i}"),
                  numpy_helper.from_array(weights(rng, sizes[i + 1], scale=0.1), f"b{i}")]
        nodes.append(helper.make_node("Gemm", [prev, f"w{i}", f"b{i}"], [f"g{i}"]))
        prev = f"g{i}"
        if i < 2:
            nodes.append(helper.make_node("Relu", [prev], [f"r{i}"]))
            prev = f"r{i}"
    nodes.append(helper.make_node("Identity", [prev], ["logits"]))
    graph = helper.make_graph(nodes, "mlp_784_512_512_10",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 784])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], inits)
    save(out, "mlp_784_512_512_10", graph)
    np.save(out / "mlp_784_512_512_10.inputs.npy", rng.random((64, 784), dtype=np.float32))


def save(out: Path, name: str, graph, opset=OPSET):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="opg-tools")
    model.ir_version = 8
    onnx.checker.check_model(model)
    (out / f"{name}.onnx").write_bytes(model.SerializeToString())


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "build/models")
    out.mkdir(parents=True, exist_ok=True)
    sklearn_models(out)
    cnn(out)
    transformer(out)
    mlp(out)
    print(f"models written to {out}")


if __name__ == "__main__":
    main()
