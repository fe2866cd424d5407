#!/usr/bin/env python3
"""Consensus check across builds: a node built from one tree produces blocks full of
native-handler calls (Notary and Supply: successes, every kind of revert, value sent to
views, out of gas, transfers to reserved addresses without a handler), then `opgd replay`
of another build re-executes that chain and checks every state root, receipt and the
head state. A change that alters the outcome of existing calls fails here.

    .venv/bin/python tools/crosscheck/consensus_replay.py --producer /work/main/.build/release \
        --replayer .build/release
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Tests" / "e2e"))

parser = argparse.ArgumentParser()
parser.add_argument("--producer", required=True, help="directory holding the opgd that produces the chain")
parser.add_argument("--replayer", required=True, help="directory holding the opgd that replays it")
args = parser.parse_args()
os.environ["OPG_BIN"] = str(Path(args.producer).resolve())

import opgnode  # noqa: E402  (reads OPG_BIN at import)
from eth_abi import encode  # noqa: E402
from eth_utils import keccak  # noqa: E402

SUPPLY = "0x" + "00" * 19 + "ff"
EMPTY_RESERVED = "0x" + "00" * 19 + "42"


def selector(signature):
    return keccak(text=signature)[:4]


def notarize(digest, note):
    return selector("notarize(bytes32,string)") + encode(["bytes32", "string"], [digest, note])


node = opgnode.Node(block_interval_ms=100).init().start()
try:
    w3 = node.web3()
    sender, other = opgnode.DEV_ACCOUNTS[0], opgnode.DEV_ACCOUNTS[1]
    calls = [
        (sender, opgnode.NOTARY, notarize(b"\x01" * 32, "first"), 0, 200_000),
        (other, opgnode.NOTARY, notarize(b"\x01" * 32, "again"), 0, 200_000),          # already notarized
        (sender, opgnode.NOTARY, notarize(b"\x02" * 32, "x" * 1025), 0, 300_000),      # note too long
        (sender, opgnode.NOTARY, notarize(b"\x03" * 32, "paid"), 7, 200_000),          # not payable
        (sender, opgnode.NOTARY, notarize(b"\x04" * 32, "tight"), 0, 30_000),          # out of gas
        (other, opgnode.NOTARY, selector("ownerOf(bytes32)") + b"\x01" * 32, 5, 100_000),  # view with value
        (other, opgnode.NOTARY, b"\xde\xad", 0, 100_000),                              # short calldata
        (other, opgnode.NOTARY, b"\xde\xad\xbe\xef", 0, 100_000),                      # unknown selector
        (sender, SUPPLY, selector("totalSupply()"), 0, 100_000),
        (sender, SUPPLY, selector("burned()") + b"\x00", 0, 100_000),                  # arguments
        (sender, SUPPLY, selector("minted()"), 3, 100_000),                            # value
        (sender, SUPPLY, b"\xde\xad\xbe\xef", 0, 100_000),                             # unknown selector
        (other, EMPTY_RESERVED, b"", 11, 21_000),                                      # reserved, no handler
    ]
    hashes = []
    for account, to, data, value, gas in calls:
        tx = opgnode.sign(account, w3, to=to, data=data, value=value, gas=gas)
        hashes.append(w3.eth.send_raw_transaction(tx.raw_transaction))
    statuses = [w3.eth.wait_for_transaction_receipt(h, timeout=30)["status"] for h in hashes]
    print("statuses", statuses)
    head = w3.eth.block_number
    node.wait_block(head + 2)
finally:
    node.stop()
replay = subprocess.run([str(Path(args.replayer) / "opgd"), "replay", "--datadir", str(node.datadir)], capture_output=True, text=True)
print(replay.stdout, replay.stderr)
sys.exit(replay.returncode)
