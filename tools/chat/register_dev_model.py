#!/usr/bin/env python3
"""Registers the chat model on a running devnet by reference (docs/chat.md, "The devnet's
chat model"), so jobs can name it: waits until the node answers JSON-RPC, then runs
`opg model ref FILE --uri ipfs://CID --no-schedule --submit` (a chat job is a decode loop, not one
pass of the graph, so its disputes settle undecided), signed by dev account 0 (its key is public:
keccak256("opg devnet account 0"); dev only) from a throwaway keystore.

  register_dev_model.py [--rpc URL] [--opg BIN] MODEL.onnx     prints the registered ids
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from eth_account import Account
from eth_utils import keccak

# The converted file is pinned (tools/chat/convert_model.py), so its CIDv0 is too.
MODEL_CID_V0 = "QmRKDnhryJNa55zSzdVGS6djodxMjULCekyAC7gkKZ4mCt"
ROOT = Path(__file__).resolve().parents[2]


def wait_for_node(rpc: str, timeout: float = 60) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}).encode()
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(rpc, body, {"Content-Type": "application/json"}), timeout=2) as r:
                if "result" in json.loads(r.read()):
                    return
        except OSError:
            pass
        if time.time() > deadline:
            sys.exit(f"register_dev_model: no node answered at {rpc} within {timeout:.0f} s")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--rpc", default="http://127.0.0.1:8545")
    parser.add_argument("--opg", default=str(ROOT / ".build" / "release" / "opg"))
    args = parser.parse_args()
    wait_for_node(args.rpc)
    key = keccak(text="opg devnet account 0")
    address = Account.from_key(key).address
    with tempfile.TemporaryDirectory() as work:
        keystore, password, key_file = Path(work) / "keystore", Path(work) / "password", Path(work) / "key"
        password.write_text("devnet\n")
        key_file.write_text(key.hex())
        subprocess.run([args.opg, "account", "import", "--keystore", str(keystore), "--password-file", str(password), str(key_file)],
                       check=True, capture_output=True)
        out = subprocess.run([args.opg, "model", "ref", str(args.model), "--uri", f"ipfs://{MODEL_CID_V0}", "--no-schedule",
                              "--name", "SmolLM2-135M-Instruct (opg chat model)",
                              "--description", "small chat model: fluent, often wrong on facts and arithmetic",
                              "--submit", "--from", address, "--keystore", str(keystore), "--password-file", str(password),
                              "--rpc", args.rpc], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"register_dev_model: opg model ref failed: {out.stderr.strip()}")
    record = json.loads(out.stdout)
    print(f"chat model registered by reference: {record['cidV0']} (sha256 0x{record['fileSha256'].removeprefix('0x')}, "
          f"transaction {record['transaction']})")


if __name__ == "__main__":
    main()
