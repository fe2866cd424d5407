#!/usr/bin/env python3
"""Checks (or writes) the golden result hashes of the committed model fixtures.

For every Tests/InferenceTests/Fixtures/models/NAME.onnx with NAME.input.pb, runs
`opg model run` (fast kernels on 1 and 3 threads, and the reference kernels) and
compares the printed hash, the Keccak-256 of the canonical output encoding, with
golden.json. The Swift unit tests check the same file from a debug build, so debug
and release builds are held to the same bits.

  golden.py --check      # make test
  golden.py --write      # after a deliberate change of the arithmetic spec
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import onnx

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Tests" / "InferenceTests" / "Fixtures"
OPG = str(Path(os.environ.get("OPG_BIN", ROOT / ".build" / "release")) / "opg")


def hashes(model: Path) -> set[str]:
    tensor = onnx.load_tensor(str(model.with_suffix(".input.pb")))
    seen = set()
    for extra in ([], ["--threads", "3"], ["--reference"]):
        p = subprocess.run([OPG, "model", "run", str(model), "--input", f"{tensor.name}={model.with_suffix('.input.pb')}", *extra],
                           capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise RuntimeError(f"{model.stem}: opg model run failed ({p.returncode}): {p.stderr.strip()}")
        seen.add(json.loads(p.stdout)["hash"])
    return seen


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true")
    mode.add_argument("--write", action="store_true")
    args = ap.parse_args()
    golden_path = FIXTURES / "golden.json"
    golden = {} if args.write else json.loads(golden_path.read_text())
    failed = 0
    for model in sorted((FIXTURES / "models").glob("*.onnx")):
        seen = hashes(model)
        if len(seen) != 1:
            print(f"FAIL {model.stem}: paths or thread counts disagree: {sorted(seen)}")
            failed += 1
            continue
        h = seen.pop()
        if args.write:
            golden[model.stem] = h
        elif golden.get(model.stem) != h:
            print(f"FAIL {model.stem}: hash {h}, golden {golden.get(model.stem)}")
            failed += 1
        else:
            print(f"ok   {model.stem} {h}")
    if args.write:
        golden_path.write_text(json.dumps(dict(sorted(golden.items())), indent=2) + "\n")
        print(f"wrote {len(golden)} hashes to {golden_path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
