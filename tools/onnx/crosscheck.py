#!/usr/bin/env python3
"""Cross-checks `opg model run` against onnxruntime on the real models build_models.py makes.

For each model: the same batch of real inputs goes through onnxruntime and through our
CLI; floating outputs must agree within 1e-4 relative (with a 1e-6 absolute floor for
values near zero), integer outputs (labels) must be identical, and two runs of ours
(1 thread and N threads) must produce byte-identical outputs.

  crosscheck.py MODELS_DIR
"""
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import numpy_helper  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OPG = str(Path(os.environ.get("OPG_BIN", ROOT / ".build" / "release")) / "opg")
RTOL, ATOL = 1e-4, 1e-6


def run_ours(model: Path, name: str, x: np.ndarray, workdir: Path, threads: int) -> list[bytes]:
    inp = workdir / "input.pb"
    inp.write_bytes(numpy_helper.from_array(x, name).SerializeToString())
    out = workdir / f"out-{threads}"
    p = subprocess.run([OPG, "model", "run", str(model), "--input", f"{name}={inp}", "--output-dir", str(out),
                        "--threads", str(threads), "--quiet"], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"opg model run failed ({p.returncode}): {p.stderr.strip()}")
    return [(out / f"{i}.pb").read_bytes() for i in range(len(onnx.load(str(model)).graph.output))]


def check(model: Path) -> list[str]:
    problems = []
    x = np.load(model.with_suffix(".inputs.npy"))
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    expected = session.run(None, {name: x})
    outputs = session.get_outputs()
    with tempfile.TemporaryDirectory() as tmp:
        one = run_ours(model, name, x, Path(tmp), 1)
        many = run_ours(model, name, x, Path(tmp), 2)
    if one != many:
        problems.append("outputs differ between 1 and 2 threads")
    for meta, want, raw in zip(outputs, expected, one):
        if isinstance(want, list):  # ZipMap: a sequence of maps
            got_maps = numpy_helper.to_list(onnx.SequenceProto.FromString(raw))
            keys_ok = len(got_maps) == len(want) and all(list(g.keys()) == list(w.keys()) for g, w in zip(got_maps, want))
            if not keys_ok:
                problems.append(f"{meta.name}: map keys differ from onnxruntime's")
                continue
            want = np.array([list(w.values()) for w in want], np.float32)
            got = np.array([[float(v) for v in g.values()] for g in got_maps], np.float32)
            err = np.abs(got.astype(np.float64) - want) / np.maximum(np.abs(want), ATOL / RTOL)
            if not np.all(err <= RTOL):
                problems.append(f"{meta.name}: max relative difference {err.max():.3g}")
            continue
        got = numpy_helper.to_array(onnx.TensorProto.FromString(raw))
        if got.shape != want.shape:
            problems.append(f"{meta.name}: shape {got.shape}, onnxruntime {want.shape}")
        elif want.dtype.kind == "f":
            err = np.abs(got.astype(np.float64) - want) / np.maximum(np.abs(want), ATOL / RTOL)
            if not np.all(err <= RTOL):
                problems.append(f"{meta.name}: max relative difference {err.max():.3g}")
        elif not np.array_equal(got, want):
            problems.append(f"{meta.name}: {int(np.sum(got != want))} of {want.size} values differ")
    return problems


def main() -> int:
    models = sorted(Path(sys.argv[1] if len(sys.argv) > 1 else "build/models").glob("*.onnx"))
    failed = 0
    for model in models:
        try:
            problems = check(model)
        except Exception as e:  # noqa: BLE001 - report and continue with the next model
            problems = [str(e)]
        status = "ok" if not problems else "FAIL"
        print(f"{status:4} {model.stem}" + "".join(f"\n     {p}" for p in problems))
        failed += bool(problems)
    print(f"{len(models) - failed}/{len(models)} models agree with onnxruntime")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
