#!/usr/bin/env python3
"""Inference speed against onnxruntime (intra_op_num_threads=1), same models, same inputs, one run.

Ours is timed by `opg model bench` (in-process loop after one warm-up run, the session
loaded once); onnxruntime by its own Python loop with the session created once. Every
model is measured over ROUNDS alternating rounds (which side goes first alternates too),
so a noisy neighbour hits both sides alike. Per model the table gives each side's median
wall time with its range and its spread ((max - min) / median), the median of the
per-round ratios (ours / onnxruntime; above 1 means slower) with their range, and the
same ratio of CPU time per run (each process's own CPU time, which leaves out the time
other processes held the cores on a shared machine).

Then the matrix-kernel figures for the 784-512-512-10 MLP at batch 64, each round
alternating the peak-FLOP probe (tools/bench/peak_flops.c, on 1 and on 2 threads) with
opg on 1 and on 2 threads: the MLP's GFLOP/s (its matrix products' FLOPs over the whole
run time) as a share of the 1-thread peak of the same round (by wall clock, and by CPU
time against the probe's rate per CPU second), and opg's 2-thread speed-up over the
speed-up the probe itself reaches on 2 threads in that round. 1 and 2 threads must give
the same result hash.

  inference_bench.py MODELS_DIR [--rounds R] [--min-time SECONDS] [--peak PEAK_BINARY] [--case MODEL:BATCH …]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import numpy_helper  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OPG = str(Path(os.environ.get("OPG_BIN", ROOT / ".build" / "release")) / "opg")

CASES = [  # (model, batch)
    ("mlp_784_512_512_10", 1), ("mlp_784_512_512_10", 64), ("digits_cnn", 1), ("digits_cnn", 64),
    ("encoder_block", 1), ("digits_gbc100", 1), ("digits_gbc100", 64), ("diabetes_gbr", 1), ("diabetes_gbr", 64),
    ("digits_forest", 64), ("digits_svc", 64),
]
MLP = "mlp_784_512_512_10"


def ort_seconds_per_run(session: ort.InferenceSession, feed: dict, min_time: float) -> tuple[float, float]:
    """Wall and CPU seconds per run."""
    session.run(None, feed)
    runs, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < min_time:
        session.run(None, feed)
        runs += 1
    return (time.perf_counter() - start) / runs, (time.process_time() - cpu) / runs


def ort_session(model: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])


def opg(model: Path, input_arg: str, *extra: str) -> dict:
    p = subprocess.run([OPG, "model", *extra[:1], str(model), "--input", input_arg, *extra[1:]],
                       capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip())
    return json.loads(p.stdout)


def ours_seconds_per_run(model: Path, input_arg: str, min_time: float, threads: int = 1) -> tuple[float, float]:
    """Wall and CPU seconds per run."""
    r = opg(model, input_arg, "bench", "--threads", str(threads), "--min-time", str(min_time))
    return r["secondsPerRun"], r["cpuSecondsPerRun"]


def peak_gflops(binary: str, threads: int) -> tuple[float, float]:
    """GFLOP/s of the probe by the wall clock and per CPU second of each thread."""
    p = subprocess.run([binary, str(threads), "100000000"], capture_output=True, text=True, timeout=600, check=True)
    wall, cpu = p.stdout.split()
    return float(wall), float(cpu)


def spread(values: list[float]) -> float:
    return (max(values) - min(values)) / statistics.median(values)


def summary(values: list[float], scale: float = 1.0, digits: int = 3) -> str:
    v = [x * scale for x in values]
    return f"{statistics.median(v):.{digits}f} ({min(v):.{digits}f}–{max(v):.{digits}f})"


def matrix_flops(model: Path, batch: int) -> float:
    """FLOPs of the MLP's matrix products (2 per multiply-add) at this batch."""
    graph = onnx.load(str(model)).graph
    weights = {t.name: list(t.dims) for t in graph.initializer}
    return sum(2.0 * batch * np.prod(weights[n.input[1]]) for n in graph.node if n.op_type in ("Gemm", "MatMul"))


def write_input(tmp: Path, models: Path, name: str, batch: int) -> tuple[str, np.ndarray, str]:
    x_all = np.load(models / f"{name}.inputs.npy")
    x = np.ascontiguousarray(np.resize(x_all, (batch,) + x_all.shape[1:]))
    input_name = ort.InferenceSession(str(models / f"{name}.onnx"), providers=["CPUExecutionProvider"]).get_inputs()[0].name
    path = tmp / f"{name}_{batch}.pb"
    path.write_bytes(numpy_helper.from_array(x, input_name).SerializeToString())
    return input_name, x, f"{input_name}={path}"


