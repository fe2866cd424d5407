#!/usr/bin/env python3
"""Writes the committed model fixtures: small real models and one batch of inputs each.

The golden hashes (Tests/InferenceTests/Fixtures/golden.json) are the Keccak-256 of our
outputs on these exact bytes, so the fixtures are committed rather than rebuilt (a
retrained scikit-learn model may differ by a bit from one BLAS to another). Run once
when the fixture set changes, then `golden.py --write`.

  make_fixtures.py MODELS_DIR     # MODELS_DIR as written by build_models.py
"""
import shutil
import sys
from pathlib import Path

import numpy as np
from onnx import numpy_helper
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Tests" / "InferenceTests" / "Fixtures" / "models"
CHOSEN = ["diabetes_forest", "diabetes_gbr", "diabetes_scaled_ridge", "digits_cnn", "digits_logreg",
          "digits_logreg_zipmap", "digits_mlp", "digits_scaled_logreg", "encoder_block"]
ROWS = 16


def main() -> int:
    src = Path(sys.argv[1])
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for name in CHOSEN:
        shutil.copyfile(src / f"{name}.onnx", FIXTURES / f"{name}.onnx")
        x = np.load(src / f"{name}.inputs.npy")[:ROWS]
        input_name = ort.InferenceSession(str(src / f"{name}.onnx"), providers=["CPUExecutionProvider"]).get_inputs()[0].name
        (FIXTURES / f"{name}.input.pb").write_bytes(numpy_helper.from_array(x, input_name).SerializeToString())
    print(f"{len(CHOSEN)} fixtures written to {FIXTURES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
