#!/usr/bin/env python3
"""Runs ONNX's own backend node test cases through `opg model run` and compares outputs.

Each case runs three times: fast kernels on 1 thread (compared with the expected outputs
at the case's tolerances), fast kernels on 3 threads and the reference kernels; with
--debug-opg a fourth time with a debug build. All must write byte-identical outputs
(docs/determinism.md).

The `onnx` package ships ~1,900 cases (`onnx.backend.test.case.node.collect_testcases()`),
each a model with inputs and expected outputs. Every case is written to a scratch
directory, run by our CLI as a separate process, and compared at the case's own
tolerances (rtol/atol, as onnx's backend runner does). A case whose model uses an
operator or type we do not support is "not applicable"; everything else must pass.

  conformance.py --write Tests/conformance/passing.txt   # record what passes now
  conformance.py --check Tests/conformance/passing.txt   # fail on any regression
"""
import argparse
import collections
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402
from onnx.backend.test.case.node import collect_testcases  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
UNSUPPORTED = re.compile(r"unsupported", re.IGNORECASE)


def primary_op(case) -> str:
    nodes = case.model.graph.node
    if len(nodes) == 1:
        return nodes[0].op_type
    return "expanded:" + nodes[-1].op_type if case.name.endswith(("_expanded", "_expanded_ver18")) else "graph:" + nodes[-1].op_type


def write_case(case, workdir: Path):
    model_path = workdir / "model.onnx"
    model_path.write_bytes(case.model.SerializeToString())
    initializers = {i.name for i in case.model.graph.initializer}
    input_names = [i.name for i in case.model.graph.input if i.name not in initializers]
    output_names = [o.name for o in case.model.graph.output]
    sets = []
    for k, (inputs, outputs) in enumerate(case.data_sets):
        args = []
        for name, value in zip(input_names, inputs):
            path = workdir / f"in{k}_{len(args)}.pb"
            if isinstance(value, onnx.TensorProto):
                path.write_bytes(value.SerializeToString())
            elif isinstance(value, (np.ndarray, np.generic)):
                path.write_bytes(numpy_helper.from_array(np.asarray(value), name).SerializeToString())
            else:
                return None  # sequences / optionals as inputs: not applicable
            args += ["--input", f"{name}={path}"]
        sets.append((args, outputs))
    return model_path, output_names, sets


def run_case(opg: str, case, debug_opg: str | None = None) -> tuple[str, str]:
    """Returns (status, detail) with status in pass / fail / n/a."""
    with tempfile.TemporaryDirectory(prefix="onnx-case-") as tmp:
        workdir = Path(tmp)
        written = write_case(case, workdir)
        if written is None:
            return "n/a", "non-tensor inputs"
        model_path, output_names, sets = written
        for k, (args, expected) in enumerate(sets):
            # The fast path on 1 thread is compared with the expected outputs; the fast path
            # on 3 threads and the reference kernels must then give the same bytes.
            runs = []
            variants = [("fast", opg, []), ("threads", opg, ["--threads", "3"]), ("reference", opg, ["--reference"])]
            if debug_opg:
                variants.append(("debug", debug_opg, []))
            for variant, binary, extra in variants:
                out_dir = workdir / f"out{k}-{variant}"
                p = subprocess.run([binary, "model", "run", str(model_path), *args, "--output-dir", str(out_dir), "--quiet", *extra],
                                   capture_output=True, text=True, timeout=120)
                if p.returncode != 0:
                    if p.returncode == 3 or UNSUPPORTED.search(p.stderr):
                        return "n/a", p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "unsupported"
                    return "fail", f"{variant}: exit {p.returncode}: {p.stderr.strip()[-300:]}"
                runs.append(sorted((f.name, f.read_bytes()) for f in out_dir.glob("*.pb")))
            if runs[1] != runs[0]:
                return "fail", "outputs differ between 1 and 3 threads"
            if runs[2] != runs[0]:
                return "fail", "outputs differ between the fast and the reference kernels"
            if debug_opg and runs[3] != runs[0]:
                return "fail", "outputs differ between the debug and the release build"
            out_dir = workdir / f"out{k}-fast"
            for index, (name, want) in enumerate(zip(output_names, expected)):
                if isinstance(want, onnx.TensorProto):
                    want = numpy_helper.to_array(want)
                elif isinstance(want, np.generic):
                    want = np.asarray(want)
                elif not isinstance(want, np.ndarray):
                    return "n/a", "non-tensor outputs"
                path = out_dir / f"{index}.pb"
                if not path.exists():
                    return "fail", f"output {name} was not written"
                got = numpy_helper.to_array(onnx.load_tensor(str(path)))
                problem = compare(want, got, case.rtol, case.atol)
                if problem:
                    return "fail", f"output {name}: {problem}"
        return "pass", ""