def models_table(models: Path, tmp: Path, rounds: int, min_time: float, cases: list[tuple[str, int]]) -> None:
    print("| model | batch | opg ms, median (range) | spread | onnxruntime ms, median (range) | spread | ratio, median (range) "
          "| CPU-time ratio, median (range) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, batch in cases:
        model = models / f"{name}.onnx"
        input_name, x, input_arg = write_input(tmp, models, name, batch)
        session = ort_session(model)
        theirs, ours = [], []
        try:
            for r in range(rounds):
                if r % 2 == 0:
                    theirs.append(ort_seconds_per_run(session, {input_name: x}, min_time))
                    ours.append(ours_seconds_per_run(model, input_arg, min_time))
                else:
                    ours.append(ours_seconds_per_run(model, input_arg, min_time))
                    theirs.append(ort_seconds_per_run(session, {input_name: x}, min_time))
        except RuntimeError as e:
            print(f"| {name} | {batch} | error: {e} | | | | | |")
            continue
        wall_ours, wall_theirs = [o[0] for o in ours], [t[0] for t in theirs]
        ratios = [o[0] / t[0] for o, t in zip(ours, theirs)]
        cpu_ratios = [o[1] / t[1] for o, t in zip(ours, theirs)]
        print(f"| {name} | {batch} | {summary(wall_ours, 1e3)} | {spread(wall_ours):.0%} | {summary(wall_theirs, 1e3)} "
              f"| {spread(wall_theirs):.0%} | {summary(ratios, digits=2)} | {summary(cpu_ratios, digits=2)} |", flush=True)


def matrix_kernel_table(models: Path, tmp: Path, rounds: int, min_time: float, peak: str) -> None:
    model = models / f"{MLP}.onnx"
    input_name, x, input_arg = write_input(tmp, models, MLP, 64)
    hashes = {opg(model, input_arg, "run", "--threads", str(t))["hash"] for t in (1, 2)}
    flops = matrix_flops(model, 64)
    session = ort_session(model)
    rows: dict[str, list[tuple[float, float]]] = {k: [] for k in ("peak1", "peak2", "opg1", "opg2", "ort1")}
    for _ in range(rounds):
        rows["peak1"].append(peak_gflops(peak, 1))
        rows["opg1"].append(ours_seconds_per_run(model, input_arg, min_time, threads=1))
        rows["ort1"].append(ort_seconds_per_run(session, {input_name: x}, min_time))
        rows["peak2"].append(peak_gflops(peak, 2))
        rows["opg2"].append(ours_seconds_per_run(model, input_arg, min_time, threads=2))
    wall = {k: [v[0] for v in rows[k]] for k in rows}
    cpu = {k: [v[1] for v in rows[k]] for k in rows}

    def share(side: str, clock: dict) -> list[float]:
        return [flops / t / 1e9 / p for t, p in zip(clock[side], clock["peak1"])]

    probe_scaling = [p2 / p1 for p1, p2 in zip(wall["peak1"], wall["peak2"])]
    opg_scaling = [t1 / t2 for t1, t2 in zip(wall["opg1"], wall["opg2"])]
    relative = [o / p for o, p in zip(opg_scaling, probe_scaling)]
    print(f"MLP 784-512-512-10, batch 64, {rounds} rounds; median (range) per round:")
    print()
    print("| measurement | median (range) |")
    print("| --- | ---: |")
    print(f"| peak probe, 1 thread, GFLOP/s (per CPU second) | {summary(wall['peak1'], digits=1)} ({summary(cpu['peak1'], digits=1)}) |")
    print(f"| peak probe, 2 threads, GFLOP/s | {summary(wall['peak2'], digits=1)} |")
    for side, label in (("opg1", "opg, 1 thread"), ("ort1", "onnxruntime, 1 thread"), ("opg2", "opg, 2 threads")):
        print(f"| {label}, ms (spread) | {summary(wall[side], 1e3)} ({spread(wall[side]):.0%}) |")
    for side, label in (("opg1", "opg, 1 thread"), ("ort1", "onnxruntime, 1 thread")):
        print(f"| {label}, CPU ms per run (spread) | {summary(cpu[side], 1e3)} ({spread(cpu[side]):.0%}) |")
    for side, label in (("opg1", "opg 1 thread"), ("ort1", "onnxruntime 1 thread")):
        print(f"| {label}, share of the 1-thread peak: wall clock; CPU time | {summary(share(side, wall), digits=2)}; "
              f"{summary(share(side, cpu), digits=2)} |")
    print(f"| opg / onnxruntime, 1 thread: wall clock; CPU time | {summary([o / t for o, t in zip(wall['opg1'], wall['ort1'])], digits=2)}; "
          f"{summary([o / t for o, t in zip(cpu['opg1'], cpu['ort1'])], digits=2)} |")
    print(f"| peak probe scaling, 2 threads / 1 | {summary(probe_scaling, digits=2)} |")
    print(f"| opg scaling, 2 threads / 1 | {summary(opg_scaling, digits=2)} |")
    print(f"| opg scaling / probe scaling | {summary(relative, digits=2)} |")
    print(f"| result hash, 1 and 2 threads | {'identical' if len(hashes) == 1 else 'DIFFERENT: ' + ', '.join(sorted(hashes))} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", type=Path, nargs="?", default=Path("build/models"))
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds each side loops per round")
    ap.add_argument("--peak", help="peak_flops binary (default: built from tools/bench/peak_flops.c)")
    ap.add_argument("--only", choices=["models", "kernel"], help="only the models table or only the matrix-kernel figures")
    ap.add_argument("--case", action="append", metavar="MODEL:BATCH",
                    help="only these rows of the models table (repeatable), e.g. digits_cnn:64")
    args = ap.parse_args()
    if args.rounds < 1 or args.min_time <= 0:
        ap.error("--rounds must be at least 1 and --min-time above 0")
    cases = CASES
    if args.case:
        known = {f"{name}:{batch}" for name, batch in CASES}
        unknown = [c for c in args.case if c not in known]
        if unknown:
            ap.error(f"--case {', '.join(unknown)} is not a row of the table (rows: {', '.join(sorted(known))})")
        cases = [(name, batch) for name, batch in CASES if f"{name}:{batch}" in args.case]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        peak = args.peak
        if peak is None and args.only != "models":
            peak = str(tmp / "peak_flops")
            subprocess.run(["gcc", "-O2", "-mavx2", "-mfma", "-pthread", "-o", peak, str(ROOT / "tools/bench/peak_flops.c")], check=True)
        if args.only != "kernel":
            models_table(args.models, tmp, args.rounds, args.min_time, cases)
            print()
        if args.only != "models":
            matrix_kernel_table(args.models, tmp, args.rounds, args.min_time, peak)
    return 0


if __name__ == "__main__":
    sys.exit(main())
