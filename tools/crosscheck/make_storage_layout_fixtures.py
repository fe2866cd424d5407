#!/usr/bin/env python3
"""Writes Tests/ModulesTests/Fixtures/storage_layout.json: storage slots of mappings,
dynamic arrays, structs and strings laid out as Solidity does (docs "Layout of State
Variables in Storage"), computed here with eth-utils' keccak and eth-abi's padding,
independently of the Swift code, for SolidityStorageTests.

Re-run after changing it: `.venv/bin/python tools/crosscheck/make_storage_layout_fixtures.py`.
"""
import json
import random
from pathlib import Path

from eth_abi import encode
from eth_utils import keccak

rng = random.Random(20261201)
OUT = Path(__file__).resolve().parents[2] / "Tests/ModulesTests/Fixtures/storage_layout.json"


def word(n):
    return encode(["uint256"], [n % 2**256])


def hx(b):
    return "0x" + b.hex()


def slot_int(b):
    return int.from_bytes(b, "big")


cases = {"mappings": [], "arrays": [], "strings": []}
for _ in range(24):
    base = rng.choice([0, 1, 7, rng.getrandbits(256)])
    kind = rng.choice(["uint256", "address", "bytes32", "string", "bytes"])
    if kind == "uint256":
        key = rng.getrandbits(256)
        padded = encode(["uint256"], [key])
    elif kind == "address":
        key = "0x" + rng.randbytes(20).hex()
        padded = encode(["address"], [key])
    elif kind == "bytes32":
        key = rng.randbytes(32)
        padded = encode(["bytes32"], [key])
    else:
        raw = rng.randbytes(rng.randrange(0, 70))
        padded = raw  # string and bytes keys are hashed unpadded
    slot = keccak(padded + word(base))
    cases["mappings"].append({"base": hx(word(base)), "keyType": kind, "key": hx(padded), "slot": hx(slot)})

for _ in range(12):
    base = rng.choice([0, 3, rng.getrandbits(256)])
    index = rng.choice([0, 1, rng.getrandbits(64), rng.getrandbits(256)])
    words = rng.choice([1, 2, 5])
    slot = (slot_int(keccak(word(base))) + index * words) % 2**256
    cases["arrays"].append({"base": hx(word(base)), "index": hx(word(index)), "wordsPerElement": words, "slot": hx(word(slot))})

for length in [0, 1, 5, 31, 32, 33, 64, 65, 100]:
    base = rng.choice([2, rng.getrandbits(256)])
    value = rng.randbytes(length)
    if length < 32:
        head = value + bytes(31 - length) + bytes([2 * length])
        words = [(word(base), head)]
    else:
        words = [(word(base), word(2 * length + 1))]
        first = slot_int(keccak(word(base)))
        for i in range(0, length, 32):
            chunk = value[i:i + 32]
            words.append((word(first + i // 32), chunk + bytes(32 - len(chunk))))
    cases["strings"].append({"base": hx(word(base)), "value": hx(value), "words": [[hx(s), hx(w)] for s, w in words]})

OUT.parent.mkdir(parents=True, exist_ok=True)
OUT.write_text(json.dumps(cases, indent=1) + "\n")
print(f"wrote {OUT}")
