#!/usr/bin/env python3
"""Writes Tests/ModulesTests/Fixtures/gather_embedding.onnx, the fixture of the disputes over
models registered by reference (JobReferenceDisputeTests): an embedding table large enough to
take two value chunks (1,100 rows of 16 floats; 1,024 rows per 64 KiB chunk), read by a Gather,
then a small dense layer, so a node proof stages a Gather's rows alone and whole initializers.

  ids (INT64 [3]) -> Gather(table [1100, 16]) -> emb (FLOAT [3, 16])
  emb             -> MatMul(w [16, 4])        -> h   (FLOAT [3, 4])
  h               -> Add(b [4])               -> y   (FLOAT [3, 4])

The values are a fixed arithmetic pattern (no randomness), so the file is reproducible.
"""
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "ModulesTests" / "Fixtures" / "gather_embedding.onnx"


def main():
    table = (np.arange(1100 * 16, dtype=np.float32).reshape(1100, 16) % 97) / 97
    w = (np.arange(16 * 4, dtype=np.float32).reshape(16, 4) % 7 - 3) / 4
    b = np.array([0.5, -0.25, 1.0, 0.0], dtype=np.float32)
    nodes = [
        helper.make_node("Gather", ["table", "ids"], ["emb"], axis=0),
        helper.make_node("MatMul", ["emb", "w"], ["h"]),
        helper.make_node("Add", ["h", "b"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "gather_embedding",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])],
        [numpy_helper.from_array(table, "table"), numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="opg-tools")
    model.ir_version = 8
    onnx.checker.check_model(model)
    OUT.write_bytes(model.SerializeToString())
    print(f"written {OUT}")


if __name__ == "__main__":
    main()
