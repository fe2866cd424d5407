#!/usr/bin/env python3
"""Inference speed against onnxruntime (intra_op_num_threads=1), same models, same inputs, one run.

Ours is timed by `opg model bench` (in-process loop, single thread); onnxruntime by
its own Python loop with the session created once. Each pair is measured five times,
alternating; the table gives the best time of each, the ratio of the bests (ours /
onnxruntime; above 1 means slower), the range of the five paired ratios (the machine is
shared and noisy) and the throughput ratio. run.sh prints the peak FLOP/s first.

  inference_bench.py MODELS_DIR
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
import onnxruntime as ort  # noqa: E402
from onnx import numpy_helper  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OPG = str(Path(os.environ.get("OPG_BIN", ROOT / ".build" / "release")) / "opg")

CASES = [  # (model, batch)
    ("mlp_784_512_512_10", 1), ("mlp_784_512_512_10", 64), ("digits_cnn", 1), ("digits_cnn", 64),
    ("encoder_block", 1), ("digits_gbc100", 1), ("digits_gbc100", 64), ("diabetes_gbr", 1), ("diabetes_gbr", 64),
    ("digits_forest", 64), ("digits_svc", 64),
]


def ort_seconds_per_run(model: Path, feed: dict, min_time=1.0) -> float:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    session.run(None, feed)
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_time:
        session.run(None, feed)
        runs += 1
    return (time.perf_counter() - start) / runs


def ours_seconds_per_run(model: Path, name: str, x: np.ndarray) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.pb"
        path.write_bytes(numpy_helper.from_array(x, name).SerializeToString())
        p = subprocess.run([OPG, "model", "bench", str(model), "--input", f"{name}={path}", "--threads", "1",
                            "--min-time", "0.5"], capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise RuntimeError(p.stderr.strip())
        return json.loads(p.stdout)["secondsPerRun"]


def main() -> int:
    models = Path(sys.argv[1] if len(sys.argv) > 1 else "build/models")
    print("| model | batch | opg ms | onnxruntime ms | latency ratio | paired range | throughput ratio |")
    print("| --- | --- | ---: | ---: | ---: | --- | ---: |")
    for name, batch in CASES:
        model = models / f"{name}.onnx"
        x_all = np.load(models / f"{name}.inputs.npy")
        x = np.ascontiguousarray(np.resize(x_all, (batch,) + x_all.shape[1:]))
        input_name = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).get_inputs()[0].name
        theirs, ours, ratios = float("inf"), float("inf"), []
        try:
            for _ in range(5):
                t = ort_seconds_per_run(model, {input_name: x}, min_time=0.5)
                o = ours_seconds_per_run(model, input_name, x)
                theirs, ours = min(theirs, t), min(ours, o)
                ratios.append(o / t)
        except RuntimeError as e:
            print(f"| {name} | {batch} | error: {e} | | | | |")
            continue
        print(f"| {name} | {batch} | {ours * 1e3:.3f} | {theirs * 1e3:.3f} | {ours / theirs:.2f}× | {min(ratios):.2f}–{max(ratios):.2f} | {theirs / ours:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