def compare(want: np.ndarray, got: np.ndarray, rtol: float, atol: float) -> str | None:
    if want.dtype != got.dtype:
        return f"dtype {got.dtype}, expected {want.dtype}"
    if want.shape != got.shape:
        return f"shape {got.shape}, expected {want.shape}"
    if want.dtype.kind in "fc":
        try:
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
        except AssertionError as e:
            return str(e).strip().splitlines()[-1][:300]
        return None
    return None if np.array_equal(want, got) else "values differ"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--opg", default=str(Path(os.environ.get("OPG_BIN", ROOT / ".build" / "release")) / "opg"))
    ap.add_argument("--debug-opg", help="also run every case with this (debug-built) opg; its outputs must be byte-identical")
    ap.add_argument("--check", type=Path, help="fail if a case listed in this file does not pass")
    ap.add_argument("--write", type=Path, help="write the names of passing cases to this file")
    ap.add_argument("--filter", default="", help="only cases whose name matches this regex")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--show-failures", action="store_true")
    ap.add_argument("--show-skipped", action="store_true", help="print why each not-applicable case was skipped")
    args = ap.parse_args()

    cases = [c for c in collect_testcases() if re.search(args.filter, c.name)]
    results: dict[str, tuple[str, str]] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(run_case, args.opg, c, args.debug_opg): c for c in cases}
        for f in concurrent.futures.as_completed(futures):
            c = futures[f]
            try:
                results[c.name] = f.result()
            except Exception as e:  # a timeout or a crash of the runner itself is a failure
                results[c.name] = ("fail", repr(e))

    per_op = collections.defaultdict(collections.Counter)
    for c in cases:
        per_op[primary_op(c)][results[c.name][0]] += 1
    print(f"{'operator':32} pass  fail  n/a")
    for op in sorted(per_op):
        counts = per_op[op]
        if counts["pass"] or counts["fail"]:
            print(f"{op:32} {counts['pass']:4}  {counts['fail']:4}  {counts['n/a']:4}")
    passing = sorted(n for n, (s, _) in results.items() if s == "pass")
    failing = sorted(n for n, (s, _) in results.items() if s == "fail")
    applicable = len(passing) + len(failing)
    print(f"\nONNX backend node cases: {len(passing)} passing / {applicable} applicable / {len(cases)} total")
    if args.show_failures:
        for n in failing:
            print(f"FAIL {n}: {results[n][1]}")
    if args.show_skipped:
        for n in sorted(n for n, (s, _) in results.items() if s == "n/a"):
            print(f"N/A {n}: {results[n][1][:200]}")
    if args.write:
        args.write.write_text("".join(n + "\n" for n in passing))
    if args.check:
        expected = [l.strip() for l in args.check.read_text().splitlines() if l.strip() and not l.startswith("#")]
        regressions = [n for n in expected if results.get(n, ("missing", ""))[0] != "pass"]
        for n in regressions:
            print(f"REGRESSION {n}: {results.get(n, ('missing', 'case no longer exists'))[1]}")
        if regressions:
            print(f"{len(regressions)} regressions")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
