#!/usr/bin/env python3
"""eth-account signs random transactions of all three types; the Swift tests check that we
compute the same hash and sender for every one.   make_tx_fixtures.py [COUNT] [OUT]"""
import json
import random
import sys
from pathlib import Path

from eth_account import Account
from eth_utils import to_checksum_address

count = int(sys.argv[1]) if len(sys.argv) > 1 else 1200
out = Path(sys.argv[2] if len(sys.argv) > 2 else "Tests/ChainTests/Fixtures/eth-account-transactions.jsonl")
rng = random.Random(20261124)


def big(bits):
    return rng.choice([0, 1, rng.getrandbits(rng.randint(1, bits)), 2**bits - 1])


rows = []
for i in range(count):
    key = rng.getrandbits(256) % (2**256 - 2**32 - 977 - 1) + 1
    account = Account.from_key(key.to_bytes(32, "big"))
    kind = i % 3
    tx = {
        "nonce": big(63), "gas": rng.randint(21000, 2**63), "value": big(256),
        "to": to_checksum_address("0x" + rng.getrandbits(160).to_bytes(20, "big").hex()),
        "data": "0x" + bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 4, 36, 100, 300]))).hex(),
        "chainId": rng.choice([1, 5197895, rng.getrandbits(48) + 1]),
    }
    access = [{"address": to_checksum_address("0x" + rng.getrandbits(160).to_bytes(20, "big").hex()),
               "storageKeys": ["0x" + rng.getrandbits(256).to_bytes(32, "big").hex() for _ in range(rng.randint(0, 3))]}
              for _ in range(rng.randint(0, 3))]
    if kind == 0:
        tx["gasPrice"] = big(128)
    elif kind == 1:
        tx.update(gasPrice=big(128), accessList=access, type=1)
    else:
        cap = big(128)
        tx.update(maxFeePerGas=cap, maxPriorityFeePerGas=rng.randint(0, cap), accessList=access, type=2)
    signed = account.sign_transaction(tx)
    rows.append({"raw": "0x" + signed.raw_transaction.hex(), "hash": "0x" + signed.hash.hex(), "sender": account.address})

out.parent.mkdir(parents=True, exist_ok=True)
out.write_text("".join(json.dumps(r) + "\n" for r in rows))
print(f"wrote {len(rows)} transactions to {out}")
