#!/usr/bin/env python3
"""What an execution trace costs (docs/traces.md): `opg model bench --trace` (every node's
outputs hashed with Keccak-256 in the canonical encoding, no Relu fused) against the plain
run, `opg model bench`, as the named peer — same binary, model, input and thread count.

Each model is measured over ROUNDS alternating rounds (which side goes first alternates
too), so a noisy neighbour hits both sides alike. Per model the table gives each side's
median wall time per run with its range and the median of the per-round ratios (traced /
plain; 1.00 means free) with their range.

  trace_bench.py [MODELS_DIR] [--rounds R] [--min-time SECONDS] [--threads N]

MODELS_DIR holds NAME.onnx with NAME.input.pb beside it (default: the committed fixtures).
"""
import argparse
import json
import os
import statistics
import subprocess
from pathlib import Path

import onnx

ROOT = Path(__file__).resolve().parents[2]
OPG = str(Path(os.environ.get("OPG_BIN", ROOT / ".build" / "release")) / "opg")
FIXTURES = ROOT / "Tests" / "InferenceTests" / "Fixtures" / "models"
MODELS = ["digits_mlp", "digits_cnn", "encoder_block", "diabetes_gbr", "diabetes_forest"]


def seconds_per_run(model: Path, traced: bool, min_time: float, threads: int) -> float:
    feed = model.with_suffix(".input.pb")
    name = onnx.load_tensor(str(feed)).name
    argv = [OPG, "model", "bench", str(model), "--input", f"{name}={feed}", "--min-time", str(min_time), "--threads", str(threads)]
    p = subprocess.run(argv + (["--trace"] if traced else []), capture_output=True, text=True, check=True)
    return json.loads(p.stdout)["secondsPerRun"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="?", default=str(FIXTURES))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--min-time", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    print(f"| model | plain run (median, range) | traced run (median, range) | traced / plain (median, range) |")
    print("|---|---:|---:|---:|")
    for name in MODELS:
        model = Path(args.models) / f"{name}.onnx"
        plain, traced, ratios = [], [], []
        for r in range(args.rounds):
            order = [False, True] if r % 2 == 0 else [True, False]
            got = {t: seconds_per_run(model, t, args.min_time, args.threads) for t in order}
            plain.append(got[False])
            traced.append(got[True])
            ratios.append(got[True] / got[False])

        def ms(xs):
            return f"{statistics.median(xs) * 1e3:.3f} ms ({min(xs) * 1e3:.3f}–{max(xs) * 1e3:.3f})"
        print(f"| {name} | {ms(plain)} | {ms(traced)} | {statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f}) |")


if __name__ == "__main__":
    main()
