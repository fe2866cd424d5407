#!/usr/bin/env python3
"""Seeds for Fuzz/FuzzInferenceCall: calls of the inference precompile (0x…F4) and hub
(0x…F5) naming the kernel's fixture models by file name, with each fixture's own input
converted to (value, decimals) pairs as OpenGradient's SDK sends numbers, plus a STRING
input for text_and_counts and the refused modes and LLM functions. Each seed file is one
byte choosing the target (even: precompile, odd: hub) followed by the calldata.

  make_inference_corpus.py   (writes Fuzz/FuzzInferenceCall/corpus/*)
"""
import hashlib
import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import onnx
from eth_abi import encode
from eth_utils import keccak
from onnx import numpy_helper

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "Tests" / "InferenceTests" / "Fixtures" / "models"
OUT = ROOT / "Fuzz" / "FuzzInferenceCall" / "corpus"
INPUT = "((string,(int128,int128)[],uint32[])[],(string,string[])[])"
FIXTURES = ["digits_mlp", "digits_logreg_zipmap", "diabetes_gbr", "digits_cnn"]


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def fixed_point(x) -> tuple:
    sign, digits, exponent = Decimal(str(np.float32(x))).normalize().as_tuple()
    value = int("".join(map(str, digits))) * (-1 if sign else 1)
    return (value * 10 ** exponent, 0) if exponent >= 0 else (value, -exponent)


def model_input(name: str, array, rows: int) -> tuple:
    array = array[:rows]
    return ([(name, [fixed_point(v) for v in array.flatten()], list(array.shape))], [])


def precompile_call(mode: int, model: str, model_in: tuple) -> bytes:
    return selector(f"runModelInference((uint8,string,{INPUT}))") + encode([f"(uint8,string,{INPUT})"], [(mode, model, model_in)])


def hub_call(model: str, mode: int, model_in: tuple) -> bytes:
    return selector(f"run(string,uint8,{INPUT})") + encode(["string", "uint8", INPUT], [model, mode, model_in])


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    seeds = []
    for name in FIXTURES:
        graph = onnx.load(str(MODELS / f"{name}.onnx")).graph
        array = numpy_helper.to_array(onnx.load_tensor(str(MODELS / f"{name}.input.pb")))
        model_in = model_input(graph.input[0].name, array, 2)
        seeds.append(b"\x00" + precompile_call(0, name, model_in))
        seeds.append(b"\x01" + hub_call(name, 0, model_in))
    seeds.append(b"\x00" + precompile_call(1, "digits_mlp", ([], [])))
    seeds.append(b"\x00" + precompile_call(0, "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH", ([], [])))
    seeds.append(b"\x00" + selector("runLLMCompletion((uint8,string,string,uint32,string[],uint256))"))
    for seed in seeds:
        (OUT / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
    print(json.dumps({"seeds": len(seeds), "dir": str(OUT.relative_to(ROOT))}))


if __name__ == "__main__":
    main()
