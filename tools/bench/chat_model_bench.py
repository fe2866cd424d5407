#!/usr/bin/env python3
"""Chat model speed (issue 13 §6): one decode step of SmolLM2-135M-Instruct (the graph
tools/chat/convert_model.py writes) on one thread, `opg model bench` against onnxruntime
running the same graph with the same cache, alternated in one run; and the prompt's prefill.

The cache is real: onnxruntime's prefill of the prompt repeated to each cache length. opg's
figure is `secondsPerRun` of `opg model bench --threads 1` (loaded once, one warm-up run);
onnxruntime's is the median of as many session runs (intra- and inter-op threads 1, one
warm-up run). Rates are the best round of each side; the ratio (opg's rate over
onnxruntime's) is the median of the per-round ratios, with their range.

  chat_model_bench.py [ROUNDS]      needs a release build and `make chat-model`
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import numpy as np
import onnxruntime as ort
from onnx import numpy_helper

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "chat"))
import convert_model  # noqa: E402

BIN = Path(os.environ.get("OPG_BIN", ROOT / ".build" / "release"))
# "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n" after the default system prompt
PROMPT = [1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411, 407, 19712, 8182, 2, 198,
          1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1, 520, 9531, 198]
CACHE_LENGTHS = [37, 256]
NEXT_TOKEN = 504
LAYERS, KV_HEADS, HEAD_DIM = 30, 3, 64


def session(model):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def feeds_for(ids, past):
    return {"input_ids": np.array([ids], np.int64), **past}


def empty_cache():
    return {f"past_{kind}.{layer}": np.zeros((1, KV_HEADS, 0, HEAD_DIM), np.float32)
            for layer in range(LAYERS) for kind in ("key", "value")}


def cache_of(sess, length):
    ids = (PROMPT * (length // len(PROMPT) + 1))[:length]
    outputs = sess.run(None, feeds_for(ids, empty_cache()))
    return {f"past_{kind}.{layer}": outputs[1 + 2 * layer + k]
            for layer in range(LAYERS) for k, kind in enumerate(("key", "value"))}


def opg_seconds(model, feeds, work, min_time):
    args = []
    for name, array in feeds.items():
        path = Path(work) / f"{name}.pb"
        path.write_bytes(numpy_helper.from_array(array, name).SerializeToString())
        args += ["--input", f"{name}={path}"]
    out = subprocess.run([str(BIN / "opg"), "model", "bench", str(model), *args, "--threads", "1", "--min-time", str(min_time)],
                         capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout)["secondsPerRun"])


def onnxruntime_seconds(sess, feeds, min_time):
    sess.run(None, feeds)
    samples, spent = [], 0.0
    while spent < min_time or len(samples) < 3:
        start = time.perf_counter()
        sess.run(None, feeds)
        samples.append(time.perf_counter() - start)
        spent += samples[-1]
    return median(samples)


def main(rounds):
    model = convert_model.convert(convert_model.DEFAULT_OUT)
    sess = session(model)
    cases = [(f"prefill, {len(PROMPT)}-token prompt", feeds_for(PROMPT, empty_cache()), len(PROMPT))]
    for length in CACHE_LENGTHS:
        cases.append((f"decode step, cache of {length}", feeds_for([NEXT_TOKEN], cache_of(sess, length)), 1))
    print("| chat model, 1 thread | opg | onnxruntime " + ort.__version__ + " | ratio (range) |")
    print("| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as work:
        for label, feeds, tokens in cases:
            ours, theirs = [], []
            for _ in range(rounds):
                ours.append(opg_seconds(model, feeds, work, 3.0))
                theirs.append(onnxruntime_seconds(sess, feeds, 3.0))
            ratios = sorted(t / o for o, t in zip(ours, theirs))
            print(f"| {label} | {tokens / min(ours):.1f} tokens/s | {tokens / min(theirs):.1f} tokens/s | "
                  f"{median(ratios):.2f} ({ratios[0]:.2f}–{ratios[-1]:.2f}) |", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
