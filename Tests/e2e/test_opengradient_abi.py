"""Our inference ABIs (docs/abi/InferencePrecompile.json, docs/abi/InferenceHub.json) against
OpenGradient's interface data: the `opengradient` 1.1.4 wheel from PyPI, pinned by its
SHA-256, read from OPG_OPENGRADIENT_WHEEL or fetched with `pip download` into the build
directory. Every function selector and event topic of ours must be one of theirs, with the
same canonical types, state mutability and output types (docs/inference.md)."""
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from eth_utils import keccak

from opgnode import ROOT

WHEEL_NAME = "opengradient-1.1.4-py3-none-any.whl"
WHEEL_SHA256 = "ad604f80ab2aa4043ad6d13dbbaf7c96529509742d23dceba109b55bc32496a8"
OURS_TO_THEIRS = {"InferencePrecompile.json": "opengradient/abi/InferencePrecompile.abi",
                  "InferenceHub.json": "opengradient/abi/inference.abi"}
# The selectors and topics issue 9 names, as a check on the check.
EXPECTED = {"runModelInference": "0x7289e9c2", "runLLMCompletion": "0x14800c61", "runLLMChat": "0xe39aa7e7", "run": "0xcbf09d80",
            "ModelInferenceEvent": "0x1b283af3452f3718585ce100f80d9aa81fc60924db4a582a36db6aae3b109d87",
            "InferenceResult": "0xc1396ff68bc2d8630100df29ce5561fa99078c602e8676ab72a53e37095d7168"}


def wheel() -> Path:
    given = os.environ.get("OPG_OPENGRADIENT_WHEEL")
    path = Path(given) if given else ROOT / ".build" / "opengradient-wheel" / WHEEL_NAME
    if not path.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "opengradient==1.1.4",
                        "-d", str(path.parent)], check=True)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == WHEEL_SHA256, f"{path} is not the pinned opengradient 1.1.4 wheel"
    return path


def canonical(param) -> str:
    kind = param["type"]
    if not kind.startswith("tuple"):
        return kind
    return "(" + ",".join(canonical(c) for c in param["components"]) + ")" + kind[len("tuple"):]


def signature(entry) -> str:
    return entry["name"] + "(" + ",".join(canonical(p) for p in entry["inputs"]) + ")"


def ident(entry) -> str:
    digest = keccak(text=signature(entry))
    return "0x" + (digest[:4] if entry["type"] == "function" else digest).hex()


def test_every_selector_and_topic_is_opengradients():
    with zipfile.ZipFile(wheel()) as archive:
        for ours_name, theirs_name in OURS_TO_THEIRS.items():
            ours = json.loads((ROOT / "docs" / "abi" / ours_name).read_text())
            theirs = {(e["type"], e["name"]): e for e in json.loads(archive.read(theirs_name)) if e["type"] in ("function", "event")}
            assert ours, ours_name
            for entry in ours:
                other = theirs.get((entry["type"], entry["name"]))
                assert other is not None, f"{ours_name}: {entry['name']} is not in {theirs_name}"
                assert ident(entry) == ident(other), f"{ours_name}: {signature(entry)} != {signature(other)}"
                if entry["name"] in EXPECTED:
                    assert ident(entry) == EXPECTED[entry["name"]], signature(entry)
                if entry["type"] == "function":
                    assert entry["stateMutability"] == other["stateMutability"], entry["name"]
                    assert [canonical(p) for p in entry["outputs"]] == [canonical(p) for p in other["outputs"]], entry["name"]
                else:
                    assert [p["indexed"] for p in entry["inputs"]] == [p["indexed"] for p in other["inputs"]], entry["name"]
                    # web3 decodes events into dicts by field name: ours use theirs.
                    assert [p["name"] for p in entry["inputs"]] == [p["name"] for p in other["inputs"]], entry["name"]
