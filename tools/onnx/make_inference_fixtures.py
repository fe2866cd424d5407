#!/usr/bin/env python3
"""Writes Tests/ModulesTests/Fixtures/text_and_counts.onnx, the inference modules' fixture for
the input and output kinds the kernel's model fixtures lack: a STRING input (its shape
[N] set by the value count), an INT64 input, and STRING, INT64 and FLOAT outputs.

  text (STRING [N]) -> LabelEncoder(cat: 0, dog: 1, else -1) -> id (INT64 [N])
  text              -> Identity                               -> echo (STRING [N])
  count (INT64 [N]) -> Cast(FLOAT) -> Mul 0.5                 -> half (FLOAT [N])
"""
from pathlib import Path

import onnx
from onnx import TensorProto, helper

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "ModulesTests" / "Fixtures" / "text_and_counts.onnx"


def main():
    nodes = [
        helper.make_node("LabelEncoder", ["text"], ["id"], domain="ai.onnx.ml", keys_strings=["cat", "dog"], values_int64s=[0, 1],
                         default_int64=-1),
        helper.make_node("Identity", ["text"], ["echo"]),
        helper.make_node("Cast", ["count"], ["count_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["count_f", "half_factor"], ["half"]),
    ]
    graph = helper.make_graph(
        nodes, "text_and_counts",
        [helper.make_tensor_value_info("text", TensorProto.STRING, ["N"]), helper.make_tensor_value_info("count", TensorProto.INT64, ["N"])],
        [helper.make_tensor_value_info("id", TensorProto.INT64, ["N"]), helper.make_tensor_value_info("echo", TensorProto.STRING, ["N"]),
         helper.make_tensor_value_info("half", TensorProto.FLOAT, ["N"])],
        [helper.make_tensor("half_factor", TensorProto.FLOAT, [], [0.5])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 2)],
                              producer_name="opg-tools")
    model.ir_version = 8
    onnx.checker.check_model(model)
    OUT.write_bytes(model.SerializeToString())
    print(f"written {OUT}")


if __name__ == "__main__":
    main()
